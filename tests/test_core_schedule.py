import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest

from core.schedule import (
    plan_weekly,
    TWICE_A_WEEK_DAYS,
    WINDOW_HOURS,
    PlannedHello,
    Rhythm,
    Window,
    crosses_midnight,
    hello_day_for,
    is_still_open,
    plan_next_hello,
    rhythm_allows,
    window_bounds,
)

UTC = dt.UTC
TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
DAY = dt.timedelta(days=1)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def local(tz: ZoneInfo, *args: int) -> dt.datetime:
    """A local wall time in tz (fold=0), as UTC."""
    return dt.datetime(*args, tzinfo=tz).astimezone(UTC)


def in_local_hours(moment: dt.datetime, window: Window, tz: ZoneInfo) -> bool:
    start, end = WINDOW_HOURS[window]
    wall = moment.astimezone(tz).time()
    return (wall >= start or wall < end) if crosses_midnight(window) else start <= wall < end


def assert_valid_plan(
    plan: PlannedHello,
    now: dt.datetime,
    tz: ZoneInfo,
    window: Window,
    rhythm: Rhythm,
    last: dt.date | None,
    not_before: dt.datetime | None = None,
) -> None:
    start, end = window_bounds(plan.day, window, tz)
    assert plan.at.tzinfo is UTC
    assert start <= plan.at < end
    assert plan.at >= now
    if not_before is not None:
        assert plan.at >= not_before
    assert in_local_hours(plan.at, window, tz)
    assert hello_day_for(plan.at, window, tz) == plan.day
    if last is not None:
        assert plan.day > last
    match rhythm:
        case Rhythm.WEEKDAYS:
            assert plan.day.weekday() < 5
        case Rhythm.TWICE_A_WEEK:
            assert plan.day.weekday() in (0, 3)
        case Rhythm.EVERY_OTHER_DAY:
            assert last is None or (plan.day - last).days >= 2
        case Rhythm.DAILY:
            pass


def assert_earliest(
    plan: PlannedHello,
    now: dt.datetime,
    tz: ZoneInfo,
    window: Window,
    rhythm: Rhythm,
    last: dt.date | None,
) -> None:
    """No day before plan.day that the search could have chosen was skipped."""
    day = now.astimezone(tz).date() - DAY
    if last is not None:
        day = max(day, last + DAY)
    while day < plan.day:
        assert not (rhythm_allows(day, rhythm, last) and now < window_bounds(day, window, tz)[1])
        day += DAY


# --- window_bounds ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "start", "end"),
    [
        (Window.MORNING, utc(2026, 5, 11, 23), utc(2026, 5, 12, 2)),
        (Window.AFTERNOON, utc(2026, 5, 12, 4), utc(2026, 5, 12, 7)),
        (Window.EVENING, utc(2026, 5, 12, 9), utc(2026, 5, 12, 12)),
        (Window.LATE_NIGHT, utc(2026, 5, 12, 13), utc(2026, 5, 12, 17)),
    ],
)
def test_window_bounds_tokyo(window: Window, start: dt.datetime, end: dt.datetime) -> None:
    assert window_bounds(dt.date(2026, 5, 12), window, TOKYO) == (start, end)


def test_late_night_ends_on_the_next_local_date() -> None:
    start, end = window_bounds(dt.date(2026, 5, 12), Window.LATE_NIGHT, TOKYO)
    assert start.astimezone(TOKYO) == dt.datetime(2026, 5, 12, 22, tzinfo=TOKYO)
    assert end.astimezone(TOKYO) == dt.datetime(2026, 5, 13, 2, tzinfo=TOKYO)
    assert crosses_midnight(Window.LATE_NIGHT)
    assert not any(crosses_midnight(w) for w in (Window.MORNING, Window.AFTERNOON, Window.EVENING))


@pytest.mark.parametrize(
    ("day", "window", "start", "end"),
    [
        # Spring forward 02:00 EST -> 03:00 EDT: the late-night end is the jump (4 real hours).
        (dt.date(2026, 3, 7), Window.LATE_NIGHT, utc(2026, 3, 8, 3), utc(2026, 3, 8, 7)),
        (dt.date(2026, 3, 8), Window.MORNING, utc(2026, 3, 8, 12), utc(2026, 3, 8, 15)),
        (dt.date(2026, 3, 8), Window.LATE_NIGHT, utc(2026, 3, 9, 2), utc(2026, 3, 9, 6)),
        # Fall back 02:00 EDT -> 01:00 EST: the repeated hour makes the night 5 real hours long.
        (dt.date(2026, 10, 31), Window.LATE_NIGHT, utc(2026, 11, 1, 2), utc(2026, 11, 1, 7)),
        (dt.date(2026, 11, 1), Window.MORNING, utc(2026, 11, 1, 13), utc(2026, 11, 1, 16)),
    ],
)
def test_window_bounds_new_york_dst(
    day: dt.date, window: Window, start: dt.datetime, end: dt.datetime
) -> None:
    assert window_bounds(day, window, NEW_YORK) == (start, end)


@pytest.mark.parametrize(
    ("day", "start", "end"),
    [
        # 01:00 GMT -> 02:00 BST: 01:xx does not exist, the night is 3 real hours.
        (dt.date(2026, 3, 28), utc(2026, 3, 28, 22), utc(2026, 3, 29, 1)),
        # 02:00 BST -> 01:00 GMT: 01:xx happens twice, the night is 5 real hours.
        (dt.date(2026, 10, 24), utc(2026, 10, 24, 21), utc(2026, 10, 25, 2)),
    ],
)
def test_window_bounds_london_dst(day: dt.date, start: dt.datetime, end: dt.datetime) -> None:
    assert window_bounds(day, Window.LATE_NIGHT, LONDON) == (start, end)


def test_nonexistent_bound_is_the_jump_and_ambiguous_bound_the_first_occurrence() -> None:
    casablanca = ZoneInfo("Africa/Casablanca")
    # 2026-03-22 02:00 +00 -> 03:00 +01: the 02:00 end is the jump (02:00 UTC).
    _, end = window_bounds(dt.date(2026, 3, 21), Window.LATE_NIGHT, casablanca)
    assert end == utc(2026, 3, 22, 2)
    # 2026-02-15 03:00 +01 -> 02:00 +00: 02:00 happens twice, the end is the first one (01:00 UTC).
    _, end = window_bounds(dt.date(2026, 2, 14), Window.LATE_NIGHT, casablanca)
    assert end == utc(2026, 2, 15, 1)


# --- hello_day_for ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wall", "expected"),
    [
        (dt.datetime(2026, 5, 13, 1, 30), dt.date(2026, 5, 12)),
        (dt.datetime(2026, 5, 13, 0, 0), dt.date(2026, 5, 12)),
        (dt.datetime(2026, 5, 13, 1, 59, 59), dt.date(2026, 5, 12)),
        (dt.datetime(2026, 5, 13, 2, 0), dt.date(2026, 5, 13)),
        (dt.datetime(2026, 5, 13, 3, 0), dt.date(2026, 5, 13)),
        (dt.datetime(2026, 5, 13, 22, 30), dt.date(2026, 5, 13)),
    ],
)
def test_hello_day_for_late_night(wall: dt.datetime, expected: dt.date) -> None:
    moment = wall.replace(tzinfo=TOKYO).astimezone(UTC)
    assert hello_day_for(moment, Window.LATE_NIGHT, TOKYO) == expected


@pytest.mark.parametrize("window", [Window.MORNING, Window.AFTERNOON, Window.EVENING])
def test_hello_day_for_other_windows_is_the_local_date(window: Window) -> None:
    # 01:30 in Tokyo is still the previous day in UTC: the local date counts.
    assert hello_day_for(local(TOKYO, 2026, 5, 13, 1, 30), window, TOKYO) == dt.date(2026, 5, 13)


# --- rhythm_allows ----------------------------------------------------------------------------


def test_rhythm_allows() -> None:
    monday = dt.date(2026, 5, 11)
    week = [monday + i * DAY for i in range(7)]
    assert all(rhythm_allows(day, Rhythm.DAILY, day - DAY) for day in week)
    assert [rhythm_allows(day, Rhythm.WEEKDAYS, None) for day in week] == [True] * 5 + [False] * 2
    assert [d.weekday() for d in week if rhythm_allows(d, Rhythm.TWICE_A_WEEK, None)] == list(
        TWICE_A_WEEK_DAYS
    )
    assert rhythm_allows(monday, Rhythm.EVERY_OTHER_DAY, None)
    assert not rhythm_allows(monday, Rhythm.EVERY_OTHER_DAY, monday - DAY)
    assert rhythm_allows(monday, Rhythm.EVERY_OTHER_DAY, monday - 2 * DAY)
    assert rhythm_allows(monday, Rhythm.EVERY_OTHER_DAY, monday - 5 * DAY)


# --- plan_next_hello --------------------------------------------------------------------------


@pytest.mark.parametrize("tz", [TOKYO, NEW_YORK])
@pytest.mark.parametrize("window", list(Window))
@pytest.mark.parametrize("rhythm", list(Rhythm))
def test_plan_sweep_over_two_weeks(tz: ZoneInfo, window: Window, rhythm: Rhythm) -> None:
    now = utc(2026, 6, 1)
    stop = now + 14 * DAY
    seeds = iter(range(10**6))
    while now < stop:
        today = now.astimezone(tz).date()
        for last in (None, today - 5 * DAY, today - 2 * DAY, today - DAY, today):
            rng = random.Random(next(seeds))
            plan = plan_next_hello(now, tz, window, rhythm, last, rng)
            assert_valid_plan(plan, now, tz, window, rhythm, last)
            assert_earliest(plan, now, tz, window, rhythm, last)
        now += dt.timedelta(minutes=37)


@pytest.mark.parametrize("window", list(Window))
@pytest.mark.parametrize("rhythm", list(Rhythm))
def test_plan_chain_of_hellos(window: Window, rhythm: Rhythm) -> None:
    """Sending each planned hello and planning the next one, for three months."""
    rng = random.Random(7)
    now = utc(2026, 1, 1)
    last: dt.date | None = None
    days: list[dt.date] = []
    while now < utc(2026, 4, 1):
        plan = plan_next_hello(now, NEW_YORK, window, rhythm, last, rng)
        assert_valid_plan(plan, now, NEW_YORK, window, rhythm, last)
        assert_earliest(plan, now, NEW_YORK, window, rhythm, last)
        days.append(plan.day)
        last = plan.day
        now = plan.at + dt.timedelta(seconds=rng.randrange(1, 3 * 3600))
    gaps = {(b - a).days for a, b in zip(days, days[1:], strict=False)}
    expected = {
        Rhythm.DAILY: {1},
        Rhythm.EVERY_OTHER_DAY: {2},
        Rhythm.WEEKDAYS: {1, 3},
        Rhythm.TWICE_A_WEEK: {3, 4},
    }
    assert gaps == expected[rhythm]


@pytest.mark.parametrize("seed", range(20))
def test_plan_inside_open_window_uses_what_is_left_of_today(seed: int) -> None:
    now = local(TOKYO, 2026, 5, 12, 10, 15)
    plan = plan_next_hello(
        now, TOKYO, Window.MORNING, Rhythm.DAILY, dt.date(2026, 5, 11), random.Random(seed)
    )
    assert plan.day == dt.date(2026, 5, 12)
    assert now <= plan.at < local(TOKYO, 2026, 5, 12, 11)


def test_plan_inside_open_window_spreads_over_the_remaining_part() -> None:
    now = local(TOKYO, 2026, 5, 12, 10, 0)
    ats = [
        plan_next_hello(now, TOKYO, Window.MORNING, Rhythm.DAILY, None, random.Random(s)).at
        for s in range(200)
    ]
    assert min(ats) < now + dt.timedelta(minutes=10)
    assert max(ats) > now + dt.timedelta(minutes=50)


def test_plan_after_todays_hello_goes_to_tomorrow() -> None:
    now = local(TOKYO, 2026, 5, 12, 10, 15)
    plan = plan_next_hello(
        now, TOKYO, Window.MORNING, Rhythm.DAILY, dt.date(2026, 5, 12), random.Random(1)
    )
    assert plan.day == dt.date(2026, 5, 13)


def test_plan_after_window_closed_goes_to_tomorrow() -> None:
    now = local(TOKYO, 2026, 5, 12, 11, 0)
    plan = plan_next_hello(now, TOKYO, Window.MORNING, Rhythm.DAILY, None, random.Random(1))
    assert plan.day == dt.date(2026, 5, 13)


def test_plan_last_second_of_window() -> None:
    now = local(TOKYO, 2026, 5, 12, 10, 59, 59) + dt.timedelta(microseconds=500_000)
    plan = plan_next_hello(now, TOKYO, Window.MORNING, Rhythm.DAILY, None, random.Random(1))
    assert plan == PlannedHello(dt.date(2026, 5, 12), now)


def test_plan_late_night_after_midnight_is_yesterdays_window() -> None:
    now = local(TOKYO, 2026, 5, 13, 1, 0)
    plan = plan_next_hello(
        now, TOKYO, Window.LATE_NIGHT, Rhythm.DAILY, dt.date(2026, 5, 10), random.Random(3)
    )
    assert plan.day == dt.date(2026, 5, 12)
    assert now <= plan.at < local(TOKYO, 2026, 5, 13, 2)


def test_plan_late_night_after_midnight_already_greeted_waits_for_tonight() -> None:
    now = local(TOKYO, 2026, 5, 13, 1, 0)
    plan = plan_next_hello(
        now, TOKYO, Window.LATE_NIGHT, Rhythm.DAILY, dt.date(2026, 5, 12), random.Random(3)
    )
    assert plan.day == dt.date(2026, 5, 13)
    assert local(TOKYO, 2026, 5, 13, 22) <= plan.at < local(TOKYO, 2026, 5, 14, 2)


def test_plan_weekdays_on_friday_evening_skips_the_weekend() -> None:
    friday_night = local(TOKYO, 2026, 5, 15, 21, 30)
    plan = plan_next_hello(
        friday_night, TOKYO, Window.EVENING, Rhythm.WEEKDAYS, None, random.Random(0)
    )
    assert plan.day == dt.date(2026, 5, 18)


def test_plan_twice_a_week_from_tuesday_is_thursday() -> None:
    tuesday = local(TOKYO, 2026, 5, 12, 7)
    plan = plan_next_hello(
        tuesday, TOKYO, Window.MORNING, Rhythm.TWICE_A_WEEK, None, random.Random(0)
    )
    assert plan.day == dt.date(2026, 5, 14)


def test_plan_every_other_day_skips_the_day_after_the_last() -> None:
    now = local(TOKYO, 2026, 5, 12, 7)
    plan = plan_next_hello(
        now, TOKYO, Window.MORNING, Rhythm.EVERY_OTHER_DAY, dt.date(2026, 5, 11), random.Random(0)
    )
    assert plan.day == dt.date(2026, 5, 13)


@pytest.mark.parametrize("window", list(Window))
@pytest.mark.parametrize("rhythm", list(Rhythm))
def test_plan_respects_not_before(window: Window, rhythm: Rhythm) -> None:
    now = utc(2026, 5, 1, 12)
    last = dt.date(2026, 4, 30)
    for hours in range(0, 40 * 24, 11):
        not_before = now + dt.timedelta(hours=hours, minutes=17)
        plan = plan_next_hello(now, TOKYO, window, rhythm, last, random.Random(hours), not_before)
        assert_valid_plan(plan, now, TOKYO, window, rhythm, last, not_before)
        assert_earliest(plan, not_before, TOKYO, window, rhythm, last)


def test_plan_not_before_inside_a_window_uses_the_rest_of_it() -> None:
    now = local(TOKYO, 2026, 5, 1, 9)
    not_before = local(TOKYO, 2026, 5, 20, 10, 30)
    for seed in range(20):
        rng = random.Random(seed)
        plan = plan_next_hello(now, TOKYO, Window.MORNING, Rhythm.DAILY, None, rng, not_before)
        assert plan.day == dt.date(2026, 5, 20)
        assert not_before <= plan.at < local(TOKYO, 2026, 5, 20, 11)


def test_plan_not_before_in_the_past_changes_nothing() -> None:
    now = local(TOKYO, 2026, 5, 12, 9)
    plain = plan_next_hello(now, TOKYO, Window.MORNING, Rhythm.DAILY, None, random.Random(5))
    early = plan_next_hello(
        now, TOKYO, Window.MORNING, Rhythm.DAILY, None, random.Random(5), now - 3 * DAY
    )
    assert plain == early


def test_plan_is_deterministic_for_a_seed() -> None:
    now = utc(2026, 5, 12, 3, 4, 5)
    args = (now, NEW_YORK, Window.EVENING, Rhythm.DAILY, None)
    first = plan_next_hello(*args, random.Random(42))
    assert plan_next_hello(*args, random.Random(42)) == first
    assert len({plan_next_hello(*args, random.Random(s)).at for s in range(10)}) > 1


def test_plan_draws_whole_seconds_from_the_start() -> None:
    start, _ = window_bounds(dt.date(2026, 5, 13), Window.MORNING, TOKYO)
    now = utc(2026, 5, 12, 3, 0, 0, 250_000)
    for seed in range(20):
        plan = plan_next_hello(now, TOKYO, Window.MORNING, Rhythm.DAILY, None, random.Random(seed))
        assert (plan.at - start) % dt.timedelta(seconds=1) == dt.timedelta(0)


# --- DST --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "change_day"),
    [
        (NEW_YORK, dt.date(2026, 3, 8)),
        (NEW_YORK, dt.date(2026, 11, 1)),
        (LONDON, dt.date(2026, 3, 29)),
        (LONDON, dt.date(2026, 10, 25)),
    ],
)
@pytest.mark.parametrize("window", list(Window))
def test_plan_around_dst_changes_stays_in_local_hours(
    tz: ZoneInfo, change_day: dt.date, window: Window
) -> None:
    start = dt.datetime.combine(change_day - 3 * DAY, dt.time(0), tzinfo=tz).astimezone(UTC)
    stop = start + 6 * DAY
    now = start
    seed = 0
    planned_days: set[dt.date] = set()
    while now < stop:
        today = now.astimezone(tz).date()
        for last in (None, today - 2 * DAY, today - DAY):
            seed += 1
            plan = plan_next_hello(now, tz, window, Rhythm.DAILY, last, random.Random(seed))
            assert_valid_plan(plan, now, tz, window, Rhythm.DAILY, last)
            assert_earliest(plan, now, tz, window, Rhythm.DAILY, last)
            planned_days.add(plan.day)
        now += dt.timedelta(minutes=13)
    assert {change_day - DAY, change_day, change_day + DAY} <= planned_days


@pytest.mark.parametrize("window", list(Window))
def test_every_day_of_a_year_in_new_york_stays_in_local_hours(window: Window) -> None:
    rng = random.Random(2026)
    day = dt.date(2026, 1, 1)
    while day < dt.date(2027, 1, 1):
        start, end = window_bounds(day, window, NEW_YORK)
        assert start < end
        assert in_local_hours(start, window, NEW_YORK)
        assert in_local_hours(end - dt.timedelta(seconds=1), window, NEW_YORK)
        midnight = dt.datetime.combine(day, dt.time(0), tzinfo=NEW_YORK).astimezone(UTC)
        for now in (midnight, start, start + (end - start) / 2, end - dt.timedelta(seconds=1)):
            for _ in range(3):
                plan = plan_next_hello(now, NEW_YORK, window, Rhythm.DAILY, day - DAY, rng)
                assert plan.day == day
                assert_valid_plan(plan, now, NEW_YORK, window, Rhythm.DAILY, day - DAY)
        day += DAY


# --- is_still_open ----------------------------------------------------------------------------


def test_is_still_open() -> None:
    day = dt.date(2026, 5, 12)
    end = local(TOKYO, 2026, 5, 13, 2)
    assert is_still_open(day, Window.LATE_NIGHT, TOKYO, local(TOKYO, 2026, 5, 12, 12))
    assert is_still_open(day, Window.LATE_NIGHT, TOKYO, local(TOKYO, 2026, 5, 12, 23))
    assert is_still_open(day, Window.LATE_NIGHT, TOKYO, end - dt.timedelta(microseconds=1))
    assert not is_still_open(day, Window.LATE_NIGHT, TOKYO, end)
    assert not is_still_open(day, Window.LATE_NIGHT, TOKYO, end + dt.timedelta(hours=5))
    assert is_still_open(day, Window.MORNING, TOKYO, local(TOKYO, 2026, 5, 12, 10, 59))
    assert not is_still_open(day, Window.MORNING, TOKYO, local(TOKYO, 2026, 5, 12, 11))


def test_min_gap_days_slows_every_rhythm() -> None:
    """The pressure budget's gap: no hello-day sooner than last + gap, whatever the rhythm allows."""
    tz = ZoneInfo("Asia/Tokyo")
    last = dt.date(2026, 3, 2)  # a Monday
    now = dt.datetime(2026, 3, 2, 22, 0, tzinfo=tz)
    for rhythm in Rhythm:
        for gap in (1, 3, 7):
            planned = plan_next_hello(now, tz, Window.EVENING, rhythm, last, random.Random(1), min_gap_days=gap)
            assert planned.day >= last + dt.timedelta(days=gap)
            assert rhythm_allows(planned.day, rhythm, last)
    daily = plan_next_hello(now, tz, Window.EVENING, Rhythm.DAILY, last, random.Random(1), min_gap_days=7)
    assert daily.day == dt.date(2026, 3, 9)
    with pytest.raises(ValueError):
        plan_next_hello(now, tz, Window.EVENING, Rhythm.DAILY, last, random.Random(1), min_gap_days=0)


def test_plan_weekly_picks_the_chosen_weekday_inside_its_window() -> None:
    tz = ZoneInfo("Europe/London")
    rng = random.Random(2)
    now = dt.datetime(2026, 3, 25, 12, 0, tzinfo=dt.UTC)  # a Wednesday, days before the clocks change
    for weekday in range(7):
        for window in Window:
            planned = plan_weekly(now, tz, window, weekday, rng)
            assert planned.day.weekday() == weekday
            start, end = window_bounds(planned.day, window, tz)
            assert start <= planned.at < end and planned.at > now
            assert (planned.day - now.date()).days <= 7
    # Wednesday evening, asked on Wednesday at noon: today.
    assert plan_weekly(now, tz, Window.EVENING, 2, rng).day == dt.date(2026, 3, 25)
