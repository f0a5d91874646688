"""The families' weekly note, sent by the same tick as the hellos, claimed the same way."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from telegram.ext import Application

from bot.services import services_of
from core.schedule import Window, plan_weekly
from handlers import views
from handlers.family import TIPS
from schedules.hello import Sent, claimed_batches, retry_at, send_bulk, unreachable
from storage import repo

log = logging.getLogger("komorebi.tick")


async def run_family_tick(application: Application) -> int:
    """Send every weekly family note that is due; returns how many went out."""
    services = services_of(application)
    sent = 0
    async for session, members, _token in claimed_batches(services, repo.claim_family_due):
        for member in members:
            now = services.clock.now()
            zone = ZoneInfo(member.timezone)
            relatives = await repo.family_views(session, member.id, now.astimezone(zone).date() - dt.timedelta(days=6))
            t = services.catalogs[member.language]
            tip = t(f"family.tip.{member.tips_seen % TIPS + 1}")
            text, markup = views.family_weekly(t, relatives, tip)
            await session.commit()  # no transaction held open while the note is on its way
            result = await send_bulk(application.bot, text, markup, member.chat_id)
            member.claimed_at = None
            member.claim_token = None
            if isinstance(result, Sent):
                member.tips_seen += 1
                member.send_failures = 0
                week_later = now + dt.timedelta(days=1)
                member.next_note_at = plan_weekly(week_later, zone, Window(member.note_window), member.note_weekday, services.rng).at
                sent += 1
            elif unreachable(result):
                member.next_note_at = None  # they blocked the bot; /family starts it again
            else:
                log.warning("family note not sent, will try again: %s", type(result).__name__)
                member.next_note_at = retry_at(now, member.send_failures)
                member.send_failures += 1
            await session.commit()
    return sent
