"""Hello windows and rhythms: when the next gentle hello may be sent.

A *hello-day* is the local date a window belongs to; a window that crosses midnight (late night)
belongs to the day it starts on. All instants taken and returned are timezone-aware UTC.

Local times are resolved the way :mod:`zoneinfo` does with ``fold=0``:

* an ambiguous time (autumn fall-back) means its first occurrence, the earlier instant;
* a time that does not exist (spring-forward gap) is read with the offset in force before the jump,
  so it lands after the jump by as much as it lay inside the gap. Where clocks jump at a window
  bound (02:00 in America/New_York) the bound is exactly the moment of the jump: that night's
  late-night window ends at the jump and holds every local time that exists between 22:00 and 02:00.

So every window is a non-empty interval whose local times lie within its hours. The exceptions are
rare jumps over a bound (Antarctica/Troll goes from 01:00 to 03:00: the 02:00 end moves to 04:00)
and dates skipped outright when a zone crossed the date line (Pacific/Apia 2011-12-30), whose
windows may be empty and are then never planned.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo


class Window(StrEnum):
    MORNING = "morning"
    AFTERNOON = "afternoon"
    EVENING = "evening"
    LATE_NIGHT = "late_night"


WINDOW_HOURS: dict[Window, tuple[dt.time, dt.time]] = {
    Window.MORNING: (dt.time(8), dt.time(11)),
    Window.AFTERNOON: (dt.time(13), dt.time(16)),
    Window.EVENING: (dt.time(18), dt.time(21)),
    Window.LATE_NIGHT: (dt.time(22), dt.time(2)),
}
"""Local wall-clock bounds of each window: start inclusive, end exclusive. An end at or before the
start lies on the next date (the window crosses midnight)."""


class Rhythm(StrEnum):
    DAILY = "daily"
    EVERY_OTHER_DAY = "every_other_day"
    WEEKDAYS = "weekdays"
    TWICE_A_WEEK = "twice_a_week"


TWICE_A_WEEK_DAYS: tuple[int, ...] = (0, 3)
"""Weekdays (``date.weekday()``) of the twice-a-week rhythm: Monday and Thursday."""

_SEARCH_DAYS = 15
"""Days plan_next_hello looks at: the search may pass two days whose windows are over, and every
rhythm allows at least one day in any four consecutive ones."""


def crosses_midnight(window: Window) -> bool:
    """Whether the window ends on the date after its hello-day."""
    start, end = WINDOW_HOURS[window]
    return end <= start


def _local_to_utc(day: dt.date, time: dt.time, tz: ZoneInfo) -> dt.datetime:
    """The UTC instant of local wall time `day` `time` in tz, resolved with fold=0."""
    return dt.datetime.combine(day, time, tzinfo=tz).astimezone(dt.UTC)


def window_bounds(day: dt.date, window: Window, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """UTC ``[start, end)`` of `window` on hello-day `day` in tz; for a window crossing midnight the
    end is on ``day + 1``. DST gaps and overlaps are resolved as in the module docstring."""
    start, end = WINDOW_HOURS[window]
    end_day = day + dt.timedelta(days=1) if crosses_midnight(window) else day
    return _local_to_utc(day, start, tz), _local_to_utc(end_day, end, tz)


def hello_day_for(moment: dt.datetime, window: Window, tz: ZoneInfo) -> dt.date:
    """The hello-day `moment` belongs to: its local date, except that for a window crossing
    midnight a local time before the window's end (01:30 for 22:00–02:00) belongs to the day
    before."""
    local = moment.astimezone(tz)
    if crosses_midnight(window) and local.time() < WINDOW_HOURS[window][1]:
        return local.date() - dt.timedelta(days=1)
    return local.date()


def rhythm_allows(day: dt.date, rhythm: Rhythm, last_hello_day: dt.date | None) -> bool:
    """Whether the rhythm lets a hello fall on `day`: DAILY every day; EVERY_OTHER_DAY at least
    two days after `last_hello_day` (any day if None); WEEKDAYS Monday to Friday; TWICE_A_WEEK
    Monday and Thursday."""
    match rhythm:
        case Rhythm.DAILY:
            return True
        case Rhythm.EVERY_OTHER_DAY:
            return last_hello_day is None or day >= last_hello_day + dt.timedelta(days=2)
        case Rhythm.WEEKDAYS:
            return day.weekday() < 5
        case Rhythm.TWICE_A_WEEK:
            return day.weekday() in TWICE_A_WEEK_DAYS


@dataclass(frozen=True)
class PlannedHello:
    """A hello to send at `at` (UTC) for hello-day `day`."""

    day: dt.date
    at: dt.datetime


def plan_next_hello(
    now: dt.datetime,
    tz: ZoneInfo,
    window: Window,
    rhythm: Rhythm,
    last_hello_day: dt.date | None,
    rng: random.Random,
    not_before: dt.datetime | None = None,
    min_gap_days: int = 1,
) -> PlannedHello:
    """The next hello: the earliest hello-day D at least `min_gap_days` after `last_hello_day` that
    the rhythm allows and whose window still has time left after ``max(now, not_before)``, at a
    uniformly random whole second of what is left of that window.

    The search starts the local day before ``max(now, not_before)`` (yesterday's late-night window
    may still be open) or `last_hello_day` + `min_gap_days`, whichever is later, and looks at no
    more than 15 days. A `min_gap_days` above 1 is how the pressure budget slows the rhythm.
    """
    if min_gap_days < 1:
        raise ValueError("min_gap_days must be at least 1")
    earliest = now if not_before is None else max(now, not_before)
    day = earliest.astimezone(tz).date() - dt.timedelta(days=1)
    if last_hello_day is not None:
        day = max(day, last_hello_day + dt.timedelta(days=min_gap_days))
    for _ in range(_SEARCH_DAYS):
        if rhythm_allows(day, rhythm, last_hello_day):
            start, end = window_bounds(day, window, tz)
            first = max(start, earliest)
            if first < end:
                seconds = max(1, (end - first) // dt.timedelta(seconds=1))
                at = first + dt.timedelta(seconds=rng.randrange(seconds))
                return PlannedHello(day, at.astimezone(dt.UTC))
        day += dt.timedelta(days=1)
    raise RuntimeError(f"no {window} window for rhythm {rhythm} within {_SEARCH_DAYS} days")


def is_still_open(day: dt.date, window: Window, tz: ZoneInfo, now: dt.datetime) -> bool:
    """Whether hello-day `day`'s window has not ended yet at `now` (a hello missed while the bot was
    down is still sent if this holds, else skipped)."""
    return now < window_bounds(day, window, tz)[1]


def plan_weekly(now: dt.datetime, tz: ZoneInfo, window: Window, weekday: int, rng: random.Random) -> PlannedHello:
    """The next weekly moment (a family's note): the next hello-day on `weekday` (0 = Monday) whose
    window still has time left after `now`, at a random whole second of what is left of it."""
    day = now.astimezone(tz).date() - dt.timedelta(days=1)
    for _ in range(_SEARCH_DAYS):
        if day.weekday() == weekday:
            start, end = window_bounds(day, window, tz)
            first = max(start, now)
            if first < end:
                seconds = max(1, (end - first) // dt.timedelta(seconds=1))
                return PlannedHello(day, first + dt.timedelta(seconds=rng.randrange(seconds)))
        day += dt.timedelta(days=1)
    raise RuntimeError("no weekly moment within the search")
