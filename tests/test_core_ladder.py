"""The ladder and the pressure budget: plain functions, tested directly."""

from __future__ import annotations

import datetime as dt
import random

from core import backoff
from core.ladder import RULES, Outcome, TaskResult, choose_task, is_steady, may_offer_step_up, should_step_back

DAY = dt.date(2026, 3, 1)


def days(n: int, start: dt.date = DAY) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range(n)]


# --- backing off ----------------------------------------------------------------------------------


def test_the_rhythm_slows_after_three_unanswered_and_settles_weekly_after_four() -> None:
    assert [backoff.min_gap_days(n) for n in range(7)] == [1, 1, 1, 3, 7, 7, 7]
    assert [backoff.is_door_message(n) for n in range(6)] == [False] * 4 + [True] * 2
    assert not backoff.welcomes_back(2) and backoff.welcomes_back(3)


def test_someone_who_never_answers_stays_within_the_budget() -> None:
    """Walk the policy itself with the densest rhythm (daily) for 8 weeks from the first hello."""
    sent, unanswered, day = [], 0, 0
    while day < 56:
        sent.append(day)
        unanswered += 1
        day += backoff.min_gap_days(unanswered)
    assert sent[:6] == [0, 1, 2, 5, 12, 19]
    assert backoff.budget_breaches(sent) == []


def test_budget_breaches_are_named_by_week() -> None:
    assert backoff.budget_breaches([0, 1, 2, 3, 4]) == ["week 1: 5 messages (at most 4)"]
    assert backoff.budget_breaches([7, 8, 9]) == ["week 2: 3 messages (at most 2)"]
    assert backoff.budget_breaches([14, 15]) == ["week 3: 2 messages (at most 1)"]
    assert backoff.budget_breaches([0, 1, 2, 3, 7, 8, 14, 21, 28]) == []


# --- choosing a task --------------------------------------------------------------------------------


def test_a_task_is_not_repeated_within_two_weeks() -> None:
    rng = random.Random(3)
    tasks = [f"t{i}" for i in range(8)]
    last: dict[str, dt.date] = {}
    for today in days(40):
        task = choose_task(tasks, last, today, rng)
        if task in last:
            assert (today - last[task]).days >= RULES.repeat_after_days or all(
                (today - d).days < RULES.repeat_after_days for d in last.values()
            )
        last[task] = today


def test_when_every_task_is_recent_the_oldest_comes_back() -> None:
    last = {"a": DAY, "b": DAY + dt.timedelta(days=1)}
    assert choose_task(["a", "b"], last, DAY + dt.timedelta(days=3), random.Random(1)) == "a"
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
