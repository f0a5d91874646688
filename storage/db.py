"""Engine, sessions and start-up migrations."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Generator, Sequence
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Result, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlalchemy.sql import Executable
from sqlalchemy.util import immutabledict

from storage import inline_sqlite

log = logging.getLogger("komorebi.storage")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any constant works; it only has to be the same for every worker of one deployment.
MIGRATION_LOCK_ID = 0x6B6F6D6F


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An engine for `url`. SQLite gets WAL, foreign keys and one write transaction at a time, and
    runs on the event loop's thread (storage/inline_sqlite.py).

    A PostgreSQL URL may name the schema to work in: `postgresql+asyncpg://.../db?search_path=name`
    (asyncpg takes no libpq `options`, so it is passed on as a server setting of every connection).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        args, options = parsed.get_dialect()().create_connect_args(parsed)
        kwargs.setdefault("async_creator", inline_sqlite.connector(*args, **options))
        kwargs.setdefault("module", inline_sqlite.dbapi())
        engine = create_async_engine(parsed, **kwargs)
        _configure_sqlite(engine)
        return engine
    search_path = parsed.query.get("search_path")
    if isinstance(search_path, str) and search_path:
        parsed = parsed.difference_update_query(["search_path"])
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args["server_settings"] = {**connect_args.get("server_settings", {}), "search_path": search_path}
        kwargs["connect_args"] = connect_args
    return create_async_engine(parsed, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling is switched off so that the "begin" hook below is the
        # only place a transaction starts (SQLAlchemy's documented recipe for SQLite).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # No busy_timeout: a locked database is waited for in asyncio, not inside SQLite (inline_sqlite).
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    def _begin_immediate(dbapi_connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: a read followed by a write can then never fail
        # with "database is locked" because another writer committed in between.
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
        finally:
            cursor.close()

    # Every transaction begins here, in the dialect's own begin step, straight on the driver's
    # connection. (SQLAlchemy's recipe, a "begin" event that runs the statement through the
    # Connection, put SQLAlchemy's whole statement machinery around it: about 50 µs of every
    # transaction.) Its errors are wrapped like any statement's, "database is locked" included.
    engine.sync_engine.dialect.do_begin = _begin_immediate  # type: ignore[method-assign]


class _SyncSession(OrmSession):
    """The synchronous session inside :class:`Session`; `holding` is its transaction while that
    transaction has begun on a connection (see :func:`_began`)."""

    holding: SessionTransaction | None = None


@event.listens_for(_SyncSession, "after_begin")
def _began(session: _SyncSession, _transaction: SessionTransaction, _connection: Connection) -> None:
    # Fired once the transaction's BEGIN has run on the connection: on SQLite (BEGIN IMMEDIATE,
    # storage/db.py) it holds the write lock from here until it ends.
    session.holding = session.get_transaction()


class Session(AsyncSession):
    """SQLAlchemy's AsyncSession, calling the synchronous session directly when nothing can wait.

    SQLAlchemy runs every call of an AsyncSession in a greenlet of its own, so that the driver may
    hand its awaits to the event loop. On SQLite (storage/inline_sqlite.py) a transaction that has
    begun holds the write lock, and nothing in it waits: there, execute, scalar, get, flush,
    delete, commit and rollback call the synchronous session in place (:func:`inline_sqlite.run_inline`),
    and so does close when the session holds no transaction or one that has begun. A statement
    that would begin the transaction begins it in place too, on an idle pooled connection, when
    the lock is free; otherwise it goes through SQLAlchemy's greenlet as before, which waits for
    the lock or a connection. Everything on PostgreSQL does. The results are the same either way: rows are buffered before they are
    returned, as AsyncSession does.

    Leaving ``async with`` closes the session (the connection goes back to the pool). SQLAlchemy
    runs that close in a task of its own, shielded, so that a cancellation cannot stop it halfway:
    a task and two turns of the event loop for every session, most of the cost of a session that
    does little. A close that never waits cannot be cancelled halfway, so it is run to its end right
    here. A close that does wait (PostgreSQL's round trip) goes on from there in a shielded task,
    as SQLAlchemy's own does.
    """

    sync_session_class = _SyncSession
    sync_session: _SyncSession

    def __init__(self, bind: Any = None, **kwargs: Any) -> None:
        super().__init__(bind, **kwargs)
        inline = isinstance(bind, AsyncEngine) and inline_sqlite.runs_inline(bind)
        self._inline = inline
        # How many connections wait idle in the pool (a queue pool's count; other pools, such as
        # the static one of an in-memory database, do not say, and get no in-place BEGIN).
        self._idle = getattr(bind.sync_engine.pool, "checkedin", None) if inline else None

    def _holds_lock(self) -> bool:
        """Whether the session's transaction has begun on SQLite (and so holds the write lock)."""
        if not self._inline:
            return False
        transaction = self.sync_session.get_transaction()
        return transaction is not None and transaction is self.sync_session.holding

    def _begin_in_place(self) -> bool:
        """On SQLite, begin the transaction right here on an idle connection if the write lock is
        free; False otherwise, and a call through SQLAlchemy's greenlet then begins it, waiting as
        long as it takes (for the lock, for a connection, or while the first one is opened)."""
        if self._idle is None or not self._idle():
            return False
        try:
            inline_sqlite.run_inline(self.sync_session.connection)
        except inline_sqlite.WouldWait:  # the write lock is taken: the refused BEGIN did nothing
            return False
        return self._holds_lock()

    async def execute(self, statement: Executable, params: Any = None, **kw: Any) -> Result[Any]:
        if not (self._holds_lock() or self._begin_in_place()):
            return await super().execute(statement, params, **kw)
        return inline_sqlite.run_inline(self.sync_session.execute, statement, params, **_buffered(kw))

    async def scalar(self, statement: Executable, params: Any = None, **kw: Any) -> Any:
        if not (self._holds_lock() or self._begin_in_place()):
            return await super().scalar(statement, params, **kw)
        return inline_sqlite.run_inline(self.sync_session.scalar, statement, params, **_buffered(kw))

    async def get(self, entity: Any, ident: Any, **kw: Any) -> Any:
        if not self._holds_lock():
            return await super().get(entity, ident, **kw)
        return inline_sqlite.run_inline(self.sync_session.get, entity, ident, **kw)

    async def flush(self, objects: Sequence[Any] | None = None) -> None:
        if not self._holds_lock():
            return await super().flush(objects)
        inline_sqlite.run_inline(self.sync_session.flush, objects=objects)

    async def delete(self, instance: object) -> None:
        if not self._holds_lock():
            return await super().delete(instance)
        inline_sqlite.run_inline(self.sync_session.delete, instance)

    async def commit(self) -> None:
        if not self._holds_lock():
            return await super().commit()
        inline_sqlite.run_inline(self.sync_session.commit)

    async def rollback(self) -> None:
        if not self._holds_lock():
            return await super().rollback()
        inline_sqlite.run_inline(self.sync_session.rollback)

    async def close(self) -> None:
        if self._inline and (self.sync_session.get_transaction() is None or self._holds_lock()):
            # Nothing to end, or a rollback and a check-in under the lock: nothing waits.
            return inline_sqlite.run_inline(self.sync_session.close)
        return await super().close()

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        step = self.close().__await__()
        try:
            waiting_for = step.send(None)
        except StopIteration:
            return
        await _finish(_GoOn(step, waiting_for))


def _buffered(kw: dict[str, Any]) -> dict[str, Any]:
    """A statement's keyword arguments with the execution options AsyncSession gives it: the rows
    are fetched before the result is returned."""
    options = kw.get("execution_options")
    return {**kw, "execution_options": immutabledict(options).union(_PREBUFFER) if options else _PREBUFFER}


_PREBUFFER = immutabledict({"prebuffer_rows": True})


class _GoOn:
    """Awaitable: a coroutine's `step` (``__await__()``), started elsewhere and now waiting for
    `waiting_for`, carried on to its end (what it waits for, and what comes back, passed through)."""

    __slots__ = ("_step", "_waiting_for")

    def __init__(self, step: Any, waiting_for: Any) -> None:
        self._step = step
        self._waiting_for = waiting_for

    def __await__(self) -> Generator[Any, Any, Any]:
        step, waiting_for = self._step, self._waiting_for
        while True:
            try:
                sent = yield waiting_for
            except GeneratorExit:
                step.close()
                raise
            except BaseException as error:  # thrown in by the event loop (a cancellation): passed on
                try:
                    waiting_for = step.throw(error)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    waiting_for = step.send(sent)
                except StopIteration as done:
                    return done.value


async def _finish(cleanup: Awaitable[Any]) -> None:
    """Await `cleanup` in a task of its own, to its end even if this task is cancelled meanwhile;
    such a cancellation is raised once the cleanup is done."""
    task = asyncio.ensure_future(cleanup)
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            await asyncio.shield(task)
            break
        except asyncio.CancelledError as error:
            if task.done():
                raise
            cancelled = error
    if cancelled is not None:
        raise cancelled


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, class_=Session, expire_on_commit=False)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Several workers may start together: one migrates, the others wait and then find nothing to do.
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (safe to call at every start)."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)
    log.info("database schema is up to date")
