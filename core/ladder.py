"""The task ladder: which small task fits, when to offer a bigger step, when to step back quietly.

Levels, from the research on hikikomori support: 0 just say hello, 1 care for yourself at home,
2 something for the household, 3 step outside alone, 4 a structured solo activity with light
contact, 5 group activities. The level rises only when the participant says "Yes" to an offer;
it steps back quietly when things are too much. Every number lives in :data:`RULES`.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from enum import StrEnum

LEVELS = range(6)
TOP_LEVEL = 5
GROUP_LEVEL = 5  # group activities: needs its own explicit opt-in as well


class Outcome(StrEnum):
    DONE = "done"
    LATER = "later"
    TOO_MUCH = "too_much"


@dataclass(frozen=True)
class LadderRules:
    steady_hello_days: int = 10  # a steady stretch is judged over the last this many hello-days ...
    steady_checkins: int = 5  # ... with at least this many check-ins ...
    steady_tasks_done: int = 3  # ... and this many tasks done at the current level
    hard_rating: int = 7  # a done task rated this hard or harder (0–10) means: stay for now
    offer_gap_days: int = 14  # at most one escalation offer per this many days
    snooze_days: int = 28  # "Ask me in a few weeks"
    too_much_in_a_row: int = 2  # this many "too much" in a row at a level steps back one level ...
    too_much_in_window: int = 3  # ... and so does this many ...
    too_much_window_days: int = 10  # ... within this many days
    repeat_after_days: int = 14  # the same task is not offered again sooner


RULES = LadderRules()


@dataclass(frozen=True)
class TaskResult:
    """What became of one offered task."""

    day: dt.date
    level: int
    outcome: Outcome | None  # None: no answer (yet)
    rating: int | None = None


def choose_task(
    candidates: Sequence[str],
    last_offered: Mapping[str, dt.date],
    today: dt.date,
    rng: random.Random,
    rules: LadderRules = RULES,
) -> str | None:
    """A task not offered in the last two weeks, or None if every one was: then there is no task
    this time (a hello goes without one), never a repeat."""
    fresh = fresh_tasks(candidates, last_offered, today, rules)
    return rng.choice(fresh) if fresh else None


def fresh_tasks(
    candidates: Sequence[str], last_offered: Mapping[str, dt.date], today: dt.date, rules: LadderRules = RULES
) -> list[str]:
    """The tasks that were not offered in the last two weeks."""
    return [
        task
        for task in candidates
        if task not in last_offered or (today - last_offered[task]).days >= rules.repeat_after_days
    ]


def is_steady(
    hello_days: Sequence[dt.date],
    checkin_days: Set[dt.date],
    results: Sequence[TaskResult],
    level: int,
    rules: LadderRules = RULES,
) -> bool:
    """A steady stretch at `level`: over the last hello-days, enough check-ins and tasks done, and
    the most recent rated task at this level was not hard."""
    recent = sorted(hello_days)[-rules.steady_hello_days :]
    if len(recent) < rules.steady_hello_days:
        return False
    since = recent[0]
    checkins = sum(1 for day in recent if day in checkin_days)
    done = [r for r in results if r.level == level and r.day >= since and r.outcome == Outcome.DONE]
    rated = [r for r in sorted(done, key=lambda r: r.day) if r.rating is not None]
    if rated and rated[-1].rating >= rules.hard_rating:
        return False
    return checkins >= rules.steady_checkins and len(done) >= rules.steady_tasks_done


def may_offer_step_up(
    level: int,
    steady: bool,
    today: dt.date,
    last_offer: dt.date | None,
    snoozed_until: dt.date | None,
    rules: LadderRules = RULES,
) -> bool:
    """Whether to ask, once, gently, about something a little bigger."""
    if level >= TOP_LEVEL or not steady:
        return False
    if snoozed_until is not None and today < snoozed_until:
        return False
    return last_offer is None or (today - last_offer).days >= rules.offer_gap_days


def should_step_back(results_at_level: Sequence[TaskResult], today: dt.date, rules: LadderRules = RULES) -> bool:
    """After "too much": step back one level if it came twice in a row here, or often lately.

    `results_at_level` are the answered results since the participant reached their current level,
    oldest first.
    """
    answered = [r for r in results_at_level if r.outcome in (Outcome.DONE, Outcome.TOO_MUCH)]
    tail = answered[-rules.too_much_in_a_row :]
    if len(tail) == rules.too_much_in_a_row and all(r.outcome == Outcome.TOO_MUCH for r in tail):
        return True
    window_start = today - dt.timedelta(days=rules.too_much_window_days - 1)
    recent = [r for r in answered if r.outcome == Outcome.TOO_MUCH and r.day >= window_start]
    return len(recent) >= rules.too_much_in_window
