"""The families' weekly note, sent by the same tick as the hellos, claimed the same way."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from zoneinfo import ZoneInfo

from telegram.error import Forbidden, TelegramError
from telegram.ext import Application

from bot.services import services_of
from core.schedule import Window, plan_weekly
from handlers import views
from handlers.family import TIPS
from schedules.hello import BATCH_SIZE, CLAIM_TIMEOUT, retry_at
from storage import repo

log = logging.getLogger("komorebi.tick")


async def run_family_tick(application: Application) -> int:
    """Send every weekly family note that is due; returns how many went out."""
    services = services_of(application)
    token = str(uuid.uuid4())
    sent = 0
    while True:
        now = services.clock.now()
        async with services.sessions() as session:
            members = await repo.claim_family_due(session, now, token, BATCH_SIZE, now - CLAIM_TIMEOUT)
            await session.commit()
            for member in members:
                zone = ZoneInfo(member.timezone)
                today = now.astimezone(zone).date()
                relatives = await repo.family_views(session, member.id, today - dt.timedelta(days=6))
                t = services.catalogs[member.language]
                tip = t(f"family.tip.{member.tips_seen % TIPS + 1}")
                text, markup = views.family_weekly(t, relatives, tip)
                member.claimed_at = None
                member.claim_token = None
                try:
                    await application.bot.send_message(member.chat_id, text, reply_markup=markup, rate_limit_args={"bulk": True})
                except Forbidden:
                    member.next_note_at = None  # they blocked the bot; /family starts it again
                    await session.commit()
                    continue
                except TelegramError as exc:
                    log.warning("family note not sent, will try again: %s", type(exc).__name__)
                    member.next_note_at = retry_at(now, member.send_failures)
                    member.send_failures += 1
                    await session.commit()
                    continue
                member.tips_seen += 1
                member.send_failures = 0
                week_later = now + dt.timedelta(days=1)
                member.next_note_at = plan_weekly(week_later, zone, Window(member.note_window), member.note_weekday, services.rng).at
                sent += 1
                await session.commit()
        if len(members) < BATCH_SIZE:
            break
    return sent
