"""The one repeating job: new invitations planned, hellos, then notices (activities, kind words),
then the families' weekly notes, then a little housekeeping.

Most ticks find nothing to do: one read tells which parts have work, and only those run."""

from __future__ import annotations

import datetime as dt

from telegram.ext import Application, ContextTypes

from bot.services import services_of
from schedules.family import run_family_tick
from schedules.hello import CLAIM_TIMEOUT, run_tick
from schedules.notices import plan_invitations, run_notices
from storage import repo

TICK_NAME = "hello-tick"
# How long webhook update ids are remembered (Telegram gives up retrying well within a day).
DELIVERY_MEMORY = dt.timedelta(days=2)
# Housekeeping (forgetting old update ids) is done this often, not on every tick.
HOUSEKEEPING_EVERY = dt.timedelta(hours=1)
_HOUSEKEPT_AT = "komorebi.housekept_at"


async def tick(context: ContextTypes.DEFAULT_TYPE) -> None:
    application = context.application
    services = services_of(application)
    now = services.clock.now()
    async with services.sessions() as session:
        work = await repo.due_work(session, now, now - CLAIM_TIMEOUT)
        await session.commit()
    invited = await plan_invitations(application) if work.activities else 0
    if work.hellos:
        await run_tick(application)
    if work.notices or invited:
        await run_notices(application)
    if work.family_notes:
        await run_family_tick(application)
    services.metrics.tick_finished(services.clock.now().timestamp())
    # When it last ran is kept in memory on purpose: after a restart it simply runs again.
    housekept = application.bot_data.get(_HOUSEKEPT_AT)
    if housekept is None or now - housekept >= HOUSEKEEPING_EVERY:
        async with services.sessions() as session:
            await repo.forget_deliveries_before(session, now - DELIVERY_MEMORY)
            await session.commit()
        application.bot_data[_HOUSEKEPT_AT] = now


def schedule_tick(application: Application, every_seconds: float) -> None:
    """Register the one repeating job. Overlapping runs are refused; a late run is still run."""
    application.job_queue.run_repeating(
        tick,
        interval=every_seconds,
        first=1,
        name=TICK_NAME,
        job_kwargs={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )
