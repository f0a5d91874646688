"""SQLite on the event loop's thread (storage/inline_sqlite.py): no worker thread, and a locked
database is waited for in asyncio, so the rest of the bot runs on meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import exc, text

from storage import inline_sqlite
from storage.db import create_engine, session_factory

T = TypeVar("T")


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "inline.db"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (n INTEGER)")
    return path


@contextlib.contextmanager
def write_lock_held_elsewhere(path: Path) -> Iterator[sqlite3.Connection]:
    """Another connection (as another process would) holding SQLite's write lock."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        other.close()


@pytest.fixture
def refusals(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Set once a call has been refused with "database is locked" (and will be retried)."""
    refused = asyncio.Event()
    locked = inline_sqlite._locked

    def recording(error: sqlite3.OperationalError) -> bool:
        if locked(error):
            refused.set()
            return True
        return False

    monkeypatch.setattr(inline_sqlite, "_locked", recording)
    return refused


async def once_the_lock_is_let_go(database: Path, refusals: asyncio.Event, write: Coroutine[Any, Any, T]) -> T:
    """Start `write` while another connection holds the write lock; see it refused and waiting
    while this coroutine still runs (the loop was not stopped); let the lock go; return its result."""
    with write_lock_held_elsewhere(database) as other:
        writing = asyncio.ensure_future(write)
        await asyncio.wait_for(refusals.wait(), timeout=30)
        assert not writing.done()
        other.execute("COMMIT")
        return await asyncio.wait_for(writing, timeout=30)


async def test_calls_run_on_the_loops_thread_without_a_worker_thread(database: Path) -> None:
    threads = threading.active_count()
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t VALUES (1)"))
            assert threading.active_count() == threads
            raw = await connection.get_raw_connection()
            assert isinstance(raw.driver_connection, inline_sqlite.InlineConnection)
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT n FROM t"))).scalars().all() == [1]
    finally:
        await engine.dispose()


async def test_a_locked_database_is_waited_for_while_the_loop_runs_on(database: Path, refusals: asyncio.Event) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{database}")

    async def write() -> None:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t VALUES (2)"))

    try:
        await once_the_lock_is_let_go(database, refusals, write())
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT n FROM t"))).scalars().all() == [2]
    finally:
        await engine.dispose()


async def test_the_wait_has_an_end(database: Path, refusals: asyncio.Event) -> None:
    url = f"sqlite+aiosqlite:///{database}"
    engine = create_engine(url, async_creator=inline_sqlite.connector(str(database), busy_timeout=0))
    try:
        with write_lock_held_elsewhere(database), pytest.raises(exc.OperationalError, match="database is locked"):
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO t VALUES (3)"))
        assert refusals.is_set()
    finally:
        await engine.dispose()


async def test_other_errors_are_not_retried(database: Path, refusals: asyncio.Event) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        with pytest.raises(exc.OperationalError, match="no such table"):
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO missing VALUES (1)"))
        assert not refusals.is_set()
    finally:
        await engine.dispose()


async def test_a_transaction_holds_the_write_lock_from_its_first_statement_a_read_too(database: Path) -> None:
    """BEGIN IMMEDIATE (storage/db.py): a read followed by a write never meets "database is locked"
    because another writer committed in between; the lock is let go at commit."""
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    other = sqlite3.connect(database, isolation_level=None, timeout=0)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT n FROM t"))
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                other.execute("BEGIN IMMEDIATE")
            await connection.commit()
        other.execute("BEGIN IMMEDIATE")  # free again
        other.execute("ROLLBACK")
    finally:
        other.close()
        await engine.dispose()


async def test_a_statement_is_one_call_with_its_rows_and_counts(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLAlchemy's cursor here makes one awaited call a statement (open, execute, fetch, close
    together), and reads rows, rowcount and lastrowid as its own adapter does."""
    calls: list[str] = []
    execute = inline_sqlite.InlineConnection._execute

    async def counted(self, fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls.append(getattr(fn, "__name__", repr(fn)))
        return await execute(self, fn, *args, **kwargs)

    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with engine.begin() as connection:
            inserted = await connection.execute(text("INSERT INTO t VALUES (5)"))
            assert inserted.rowcount == 1 and inserted.lastrowid == 1
            monkeypatch.setattr(inline_sqlite.InlineConnection, "_execute", counted)
            many = await connection.execute(text("INSERT INTO t VALUES (:n)"), [{"n": 6}, {"n": 7}])
            assert many.rowcount == 2
            assert (await connection.execute(text("SELECT n FROM t ORDER BY n"))).scalars().all() == [5, 6, 7]
            changed = await connection.execute(text("UPDATE t SET n = n + 1 WHERE n > 5 RETURNING n"))
            assert sorted(changed.scalars()) == [7, 8]
            assert (await connection.execute(text("UPDATE t SET n = 0 WHERE n > 100"))).rowcount == 0
            assert calls == ["statement"] * 4
    finally:
        await engine.dispose()


async def test_a_session_that_finds_the_database_locked_waits_and_then_goes_on(
    database: Path, refusals: asyncio.Event
) -> None:
    """A session's first statement may find the write lock taken: beginning in place is given up
    (the refused BEGIN did nothing), and it waits in SQLAlchemy's greenlet while the loop runs on;
    everything after it, under the lock, runs in place. No connection is left checked out."""
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    sessions = session_factory(engine)
    async with sessions() as session:  # a connection opened and idle in the pool: begun in place next
        await session.execute(text("SELECT 1"))

    async def write() -> list[int]:
        async with sessions() as session:
            await session.execute(text("INSERT INTO t VALUES (4)"))
            await session.execute(text("INSERT INTO t VALUES (5)"))
            rows = (await session.execute(text("SELECT n FROM t ORDER BY n"))).scalars().all()
            await session.commit()
            return list(rows)

    try:
        assert await once_the_lock_is_let_go(database, refusals, write()) == [4, 5]
        assert engine.pool.checkedout() == 0
    finally:
        await engine.dispose()


async def test_a_session_that_finds_no_connection_free_waits_for_one(database: Path) -> None:
    """Beginning in place is tried only on an idle connection: with none free (waiting for one is
    waiting too) the session waits in SQLAlchemy's greenlet until one comes back."""
    engine = create_engine(f"sqlite+aiosqlite:///{database}", pool_size=1, max_overflow=0)
    sessions = session_factory(engine)

    async def read() -> list[int]:
        async with sessions() as session:
            return list((await session.execute(text("SELECT n FROM t"))).scalars())

    try:
        async with sessions() as first:
            await first.execute(text("INSERT INTO t VALUES (8)"))  # holds the only connection
            reading = asyncio.ensure_future(read())
            for _ in range(5):
                await asyncio.sleep(0)
            assert not reading.done()
            await first.commit()
        assert await asyncio.wait_for(reading, timeout=30) == [8]
        # The pool is at its limit, but hands out its idle connection without waiting: in place.
        assert await read() == [8]
        assert engine.pool.checkedout() == 0
    finally:
        await engine.dispose()


async def test_a_call_run_in_place_that_would_wait_is_refused_and_closed() -> None:
    """run_inline is only for work that cannot wait; if a driver call would wait after all, it is
    stopped where it stands (its cleanup runs) and the caller gets WouldWait, not a hang."""
    stages: list[str] = []

    async def call() -> int:
        try:
            stages.append("started")
            await asyncio.sleep(1)  # cannot happen in place
            stages.append("went on")
            return 1
        finally:
            stages.append("cleaned up")

    async def done_at_once() -> int:
        return 7

    assert inline_sqlite.run_inline(inline_sqlite._await, done_at_once()) == 7
    with pytest.raises(inline_sqlite.WouldWait):
        inline_sqlite.run_inline(inline_sqlite._await, call())
    assert stages == ["started", "cleaned up"]


async def test_an_in_memory_database_begins_through_the_greenlet_and_goes_on_in_place() -> None:
    """Its static pool does not count idle connections, so nothing begins in place there; once a
    transaction has begun, the rest runs in place as on a file."""
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    sessions = session_factory(engine)
    try:
        async with sessions() as session:
            await session.execute(text("CREATE TABLE t (n INTEGER)"))
            await session.execute(text("INSERT INTO t VALUES (9)"))
            await session.commit()
        async with sessions() as session:
            assert (await session.execute(text("SELECT n FROM t"))).scalars().all() == [9]
    finally:
        await engine.dispose()
