"""Time zones, daylight saving and restarts, through the real Application and the real tick."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.clock import FakeClock
from core.schedule import WINDOW_HOURS, Window
from storage.models import Hello
from tests.harness import Harness
from tests.test_checkin_loop import to_next_hello
from tests.test_onboarding import ME

NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")


async def onboard_in(bot: Harness, zone: str, window_label: str, user: int = ME) -> None:
    await bot.send(user, "/start")
    await bot.tap(user, "OK")
    await bot.tap(user, "Change")
    await bot.tap(user, "Time zone")
    await bot.send(user, zone)
    await bot.tap(user, "Change")
    await bot.tap(user, "Time of day")
    await bot.tap(user, window_label)
    await bot.tap(user, "Looks good")


def inside(local: dt.datetime, window: Window) -> bool:
    start, end = WINDOW_HOURS[window]
    t = local.time()
    return start <= t < end if start < end else (t >= start or t < end)


async def hello_days(bot: Harness) -> list[dt.date]:
    async with bot.services.sessions() as session:
        return list(await session.scalars(select(Hello.day).order_by(Hello.day)))


@pytest.mark.parametrize("start", [dt.date(2026, 3, 4), dt.date(2026, 10, 28)], ids=["march", "november"])
@pytest.mark.parametrize(
    ("window", "label"),
    [(Window.LATE_NIGHT, "Late night (22:00–02:00)"), (Window.MORNING, "Morning (08:00–11:00)")],
)
async def test_hellos_stay_inside_the_window_across_daylight_saving(
    engine: AsyncEngine, start: dt.date, window: Window, label: str
) -> None:
    clock = FakeClock(dt.datetime.combine(start, dt.time(12), NEW_YORK))
    async with Harness.started(engine, clock) as bot:
        await onboard_in(bot, "America/New_York", label)
        for _ in range(9):  # across 2026-03-08 or 2026-11-01
            await to_next_hello(bot)
            assert inside(bot.clock.now().astimezone(NEW_YORK), window), bot.clock.now().astimezone(NEW_YORK)
            await bot.tap(ME, "I'm here")
        days = await hello_days(bot)
        # One hello for each day, none skipped, none doubled, through the change of clocks.
        assert days == [days[0] + dt.timedelta(days=i) for i in range(9)]


async def test_a_hello_due_while_the_bot_was_down_is_sent_if_its_window_is_open(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    async with Harness.started(engine, clock) as bot:
        await onboard_in(bot, "Asia/Tokyo", "Evening (18:00–21:00)")
        await bot.plan_hello_at(ME, dt.datetime(2026, 3, 2, 18, 30, tzinfo=TOKYO))
    # The process stops at 18:00; it comes back at 20:50, after the hello was due, inside the window.
    clock.set(dt.datetime(2026, 3, 2, 20, 50, tzinfo=TOKYO))
    async with Harness.started(engine, clock) as bot:
        await bot.tick()
        assert "I'm here" in bot.api.last(ME).button_texts
        assert len(await hello_days(bot)) == 1


async def test_a_hello_whose_window_passed_while_down_is_skipped_not_piled_up(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    async with Harness.started(engine, clock) as bot:
        await onboard_in(bot, "Asia/Tokyo", "Evening (18:00–21:00)")
    # Down for three days: three windows passed.
    clock.set(dt.datetime(2026, 3, 5, 10, 0, tzinfo=TOKYO))
    async with Harness.started(engine, clock) as bot:
        sent = len(bot.api.calls_to("sendMessage"))
        await bot.tick()
        assert len(bot.api.calls_to("sendMessage")) == sent  # nothing stale is sent
        nxt = (await bot.participant(ME)).next_hello_at.astimezone(TOKYO)
        assert nxt.date() == dt.date(2026, 3, 5) and 18 <= nxt.hour < 21
        await to_next_hello(bot)
        assert await hello_days(bot) == [dt.date(2026, 3, 5)]


async def test_a_claim_left_by_a_crashed_worker_is_taken_over(engine: AsyncEngine, clock: FakeClock) -> None:
    from storage import repo

    async with Harness.started(engine, clock) as bot:
        await onboard_in(bot, "Asia/Tokyo", "Evening (18:00–21:00)")
        due = dt.datetime(2026, 3, 2, 19, 0, tzinfo=TOKYO)
        await bot.plan_hello_at(ME, due)
        clock.set(due)
        async with bot.services.sessions() as session:  # a worker claims, then dies before sending
            assert len(await repo.claim_due(session, due, "dead-worker", 10, due - dt.timedelta(minutes=5))) == 1
            await session.commit()
        await bot.tick()
        assert await hello_days(bot) == []  # the claim is still fresh: hands off
        clock.advance(dt.timedelta(minutes=6))
        await bot.tick()
        assert len(await hello_days(bot)) == 1  # taken over, sent once
