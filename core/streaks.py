"""Forgiving progress over local dates: streaks that survive an occasional missed day.

A day is SHOWED_UP if it has a check-in; MISSED if a hello was sent that day, it has no check-in and
a later hello exists (the latest hello, unanswered, is still open); REST otherwise (no hello
expected, a pause, or the open hello), which neither counts nor breaks.

A run of days is valid while no two MISSED days in it are less than 7 days apart; its value is the
number of SHOWED_UP days in it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Set
from dataclasses import dataclass
from enum import StrEnum

_MISS_SPACING = 7
"""Two misses less than this many days apart break a run."""


class DayMark(StrEnum):
    SHOWED_UP = "showed_up"
    MISSED = "missed"
    REST = "rest"


def day_marks(
    checkins: Set[dt.date], hellos: Set[dt.date], start: dt.date, end: dt.date
) -> list[DayMark]:
    """The mark of every day in ``[start, end]``, oldest first, as seen on `end`: check-ins and
    hellos after `end` are ignored."""
    latest_hello = max((day for day in hellos if day <= end), default=None)
    marks: list[DayMark] = []
    day = start
    while day <= end:
        if day in checkins:
            marks.append(DayMark.SHOWED_UP)
        elif day in hellos and latest_hello is not None and day < latest_hello:
            marks.append(DayMark.MISSED)
        else:
            marks.append(DayMark.REST)
        day += dt.timedelta(days=1)
    return marks


def _streaks(checkins: Set[dt.date], hellos: Set[dt.date], today: dt.date) -> tuple[int, int]:
    """``(current, best)``: the value of the longest valid run ending today, and the largest such
    value over every day up to today. One forward scan: a miss less than 7 days after the previous
    one restarts the run the day after that previous miss."""
    first = min((day for day in checkins | hellos if day <= today), default=None)
    if first is None:
        return 0, 0
    showed_before = [0]  # showed_before[i]: SHOWED_UP days among the first i marks
    run_start = 0
    previous_miss: int | None = None
    current = best = 0
    for i, mark in enumerate(day_marks(checkins, hellos, first, today)):
        showed_before.append(showed_before[-1] + (mark is DayMark.SHOWED_UP))
        if mark is DayMark.MISSED:
            if previous_miss is not None and i - previous_miss < _MISS_SPACING:
                run_start = previous_miss + 1
            previous_miss = i
        current = showed_before[i + 1] - showed_before[run_start]
        best = max(best, current)
    return current, best


def current_streak(checkins: Set[dt.date], hellos: Set[dt.date], today: dt.date) -> int:
    """Check-in days in the longest valid run ending today."""
    return _streaks(checkins, hellos, today)[0]


def best_streak(checkins: Set[dt.date], hellos: Set[dt.date], today: dt.date) -> int:
    """The largest current streak any day up to today has had; never below today's."""
    return _streaks(checkins, hellos, today)[1]


@dataclass(frozen=True)
class Progress:
    """What the user sees: check-in days in the last 7 and 28 days (today included), streaks, all
    check-in days ever, and the marks of the last 28 days (oldest first, today last)."""

    last_7: int
    last_28: int
    current_streak: int
    best_streak: int
    total_days: int
    calendar: tuple[DayMark, ...]


def progress(checkins: Set[dt.date], hellos: Set[dt.date], today: dt.date) -> Progress:
    """Progress as of `today`; check-ins and hellos after today are ignored."""
    current, best = _streaks(checkins, hellos, today)
    past = [day for day in checkins if day <= today]
    return Progress(
        last_7=sum(day > today - dt.timedelta(days=7) for day in past),
        last_28=sum(day > today - dt.timedelta(days=28) for day in past),
        current_streak=current,
        best_streak=best,
        total_days=len(past),
        calendar=tuple(day_marks(checkins, hellos, today - dt.timedelta(days=27), today)),
    )
