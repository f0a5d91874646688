import datetime as dt
import random

import pytest

from core.streaks import (
    DayMark,
    Progress,
    best_streak,
    current_streak,
    day_marks,
    progress,
)

TODAY = dt.date(2026, 5, 31)
DAY = dt.timedelta(days=1)
S, M, R = DayMark.SHOWED_UP, DayMark.MISSED, DayMark.REST


def ago(n: int) -> dt.date:
    return TODAY - n * DAY


def days_ago(*ns: int) -> set[dt.date]:
    return {ago(n) for n in ns}


def span(first: int, last: int) -> set[dt.date]:
    """Days from `first` days ago to `last` days ago, both included."""
    return {ago(n) for n in range(last, first + 1)}


# --- reference implementation -----------------------------------------------------------------


def reference_marks(
    checkins: set[dt.date], hellos: set[dt.date], day: dt.date, today: dt.date
) -> DayMark:
    if day in checkins:
        return S
    later_hello = any(day < h <= today for h in hellos)
    return M if day in hellos and later_hello else R


def reference_streaks(
    checkins: set[dt.date], hellos: set[dt.date], today: dt.date
) -> tuple[int, int]:
    """(current, best) by trying every run [a, i] directly."""
    events = [d for d in checkins | hellos if d <= today]
    if not events:
        return 0, 0
    days = [min(events) + i * DAY for i in range((today - min(events)).days + 1)]
    marks = [reference_marks(checkins, hellos, d, today) for d in days]
    values: list[int] = []
    for i in range(len(days)):
        showed = 0
        misses: list[int] = []
        for a in range(i, -1, -1):  # grow the run [a, i] leftwards while it stays valid
            if marks[a] is M:
                if any(m - a < 7 for m in misses):
                    break
                misses.append(a)
            showed += marks[a] is S
        values.append(showed)
    return values[-1], max(values)


def random_history(rng: random.Random, length: int) -> tuple[set[dt.date], set[dt.date]]:
    """Hellos and check-ins over `length` days ending a few days after TODAY, with pauses."""
    hello_rate = rng.choice([0.3, 0.6, 0.9, 1.0])
    answer_rate = rng.choice([0.5, 0.8, 0.95])
    checkins: set[dt.date] = set()
    hellos: set[dt.date] = set()
    paused_for = 0
    for n in range(length, -4, -1):
        day = ago(n)
        if paused_for:
            paused_for -= 1
        elif rng.random() < 0.03:
            paused_for = rng.randrange(3, 20)
        elif rng.random() < hello_rate:
            hellos.add(day)
            if rng.random() < answer_rate:
                checkins.add(day)
            continue
        if rng.random() < 0.05:  # checking in without a hello
            checkins.add(day)
    return checkins, hellos


# --- day_marks --------------------------------------------------------------------------------


def test_day_marks() -> None:
    hellos = days_ago(9, 8, 6, 5, 3, 1)
    checkins = days_ago(9, 6, 4, 3)
    assert day_marks(checkins, hellos, ago(10), TODAY) == [R, S, M, R, S, M, S, S, R, R, R]


def test_day_marks_ignores_what_comes_after_end() -> None:
    hellos = days_ago(3, 2, 1)
    # As seen two days ago the hello from two days ago was still open.
    assert day_marks(set(), hellos, ago(3), ago(2)) == [M, R]
    assert day_marks(days_ago(1), hellos, ago(3), TODAY) == [M, M, S, R]


# --- streaks ----------------------------------------------------------------------------------


def test_empty() -> None:
    assert progress(set(), set(), TODAY) == Progress(0, 0, 0, 0, 0, (R,) * 28)
    assert current_streak(set(), set(), TODAY) == 0
    assert best_streak(set(), set(), TODAY) == 0


def test_perfect_week() -> None:
    week = span(6, 0)
    p = progress(week, week, TODAY)
    assert p == Progress(7, 7, 7, 7, 7, (R,) * 21 + (S,) * 7)


def test_one_miss_in_a_week_does_not_break() -> None:
    hellos = span(6, 0)
    checkins = hellos - days_ago(3)
    assert current_streak(checkins, hellos, TODAY) == 6
    assert best_streak(checkins, hellos, TODAY) == 6


def test_two_misses_three_days_apart_break() -> None:
    hellos = span(13, 0)
    checkins = hellos - days_ago(8, 5)
    # The run restarts the day after the first miss: days 7..0 ago, minus the miss 5 days ago.
    assert current_streak(checkins, hellos, TODAY) == 7
    # Best: days 13..6 ago with the single miss 8 days ago.
    assert best_streak(checkins, hellos, TODAY) == 7
    assert best_streak(checkins | days_ago(20, 19, 18), hellos | days_ago(20, 19, 18), TODAY) == 10


@pytest.mark.parametrize(("gap", "streak"), [(6, 11), (7, 18), (10, 18)])
def test_misses_at_least_seven_days_apart_do_not_break(gap: int, streak: int) -> None:
    hellos = span(19, 0)
    checkins = hellos - days_ago(12, 12 - gap)
    # 20 days, 2 missed: unbroken is 18; a gap of 6 restarts the day after the first miss.
    assert current_streak(checkins, hellos, TODAY) == streak
    assert best_streak(checkins, hellos, TODAY) == (18 if gap >= 7 else 12)


def test_a_miss_every_seventh_day_never_breaks() -> None:
    hellos = span(69, 0)
    missed = {ago(n) for n in range(69, 0, -7)}
    checkins = hellos - missed
    assert current_streak(checkins, hellos, TODAY) == 70 - len(missed)


def test_rest_days_never_break_even_for_weeks() -> None:
    before = span(50, 45)
    after = span(3, 0)
    checkins = before | after
    assert current_streak(checkins, checkins, TODAY) == 10
    # A miss on each side of the pause is still more than 7 days apart.
    hellos = checkins | days_ago(44, 4)
    assert current_streak(checkins, hellos, TODAY) == 10


def test_latest_unanswered_hello_is_open_not_missed() -> None:
    hellos = span(6, 0)
    checkins = hellos - days_ago(0, 4)
    p = progress(checkins, hellos, TODAY)
    assert p.calendar[-7:] == (S, S, M, S, S, S, R)
    assert p.current_streak == 5
    # Still open days later when no hello has been sent since (a pause).
    assert day_marks(checkins, hellos, TODAY, TODAY + 5 * DAY) == [R] * 6
    # The next hello turns it into a miss, 4 days after the other one: the run restarts after that.
    assert current_streak(checkins, hellos | {TODAY + 5 * DAY}, TODAY + 5 * DAY) == 3
    assert current_streak(checkins | days_ago(4), hellos | {TODAY + DAY}, TODAY + DAY) == 6


def test_every_other_day_all_answered() -> None:
    checkins = {ago(n) for n in range(0, 40, 2)}
    assert current_streak(checkins, checkins, TODAY) == len(checkins) == 20
    assert current_streak(checkins, checkins, TODAY + DAY) == 20
    assert progress(checkins, checkins, TODAY).calendar == (R, S) * 14


def test_best_survives_a_later_break() -> None:
    hellos = span(30, 0)
    checkins = hellos - days_ago(9, 6)
    assert current_streak(checkins, hellos, TODAY) == 8
    assert best_streak(checkins, hellos, TODAY) == 23
    p = progress(checkins, hellos, TODAY)
    assert (p.current_streak, p.best_streak) == (8, 23)


def test_future_events_are_ignored() -> None:
    hellos = span(6, 0)
    checkins = hellos - days_ago(3)
    future = {TODAY + n * DAY for n in range(1, 10)}
    assert progress(checkins | future, hellos | future, TODAY) == progress(checkins, hellos, TODAY)


def test_window_counts() -> None:
    checkins = days_ago(0, 3, 6, 7, 20, 27, 28, 100)
    p = progress(checkins, set(), TODAY)
    assert (p.last_7, p.last_28, p.total_days) == (3, 6, 8)


def test_calendar_marks() -> None:
    hellos = days_ago(30, 27, 20, 13, 12, 2, 1)
    checkins = days_ago(30, 13, 2, 0)
    expected = [R] * 28
    for n, mark in {27: M, 20: M, 13: S, 12: M, 2: S, 1: R, 0: S}.items():
        expected[27 - n] = mark
    p = progress(checkins, hellos, TODAY)
    assert len(p.calendar) == 28
    assert p.calendar == tuple(expected)


@pytest.mark.parametrize("seed", range(5))
def test_totals_never_decrease_and_best_covers_current(seed: int) -> None:
    checkins, hellos = random_history(random.Random(seed), 120)
    previous = 0
    for n in range(125, -4, -1):
        p = progress(checkins, hellos, ago(n))
        assert p.total_days >= previous
        assert p.best_streak >= p.current_streak
        assert p.last_7 <= p.last_28 <= p.total_days
        previous = p.total_days
    assert previous == len(checkins)


@pytest.mark.parametrize("seed", range(300))
def test_matches_reference_on_random_histories(seed: int) -> None:
    rng = random.Random(seed)
    checkins, hellos = random_history(rng, rng.randrange(0, 70))
    today = TODAY - rng.randrange(0, 4) * DAY
    current, best = reference_streaks(checkins, hellos, today)
    assert current_streak(checkins, hellos, today) == current
    assert best_streak(checkins, hellos, today) == best
    p = progress(checkins, hellos, today)
    assert (p.current_streak, p.best_streak) == (current, best)
    window = [today - n * DAY for n in range(27, -1, -1)]
    assert p.calendar == tuple(reference_marks(checkins, hellos, day, today) for day in window)
    assert p.last_7 == sum(1 for d in checkins if today - 7 * DAY < d <= today)
    assert p.last_28 == sum(1 for d in checkins if today - 28 * DAY < d <= today)
    assert p.total_days == sum(1 for d in checkins if d <= today)
