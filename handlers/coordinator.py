"""Coordinators' tools, in the bot and on the command line (`python -m bot admin`).

The operations are plain functions over a session, shared by both; the bot commands check
KOMOREBI_COORDINATORS first, and anyone else gets the unknown-command answer, revealing nothing.
Figures are aggregates only, and any count below five is shown as "<5".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Translator
from core.activities import ACTIVITY_NOTICES, Answer, NoticeKind, notices_for
from core.ladder import LEVELS
from core.peer import CODE_DAYS, QUIET_AFTER, new_code, shown_count
from handlers.base import Edit, Out, Send, SendTo, Toast, Turn, small_number
from handlers.help import unknown_command
from handlers.peer import code_hash
from handlers.safety import is_coordinator
from storage import repo
from storage.models import Activity, Volunteer

FIGURE_DAYS = 28
MAX_TITLE = 120
MAX_PLACE = 300


# --- operations shared by the bot and the command line ------------------------------------------------


@dataclass(frozen=True)
class ActivityForm:
    """What a coordinator typed: a local time (in their zone), a title, a place, capacity, lowest step."""

    starts: dt.datetime  # naive, local to the coordinator's zone
    title: str
    place: str
    capacity: int
    min_level: int


class FormError(ValueError):
    """Why a form was refused: a catalogue key."""


def parse_form(text: str) -> ActivityForm:
    """ "2026-12-05 14:00 | Online tea | https://meet.example/x | 8 | 3" (five parts, '|' between)."""
    parts = [part.strip() for part in text.split("|")]
    if len(parts) != 5:
        raise FormError("admin.activity.form")
    return make_form(*parts)


def make_form(when: str, title: str, place: str, capacity: str, level: str) -> ActivityForm:
    """A checked form, from the bot's one line or the command line's options."""
    try:
        starts = dt.datetime.strptime(when.strip(), "%Y-%m-%d %H:%M")
    except ValueError as exc:
        raise FormError("admin.activity.bad_time") from exc
    title, place = title.strip(), place.strip()
    if not title or len(title) > MAX_TITLE or not place or len(place) > MAX_PLACE:
        raise FormError("admin.activity.bad_text")
    size, lowest = small_number(capacity.strip()), small_number(level.strip())
    if not size:
        raise FormError("admin.activity.bad_capacity")
    if lowest not in LEVELS:
        raise FormError("admin.activity.bad_level")
    return ActivityForm(starts, title, place, size, lowest)


def _utc(form: ActivityForm, zone: str, now: dt.datetime) -> dt.datetime:
    at = form.starts.replace(tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)
    if at <= now:
        raise FormError("admin.activity.past")
    return at


async def create_activity(session: AsyncSession, form: ActivityForm, zone: str, now: dt.datetime) -> Activity:
    """A new activity; the tick sends the invitations (with each person's next hello)."""
    activity = Activity(
        title=form.title,
        place=form.place,
        starts_at=_utc(form, zone, now),
        zone=zone,
        capacity=form.capacity,
        min_level=form.min_level,
        created_at=now,
    )
    await repo.add(session, activity)
    return activity


async def edit_activity(session: AsyncSession, activity_id: int, form: ActivityForm, now: dt.datetime) -> Activity | None:
    """Change an activity. Everyone who answered hears of the change; reminders follow the new time."""
    activity = await repo.activity(session, activity_id, lock=True)
    if activity is None or activity.cancelled_at is not None or activity.starts_at <= now:
        return None
    activity.starts_at = _utc(form, activity.zone, now)
    activity.title, activity.place = form.title, form.place
    activity.capacity, activity.min_level = form.capacity, form.min_level
    replies = await repo.answered(session, activity.id)
    await repo.delete_notices(session, activity_id=activity.id, kinds=ACTIVITY_NOTICES)
    rows = [repo.notice_row(r.participant_id, NoticeKind.CHANGED, now, activity_id=activity.id) for r in replies]
    for reply in replies:
        rows += [
            repo.notice_row(reply.participant_id, kind, at, activity_id=activity.id)
            for kind, at in notices_for(Answer(reply.answer), activity.starts_at, now)
        ]
    await repo.add_notices(session, rows)
    return activity


async def cancel_activity(session: AsyncSession, activity_id: int, now: dt.datetime) -> Activity | None:
    """Cancel an activity: its waiting messages are dropped, and everyone who answered is told."""
    activity = await repo.activity(session, activity_id, lock=True)
    if activity is None or activity.cancelled_at is not None or activity.starts_at <= now:
        return None
    activity.cancelled_at = now
    await repo.delete_notices(session, activity_id=activity.id)
    replies = await repo.answered(session, activity.id)
    await repo.add_notices(
        session, [repo.notice_row(r.participant_id, NoticeKind.CANCELLED, now, activity_id=activity.id) for r in replies]
    )
    return activity


async def issue_code(session: AsyncSession, now: dt.datetime) -> tuple[str, dt.datetime]:
    """A single-use volunteer code, valid for a week. Only its hash is stored."""
    code = new_code()
    expires = now + dt.timedelta(days=CODE_DAYS)
    await repo.add_volunteer_code(session, code_hash(code), now, expires)
    return code, expires


async def revoke(session: AsyncSession, volunteer_id: int, now: dt.datetime) -> Volunteer | None:
    return await repo.revoke_volunteer(session, volunteer_id, now)


def local_date(at: dt.datetime, zone: str) -> str:
    return f"{at.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M}"


async def figures_text(session: AsyncSession, t: Translator, today: dt.date) -> str:
    """Participants by step, check-ins a day for 28 days and how many went quiet; every count
    below five shown as "<5"."""
    since = today - dt.timedelta(days=FIGURE_DAYS - 1)
    found = await repo.figures(session, since, QUIET_AFTER)
    levels = "\n".join(t("admin.figures.level", level=level, n=shown_count(found.by_level.get(level, 0))) for level in LEVELS)
    days = "\n".join(
        f"{day:%m-%d}  {shown_count(found.checkins_by_day.get(day, 0))}"
        for day in (since + dt.timedelta(days=i) for i in range(FIGURE_DAYS))
    )
    return t(
        "admin.figures",
        total=shown_count(found.total),
        levels=levels,
        days=days,
        quiet=shown_count(found.quiet),
        quiet_after=QUIET_AFTER,
    )


async def activities_text(session: AsyncSession, t: Translator, now: dt.datetime) -> str:
    upcoming = await repo.upcoming_activities(session, now)
    if not upcoming:
        return t("admin.activities.none")
    counts = await repo.answer_counts(session, [a.id for a in upcoming])
    return "\n\n".join(
        t(
            "admin.activities.line",
            id=a.id,
            title=a.title,
            when=local_date(a.starts_at, a.zone),
            place=a.place,
            capacity=a.capacity,
            level=a.min_level,
            come=counts[a.id].get(Answer.COME, 0),
            maybe=counts[a.id].get(Answer.MAYBE, 0),
            tell=counts[a.id].get(Answer.TELL, 0),
        )
        for a in upcoming
    )


async def volunteers_text(session: AsyncSession, t: Translator, now: dt.datetime, zone: str) -> str:
    rows = await repo.volunteers(session, now - dt.timedelta(days=7))
    if not rows:
        return t("admin.volunteers.none")
    return "\n".join(
        t(
            "admin.volunteers.revoked" if row.revoked_at else "admin.volunteers.line",
            id=row.volunteer_id,
            since=local_date(row.created_at, zone)[:10],
            cheers=row.cheers_this_week,
        )
        for row in rows
    )


# --- the bot commands -------------------------------------------------------------------------------------


def _arguments(turn: Turn) -> str:
    words = (turn.update.effective_message.text or "").split(maxsplit=1)
    return words[1].strip() if len(words) > 1 else ""


def _zone(turn: Turn) -> str:
    return turn.services.settings.default_timezone


async def newcode_command(turn: Turn) -> list[Out]:
    if not is_coordinator(turn):
        return await unknown_command(turn)
    code, expires = await issue_code(turn.session, turn.now)
    return [Send(turn.t("admin.code", code=code, until=local_date(expires, _zone(turn))))]


async def volunteers_command(turn: Turn) -> list[Out]:
    if not is_coordinator(turn):
        return await unknown_command(turn)
    rows = await repo.volunteers(turn.session, turn.now - dt.timedelta(days=7))
    buttons = [
        [InlineKeyboardButton(turn.t("admin.volunteers.revoke", id=row.volunteer_id), callback_data=f"vx:{row.volunteer_id}")]
        for row in rows
        if row.revoked_at is None
    ]
    text = await volunteers_text(turn.session, turn.t, turn.now, _zone(turn))
    return [Send(text, InlineKeyboardMarkup(buttons) if buttons else None)]


async def revoke_button(turn: Turn) -> list[Out]:
    volunteer_id = small_number(turn.data.removeprefix("vx:"))
    if not is_coordinator(turn) or volunteer_id is None:
        return [Toast(turn.t("button.stale"))]
    volunteer = await revoke(turn.session, volunteer_id, turn.now)
    if volunteer is None:
        return [Toast(turn.t("admin.volunteers.not_found"))]
    vt = turn.services.catalogs[volunteer.language]
    return [
        Edit(turn.t("admin.volunteers.revoked_now", id=volunteer_id)),
        SendTo(volunteer.chat_id, vt("volunteer.revoked")),
    ]


async def _activity_form(turn: Turn) -> ActivityForm | list[Out]:
    try:
        return parse_form(_arguments(turn))
    except FormError as exc:
        return [Send(turn.t(str(exc)) + "\n\n" + turn.t("admin.activity.usage", zone=_zone(turn)))]


async def newactivity_command(turn: Turn) -> list[Out]:
    if not is_coordinator(turn):
        return await unknown_command(turn)
    form = await _activity_form(turn)
    if isinstance(form, list):
        return form
    try:
        activity = await create_activity(turn.session, form, _zone(turn), turn.now)
    except FormError as exc:
        return [Send(turn.t(str(exc)))]
    return [Send(turn.t("admin.activity.created", id=activity.id, title=activity.title))]


def _id_and_rest(turn: Turn) -> tuple[int | None, str]:
    head, _, rest = _arguments(turn).partition("|")
    return small_number(head.strip()), rest.strip()


async def editactivity_command(turn: Turn) -> list[Out]:
    """/editactivity ID | YYYY-MM-DD HH:MM | title | place | capacity | lowest step"""
    if not is_coordinator(turn):
        return await unknown_command(turn)
    activity_id, rest = _id_and_rest(turn)
    try:
        form = parse_form(rest)
        activity = await edit_activity(turn.session, activity_id, form, turn.now) if activity_id else None
    except FormError as exc:
        return [Send(turn.t(str(exc)) + "\n\n" + turn.t("admin.activity.edit_usage"))]
    if activity is None:
        return [Send(turn.t("admin.activity.not_found"))]
    return [Send(turn.t("admin.activity.edited", id=activity.id, title=activity.title))]


async def cancelactivity_command(turn: Turn) -> list[Out]:
    if not is_coordinator(turn):
        return await unknown_command(turn)
    activity_id, _ = _id_and_rest(turn)
    activity = await cancel_activity(turn.session, activity_id, turn.now) if activity_id else None
    if activity is None:
        return [Send(turn.t("admin.activity.not_found"))]
    return [Send(turn.t("admin.activity.cancelled", id=activity.id, title=activity.title))]


async def figures_command(turn: Turn) -> list[Out]:
    if not is_coordinator(turn):
        return await unknown_command(turn)
    today = turn.now.astimezone(ZoneInfo(_zone(turn))).date()
    return [Send(await figures_text(turn.session, turn.t, today))]


async def coordinator_activities(turn: Turn) -> list[Out]:
    return [Send(await activities_text(turn.session, turn.t, turn.now))]
