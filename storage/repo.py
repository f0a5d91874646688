"""Every query the bot makes. Handlers and ticks call these; SQL lives nowhere else."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Result, Update, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.ladder import Outcome, TaskResult
from storage.models import (
    Base,
    CheckIn,
    FamilyInvite,
    FamilyLink,
    FamilyMember,
    FamilyNote,
    Hello,
    Participant,
    ProcessedUpdate,
    SafetyPlan,
    Status,
    TaskOffer,
)


async def participant_by_chat(session: AsyncSession, chat_id: int) -> Participant | None:
    return await session.scalar(select(Participant).where(Participant.chat_id == chat_id))


async def get_or_create_participant(session: AsyncSession, chat_id: int, now: dt.datetime) -> Participant:
    """The participant for this chat; a new row holds only the chat id until consent is given."""
    participant = await participant_by_chat(session, chat_id)
    if participant is None:
        participant = Participant(chat_id=chat_id, status=Status.NEW, created_at=now)
        session.add(participant)
        await session.flush()
    return participant


def _insert(session: AsyncSession):  # type: ignore[no-untyped-def]
    return postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert


async def add_checkin(session: AsyncSession, participant_id: int, day: dt.date, at: dt.datetime, source: str) -> bool:
    """Record that the participant showed up on `day`. False if that day was already counted."""
    statement = (
        _insert(session)(CheckIn)
        .values(participant_id=participant_id, day=day, at=at, source=source)
        .on_conflict_do_nothing(index_elements=[CheckIn.participant_id, CheckIn.day])
    )
    result = await session.execute(statement)
    return bool(result.rowcount)


async def has_checkin(session: AsyncSession, participant_id: int, day: dt.date) -> bool:
    found = await session.scalar(
        select(CheckIn.day).where(CheckIn.participant_id == participant_id, CheckIn.day == day)
    )
    return found is not None


async def latest_hello(session: AsyncSession, participant_id: int) -> Hello | None:
    return await session.scalar(
        select(Hello).where(Hello.participant_id == participant_id).order_by(Hello.day.desc()).limit(1)
    )


async def hello_exists(session: AsyncSession, participant_id: int, day: dt.date) -> bool:
    found = await session.scalar(select(Hello.id).where(Hello.participant_id == participant_id, Hello.day == day))
    return found is not None


async def history(session: AsyncSession, participant_id: int) -> tuple[set[dt.date], set[dt.date]]:
    """(check-in days, hello days) of one participant, for progress and streaks."""
    checkins = await session.scalars(select(CheckIn.day).where(CheckIn.participant_id == participant_id))
    hellos = await session.scalars(select(Hello.day).where(Hello.participant_id == participant_id))
    return set(checkins), set(hellos)


@dataclass(frozen=True)
class DueHello:
    """A claimed row of the schedule: just what the tick needs, no ORM object."""

    participant_id: int
    chat_id: int
    status: str
    language: str | None
    timezone: str | None
    window: str | None
    rhythm: str | None
    next_hello_at: dt.datetime
    last_hello_day: dt.date | None
    paused_until: dt.datetime | None
    unanswered: int
    quiet_since: dt.date | None
    level: int
    wants_tasks: bool
    notes_allowed: bool | None


def _claim(
    session: AsyncSession,
    model: type[Participant] | type[FamilyMember],
    due: InstrumentedAttribute[dt.datetime | None],
    now: dt.datetime,
    token: str,
    limit: int,
    stale_before: dt.datetime,
) -> Update:
    """UPDATE ... that claims up to `limit` rows of `model` whose `due` moment has come.

    A claim older than `stale_before` (its worker died) is taken over. On PostgreSQL the candidate
    rows are locked with SKIP LOCKED so several workers never claim the same row; on SQLite the
    single UPDATE runs inside an immediate transaction and is atomic by itself.
    """
    candidates = (
        select(model.id)
        .where(due <= now, or_(model.claimed_at.is_(None), model.claimed_at < stale_before))
        .order_by(due)
        .limit(limit)
    )
    if session.bind.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    return (
        update(model)
        .where(model.id.in_(candidates.scalar_subquery()))
        .values(claimed_at=now, claim_token=token)
        .execution_options(synchronize_session=False)
    )


async def claim_due(
    session: AsyncSession, now: dt.datetime, token: str, limit: int, stale_before: dt.datetime
) -> list[DueHello]:
    """Claim up to `limit` participants whose next hello is due, atomically (see :func:`_claim`)."""
    statement = (
        _claim(session, Participant, Participant.next_hello_at, now, token, limit, stale_before)
        .returning(
            Participant.id,
            Participant.chat_id,
            Participant.status,
            Participant.language,
            Participant.timezone,
            Participant.window,
            Participant.rhythm,
            Participant.next_hello_at,
            Participant.last_hello_day,
            Participant.paused_until,
            Participant.unanswered,
            Participant.quiet_since,
            Participant.level,
            Participant.wants_tasks,
            Participant.notes_allowed,
        )
    )
    rows = (await session.execute(statement)).all()
    return sorted((DueHello(*row) for row in rows), key=lambda due: due.next_hello_at)


async def finish_claim(session: AsyncSession, participant_id: int, token: str, **values: object) -> bool:
    """Release a claim, writing `values` (the next schedule, a status...). False if the claim was lost."""
    statement = (
        update(Participant)
        .where(Participant.id == participant_id, Participant.claim_token == token)
        .values(claimed_at=None, claim_token=None, **values)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(statement)
    return bool(result.rowcount)


async def add_hello(session: AsyncSession, participant_id: int, day: dt.date, sent_at: dt.datetime, message_id: int) -> None:
    session.add(Hello(participant_id=participant_id, day=day, sent_at=sent_at, message_id=message_id))
    await session.flush()



# --- the task ladder ------------------------------------------------------------------------------


async def add_offer(
    session: AsyncSession, participant_id: int, task_id: str, level: int, day: dt.date, at: dt.datetime, kind: str
) -> None:
    """Record an offered task; offering the same task twice on one day is a no-op."""
    statement = (
        _insert(session)(TaskOffer)
        .values(participant_id=participant_id, task_id=task_id, level=level, day=day, offered_at=at, kind=kind)
        .on_conflict_do_nothing(index_elements=[TaskOffer.participant_id, TaskOffer.day, TaskOffer.task_id])
    )
    await session.execute(statement)


async def offer(session: AsyncSession, participant_id: int, day: dt.date, task_id: str) -> TaskOffer | None:
    return await session.scalar(
        select(TaskOffer).where(
            TaskOffer.participant_id == participant_id, TaskOffer.day == day, TaskOffer.task_id == task_id
        )
    )


async def last_offered(
    session: AsyncSession, participant_ids: Sequence[int], since: dt.date
) -> dict[int, dict[str, dt.date]]:
    """For each participant, the tasks offered since `since` and the last day each was offered."""
    rows = await session.execute(
        select(TaskOffer.participant_id, TaskOffer.task_id, func.max(TaskOffer.day))
        .where(TaskOffer.participant_id.in_(participant_ids), TaskOffer.day >= since)
        .group_by(TaskOffer.participant_id, TaskOffer.task_id)
    )
    found: dict[int, dict[str, dt.date]] = {pid: {} for pid in participant_ids}
    for pid, task_id, day in rows:
        found[pid][task_id] = day
    return found


async def task_results(session: AsyncSession, participant_id: int, since: dt.date) -> list[TaskResult]:
    """Offered tasks since `since`, oldest first, as the pure ladder rules take them."""
    rows = await session.execute(
        select(TaskOffer.day, TaskOffer.level, TaskOffer.outcome, TaskOffer.rating)
        .where(TaskOffer.participant_id == participant_id, TaskOffer.day >= since)
        .order_by(TaskOffer.offered_at, TaskOffer.id)
    )
    return [TaskResult(day, level, Outcome(outcome) if outcome else None, rating) for day, level, outcome, rating in rows]


async def recent_hello_days(session: AsyncSession, participant_id: int, count: int) -> list[dt.date]:
    days = await session.scalars(
        select(Hello.day).where(Hello.participant_id == participant_id).order_by(Hello.day.desc()).limit(count)
    )
    return sorted(days)


async def checkin_days_since(session: AsyncSession, participant_id: int, since: dt.date) -> set[dt.date]:
    days = await session.scalars(
        select(CheckIn.day).where(CheckIn.participant_id == participant_id, CheckIn.day >= since)
    )
    return set(days)


# --- safety and data rights -----------------------------------------------------------------------


async def alias_taken(session: AsyncSession, alias: str) -> bool:
    return await session.scalar(select(Participant.id).where(Participant.alias == alias)) is not None


async def participant_by_alias(session: AsyncSession, alias: str) -> Participant | None:
    return await session.scalar(select(Participant).where(Participant.alias == alias))


async def safety_plan(session: AsyncSession, participant_id: int) -> SafetyPlan | None:
    return await session.get(SafetyPlan, participant_id)


async def forget(session: AsyncSession, participant: Participant) -> None:
    """Delete the participant; every row about them goes with it (ON DELETE CASCADE)."""
    await session.delete(participant)


def _rows(result: Result) -> list[dict[str, object]]:
    return [
        {key: value.isoformat() if isinstance(value, dt.date) else value for key, value in row.items()}
        for row in result.mappings()
    ]


async def export(session: AsyncSession, chat_id: int) -> dict[str, object]:
    """Everything stored about the person in this chat — as a participant and as a family member —
    as plain JSON-ready values, table by table."""
    pid = select(Participant.id).where(Participant.chat_id == chat_id).scalar_subquery()
    fid = select(FamilyMember.id).where(FamilyMember.chat_id == chat_id).scalar_subquery()
    links_as_family = select(FamilyLink.id).where(FamilyLink.family_member_id == fid)
    tables = {
        "participant": select(Participant.__table__).where(Participant.id == pid),
        "hellos": select(Hello.__table__).where(Hello.participant_id == pid).order_by(Hello.day),
        "checkins": select(CheckIn.__table__).where(CheckIn.participant_id == pid).order_by(CheckIn.day),
        "tasks": select(TaskOffer.__table__).where(TaskOffer.participant_id == pid).order_by(TaskOffer.id),
        "safety_plan": select(SafetyPlan.__table__).where(SafetyPlan.participant_id == pid),
        "family_sharing": select(FamilyLink.relative_label, FamilyLink.share, FamilyLink.created_at, FamilyMember.display_name)
        .join(FamilyMember, FamilyMember.id == FamilyLink.family_member_id)
        .where(FamilyLink.participant_id == pid),
        "as_family_member": select(FamilyMember.__table__).where(FamilyMember.id == fid),
        "family_invitations": select(FamilyInvite.__table__).where(FamilyInvite.family_member_id == fid),
        "family_links_as_family_member": select(FamilyLink.relative_label, FamilyLink.share, FamilyLink.created_at)
        .where(FamilyLink.family_member_id == fid),
        "family_notes_waiting": select(FamilyNote.__table__).where(FamilyNote.link_id.in_(links_as_family)),
    }
    return {name: _rows(await session.execute(statement)) for name, statement in tables.items()}


# --- families ------------------------------------------------------------------------------------


async def family_member_by_chat(session: AsyncSession, chat_id: int) -> FamilyMember | None:
    return await session.scalar(select(FamilyMember).where(FamilyMember.chat_id == chat_id))


async def invite_by_hash(session: AsyncSession, token_hash: str) -> FamilyInvite | None:
    return await session.scalar(select(FamilyInvite).where(FamilyInvite.token_hash == token_hash))


async def invites_of(session: AsyncSession, family_member_id: int) -> list[FamilyInvite]:
    rows = await session.scalars(
        select(FamilyInvite).where(FamilyInvite.family_member_id == family_member_id).order_by(FamilyInvite.id)
    )
    return list(rows)


async def link(session: AsyncSession, family_member_id: int, participant_id: int) -> FamilyLink | None:
    return await session.scalar(
        select(FamilyLink).where(
            FamilyLink.family_member_id == family_member_id, FamilyLink.participant_id == participant_id
        )
    )


@dataclass(frozen=True)
class ParticipantLink:
    """One of a participant's family links, with what is needed to show it and to tell the family member."""

    link: FamilyLink
    name: str  # how the family member asked to be shown
    chat_id: int
    language: str


async def links_of_participant(session: AsyncSession, participant_id: int) -> list[ParticipantLink]:
    rows = await session.execute(
        select(FamilyLink, FamilyMember.display_name, FamilyMember.chat_id, FamilyMember.language)
        .join(FamilyMember, FamilyMember.id == FamilyLink.family_member_id)
        .where(FamilyLink.participant_id == participant_id)
        .order_by(FamilyLink.id)
    )
    return [ParticipantLink(link_, name or "", chat_id, language) for link_, name, chat_id, language in rows]


async def links_of_family_member(session: AsyncSession, family_member_id: int) -> list[FamilyLink]:
    rows = await session.scalars(
        select(FamilyLink).where(FamilyLink.family_member_id == family_member_id).order_by(FamilyLink.id)
    )
    return list(rows)


@dataclass(frozen=True)
class FamilyView:
    """What one family member may know about one relative this week — and structurally nothing
    more: the query below selects no identifying column, no time of day, no text, no task."""

    link_id: int
    relative_label: str  # the family member's own word for their relative
    share: str
    days_this_week: int
    level: int


async def family_views(session: AsyncSession, family_member_id: int, since: dt.date) -> list[FamilyView]:
    days = (
        select(func.count(CheckIn.day))
        .where(CheckIn.participant_id == FamilyLink.participant_id, CheckIn.day >= since)
        .correlate(FamilyLink)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(FamilyLink.id, FamilyLink.relative_label, FamilyLink.share, days, Participant.level)
        .join(Participant, Participant.id == FamilyLink.participant_id)
        .where(FamilyLink.family_member_id == family_member_id)
        .order_by(FamilyLink.id)
    )
    return [FamilyView(*row) for row in rows]


async def add_note(session: AsyncSession, link_id: int, text: str, at: dt.datetime) -> None:
    session.add(FamilyNote(link_id=link_id, text=text, created_at=at))
    await session.flush()


@dataclass(frozen=True)
class PendingNote:
    note_id: int
    participant_id: int
    from_name: str
    text: str
    family_chat_id: int
    relative_label: str
    family_language: str


async def pending_notes(session: AsyncSession, participant_ids: Sequence[int]) -> dict[int, list[PendingNote]]:
    """Notes waiting for each participant's next hello (one query for a whole batch)."""
    rows = await session.execute(
        select(
            FamilyNote.id,
            FamilyLink.participant_id,
            FamilyMember.display_name,
            FamilyNote.text,
            FamilyMember.chat_id,
            FamilyLink.relative_label,
            FamilyMember.language,
        )
        .join(FamilyLink, FamilyLink.id == FamilyNote.link_id)
        .join(FamilyMember, FamilyMember.id == FamilyLink.family_member_id)
        .where(FamilyLink.participant_id.in_(participant_ids))
        .order_by(FamilyNote.id)
    )
    found: dict[int, list[PendingNote]] = {}
    for row in rows:
        note = PendingNote(*row)
        found.setdefault(note.participant_id, []).append(note)
    return found


async def delete_notes(session: AsyncSession, note_ids: Sequence[int]) -> None:
    if note_ids:
        await session.execute(delete(FamilyNote).where(FamilyNote.id.in_(note_ids)))


async def claim_family_due(
    session: AsyncSession, now: dt.datetime, token: str, limit: int, stale_before: dt.datetime
) -> list[FamilyMember]:
    """Claim family members whose weekly note is due (the same claim as the hello tick's)."""
    claim = _claim(session, FamilyMember, FamilyMember.next_note_at, now, token, limit, stale_before)
    ids = (await session.scalars(claim.returning(FamilyMember.id))).all()
    if not ids:
        return []
    rows = await session.scalars(select(FamilyMember).where(FamilyMember.id.in_(ids)).execution_options(populate_existing=True))
    return list(rows)


async def family_member(session: AsyncSession, member_id: int) -> FamilyMember | None:
    return await session.get(FamilyMember, member_id)


async def family_invite(session: AsyncSession, invite_id: int) -> FamilyInvite | None:
    return await session.get(FamilyInvite, invite_id)


async def family_link(session: AsyncSession, link_id: int) -> FamilyLink | None:
    return await session.get(FamilyLink, link_id)


async def participant(session: AsyncSession, participant_id: int) -> Participant | None:
    return await session.get(Participant, participant_id)


async def add(session: AsyncSession, row: Base) -> None:
    """Store a new row now (its id is known afterwards)."""
    session.add(row)
    await session.flush()


async def remove(session: AsyncSession, row: Base) -> None:
    await session.delete(row)


# --- webhook workers ----------------------------------------------------------------------------------


async def first_delivery(session: AsyncSession, update_id: int, at: dt.datetime) -> bool:
    """Record an update id; False if some worker already took this update in (a retried delivery)."""
    statement = (
        _insert(session)(ProcessedUpdate)
        .values(update_id=update_id, received_at=at)
        .on_conflict_do_nothing(index_elements=[ProcessedUpdate.update_id])
    )
    return bool((await session.execute(statement)).rowcount)


async def forget_deliveries_before(session: AsyncSession, before: dt.datetime) -> None:
    """Telegram retries for a day at most; older ids need not be kept."""
    await session.execute(delete(ProcessedUpdate).where(ProcessedUpdate.received_at < before))


async def ping(session: AsyncSession) -> None:
    await session.execute(select(1))


async def clear_family_prompt(session: AsyncSession, chat_id: int) -> None:
    """A command leaves any half-answered family question behind (the name, an invitation, a note)."""
    await session.execute(
        update(FamilyMember)
        .where(FamilyMember.chat_id == chat_id, FamilyMember.awaiting.is_not(None))
        .values(awaiting=None)
        .execution_options(synchronize_session=False)
    )
