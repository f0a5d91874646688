"""The ladder and the pressure budget: plain functions, tested directly."""

from __future__ import annotations

import datetime as dt
import random

from zoneinfo import ZoneInfo

import pytest

from core import backoff
from core.schedule import Rhythm, Window, plan_next_hello
from core.ladder import RULES, Outcome, TaskResult, choose_task, is_steady, may_offer_step_up, should_step_back

DAY = dt.date(2026, 3, 1)


def days(n: int, start: dt.date = DAY) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range(n)]


# --- backing off ----------------------------------------------------------------------------------


def test_the_rhythm_slows_after_three_unanswered_and_settles_weekly_after_four() -> None:
    assert [backoff.min_gap_days(n, quiet_days=n - 1) for n in range(1, 7)] == [1, 1, 3, 7, 7, 7]
    assert [backoff.in_door_phase(n, quiet_days=n - 1) for n in range(6)] == [False] * 4 + [True] * 2
    assert not backoff.welcomes_back(2) and backoff.welcomes_back(3)


def test_a_week_old_quiet_spell_settles_weekly_whatever_the_rhythm() -> None:
    # Twice a week: the third unanswered hello is a week after the first.
    assert backoff.in_door_phase(2, quiet_days=7)
    assert backoff.min_gap_days(3, quiet_days=7) == 7
    assert not backoff.in_door_phase(0, quiet_days=30)  # no quiet spell at all


def test_an_invitation_goes_only_with_at_most_one_message_unanswered() -> None:
    assert backoff.may_invite(0) and backoff.may_invite(1)
    assert not any(backoff.may_invite(n) for n in range(2, 10))


def never_answering(rhythm: Rhythm, window: Window, zone: str, start: dt.datetime, weeks: int = 10) -> list[dt.date]:
    """The hello-days someone who never answers gets, planned by the real rules."""
    tz, rng = ZoneInfo(zone), random.Random(5)
    sent: list[dt.date] = []
    unanswered, quiet_since = 0, None
    planned = plan_next_hello(start, tz, window, rhythm, None, rng)
    while planned.day < start.date() + dt.timedelta(weeks=weeks):
        sent.append(planned.day)
        unanswered += 1
        quiet_since = quiet_since or planned.day
        gap = backoff.min_gap_days(unanswered, (planned.day - quiet_since).days)
        planned = plan_next_hello(planned.at, tz, window, rhythm, planned.day, rng, min_gap_days=gap)
    return sent


@pytest.mark.parametrize("rhythm", list(Rhythm))
@pytest.mark.parametrize("window", list(Window))
def test_someone_who_never_answers_stays_within_the_budget(rhythm: Rhythm, window: Window) -> None:
    """Every rhythm and window, starting on each day of the week, in zones with and without DST."""
    for zone in ("Asia/Tokyo", "America/New_York", "Australia/Sydney"):
        for offset in range(7):
            start = dt.datetime(2026, 2, 23, 3, 0, tzinfo=dt.UTC) + dt.timedelta(days=offset)
            sent = never_answering(rhythm, window, zone, start)
            assert backoff.budget_breaches((day - sent[0]).days for day in sent) == [], (zone, offset, sent)
            assert len(sent) >= 9  # never silence from our side: the weekly door stays


def test_the_densest_rhythm_gives_four_then_two_then_one() -> None:
    start = dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.UTC)
    sent = never_answering(Rhythm.DAILY, Window.EVENING, "Asia/Tokyo", start)
    assert [(day - sent[0]).days for day in sent[:6]] == [0, 1, 2, 5, 12, 19]


# --- choosing a task --------------------------------------------------------------------------------


def test_a_task_is_not_repeated_within_two_weeks() -> None:
    rng = random.Random(3)
    tasks = [f"t{i}" for i in range(8)]
    last: dict[str, dt.date] = {}
    chosen = []
    for today in days(40):
        task = choose_task(tasks, last, today, rng)
        chosen.append(task)
        if task is not None:
            assert task not in last or (today - last[task]).days >= RULES.repeat_after_days
            last[task] = today
    # Eight tasks a day for 40 days: eight days with one, six without, and again.
    assert [task is not None for task in chosen[:16]] == [True] * 8 + [False] * 6 + [True] * 2
    assert len(set(chosen[:8])) == 8


def test_when_every_task_is_recent_there_is_none() -> None:
    last = {"a": DAY, "b": DAY + dt.timedelta(days=1)}
    assert choose_task(["a", "b"], last, DAY + dt.timedelta(days=3), random.Random(1)) is None
    assert choose_task(["a", "b"], last, DAY + dt.timedelta(days=14), random.Random(1)) == "a"
    assert choose_task([], {}, DAY, random.Random(1)) is None


# --- a steady stretch and the offer ----------------------------------------------------------------


def done(day: dt.date, level: int = 1, rating: int | None = None) -> TaskResult:
    return TaskResult(day, level, Outcome.DONE, rating)


def test_steady_needs_checkins_and_tasks_done_at_this_level() -> None:
    hellos = days(10)
    checkins = set(hellos[:5])
    results = [done(hellos[0]), done(hellos[2]), done(hellos[4])]
    assert is_steady(hellos, checkins, results, level=1)
    assert not is_steady(hellos, set(hellos[:4]), results, level=1)  # four check-ins
    assert not is_steady(hellos, checkins, results[:2], level=1)  # two tasks
    assert not is_steady(hellos, checkins, results, level=2)  # done at another level
    assert not is_steady(hellos[:9], checkins, results, level=1)  # not long enough yet


def test_a_hard_last_task_means_stay() -> None:
    hellos = days(10)
    results = [done(hellos[0], rating=2), done(hellos[2], rating=3), done(hellos[4], rating=8)]
    assert not is_steady(hellos, set(hellos), results, level=1)
    results.append(done(hellos[6], rating=1))
    assert is_steady(hellos, set(hellos), results, level=1)


def test_offers_are_rare_and_respect_a_snooze() -> None:
    today = DAY + dt.timedelta(days=30)
    assert may_offer_step_up(1, True, today, None, None)
    assert not may_offer_step_up(1, False, today, None, None)
    assert not may_offer_step_up(5, True, today, None, None)  # the top
    assert not may_offer_step_up(1, True, today, today - dt.timedelta(days=13), None)
    assert may_offer_step_up(1, True, today, today - dt.timedelta(days=14), None)
    assert not may_offer_step_up(1, True, today, None, today + dt.timedelta(days=1))
    assert may_offer_step_up(1, True, today, None, today)


# --- stepping back -------------------------------------------------------------------------------------


def too_much(day: dt.date, level: int = 2) -> TaskResult:
    return TaskResult(day, level, Outcome.TOO_MUCH)


def test_two_too_much_in_a_row_step_back() -> None:
    d = days(5)
    assert not should_step_back([too_much(d[0])], d[0])
    assert should_step_back([too_much(d[0]), too_much(d[1])], d[1])
    # A task done in between resets the run; "maybe later" and unanswered ones do not count.
    assert not should_step_back([too_much(d[0]), done(d[1], 2), too_much(d[2])], d[2])
    later = TaskResult(d[1], 2, Outcome.LATER)
    assert should_step_back([too_much(d[0]), later, too_much(d[2])], d[2])


def test_three_too_much_in_ten_days_step_back() -> None:
    d = days(12)
    spread = [too_much(d[0]), done(d[1], 2), too_much(d[4]), done(d[5], 2), too_much(d[9])]
    assert should_step_back(spread, d[9])
    wider = [too_much(d[0]), done(d[1], 2), too_much(d[5]), done(d[6], 2), too_much(d[11])]
    assert not should_step_back(wider, d[11])
