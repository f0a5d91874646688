"""Storage on every backend: UTC times, idempotent check-ins, and claims that never overlap."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import sqlalchemy.ext.asyncio.session as async_session_module
from sqlalchemy import event, select, text, update
from sqlalchemy.exc import MissingGreenlet
from sqlalchemy.ext.asyncio import AsyncEngine

from core.ladder import Outcome, TaskResult
from storage import repo
from alembic.script import ScriptDirectory

from storage.db import Session, alembic_config, migrate, session_factory
from storage.models import CheckIn, Hello, Participant, Status

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


async def add_active(engine: AsyncEngine, count: int, due: dt.datetime = NOW) -> list[int]:
    sessions = session_factory(engine)
    async with sessions() as session:
        people = [
            Participant(
                chat_id=10_000 + i,
                status=Status.ACTIVE,
                created_at=NOW,
                consent_at=NOW,
                language="en",
                timezone="Asia/Tokyo",
                window="evening",
                rhythm="daily",
                next_hello_at=due - dt.timedelta(seconds=i),
            )
            for i in range(count)
        ]
        session.add_all(people)
        await session.commit()
        return [p.id for p in people]


async def test_times_come_back_aware_and_in_utc(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    tokyo_evening = dt.datetime(2026, 3, 2, 19, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    async with sessions() as session:
        session.add(Participant(chat_id=1, created_at=tokyo_evening, next_hello_at=tokyo_evening))
        await session.commit()
    async with sessions() as session:
        participant = await repo.participant_by_chat(session, 1)
        assert participant.created_at == tokyo_evening
        assert participant.created_at.tzinfo == dt.UTC
        assert participant.next_hello_at == dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


async def test_telegram_ids_beyond_32_bits_fit(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    async with sessions() as session:
        await repo.get_or_create_participant(session, 7_000_000_000, NOW)
        await session.commit()
    async with sessions() as session:
        assert (await repo.participant_by_chat(session, 7_000_000_000)).chat_id == 7_000_000_000


async def test_a_day_is_counted_once(engine: AsyncEngine) -> None:
    [pid] = await add_active(engine, 1)
    sessions = session_factory(engine)
    day = dt.date(2026, 3, 2)
    async with sessions() as session:
        assert await repo.add_checkin(session, pid, day, NOW, "here") is True
        assert await repo.add_checkin(session, pid, day, NOW, "text") is False
        await session.commit()
    async with sessions() as session:
        assert await repo.history(session, pid) == ({day}, set())


async def test_the_hot_inserts_are_compiled_once(engine: AsyncEngine) -> None:
    """The statements behind every check-in, offered task, planned notice and webhook delivery are
    compiled once and reused (SQLAlchemy does not cache its dialects' ON CONFLICT inserts, which
    cost as much to compile as to run); each still skips a duplicate and stores typed values."""
    [pid] = await add_active(engine, 1)
    compiled: dict[str, list[object]] = {}

    def seen(_conn, _cursor, statement: str, _params, context, _many: bool) -> None:  # noqa: ANN001
        if statement.startswith("INSERT"):
            compiled.setdefault(statement.split()[2].strip('"'), []).append(context.compiled)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    sessions = session_factory(engine)
    day = dt.date(2026, 3, 2)
    offer = {"participant_id": pid, "task_id": "t1", "level": 0, "day": day, "offered_at": NOW, "kind": "hello"}
    for attempt in range(2):
        async with sessions() as session:
            assert await repo.add_checkin(session, pid, day, NOW, "here") is (attempt == 0)
            await repo.add_offers(session, [offer])
            await repo.add_notices(session, [repo.notice_row(pid, "kind_word", NOW)])
            assert await repo.first_delivery(session, 77, NOW) is (attempt == 0)
            await session.commit()
    event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert set(compiled) == {"checkins", "task_offers", "notices", "processed_updates"}
    for table, each in compiled.items():
        assert len(each) == 2 and each[0] is each[1], table
    async with sessions() as session:
        assert await repo.history(session, pid) == ({day}, set())
        assert await repo.offer(session, pid, day, "t1") is not None
        # Due by a minute later (the time was stored as the column's type compares), and two:
        # a notice without an activity never conflicts with another.
        due = await repo.claim_notices(session, NOW + dt.timedelta(minutes=1), "t", 10, NOW - dt.timedelta(hours=1))
        assert [notice.kind for notice in due] == ["kind_word", "kind_word"]
        assert await repo.claim_notices(session, NOW - dt.timedelta(minutes=1), "u", 10, NOW - dt.timedelta(hours=1)) == []


async def test_a_task_is_closed_and_rated_once(engine: AsyncEngine) -> None:
    """An answer is written only to an open task ("Maybe later" keeps it open), and a rating only
    once to a done one: a second tap, even one handled by another worker at the same moment,
    changes nothing."""
    [pid] = await add_active(engine, 1)
    sessions = session_factory(engine)
    day = dt.date(2026, 3, 2)
    rows = [
        {"participant_id": pid, "task_id": task, "level": 0, "day": day, "offered_at": NOW, "kind": "hello"}
        for task in ("t1", "t2")
    ]
    later = dt.date(2026, 3, 3)
    async with sessions() as session:
        await repo.add_offers(session, rows)
        first = await repo.offer(session, pid, day, "t1")
        assert first is not None and first.outcome is None
        assert await repo.rate_task(session, pid, day, "t1", 3) is False  # not done yet
        later_ = await repo.answer_task(session, pid, day, "t1", Outcome.LATER, NOW, None)
        assert later_ == repo.OfferState(first.offer_id, day, 0, "hello", "later", None)
        done = await repo.answer_task(session, pid, day, "t1", Outcome.DONE, NOW, day)
        assert done is not None and done.outcome == "done"
        assert await repo.answer_task(session, pid, day, "t1", Outcome.TOO_MUCH, NOW, day) is None
        assert await repo.rate_task(session, pid, day, "t1", 3) is True
        assert await repo.rate_task(session, pid, day, "t1", 9) is False
        # A task is open only until the next hello after it; then nothing is written.
        assert await repo.answer_task(session, pid, day, "t2", Outcome.DONE, NOW, later) is None
        assert (await repo.offer(session, pid, day, "t2")).outcome is None
        assert await repo.answer_task(session, pid, day, "t2", Outcome.TOO_MUCH, NOW, day) is not None
        assert await repo.answer_task(session, pid, day, "t2", Outcome.DONE, NOW, day) is None
        # Someone else's task, or one never offered, is never written.
        assert await repo.answer_task(session, pid + 1, day, "t1", Outcome.DONE, NOW, None) is None
        assert await repo.answer_task(session, pid, day, "nope", Outcome.DONE, NOW, None) is None
        assert await repo.rate_task(session, pid + 1, day, "t1", 5) is False
        await session.commit()
    async with sessions() as session:
        assert await repo.offer(session, pid, day, "t1") == repo.OfferState(first.offer_id, day, 0, "hello", "done", 3)
        assert (await repo.offer(session, pid, day, "t2")).outcome == "too_much"


async def test_steadiness_reads_the_latest_hello_days_and_what_came_since(engine: AsyncEngine) -> None:
    """One query: the latest hello-days (oldest first), and the check-ins and tasks since the first
    of them (older ones, and other people's, are left out)."""
    pid, other = await add_active(engine, 2)
    sessions = session_factory(engine)
    days = [dt.date(2026, 3, 1) + dt.timedelta(days=n) for n in range(6)]
    async with sessions() as session:
        assert await repo.steadiness(session, pid, 4) == repo.Steadiness([], set(), [])
        for who in (pid, other):
            session.add_all(Hello(participant_id=who, day=day, sent_at=NOW, message_id=n) for n, day in enumerate(days))
            session.add_all(CheckIn(participant_id=who, day=day, at=NOW, source="text") for day in days[1::2])
        rows = [
            {"participant_id": pid, "task_id": task, "level": 1, "day": day, "offered_at": NOW, "kind": "hello"}
            for task, day in (("old", days[0]), ("a", days[3]), ("b", days[2]), ("c", days[5]))
        ]
        await repo.add_offers(session, rows)
        await repo.answer_task(session, pid, days[3], "a", Outcome.DONE, NOW, None)
        await repo.rate_task(session, pid, days[3], "a", 2)
        await session.commit()
    async with sessions() as session:
        recent = await repo.steadiness(session, pid, 4)
    assert recent.hello_days == days[2:]
    assert recent.checkin_days == {days[3], days[5]}
    assert recent.results == [
        TaskResult(days[3], 1, Outcome.DONE, 2),
        TaskResult(days[2], 1, None, None),
        TaskResult(days[5], 1, None, None),
    ]


async def test_a_read_built_on_tables_sees_what_the_session_has_not_written_yet(engine: AsyncEngine) -> None:
    """Statements built on tables skip SQLAlchemy's autoflush; repo runs them after flushing the
    session's pending changes, as an ORM query would, so they see (and never overtake) them."""
    [pid] = await add_active(engine, 1)
    sessions = session_factory(engine)
    day = dt.date(2026, 3, 2)
    async with sessions() as session:
        participant = await session.get(Participant, pid)
        session.add(Hello(participant_id=pid, day=day, sent_at=NOW, message_id=1))
        session.add(CheckIn(participant_id=pid, day=day, at=NOW, source="text"))
        participant.unanswered = 2
        assert await repo.latest_hello_state(session, pid) == (day, True)
        await repo.clear_unanswered(session, participant)
        await session.commit()
    async with sessions() as session:
        assert (await session.get(Participant, pid)).unanswered == 0


async def test_claims_are_exclusive_and_ordered_by_due_time(engine: AsyncEngine) -> None:
    await add_active(engine, 30)
    sessions = session_factory(engine)
    stale = NOW - dt.timedelta(minutes=5)

    async def claim(token: str) -> list[repo.DueHello]:
        async with sessions() as session:
            rows = await repo.claim_due(session, NOW, token, 20, stale)
            await session.commit()
            return rows

    first, second = await asyncio.gather(claim("a"), claim("b"))
    ids_a = {row.participant_id for row in first}
    ids_b = {row.participant_id for row in second}
    assert not ids_a & ids_b
    assert len(ids_a | ids_b) == 30
    for rows in (first, second):
        assert [r.next_hello_at for r in rows] == sorted(r.next_hello_at for r in rows)
    assert await claim("c") == []  # everything is claimed and the claims are fresh


async def test_only_due_rows_are_claimed_and_a_lost_claim_is_not_finished(engine: AsyncEngine) -> None:
    [early, late] = await add_active(engine, 2)
    sessions = session_factory(engine)
    async with sessions() as session:
        participant = await session.get(Participant, late)
        participant.next_hello_at = NOW + dt.timedelta(hours=1)
        await session.commit()
    async with sessions() as session:
        rows = await repo.claim_due(session, NOW, "mine", 10, NOW - dt.timedelta(minutes=5))
        await session.commit()
    assert [row.participant_id for row in rows] == [early]
    # Another worker took it over after a timeout: the first worker's finish changes nothing.
    later = NOW + dt.timedelta(minutes=6)
    async with sessions() as session:
        assert len(await repo.claim_due(session, later, "theirs", 10, later - dt.timedelta(minutes=5))) == 1
        await repo.finish_claims(session, "mine", [(early, {"next_hello_at": None})])
        await session.commit()
    async with sessions() as session:
        participant = await session.get(Participant, early)
        assert participant.claim_token == "theirs" and participant.next_hello_at == NOW
    async with sessions() as session:
        await repo.finish_claims(session, "theirs", [(early, {"next_hello_at": None})])
        await session.commit()
    async with sessions() as session:
        participant = await session.get(Participant, early)
        assert participant.claim_token is None and participant.next_hello_at is None


async def test_deleting_a_participant_deletes_their_days(engine: AsyncEngine) -> None:
    [pid] = await add_active(engine, 1)
    sessions = session_factory(engine)
    async with sessions() as session:
        await repo.add_checkin(session, pid, dt.date(2026, 3, 1), NOW, "here")
        await repo.add_hellos(session, [{"participant_id": pid, "day": dt.date(2026, 3, 1), "sent_at": NOW, "message_id": 5}])
        await session.commit()
    async with sessions() as session:
        await session.delete(await session.get(Participant, pid))
        await session.commit()
    async with sessions() as session:
        assert await repo.history(session, pid) == (set(), set())


async def test_migrating_again_is_a_no_op(engine: AsyncEngine) -> None:
    await migrate(engine)
    async with engine.connect() as connection:
        version = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_engine: AsyncEngine) -> None:
    async with sqlite_engine.connect() as connection:
        assert (await connection.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
        assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1


async def test_the_models_and_the_migrations_agree(engine: AsyncEngine) -> None:
    """A model change without a migration (or the other way round) fails here, on every backend."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from storage.models import Base

    async with engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    assert diff == []


async def test_leaving_a_session_closes_it_and_gives_its_connection_back(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite the close is run where the session is left, with no task of its own (nothing in it
    waits); on PostgreSQL it waits for the server, in a task. Either way the connection is back in
    the pool once the block is left."""
    tasks: list[str] = []
    for name in ("create_task", "ensure_future"):
        start = getattr(asyncio, name)
        monkeypatch.setattr(asyncio, name, lambda *a, start=start, name=name, **k: tasks.append(name) or start(*a, **k))
    sessions = session_factory(engine)
    async with sessions() as session:
        assert isinstance(session, Session)
        assert await session.scalar(text("SELECT 1")) == 1
        assert engine.pool.checkedout() == 1
    assert engine.pool.checkedout() == 0
    assert len(tasks) == (0 if engine.dialect.name == "sqlite" else 1)


async def test_a_close_that_waits_is_finished_even_when_the_task_is_cancelled(sqlite_engine: AsyncEngine) -> None:
    """A close that has to wait goes on in a shielded task: cancelling the task that left the
    session does not stop it halfway, and the cancellation is raised once the close is done."""
    release = asyncio.Event()
    closed: list[str] = []

    class SlowClose(Session):
        async def close(self) -> None:
            closed.append("started")
            await release.wait()
            await super().close()
            closed.append("done")

    async def use() -> None:
        async with SlowClose(sqlite_engine) as session:
            await session.scalar(text("SELECT 1"))

    task = asyncio.ensure_future(use())
    while not closed:
        await asyncio.sleep(0)
    task.cancel()
    for _ in range(3):
        await asyncio.sleep(0)
    assert not task.done() and closed == ["started"]  # the cancellation waits for the close
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert closed == ["started", "done"]
    assert sqlite_engine.pool.checkedout() == 0


async def test_on_sqlite_the_session_calls_run_in_place(engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLAlchemy runs each AsyncSession call in a greenlet of its own (a new frame stack mapped and
    unmapped every time). On SQLite a transaction that has begun holds the write lock and nothing in
    it waits, so storage.db.Session calls the synchronous session directly, and begins the
    transaction in place too while the lock is free (tests/test_inline_sqlite.py has it taken). On
    PostgreSQL every call takes a greenlet, as in SQLAlchemy. The results are the same."""
    spawned: list[str] = []
    spawn = async_session_module.greenlet_spawn

    def counted(fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        spawned.append(fn.__name__)
        return spawn(fn, *args, **kwargs)

    monkeypatch.setattr(async_session_module, "greenlet_spawn", counted)
    (first,) = await add_active(engine, 1)
    spawned.clear()
    async with session_factory(engine)() as session:
        participant = await session.scalar(select(Participant).where(Participant.id == first))
        assert participant is not None and participant.chat_id == 10_000
        result = await session.execute(update(Participant).where(Participant.id == first).values(unanswered=3))
        assert result.rowcount == 1
        assert (await session.execute(select(Participant.unanswered))).scalars().all() == [3]
        assert await session.get(Participant, first) is participant
        participant.level = 2
        await session.flush()
        session.add(CheckIn(participant_id=first, day=NOW.date(), at=NOW, source="hello"))
        await session.commit()
    inline = engine.dialect.name == "sqlite"
    assert spawned == ([] if inline else ["scalar", "execute", "execute", "get", "flush", "commit", "close"])
    async with session_factory(engine)() as session:
        participant = await session.get(Participant, first)
        assert participant is not None and (participant.level, participant.unanswered) == (2, 3)
        await session.delete(participant)
        await session.rollback()
        assert await session.scalar(select(CheckIn.source)) == "hello"
    assert engine.pool.checkedout() == 0


async def test_a_load_outside_the_session_calls_is_refused_on_sqlite_as_elsewhere(engine: AsyncEngine) -> None:
    """Only the session's own calls run in place: an expired attribute read later would be I/O in a
    plain attribute access, which SQLAlchemy refuses with asyncio drivers, and refuses here too
    (code that works on SQLite works on PostgreSQL)."""
    (first,) = await add_active(engine, 1)
    async with session_factory(engine)() as session:
        participant = await session.get(Participant, first)
        assert participant is not None
        session.expire(participant)
        with pytest.raises(MissingGreenlet):
            _ = participant.chat_id
        await session.rollback()
