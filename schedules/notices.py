"""Notices: group-activity invitations, reminders and "how was it?", and kind words.

Part of the one repeating tick. First it records an invitation for every participant newly welcome
at an upcoming activity (the database's unique key makes that once, whichever worker gets there);
then it claims due notices in batches, exactly as the hello tick claims hellos, checks that each
still fits (nothing for a paused person, nothing about a cancelled activity but the cancellation),
words it in the person's own language and time zone, and sends it through the rate limiter.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup
from telegram.error import TelegramError
from telegram.ext import Application

from bot.i18n import Translator
from bot.services import Services, services_of
from core.activities import INVITE_BUSY_HOLD, INVITE_QUIET_HOLD, Answer, NoticeKind, invite_at
from core.backoff import may_invite
from core.peer import FALLBACKS
from handlers import activities as activity_views
from handlers.peer import cheer_words
from handlers.views import thank_row
from schedules.hello import Outgoing, Sent, claimed_batches, retry_at, send_all, unreachable
from storage import repo
from storage.models import Activity, Status

log = logging.getLogger("komorebi.notices")

Rendered = tuple[str, InlineKeyboardMarkup | None]


async def invite_newcomers(session: AsyncSession, now: dt.datetime) -> int:
    """Plan one invitation for each participant newly welcome at an upcoming activity."""
    invited = 0
    for activity in await repo.upcoming_activities(session, now):
        candidates = dict(await repo.invite_candidates(session, activity))
        newly = await repo.add_replies(session, activity.id, list(candidates), now)
        await repo.add_notices(
            session,
            [
                repo.notice_row(pid, NoticeKind.INVITE, invite_at(candidates[pid], activity.starts_at, now), activity_id=activity.id)
                for pid in sorted(newly)
            ],
        )
        invited += len(newly)
    return invited


Lookup = Callable[[AsyncSession, int], Awaitable[tuple[Activity | None, int]]]


def activity_lookup() -> Lookup:
    """An activity and how many are coming, looked up once per batch (a fan-out of invitations
    to one activity asks once, not once per person)."""
    found: dict[int, tuple[Activity | None, int]] = {}

    async def look(session: AsyncSession, activity_id: int) -> tuple[Activity | None, int]:
        if activity_id not in found:
            activity = await repo.activity(session, activity_id)
            counts = await repo.answer_counts(session, [activity_id]) if activity else {activity_id: {}}
            found[activity_id] = activity, counts[activity_id].get(Answer.COME, 0)
        return found[activity_id]

    return look


async def _render(
    services: Services, session: AsyncSession, notice: repo.DueNotice, now: dt.datetime, looked_up: Lookup
) -> Rendered | None:
    """The words of a notice, or None if it no longer fits and is dropped."""
    if notice.status != Status.ACTIVE or notice.blocked:
        return None  # a pause silences everything; a stop ends it
    t = services.catalogs[notice.language or services.settings.default_language]
    if notice.kind in (NoticeKind.CHEER, NoticeKind.KIND_WORD):
        return await _kind_word(services, session, notice, t)
    activity, coming = await looked_up(session, notice.activity_id) if notice.activity_id else (None, 0)
    if activity is None or (activity.cancelled_at is not None) != (notice.kind == NoticeKind.CANCELLED):
        return None
    zone = ZoneInfo(notice.timezone or services.settings.default_timezone)
    if notice.kind == NoticeKind.INVITE:
        if activity.starts_at <= now or not notice.group_opt_in or notice.level < activity.min_level:
            return None  # over, or no longer for them (they opted out, or stepped back)
        text = t("activity.invite") + "\n\n" + activity_views.describe(t, activity, zone, coming)
        return text, activity_views.answer_keyboard(t, activity.id)
    if notice.kind in (NoticeKind.REMIND_DAY, NoticeKind.REMIND_SOON):
        return t(f"activity.{notice.kind}", card=activity_views.describe(t, activity, zone, coming)), None
    if notice.kind == NoticeKind.FOLLOW_UP:
        return t("activity.how", title=activity.title), activity_views.how_was_it_keyboard(t, activity.id)
    if notice.kind == NoticeKind.HOW_IT_WENT:
        return t("activity.how_it_went", title=activity.title, planned=t.plural("activity.planned", coming)), None
    if notice.kind == NoticeKind.CHANGED:
        return _changed(t, activity, zone, coming)
    return t("activity.cancelled", title=activity.title, when=activity_views.when(t, activity.starts_at, zone)), None


def _changed(t: Translator, activity: Activity, zone: ZoneInfo, coming: int) -> Rendered:
    text = t("activity.changed") + "\n\n" + activity_views.describe(t, activity, zone, coming)
    return text, activity_views.answer_keyboard(t, activity.id)


async def _kind_word(
    services: Services, session: AsyncSession, notice: repo.DueNotice, t: Translator
) -> Rendered | None:
    participant = await repo.participant(session, notice.participant_id)
    if notice.kind == NoticeKind.KIND_WORD:
        if participant is None or participant.kind_word_asked_at is None:
            return None
        words = t(f"kindword.fallback.{services.rng.randint(1, FALLBACKS)}")
        return t("kindword.from_bot", words=words), None
    cheer = await repo.cheer(session, notice.cheer_id) if notice.cheer_id else None
    if cheer is None or cheer.delivered_at is not None or participant is None or not participant.cheers_on:
        return None
    pending = repo.PendingCheer(cheer.id, cheer.participant_id, cheer.phrase, cheer.text)
    return t("kindword.arrived") + "\n\n" + cheer_words(t, pending), InlineKeyboardMarkup([thank_row(t, cheer.id)])


def _invitation_held_until(notice: repo.DueNotice, now: dt.datetime) -> dt.datetime | None:
    """When to look again at an invitation that may not go now, or None if it may.

    In a quiet spell it waits, looked at again once a day, until the person has replied (and it
    lapses once the activity has begun). Nor does it go while another worker is sending them a
    hello, whose count of the spell would not include it.
    """
    if notice.kind != NoticeKind.INVITE:
        return None
    if notice.hello_claimed:
        return now + INVITE_BUSY_HOLD
    return None if may_invite(notice.unanswered) else now + INVITE_QUIET_HOLD


async def plan_invitations(application: Application) -> int:
    """Run before the hellos, so an invitation due with today's hello goes right after it."""
    services = services_of(application)
    async with services.sessions() as session:
        invited = await invite_newcomers(session, services.clock.now())
        await session.commit()
    return invited


async def run_notices(application: Application) -> int:
    """Send every due notice, a batch at a time. Returns how many went out."""
    services = services_of(application)
    sent = 0
    async for session, batch, token in claimed_batches(services, repo.claim_notices):
        sent += await _send_batch(application, services, session, batch, token)
    if sent:
        log.info("notices: %d sent", sent)
    return sent


async def _send_batch(
    application: Application, services: Services, session: AsyncSession, batch: list[repo.DueNotice], token: str
) -> int:
    looked_up = activity_lookup()
    ready: list[repo.DueNotice] = []
    outgoing: list[Outgoing] = []
    held: dict[dt.datetime, list[int]] = {}
    for notice in batch:
        later = _invitation_held_until(notice, services.clock.now())
        if later is not None:
            held.setdefault(later, []).append(notice.notice_id)
            continue
        rendered = await _render(services, session, notice, services.clock.now(), looked_up)
        if rendered is None:
            if notice.kind == NoticeKind.KIND_WORD:  # paused or stopped since asking: the ask lapses
                await repo.clear_kind_word(session, notice.participant_id)
            await repo.finish_notices(session, [notice.notice_id], token)
        else:
            ready.append(notice)
            outgoing.append((notice.chat_id, *rendered))
    for until, notice_ids in held.items():  # one statement for all held alike
        await repo.hold_notices(session, notice_ids, token, until)
    await session.commit()
    sent = 0

    async def record(finished: list[tuple[int, Sent | TelegramError]]) -> None:
        nonlocal sent
        now = services.clock.now()
        done: list[int] = []
        invited: list[int] = []
        for index, result in finished:
            notice = ready[index]
            if isinstance(result, Sent):
                if notice.kind == NoticeKind.CHEER and notice.cheer_id:
                    await repo.mark_cheers_delivered(session, [notice.cheer_id], now)
                elif notice.kind == NoticeKind.KIND_WORD:
                    await repo.clear_kind_word(session, notice.participant_id)
                done.append(notice.notice_id)
                if notice.kind == NoticeKind.INVITE:  # the one notice nobody asked for
                    invited.append(notice.participant_id)
                sent += 1
            elif unreachable(result):
                await repo.mark_blocked(session, notice.participant_id, now)
                done.append(notice.notice_id)
            else:
                log.warning("notice not sent, will try again: %s", type(result).__name__)
                services.metrics.telegram_errors.labels(type(result).__name__).inc()
                await repo.retry_notice(session, notice, token, retry_at(now, notice.send_failures))
        await repo.finish_notices(session, done, token)
        await repo.count_unanswered_invitations(session, invited)  # within the pressure budget
        await session.commit()

    await send_all(application.bot, outgoing, record)
    return sent
