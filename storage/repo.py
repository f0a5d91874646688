"""Every query the bot makes. Handlers and ticks call these; SQL lives nowhere else."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import (
    Boolean,
    Executable,
    Integer,
    Result,
    Row,
    String,
    Table,
    TextClause,
    Update,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from core.ladder import Outcome, TaskResult
from storage.models import (
    Activity,
    ActivityReply,
    Base,
    CheckIn,
    Cheer,
    FamilyInvite,
    FamilyLink,
    FamilyMember,
    FamilyNote,
    Hello,
    Notice,
    Participant,
    ProcessedUpdate,
    SafetyPlan,
    Status,
    TaskOffer,
    Volunteer,
    VolunteerCode,
)

# The statements every update runs are built once, with parameters bound at each call: building a
# statement is a large share of its cost in SQLAlchemy (bench/README.md, "statements").
#
# Statements that read or write columns, rather than load objects to change, are built on the
# tables below, not on the mapped classes: session.execute() then runs them as plain SQL, without
# the ORM's work around each statement (about 50 µs a statement here, bench/README.md). They, and
# the text statements below, are run through _core(), which first flushes changes made to loaded
# objects, as an ORM query would.
_participants = Participant.__table__
_hellos = Hello.__table__
_checkins = CheckIn.__table__
_task_offers = TaskOffer.__table__
_family_notes = FamilyNote.__table__
_family_links = FamilyLink.__table__
_family_members = FamilyMember.__table__
_cheers = Cheer.__table__
_volunteers = Volunteer.__table__
_activities = Activity.__table__

_CHAT = bindparam("chat_id")
_PARTICIPANT = bindparam("participant_id")
_IDS = bindparam("ids", expanding=True)
_SINCE = bindparam("since")
_PARTICIPANT_BY_CHAT = select(Participant).where(Participant.chat_id == _CHAT)


async def _core(session: AsyncSession, statement: Executable, params: object = None) -> Result:
    """Run a statement built on tables (or text) in the session's transaction (see the note above),
    after flushing pending changes to loaded objects: SQLAlchemy's autoflush comes only with ORM
    queries, and a statement must see, and never be overtaken by, what the turn has changed so far."""
    if session.new or session.dirty or session.deleted:
        await session.flush()
    return await session.execute(statement, params)


async def participant_by_chat(session: AsyncSession, chat_id: int) -> Participant | None:
    return await session.scalar(_PARTICIPANT_BY_CHAT, {"chat_id": chat_id})


_CLEAR_UNANSWERED = (
    update(_participants).where(_participants.c.id == bindparam("b_id")).values(unanswered=0, quiet_since=None)
)


async def clear_unanswered(session: AsyncSession, participant: Participant) -> None:
    """Someone wrote or tapped: no hello is unanswered any more, and no quiet spell goes on.
    One UPDATE, and only when there is something to clear. The loaded participant takes the new
    values as saved already, so the session does not work them out again at commit (the ORM's
    flush costs several times the statement)."""
    if not participant.unanswered and participant.quiet_since is None:
        return
    await _core(session, _CLEAR_UNANSWERED, {"b_id": participant.id})
    set_committed_value(participant, "unanswered", 0)
    set_committed_value(participant, "quiet_since", None)


_UNANSWERED_NOTICE = (
    update(_participants)
    .where(_participants.c.id == bindparam("b_id"))
    .values(
        unanswered=_participants.c.unanswered + 1,
        quiet_since=func.coalesce(_participants.c.quiet_since, _participants.c.last_hello_day),
    )
)


async def count_unanswered_invitations(session: AsyncSession, participant_ids: Sequence[int]) -> None:
    """An invitation went out on its own message, asked for by nobody in particular: like a hello,
    it counts in the quiet spell that the pressure budget limits, so the hellos after it slow down
    sooner if no reply comes (core.backoff.may_invite). Reminders, news and kind words answer
    something the person said. A spell it begins dates from the last hello-day, which can be
    earlier than the invitation's: a spell that seems older only makes the bot quieter sooner."""
    if participant_ids:
        await _core(session, _UNANSWERED_NOTICE, [{"b_id": pid} for pid in participant_ids])


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


def _insert_or_skip(table: Table, conflict: Sequence[str], columns: Sequence[str]) -> TextClause:
    """INSERT INTO `table` (`columns`) ... ON CONFLICT (`conflict`) DO NOTHING, one statement that
    SQLite and PostgreSQL both take, its values typed by the columns' own types.

    Written as text because SQLAlchemy does not cache the compiled form of its dialects'
    ``on_conflict_do_nothing`` inserts: built that way, each execution compiled the statement
    anew, about as costly as running it. A text statement is compiled once."""
    def quoted(names: Sequence[str]) -> str:
        return ", ".join(f'"{table.c[name].name}"' for name in names)

    sql = (
        f'INSERT INTO "{table.name}" ({quoted(columns)}) VALUES ({", ".join(f":{name}" for name in columns)}) '
        f"ON CONFLICT ({quoted(conflict)}) DO NOTHING"
    )
    return text(sql).bindparams(*(bindparam(name, type_=table.c[name].type) for name in columns))


_ADD_CHECKIN = _insert_or_skip(CheckIn.__table__, ["participant_id", "day"], ["participant_id", "day", "at", "source"])


async def add_checkin(session: AsyncSession, participant_id: int, day: dt.date, at: dt.datetime, source: str) -> bool:
    """Record that the participant showed up on `day`. False if that day was already counted."""
    result = await _core(session, _ADD_CHECKIN, {"participant_id": participant_id, "day": day, "at": at, "source": source})
    return bool(result.rowcount)


async def checkin_count(session: AsyncSession, participant_id: int) -> int:
    return await session.scalar(select(func.count()).select_from(CheckIn).where(CheckIn.participant_id == participant_id))


_LATEST_HELLO_DAY = (
    select(_hellos.c.day)
    .where(_hellos.c.participant_id == _participants.c.id)
    .order_by(_hellos.c.day.desc())
    .limit(1)
    .correlate(_participants)
    .scalar_subquery()
)
_LATEST_HELLO_ANSWERED = (
    select(_checkins.c.day)
    .where(_checkins.c.participant_id == _participants.c.id, _checkins.c.day == _LATEST_HELLO_DAY)
    .correlate(_participants)
    .exists()
)
_LATEST_HELLO_STATE = select(_LATEST_HELLO_DAY, _LATEST_HELLO_ANSWERED).where(_participants.c.id == _PARTICIPANT)


def _latest_hello(day: dt.date | None, answered: object) -> tuple[dt.date, bool] | None:
    return (day, bool(answered)) if day is not None else None


async def latest_hello_state(session: AsyncSession, participant_id: int) -> tuple[dt.date, bool] | None:
    """The latest hello's day and whether that day is counted already, in one query."""
    row = (await _core(session, _LATEST_HELLO_STATE, {"participant_id": participant_id})).first()
    return _latest_hello(*row) if row else None


_HELLO_EXISTS = select(_hellos.c.id).where(_hellos.c.participant_id == _PARTICIPANT, _hellos.c.day == bindparam("day"))


async def hello_exists(session: AsyncSession, participant_id: int, day: dt.date) -> bool:
    found = (await _core(session, _HELLO_EXISTS, {"participant_id": participant_id, "day": day})).first()
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
    send_failures: int
    notes_waiting: bool = False  # family notes wait for this hello (read them with pending_notes)
    cheer_waiting: bool = False  # a cheer waits for this hello (read it with pending_cheers)


@dataclass(frozen=True)
class DueWork:
    hellos: bool
    notices: bool
    family_notes: bool
    activities: bool


def _claimable(table, due: str):  # type: ignore[no-untyped-def]
    """Rows of `table` whose `due` moment has come by `now` and that no live worker holds (a claim
    older than `stale` belongs to a worker that died): the parameters `now` and `stale`."""
    return (
        table.c[due] <= bindparam("now", type_=table.c[due].type),
        or_(table.c.claimed_at.is_(None), table.c.claimed_at < bindparam("stale", type_=table.c.claimed_at.type)),
    )


def _due_exists(model: type[Base], due: str):  # type: ignore[no-untyped-def]
    """Whether some row of `model` is claimable (see :func:`_claimable`)."""
    table = model.__table__
    return select(table.c.id).where(*_claimable(table, due)).exists()


_DUE_WORK = select(
    _due_exists(Participant, "next_hello_at"),
    _due_exists(Notice, "due_at"),
    _due_exists(FamilyMember, "next_note_at"),
    select(_activities.c.id).where(_activities.c.starts_at > bindparam("now"), _activities.c.cancelled_at.is_(None)).exists(),
)


async def due_work(session: AsyncSession, now: dt.datetime, stale_before: dt.datetime) -> DueWork:
    """What the tick has to do, in one read: most ticks find nothing, and then cost one statement."""
    row = (await _core(session, _DUE_WORK, {"now": now, "stale": stale_before})).one()
    return DueWork(*(bool(value) for value in row))


@functools.lru_cache(maxsize=16)
def _claim(dialect: str, model: type[Base], due: str, returning: tuple[str, ...], also: tuple = ()) -> Update:
    """UPDATE ... RETURNING that claims up to `limit` rows of `model` that are claimable
    (:func:`_claimable`), for the claim token `token`, and returns their `returning` columns and
    the expressions `also`; built once per table and backend.

    A claim older than `stale` (its worker died) is taken over. On PostgreSQL the candidate
    rows are locked with SKIP LOCKED so several workers never claim the same row; on SQLite the
    single UPDATE runs inside an immediate transaction and is atomic by itself.
    """
    table = model.__table__
    candidates = (
        select(table.c.id)
        .where(*_claimable(table, due))
        .order_by(table.c[due])
        .limit(bindparam("limit", type_=Integer))
    )
    if dialect == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    return (
        update(table)
        .where(table.c.id.in_(candidates.scalar_subquery()))
        .values(claimed_at=bindparam("now"), claim_token=bindparam("token", type_=table.c.claim_token.type))
        .returning(*(table.c[name] for name in returning), *also)
    )


async def _claimed(
    session: AsyncSession,
    model: type[Base],
    due: str,
    returning: tuple[str, ...],
    now: dt.datetime,
    token: str,
    limit: int,
    stale_before: dt.datetime,
    also: tuple = (),
) -> Sequence[Row]:
    """Claim due rows of `model` (see :func:`_claim`) and return their `returning` columns and `also`."""
    statement = _claim(session.bind.dialect.name, model, due, returning, also)
    values = {"now": now, "token": token, "limit": limit, "stale": stale_before}
    return (await _core(session, statement, values)).all()


_DUE_HELLO_COLUMNS = (
    "id",
    "chat_id",
    "status",
    "language",
    "timezone",
    "window",
    "rhythm",
    "next_hello_at",
    "last_hello_day",
    "paused_until",
    "unanswered",
    "quiet_since",
    "level",
    "wants_tasks",
    "notes_allowed",
    "send_failures",
)


# Whether family notes, and a cheer, wait for the participant's hello (as pending_notes and
# pending_cheers would find them), returned with the claim: most hellos carry neither, and then the
# tick does not read them. Written out because SQLAlchemy renders RETURNING's columns without their
# table, which would make the subqueries' column names ambiguous.
_NOTES_WAITING = literal_column(
    "EXISTS (SELECT 1 FROM family_notes"
    " JOIN family_links ON family_links.id = family_notes.link_id"
    " JOIN family_members ON family_members.id = family_links.family_member_id"
    " WHERE family_links.participant_id = participants.id)",
    Boolean,
)
_CHEER_WAITING = literal_column(
    "(participants.cheers_on AND EXISTS (SELECT 1 FROM cheers"
    " WHERE cheers.participant_id = participants.id AND cheers.delivered_at IS NULL))",
    Boolean,
)


async def claim_due(
    session: AsyncSession, now: dt.datetime, token: str, limit: int, stale_before: dt.datetime
) -> list[DueHello]:
    """Claim up to `limit` participants whose next hello is due, atomically (see :func:`_claim`)."""
    also = (_NOTES_WAITING, _CHEER_WAITING)
    rows = await _claimed(session, Participant, "next_hello_at", _DUE_HELLO_COLUMNS, now, token, limit, stale_before, also)
    return sorted((DueHello(*row) for row in rows), key=lambda due: due.next_hello_at)


_ADD_HELLOS = insert(Hello.__table__)
_ADD_OFFERS = _insert_or_skip(
    TaskOffer.__table__,
    ["participant_id", "day", "task_id"],
    ["participant_id", "task_id", "level", "day", "offered_at", "kind"],
)


async def add_hellos(session: AsyncSession, rows: Sequence[dict[str, object]]) -> None:
    """Record several sent hellos in one statement (participant_id, day, sent_at, message_id)."""
    if rows:
        await _core(session, _ADD_HELLOS, list(rows))


async def add_offers(session: AsyncSession, rows: Sequence[dict[str, object]]) -> None:
    """Record several offered tasks in one statement; one offered twice on a day is a no-op."""
    if rows:
        await _core(session, _ADD_OFFERS, list(rows))


@functools.lru_cache(maxsize=256)
def _finish_claim(columns: tuple[str, ...]) -> Update:
    """Release one claim (`b_id`, `b_token`) and write `columns`, built once per set of columns."""
    table = Participant.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.claim_token == bindparam("b_token"))
        .values(claimed_at=None, claim_token=None, **{column: bindparam(column) for column in columns})
    )


async def finish_claims(session: AsyncSession, token: str, rows: Sequence[tuple[int, dict[str, object]]]) -> None:
    """Release several claims, writing each row's values: one executemany per shape of values."""
    shapes: dict[tuple[str, ...], list[dict[str, object]]] = {}
    for participant_id, values in rows:
        shapes.setdefault(tuple(sorted(values)), []).append({"b_id": participant_id, "b_token": token, **values})
    for columns, params in shapes.items():
        await _core(session, _finish_claim(columns), params)


async def mark_cheers_delivered(session: AsyncSession, cheer_ids: Sequence[int], now: dt.datetime) -> None:
    # Through the ORM on purpose: a cheer the notices tick has loaded must read as delivered too.
    if cheer_ids:
        await session.execute(update(Cheer).where(Cheer.id.in_(cheer_ids)).values(delivered_at=now))



# --- the task ladder ------------------------------------------------------------------------------


async def add_offer(
    session: AsyncSession, participant_id: int, task_id: str, level: int, day: dt.date, at: dt.datetime, kind: str
) -> None:
    """Record an offered task; offering the same task twice on one day is a no-op."""
    row = {"participant_id": participant_id, "task_id": task_id, "level": level, "day": day, "offered_at": at, "kind": kind}
    await add_offers(session, [row])


@dataclass(frozen=True, slots=True)
class OfferState:
    """An offered task, as answering or rating it needs it (written with answer_task and rate_task,
    not by changing an ORM object: one statement instead of the ORM's flush)."""

    offer_id: int
    day: dt.date
    level: int
    kind: str
    outcome: str | None
    rating: int | None


_OFFER_COLUMNS = (
    _task_offers.c.id,
    _task_offers.c.day,
    _task_offers.c.level,
    _task_offers.c.kind,
    _task_offers.c.outcome,
    _task_offers.c.rating,
)
# The task offered to a participant on a day (b_: an UPDATE may not name its parameters after columns).
_THE_OFFER = (
    _task_offers.c.participant_id == bindparam("b_participant_id"),
    _task_offers.c.day == bindparam("b_day"),
    _task_offers.c.task_id == bindparam("b_task_id"),
)
_OFFER = select(*_OFFER_COLUMNS).where(*_THE_OFFER)


def _the_offer(participant_id: int, day: dt.date, task_id: str) -> dict[str, object]:
    return {"b_participant_id": participant_id, "b_day": day, "b_task_id": task_id}


async def offer(session: AsyncSession, participant_id: int, day: dt.date, task_id: str) -> OfferState | None:
    row = (await _core(session, _OFFER, _the_offer(participant_id, day, task_id))).first()
    return OfferState(*row) if row else None


# "Maybe later" leaves a task open; "Done" and "Too much today" close it. A task is open until the
# next hello after it: offered on `open_since` (the latest hello's day) or later.
_ANSWER_TASK = (
    update(_task_offers)
    .where(
        *_THE_OFFER,
        or_(_task_offers.c.outcome.is_(None), _task_offers.c.outcome == Outcome.LATER.value),
        _task_offers.c.day >= bindparam("b_open_since"),
    )
    .values(outcome=bindparam("b_outcome"), answered_at=bindparam("b_at"))
    .returning(*_OFFER_COLUMNS)
)
_RATE_TASK = (
    update(_task_offers)
    .where(*_THE_OFFER, _task_offers.c.outcome == Outcome.DONE.value, _task_offers.c.rating.is_(None))
    .values(rating=bindparam("b_rating"))
)


async def answer_task(
    session: AsyncSession,
    participant_id: int,
    day: dt.date,
    task_id: str,
    outcome: Outcome,
    at: dt.datetime,
    open_since: dt.date | None,
) -> OfferState | None:
    """Write the answer to the task `task_id` offered to the participant on `day`, if it is open:
    not closed ("Done" or "Too much today") and offered no earlier than `open_since` (None: no
    hello yet). The offer as written, or None when nothing was (offer() then tells why). A double
    tap counts once, even when two workers handle the taps at the same moment."""
    params = {
        **_the_offer(participant_id, day, task_id),
        "b_open_since": open_since or dt.date.min,
        "b_outcome": outcome.value,
        "b_at": at,
    }
    row = (await _core(session, _ANSWER_TASK, params)).first()
    return OfferState(*row) if row else None


async def rate_task(session: AsyncSession, participant_id: int, day: dt.date, task_id: str, rating: int) -> bool:
    """Keep how hard a done task was. False if nothing was written: not found, not done, or rated
    already (offer() tells which)."""
    params = {**_the_offer(participant_id, day, task_id), "b_rating": rating}
    return bool((await _core(session, _RATE_TASK, params)).rowcount)


_LAST_OFFERED = (
    select(_task_offers.c.participant_id, _task_offers.c.task_id, func.max(_task_offers.c.day))
    .where(_task_offers.c.participant_id.in_(_IDS), _task_offers.c.day >= _SINCE)
    .group_by(_task_offers.c.participant_id, _task_offers.c.task_id)
)


async def last_offered(
    session: AsyncSession, participant_ids: Sequence[int], since: dt.date
) -> dict[int, dict[str, dt.date]]:
    """For each participant, the tasks offered since `since` and the last day each was offered."""
    rows = await _core(session, _LAST_OFFERED, {"ids": list(participant_ids), "since": since})
    found: dict[int, dict[str, dt.date]] = {pid: {} for pid in participant_ids}
    for pid, task_id, day in rows:
        found[pid][task_id] = day
    return found


_EASIER_ON = select(
    exists().where(
        _task_offers.c.participant_id == _PARTICIPANT, _task_offers.c.day == _SINCE, _task_offers.c.kind == "easier"
    )
)


_LOCK_PARTICIPANT = select(_participants.c.id).where(_participants.c.id == _PARTICIPANT).with_for_update()


async def easier_offered_on(session: AsyncSession, participant_id: int, day: dt.date, *, lock: bool = False) -> bool:
    """Whether a smaller task (after a "too much") was offered on `day` already. With `lock`, on
    PostgreSQL, the participant's row is held until commit first, so two workers answering two taps
    at once cannot both find none (SQLite's writers take turns anyway)."""
    if lock and session.bind.dialect.name == "postgresql":
        await _core(session, _LOCK_PARTICIPANT, {"participant_id": participant_id})
    return bool((await _core(session, _EASIER_ON, {"participant_id": participant_id, "since": day})).scalar())


_TASK_RESULTS = (
    select(_task_offers.c.day, _task_offers.c.level, _task_offers.c.outcome, _task_offers.c.rating)
    .where(_task_offers.c.participant_id == _PARTICIPANT, _task_offers.c.day >= _SINCE)
    .order_by(_task_offers.c.offered_at, _task_offers.c.id)
)


def _task_result(day: dt.date, level: int, outcome: str | None, rating: int | None) -> TaskResult:
    """An offered task's row as the pure ladder rules take it."""
    return TaskResult(day, level, Outcome(outcome) if outcome else None, rating)


async def task_results(session: AsyncSession, participant_id: int, since: dt.date) -> list[TaskResult]:
    """Offered tasks since `since`, oldest first, as the pure ladder rules take them."""
    rows = await _core(session, _TASK_RESULTS, {"participant_id": participant_id, "since": since})
    return [_task_result(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class Steadiness:
    """What core.ladder.is_steady weighs, read in one query (:func:`steadiness`)."""

    hello_days: list[dt.date]  # the latest hello-days, oldest first
    checkin_days: set[dt.date]  # check-in days since the first of them
    results: list[TaskResult]  # tasks offered since the first of them, in the order recorded


_RECENT_HELLOS = (
    select(_hellos.c.day)
    .where(_hellos.c.participant_id == _PARTICIPANT)
    .order_by(_hellos.c.day.desc())
    .limit(bindparam("count", type_=Integer))
    .subquery()
)
_STEADY_SINCE = select(func.min(_RECENT_HELLOS.c.day)).scalar_subquery()
_NO_INT = literal(None, Integer)
_STEADINESS = union_all(
    select(literal("hello"), _RECENT_HELLOS.c.day, _NO_INT, literal(None, String), _NO_INT, _NO_INT),
    select(literal("checkin"), _checkins.c.day, _NO_INT, literal(None, String), _NO_INT, _NO_INT).where(
        _checkins.c.participant_id == _PARTICIPANT, _checkins.c.day >= _STEADY_SINCE
    ),
    select(
        literal("task"),
        _task_offers.c.day,
        _task_offers.c.level,
        _task_offers.c.outcome,
        _task_offers.c.rating,
        _task_offers.c.id,
    ).where(_task_offers.c.participant_id == _PARTICIPANT, _task_offers.c.day >= _STEADY_SINCE),
)


async def steadiness(session: AsyncSession, participant_id: int, hello_days: int) -> Steadiness:
    """The participant's latest `hello_days` hello-days, and their check-ins and tasks since the
    first of them, in one query."""
    rows = await _core(session, _STEADINESS, {"participant_id": participant_id, "count": hello_days})
    days: list[dt.date] = []
    checkins: set[dt.date] = set()
    tasks: list[tuple[int, TaskResult]] = []
    for kind, day, level, outcome, rating, offer_id in rows:
        if kind == "hello":
            days.append(day)
        elif kind == "checkin":
            checkins.add(day)
        else:
            tasks.append((offer_id, _task_result(day, level, outcome, rating)))
    # Tasks in the order they were recorded.
    return Steadiness(sorted(days), checkins, [result for _, result in sorted(tasks, key=lambda task: task[0])])


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
    vid = select(Volunteer.id).where(Volunteer.chat_id == chat_id).scalar_subquery()
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
        "cheers_received": select(Cheer.day, Cheer.phrase, Cheer.text, Cheer.delivered_at, Cheer.thanked_at)
        .where(Cheer.participant_id == pid)
        .order_by(Cheer.id),
        "group_activities": select(
            Activity.title, Activity.starts_at, ActivityReply.answer, ActivityReply.answered_at, ActivityReply.how_was_it
        )
        .join(Activity, Activity.id == ActivityReply.activity_id)
        .where(ActivityReply.participant_id == pid),
        "as_volunteer": select(Volunteer.language, Volunteer.created_at, Volunteer.revoked_at).where(Volunteer.id == vid),
        # Cheers they sent, without whom they went to.
        "cheers_sent": select(Cheer.day, Cheer.phrase, Cheer.text).where(Cheer.volunteer_id == vid).order_by(Cheer.id),
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


_PENDING_NOTES = (
    select(
        _family_notes.c.id,
        _family_links.c.participant_id,
        _family_members.c.display_name,
        _family_notes.c.text,
        _family_members.c.chat_id,
        _family_links.c.relative_label,
        _family_members.c.language,
    )
    .join(_family_links, _family_links.c.id == _family_notes.c.link_id)
    .join(_family_members, _family_members.c.id == _family_links.c.family_member_id)
    .where(_family_links.c.participant_id.in_(_IDS))
    .order_by(_family_notes.c.id)
)


async def pending_notes(session: AsyncSession, participant_ids: Sequence[int]) -> dict[int, list[PendingNote]]:
    """Notes waiting for each participant's next hello (one query for a whole batch)."""
    rows = await _core(session, _PENDING_NOTES, {"ids": list(participant_ids)})
    found: dict[int, list[PendingNote]] = {}
    for row in rows:
        note = PendingNote(*row)
        found.setdefault(note.participant_id, []).append(note)
    return found


_DELETE_NOTES = delete(_family_notes).where(_family_notes.c.id.in_(_IDS))


async def delete_notes(session: AsyncSession, note_ids: Sequence[int]) -> None:
    if note_ids:
        await _core(session, _DELETE_NOTES, {"ids": list(note_ids)})


async def claim_family_due(
    session: AsyncSession, now: dt.datetime, token: str, limit: int, stale_before: dt.datetime
) -> list[FamilyMember]:
    """Claim family members whose weekly note is due (the same claim as the hello tick's)."""
    rows = await _claimed(session, FamilyMember, "next_note_at", ("id",), now, token, limit, stale_before)
    ids = [row[0] for row in rows]
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


_FIRST_DELIVERY = _insert_or_skip(ProcessedUpdate.__table__, ["update_id"], ["update_id", "received_at"])


async def first_delivery(session: AsyncSession, update_id: int, at: dt.datetime) -> bool:
    """Record an update id; False if some worker already took this update in (a retried delivery)."""
    result = await _core(session, _FIRST_DELIVERY, {"update_id": update_id, "received_at": at})
    return bool(result.rowcount)


async def forget_deliveries_before(session: AsyncSession, before: dt.datetime) -> None:
    """Telegram retries for a day at most; older ids need not be kept."""
    await session.execute(delete(ProcessedUpdate).where(ProcessedUpdate.received_at < before))


async def ping(session: AsyncSession) -> None:
    await session.execute(select(1))


_CLEAR_FAMILY_PROMPT = (
    update(_family_members)
    .where(_family_members.c.chat_id == bindparam("b_chat_id"), _family_members.c.awaiting.is_not(None))
    .values(awaiting=None)
)


async def clear_family_prompt(session: AsyncSession, chat_id: int) -> None:
    """A command leaves any half-answered family question behind (the name, an invitation, a note)."""
    await _core(session, _CLEAR_FAMILY_PROMPT, {"b_chat_id": chat_id})


# --- the peer team ---------------------------------------------------------------------------------


async def volunteer_by_chat(session: AsyncSession, chat_id: int) -> Volunteer | None:
    return await session.scalar(select(Volunteer).where(Volunteer.chat_id == chat_id))


async def add_volunteer_code(session: AsyncSession, code_hash: str, now: dt.datetime, expires_at: dt.datetime) -> None:
    session.add(VolunteerCode(code_hash=code_hash, created_at=now, expires_at=expires_at))
    await session.flush()


async def redeem_code(session: AsyncSession, code_hash: str, now: dt.datetime) -> str:
    """Use a volunteer code once: "ok", or why not ("used", "expired", "unknown"). The UPDATE is the
    check, so two people typing the same code at once cannot both get in."""
    used = await session.scalar(
        update(VolunteerCode)
        .where(VolunteerCode.code_hash == code_hash, VolunteerCode.used_at.is_(None), VolunteerCode.expires_at > now)
        .values(used_at=now)
        .returning(VolunteerCode.id)
        .execution_options(synchronize_session=False)
    )
    if used is not None:
        return "ok"
    code = await session.scalar(select(VolunteerCode).where(VolunteerCode.code_hash == code_hash))
    if code is None:
        return "unknown"
    return "used" if code.used_at is not None else "expired"


async def link_code(session: AsyncSession, code_hash: str, volunteer_id: int) -> None:
    await session.execute(
        update(VolunteerCode).where(VolunteerCode.code_hash == code_hash).values(volunteer_id=volunteer_id)
    )


_PEER_TEAM = select(_volunteers.c.id).where(_volunteers.c.revoked_at.is_(None)).exists()
_PEER_TEAM_EXISTS = select(_PEER_TEAM)


async def peer_team_exists(session: AsyncSession) -> bool:
    """Whether any volunteer is active (chat_state reads the same with the participant)."""
    return bool(await session.scalar(_PEER_TEAM_EXISTS))


@dataclass(frozen=True)
class VolunteerRow:
    """What a coordinator sees of a volunteer: a number, since when, and how many cheers."""

    volunteer_id: int
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    cheers_this_week: int


async def volunteers(session: AsyncSession, since: dt.datetime) -> list[VolunteerRow]:
    cheers = (
        select(func.count(Cheer.id))
        .where(Cheer.volunteer_id == Volunteer.id, Cheer.created_at >= since)
        .correlate(Volunteer)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Volunteer.id, Volunteer.created_at, Volunteer.revoked_at, cheers).order_by(Volunteer.id)
    )
    return [VolunteerRow(*row) for row in rows]


async def revoke_volunteer(session: AsyncSession, volunteer_id: int, now: dt.datetime) -> Volunteer | None:
    """End a volunteer's access; their cheers not yet delivered are withdrawn. None if there was
    no such volunteer or they had already been revoked."""
    volunteer = await session.get(Volunteer, volunteer_id)
    if volunteer is None or volunteer.revoked_at is not None:
        return None
    volunteer.revoked_at = now
    volunteer.awaiting = None
    await session.execute(delete(Cheer).where(Cheer.volunteer_id == volunteer_id, Cheer.delivered_at.is_(None)))
    return volunteer


@dataclass(frozen=True)
class BoardRow:
    alias: str
    level: int
    cheers_on: bool
    asked_kind_word: bool


def _on_board():  # type: ignore[no-untyped-def]
    """Who may appear on the peer board: they said yes, and they are receiving messages."""
    return (
        Participant.peer_visible.is_(True),
        Participant.status == Status.ACTIVE,
        Participant.blocked_at.is_(None),
        Participant.alias.is_not(None),
    )


def board_statement(offset: int, limit: int):  # type: ignore[no-untyped-def]
    """The board's rows. It selects no identifying column — no id, chat, zone, window, name or date
    of joining — only what a card shows (a test checks the selected columns)."""
    asked = Participant.kind_word_asked_at.is_not(None)
    return (
        select(Participant.alias, Participant.level, Participant.cheers_on, asked.label("asked"))
        .where(*_on_board())
        .order_by(asked.desc(), Participant.alias)
        .offset(offset)
        .limit(limit)
    )


def board_days_statements(aliases: Sequence[str]):  # type: ignore[no-untyped-def]
    """Check-in and hello days of the cards on one page, by alias (again: no identifying column)."""
    checkins = (
        select(Participant.alias, CheckIn.day)
        .join(CheckIn, CheckIn.participant_id == Participant.id)
        .where(Participant.alias.in_(aliases))
    )
    hellos = (
        select(Participant.alias, Hello.day)
        .join(Hello, Hello.participant_id == Participant.id)
        .where(Participant.alias.in_(aliases))
    )
    return checkins, hellos


async def board_page(session: AsyncSession, offset: int, limit: int) -> tuple[list[BoardRow], int]:
    total = await session.scalar(select(func.count()).select_from(Participant).where(*_on_board()))
    rows = [BoardRow(*row) for row in await session.execute(board_statement(offset, limit))]
    return rows, total


async def board_days(
    session: AsyncSession, aliases: Sequence[str]
) -> dict[str, tuple[set[dt.date], set[dt.date]]]:
    found: dict[str, tuple[set[dt.date], set[dt.date]]] = {alias: (set(), set()) for alias in aliases}
    if not aliases:
        return found
    checkins, hellos = board_days_statements(aliases)
    for alias, day in await session.execute(checkins):
        found[alias][0].add(day)
    for alias, day in await session.execute(hellos):
        found[alias][1].add(day)
    return found


async def board_participant(session: AsyncSession, alias: str) -> Participant | None:
    """The participant behind a card, only while their card is on the board."""
    return await session.scalar(select(Participant).where(Participant.alias == alias, *_on_board()))


async def cheers_by_volunteer_since(session: AsyncSession, volunteer_id: int, since: dt.datetime) -> int:
    return await session.scalar(
        select(func.count(Cheer.id)).where(Cheer.volunteer_id == volunteer_id, Cheer.created_at >= since)
    )


async def cheered_on(session: AsyncSession, participant_id: int, day: dt.date) -> bool:
    found = await session.scalar(select(Cheer.id).where(Cheer.participant_id == participant_id, Cheer.day == day))
    return found is not None


async def add_cheer(
    session: AsyncSession,
    participant_id: int,
    volunteer_id: int,
    day: dt.date,
    now: dt.datetime,
    *,
    phrase: int | None = None,
    text: str | None = None,
) -> int | None:
    """Store a cheer; None if the participant already got one today (from anyone)."""
    statement = (
        _insert(session)(Cheer)
        .values(participant_id=participant_id, volunteer_id=volunteer_id, day=day, phrase=phrase, text=text, created_at=now)
        .on_conflict_do_nothing(index_elements=[Cheer.participant_id, Cheer.day])
        .returning(Cheer.id)
    )
    return await session.scalar(statement)


@dataclass(frozen=True)
class PendingCheer:
    cheer_id: int
    participant_id: int
    phrase: int | None
    text: str | None


_PENDING_CHEERS = (
    select(_cheers.c.id, _cheers.c.participant_id, _cheers.c.phrase, _cheers.c.text)
    .join(_participants, _participants.c.id == _cheers.c.participant_id)
    .where(_cheers.c.participant_id.in_(_IDS), _cheers.c.delivered_at.is_(None), _participants.c.cheers_on.is_(True))
    .order_by(_cheers.c.id.desc())
)


async def pending_cheers(session: AsyncSession, participant_ids: Sequence[int]) -> dict[int, PendingCheer]:
    """The oldest undelivered cheer of each participant who has cheers on (one query for a batch)."""
    rows = await _core(session, _PENDING_CHEERS, {"ids": list(participant_ids)})
    return {row.participant_id: PendingCheer(*row) for row in rows}  # the last written wins: the oldest


async def drop_pending_cheers(session: AsyncSession, participant_id: int) -> None:
    """Cheers switched off: those waiting are not kept."""
    await session.execute(delete(Cheer).where(Cheer.participant_id == participant_id, Cheer.delivered_at.is_(None)))


async def cheer(session: AsyncSession, cheer_id: int) -> Cheer | None:
    return await session.get(Cheer, cheer_id)


async def volunteer(session: AsyncSession, volunteer_id: int) -> Volunteer | None:
    return await session.get(Volunteer, volunteer_id)


# --- notices: messages waiting for their moment ---------------------------------------------------------


async def add_notice(
    session: AsyncSession,
    participant_id: int,
    kind: str,
    due_at: dt.datetime,
    *,
    activity_id: int | None = None,
    cheer_id: int | None = None,
) -> None:
    """Plan a message; planning the same activity message twice is a no-op."""
    await add_notices(session, [notice_row(participant_id, kind, due_at, activity_id=activity_id, cheer_id=cheer_id)])


def notice_row(
    participant_id: int, kind: str, due_at: dt.datetime, *, activity_id: int | None = None, cheer_id: int | None = None
) -> dict[str, object]:
    return {"participant_id": participant_id, "kind": kind, "due_at": due_at, "activity_id": activity_id, "cheer_id": cheer_id}


_ADD_NOTICES = _insert_or_skip(
    Notice.__table__,
    ["participant_id", "kind", "activity_id"],
    ["participant_id", "kind", "due_at", "activity_id", "cheer_id"],
)


async def add_notices(session: AsyncSession, rows: Sequence[dict[str, object]]) -> None:
    """Plan several messages in one statement (rows from :func:`notice_row`); one already planned
    for the same person, kind and activity is left as it is."""
    if rows:
        await _core(session, _ADD_NOTICES, list(rows))


async def delete_notices(
    session: AsyncSession,
    *,
    participant_id: int | None = None,
    activity_id: int | None = None,
    kinds: Sequence[str] | None = None,
) -> None:
    conditions = []
    if participant_id is not None:
        conditions.append(Notice.participant_id == participant_id)
    if activity_id is not None:
        conditions.append(Notice.activity_id == activity_id)
    if kinds is not None:
        conditions.append(Notice.kind.in_(kinds))
    await session.execute(delete(Notice).where(*conditions))


@dataclass(frozen=True)
class DueNotice:
    """A claimed notice with what it takes to decide and word it; no ORM object."""

    notice_id: int
    kind: str
    chat_id: int
    participant_id: int
    status: str
    blocked: bool
    language: str | None
    timezone: str | None
    level: int
    group_opt_in: bool
    activity_id: int | None
    cheer_id: int | None
    send_failures: int
    unanswered: int  # the participant's messages without a reply (the quiet spell)
    hello_claimed: bool  # a hello tick (in another process) is sending them a hello right now


async def claim_notices(
    session: AsyncSession, now: dt.datetime, token: str, limit: int, stale_before: dt.datetime
) -> list[DueNotice]:
    """Claim due notices (the same claim as the hello tick's), with their participant's essentials."""
    ids = [row[0] for row in await _claimed(session, Notice, "due_at", ("id",), now, token, limit, stale_before)]
    if not ids:
        return []
    rows = await session.execute(
        select(
            Notice.id,
            Notice.kind,
            Participant.chat_id,
            Participant.id,
            Participant.status,
            Participant.blocked_at.is_not(None),
            Participant.language,
            Participant.timezone,
            Participant.level,
            Participant.group_opt_in,
            Notice.activity_id,
            Notice.cheer_id,
            Notice.send_failures,
            Participant.unanswered,
            Participant.claim_token.is_not(None),
        )
        .join(Participant, Participant.id == Notice.participant_id)
        .where(Notice.id.in_(ids))
        .order_by(Notice.due_at, Notice.id)
    )
    return [DueNotice(*row) for row in rows]


async def finish_notices(session: AsyncSession, notice_ids: Sequence[int], token: str) -> None:
    """Done with some notices (sent, or no longer fitting): deleted."""
    if notice_ids:
        await session.execute(delete(Notice).where(Notice.id.in_(notice_ids), Notice.claim_token == token))


async def hold_notices(session: AsyncSession, notice_ids: Sequence[int], token: str, until: dt.datetime) -> None:
    """Not the moment for them (invitations during a quiet spell): looked at again at `until`."""
    if notice_ids:
        await session.execute(
            update(Notice)
            .where(Notice.id.in_(notice_ids), Notice.claim_token == token)
            .values(due_at=until, claimed_at=None, claim_token=None)
        )


async def retry_notice(session: AsyncSession, notice: DueNotice, token: str, retry_at: dt.datetime) -> None:
    """Not sent for reasons that were not the person's doing: tried again at `retry_at`."""
    await session.execute(
        update(Notice)
        .where(Notice.id == notice.notice_id, Notice.claim_token == token)
        .values(due_at=retry_at, claimed_at=None, claim_token=None, send_failures=notice.send_failures + 1)
    )


async def mark_blocked(session: AsyncSession, participant_id: int, now: dt.datetime) -> None:
    """They blocked the bot: nothing more goes out until they write again."""
    await session.execute(
        update(Participant).where(Participant.id == participant_id).values(blocked_at=now, next_hello_at=None)
    )


# --- group activities ---------------------------------------------------------------------------------


async def activity(session: AsyncSession, activity_id: int, *, lock: bool = False) -> Activity | None:
    """An activity; with `lock`, its row is held until commit (two last places cannot both be taken)."""
    statement = select(Activity).where(Activity.id == activity_id)
    if lock and session.bind.dialect.name == "postgresql":
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def upcoming_activities(session: AsyncSession, now: dt.datetime) -> list[Activity]:
    rows = await session.scalars(
        select(Activity).where(Activity.starts_at > now, Activity.cancelled_at.is_(None)).order_by(Activity.starts_at)
    )
    return list(rows)


async def answer_counts(session: AsyncSession, activity_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """For each activity, how many answered come, maybe and tell (numbers only, never who)."""
    found: dict[int, dict[str, int]] = {aid: {} for aid in activity_ids}
    rows = await session.execute(
        select(ActivityReply.activity_id, ActivityReply.answer, func.count())
        .where(ActivityReply.activity_id.in_(activity_ids), ActivityReply.answer.is_not(None))
        .group_by(ActivityReply.activity_id, ActivityReply.answer)
    )
    for activity_id, answer, n in rows:
        found[activity_id][answer] = n
    return found


async def reply(session: AsyncSession, activity_id: int, participant_id: int) -> ActivityReply | None:
    return await session.get(ActivityReply, (activity_id, participant_id))


def _eligible(activity: Activity):  # type: ignore[no-untyped-def]
    return (
        Participant.status == Status.ACTIVE,
        Participant.group_opt_in == true(),  # "=", not "IS": an index can answer it (on both databases)
        Participant.level >= activity.min_level,
        Participant.blocked_at.is_(None),
    )


async def invite_candidates(session: AsyncSession, activity: Activity) -> list[tuple[int, dt.datetime | None]]:
    """Participants who may be invited and were not yet: (id, next hello moment)."""
    invited = select(ActivityReply.participant_id).where(ActivityReply.activity_id == activity.id)
    rows = await session.execute(
        select(Participant.id, Participant.next_hello_at).where(*_eligible(activity), Participant.id.not_in(invited))
    )
    return [tuple(row) for row in rows]


async def add_replies(session: AsyncSession, activity_id: int, participant_ids: Sequence[int], now: dt.datetime) -> set[int]:
    """Record invitations; returns those newly recorded (another worker may have been first)."""
    if not participant_ids:
        return set()
    statement = (
        _insert(session)(ActivityReply)
        .values([{"activity_id": activity_id, "participant_id": pid, "invited_at": now} for pid in participant_ids])
        .on_conflict_do_nothing(index_elements=[ActivityReply.activity_id, ActivityReply.participant_id])
        .returning(ActivityReply.participant_id)
    )
    return set((await session.scalars(statement)).all())


async def answered(session: AsyncSession, activity_id: int) -> list[ActivityReply]:
    rows = await session.scalars(
        select(ActivityReply).where(ActivityReply.activity_id == activity_id, ActivityReply.answer.is_not(None))
    )
    return list(rows)


async def activities_for(session: AsyncSession, participant: Participant, now: dt.datetime) -> list[Activity]:
    """Upcoming activities this participant is welcome at (opted in, at or above the lowest step)."""
    rows = await session.scalars(
        select(Activity)
        .where(Activity.starts_at > now, Activity.cancelled_at.is_(None), Activity.min_level <= participant.level)
        .order_by(Activity.starts_at)
    )
    return list(rows)


# --- coordinators' figures ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    by_level: dict[int, int]
    checkins_by_day: dict[dt.date, int]
    quiet: int
    total: int


async def figures(session: AsyncSession, since: dt.date, quiet_after: int) -> Figures:
    """Aggregates only: counts by step, check-ins a day since `since`, and how many went quiet."""
    counted = Participant.status.in_((Status.ACTIVE, Status.PAUSED))
    by_level = dict((await session.execute(select(Participant.level, func.count()).where(counted).group_by(Participant.level))).all())
    per_day = dict(
        (await session.execute(select(CheckIn.day, func.count()).where(CheckIn.day >= since).group_by(CheckIn.day))).all()
    )
    quiet = await session.scalar(
        select(func.count()).select_from(Participant).where(Participant.status == Status.ACTIVE, Participant.unanswered >= quiet_after)
    )
    return Figures(by_level, per_day, quiet, sum(by_level.values()))


async def clear_kind_word(session: AsyncSession, participant_id: int) -> None:
    await session.execute(update(Participant).where(Participant.id == participant_id).values(kind_word_asked_at=None))


_VOLUNTEER_ASKED = (
    select(_volunteers.c.id)
    .where(_volunteers.c.chat_id == _CHAT, _volunteers.c.awaiting.is_not(None), _volunteers.c.revoked_at.is_(None))
    .exists()
)
_FAMILY_ASKED = (
    select(_family_members.c.id).where(_family_members.c.chat_id == _CHAT, _family_members.c.awaiting.is_not(None)).exists()
)
_PROMPTS_WAITING = select(_VOLUNTEER_ASKED, _FAMILY_ASKED)
_CHAT_STATE = select(
    Participant, _VOLUNTEER_ASKED, _FAMILY_ASKED, _LATEST_HELLO_DAY, _LATEST_HELLO_ANSWERED, _PEER_TEAM
).where(Participant.chat_id == _CHAT)


@dataclass(frozen=True, slots=True)
class ChatState:
    """What almost every update needs first, read in one query (:func:`chat_state`)."""

    participant: Participant | None
    # prompts_waiting() for the chat: whether it owes words as a volunteer and as a family member.
    prompts: tuple[bool, bool] | None
    # latest_hello_state() for the participant.
    latest_hello: tuple[dt.date, bool] | None
    # peer_team_exists(); None when there is no participant.
    peer_team: bool | None = None


async def chat_state(session: AsyncSession, chat_id: int) -> ChatState:
    """The participant of this chat and, if there is one, :func:`prompts_waiting` for the chat,
    :func:`latest_hello_state` for the participant and whether there is a peer team, in one query:
    every update reads the first, every text needs the second, every answer to a hello or a task
    the third, and most check-ins the fourth."""
    row = (await session.execute(_CHAT_STATE, {"chat_id": chat_id})).first()
    if row is None:
        return ChatState(None, None, None)
    return ChatState(row[0], (bool(row[1]), bool(row[2])), _latest_hello(row[3], row[4]), bool(row[5]))


async def prompts_waiting(session: AsyncSession, chat_id: int) -> tuple[bool, bool]:
    """Whether this chat owes words as a volunteer (a cheer) and as a family member, in one query."""
    row = (await _core(session, _PROMPTS_WAITING, {"chat_id": chat_id})).one()
    return bool(row[0]), bool(row[1])


_CLEAR_VOLUNTEER_PROMPT = (
    update(_volunteers)
    .where(_volunteers.c.chat_id == bindparam("b_chat_id"), _volunteers.c.awaiting.is_not(None))
    .values(awaiting=None)
)


async def clear_volunteer_prompt(session: AsyncSession, chat_id: int) -> None:
    """A command leaves a half-written cheer behind."""
    await _core(session, _CLEAR_VOLUNTEER_PROMPT, {"b_chat_id": chat_id})


# --- the simulation ------------------------------------------------------------------------------


async def watch_level_changes(session: AsyncSession, function: str) -> None:
    """SQLite only, for ``python -m bot simulate``: every change of a participant's level, whichever
    code makes it, calls the SQL function `function(chat_id, old level, new level)`, which the
    caller registers on each connection."""
    await session.execute(
        text(
            f"CREATE TRIGGER simulation_watches_levels AFTER UPDATE OF level ON {_participants.name}"
            f" WHEN NEW.level IS NOT OLD.level BEGIN SELECT {function}(NEW.chat_id, OLD.level, NEW.level); END"
        )
    )
