"""SQLite on the event loop's own thread: aiosqlite's connection without its worker thread.

aiosqlite runs every call (open a cursor, execute, fetch, close, commit) in a thread of its own and
hands the result back through the event loop. On this project's statements SQLite itself takes a few
microseconds; the hand-over took longer than the work (a thread switch and an event-loop wake-up per
call, four or five calls per statement; see bench/README.md). Here the same calls run in place.

What that changes, and how it is kept safe:

- **Nothing waits on the loop.** SQLite's own busy handler would sleep inside a call and so stall
  the whole bot while another connection or process holds the write lock. It is switched off
  (``busy_timeout=0``); a call refused with "database is locked" is retried here after an
  ``asyncio.sleep`` (a refused call had no effect, so retrying it is safe), backing off like SQLite's
  own handler, for at most ``busy_timeout`` seconds in all. Other tasks run meanwhile, so the
  connection holding the lock can finish.
- **Writes are short.** With WAL and ``synchronous=NORMAL`` a commit writes to the log without
  waiting for the disk; only a checkpoint (every 1,000 pages by default) does, for a moment.
- **One call a statement.** SQLAlchemy's adapter for aiosqlite makes four awaited calls for each
  statement (open a cursor, execute, fetch the rows, close), and each is handed from SQLAlchemy's
  greenlet to the event loop's and back. Here its cursor makes one (:meth:`InlineConnection.run`),
  which does the four on SQLite's own cursor. A statement refused with "database is locked" is
  refused before it changes anything (every transaction takes the write lock with its first
  statement, storage/db.py), so it is retried whole.

- **No greenlet once the write lock is held.** SQLAlchemy's asyncio layer runs every session call
  (execute, commit, close...) in a greenlet of its own, so that the driver's awaits inside it can
  be handed to the event loop: a new greenlet, with its own frame stack memory mapped and unmapped,
  for each call. Once a transaction holds SQLite's write lock nothing in it can be refused, so
  nothing in it waits: storage.db.Session then calls the synchronous session directly, inside
  :func:`run_inline`, and the adapter (:func:`_await`) runs each driver call to its end in place.
  It begins the transaction that way too, and if the BEGIN is refused (a call that would wait
  raises :class:`WouldWait`, having done nothing), it begins it again through SQLAlchemy's
  greenlet, which waits. An engine's own connections go through the greenlets as before, and
  outside both, a driver call raises SQLAlchemy's MissingGreenlet, as on any asyncio driver.

SQLAlchemy's aiosqlite dialect is used otherwise unchanged: :class:`InlineConnection` keeps
aiosqlite's interface, including the queue that dialect uses to set the isolation level, and
:func:`dbapi` gives the engine the adapter with the one-call cursor.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from functools import partial
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_only

_T = TypeVar("_T")

# How long a call refused with "database is locked" is retried before the error stands (seconds).
BUSY_TIMEOUT = 5.0
# The waits between retries of a locked call, as SQLite's own busy handler spaces them (seconds).
_BACKOFF = (0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.025, 0.025, 0.05, 0.05, 0.1)


# Set while run_inline() runs a synchronous session call: the driver's calls may then run in place.
_INLINE: ContextVar[bool] = ContextVar("komorebi_sqlite_inline", default=False)


class WouldWait(RuntimeError):
    """A driver call made under :func:`run_inline` had to wait (it cannot, outside a greenlet)."""


def run_inline(fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """Call the synchronous `fn` (a session's execute, commit...) with the driver's calls run in
    place (:func:`_await`). Only for work that cannot wait: a transaction holding the write lock."""
    token = _INLINE.set(True)
    try:
        return fn(*args, **kwargs)
    finally:
        _INLINE.reset(token)


def _await(awaitable: Awaitable[_T]) -> _T:
    """The adapter's ``await_``: inside :func:`run_inline`, `awaitable` is run to its end here
    (every call of :class:`InlineConnection` finishes without waiting unless the database is
    locked); anywhere else, SQLAlchemy's own ``await_only``, which hands it to the event loop
    from the greenlet SQLAlchemy runs the call in."""
    if not _INLINE.get():
        return await_only(awaitable)
    step = awaitable.__await__()
    try:
        step.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    step.close()
    raise WouldWait("a SQLite call had to wait for the database where it cannot wait")


# What InlineConnection.run returns: a statement's description, rows, rowcount and lastrowid.
Ran = tuple[Any, list | None, int, int | None]


def _locked(error: sqlite3.OperationalError) -> bool:
    return getattr(error, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or (
        "database is locked" in str(error)
    )


class _RunNow:
    """Stands in for aiosqlite's queue to its thread: the work is done as it is handed over."""

    @staticmethod
    def put_nowait(item: tuple[asyncio.Future | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to whoever awaits the future, as aiosqlite's thread does
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run on the calling thread (see the module's notes)."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], busy_timeout: float) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _RunNow()  # type: ignore[assignment]
        self._busy_timeout = busy_timeout

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        deadline: float | None = None
        for attempt in itertools.count():
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as error:
                if not _locked(error):
                    raise
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self._busy_timeout
                if now >= deadline:
                    raise
                await asyncio.sleep(min(_BACKOFF[min(attempt, len(_BACKOFF) - 1)], deadline - now))

    async def run(self, operation: str, parameters: Any = None, many: bool = False) -> Ran:
        """Run one statement start to end on a cursor of its own (`many`: once for each of the
        `parameters`): its description, its rows (None if it returns none), rowcount and lastrowid."""

        def statement() -> Ran:
            cursor = self._connection.cursor()
            try:
                if many:
                    cursor.executemany(operation, parameters)
                elif parameters is None:
                    cursor.execute(operation)
                else:
                    cursor.execute(operation, parameters)
                description = cursor.description
                return description, (cursor.fetchall() if description else None), cursor.rowcount, cursor.lastrowid
            finally:
                cursor.close()

        return await self._execute(statement)

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self):  # type: ignore[no-untyped-def]
        return self._connect().__await__()  # no worker thread to start

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def connector(database: str, busy_timeout: float = BUSY_TIMEOUT, **options: Any) -> Callable[[], Any]:
    """An ``async_creator`` for SQLAlchemy: connections to `database` opened with `options` (the
    arguments SQLAlchemy's SQLite dialect derives from the URL, for ``sqlite3.connect``)."""
    # check_same_thread is off only so that a connection the garbage collector finds may be closed
    # from another thread; every call is made from the event loop's thread.
    options = {**options, "check_same_thread": False, "timeout": 0}

    async def connect() -> InlineConnection:
        return await InlineConnection(partial(sqlite3.connect, database, **options), busy_timeout)

    return connect


class _Cursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's cursor for aiosqlite, making one awaited call a statement (InlineConnection.run)
    and setting what the original sets."""

    __slots__ = ()

    def execute(self, operation: Any, parameters: Any = None) -> None:
        self._run(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> None:
        self._run(operation, seq_of_parameters, many=True)

    def _run(self, operation: Any, parameters: Any, many: bool) -> None:
        try:
            description, rows, rowcount, lastrowid = self.await_(self._connection.run(operation, parameters, many))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        if description:
            self.description = description
            self.lastrowid = self.rowcount = -1
            self._rows = deque(rows)
        else:
            self.description = None
            self.lastrowid = lastrowid
            self.rowcount = rowcount


class _Connection(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's connection for aiosqlite, with the one-call cursor (server-side cursors, which
    this project does not use, stay SQLAlchemy's own), whose calls run in place under
    :func:`run_inline` (its cursors take ``await_`` from it)."""

    __slots__ = ()
    await_ = staticmethod(_await)

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        return super().cursor(server_side) if server_side else _Cursor(self)


class _DBAPI(AsyncAdapt_aiosqlite_dbapi):
    """SQLAlchemy's aiosqlite "DBAPI module", whose connections (from the engine's
    ``async_creator``) are :class:`_Connection`."""

    def connect(self, *args: Any, **kwargs: Any) -> _Connection:
        creator = kwargs.pop("async_creator_fn")
        return _Connection(self, _await(creator(*args, **kwargs)))


def runs_inline(engine: Any) -> bool:
    """Whether `engine` (sync or async) connects through this module's adapter (:func:`dbapi`)."""
    return isinstance(getattr(engine.dialect, "loaded_dbapi", None), _DBAPI)


def dbapi() -> AsyncAdapt_aiosqlite_dbapi:
    """The engine's ``module``, to go with :func:`connector` as its ``async_creator``."""
    return _DBAPI(aiosqlite, sqlite3)
