"""The one repeating job: new invitations planned, hellos, then notices (activities, kind words),
then the families' weekly notes, then a little housekeeping."""

from __future__ import annotations

import datetime as dt

from telegram.ext import Application, ContextTypes

from bot.services import services_of
from schedules.family import run_family_tick
from schedules.hello import run_tick
from schedules.notices import plan_invitations, run_notices
from storage import repo

TICK_NAME = "hello-tick"
# How long webhook update ids are remembered (Telegram gives up retrying well within a day).
DELIVERY_MEMORY = dt.timedelta(days=2)


async def tick(context: ContextTypes.DEFAULT_TYPE) -> None:
    application = context.application
    await plan_invitations(application)
    await run_tick(application)
    await run_notices(application)
    await run_family_tick(application)
    services = services_of(application)
    async with services.sessions() as session:
        await repo.forget_deliveries_before(session, services.clock.now() - DELIVERY_MEMORY)
        await session.commit()


def schedule_tick(application: Application, every_seconds: float) -> None:
    """Register the one repeating job. Overlapping runs are refused; a late run is still run."""
    application.job_queue.run_repeating(
        tick,
        interval=every_seconds,
        first=1,
        name=TICK_NAME,
        job_kwargs={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )
