"""Drive the real Application offline: updates in through `process_update`, replies out through
the fake Bot API, time from a fake clock, the tick run as the JobQueue runs it."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.ext import Application

from bot.app import build_application, on_startup
from bot.config import Settings
from bot.fakeapi import FakeBotAPI, FakeMessage, callback_update, sticker_update, text_update
from bot.ratelimit import PacedRateLimiter
from bot.services import Context, Services, services_of
from core.clock import FakeClock
from schedules.tick import TICK_NAME
from storage import repo
from storage.models import Participant

TOKEN = "123456:TEST-TOKEN"


async def _no_sleep(_seconds: float) -> None:
    return None


def offline_application(clock: FakeClock, api: FakeBotAPI, **settings: Any) -> tuple[Application, Settings]:
    """The real Application against the fake Bot API and a fake clock (settings by their names,
    for example DATABASE_URL=...; `engine=` and `updater=` go to the builder)."""
    builder_args = {key: settings.pop(key) for key in ("engine", "updater") if key in settings}
    settings.setdefault("DATABASE_URL", "sqlite+aiosqlite://")
    config = Settings(_env_file=None, TELEGRAM_BOT_TOKEN=TOKEN, **settings)
    application = build_application(
        config,
        clock=clock,
        request=api,
        get_updates_request=api,
        # Pacing is measured in bench/; here it only needs to let everything through at once.
        rate_limiter=PacedRateLimiter(overall_rate=1e6, bulk_rate=1e6, sleep=_no_sleep),
        rng=random.Random(7),
        **builder_args,
    )
    return application, config


class Harness:
    def __init__(self, application: Application, api: FakeBotAPI, clock: FakeClock) -> None:
        self.app = application
        self.api = api
        self.clock = clock
        self.errors: list[BaseException] = []

    @classmethod
    @asynccontextmanager
    async def started(cls, engine: AsyncEngine, clock: FakeClock, **settings: Any) -> AsyncIterator[Harness]:
        api = FakeBotAPI(clock=clock.now)
        application, _ = offline_application(clock, api, engine=engine, **settings)
        harness = cls(application, api, clock)

        async def record(_update: object, context: Context) -> None:
            harness.errors.append(context.error)

        application.add_error_handler(record)
        async with application:
            await on_startup(application)
            yield harness

    @property
    def services(self) -> Services:
        return services_of(self.app)

    async def process(self, update: dict[str, Any], *, expect_error: bool = False) -> None:
        """Feed one update to the Application, as polling or a webhook would."""
        await self.app.process_update(Update.de_json(update, self.app.bot))
        if not expect_error and self.errors:
            raise AssertionError(f"handler raised {self.errors[-1]!r}") from self.errors[-1]

    async def send(self, user: int, text: str, *, language: str = "en", **kw: Any) -> list[str]:
        """The user writes `text` (a /command or words); returns the texts the bot sent back."""
        before = len(self.api.calls)
        await self.process(text_update(user, text, language_code=language), **kw)
        return self.replies(before, user)

    async def sticker(self, user: int, *, language: str = "en") -> list[str]:
        before = len(self.api.calls)
        await self.process(sticker_update(user, language_code=language))
        return self.replies(before, user)

    async def tap(self, user: int, label: str, *, language: str = "en", message_id: int | None = None) -> list[str]:
        """The user taps the button labelled `label` on the latest message that has one."""
        if message_id is None:
            message_id = self.message_with_button(user, label).message_id
        before = len(self.api.calls)
        await self.process(self.api.press(user, label, message_id=message_id, language_code=language))
        return self.replies(before, user)

    async def tap_data(self, user: int, data: str, *, message_id: int, language: str = "en") -> list[str]:
        """A callback with arbitrary data: what a forged or very old button would send."""
        before = len(self.api.calls)
        await self.process(callback_update(user, data, message_id=message_id, chat_id=user, language_code=language))
        return self.replies(before, user)

    def message_with_button(self, user: int, label: str) -> FakeMessage:
        for message in reversed(self.api.messages(user)):
            if label in message.button_texts:
                return message
        raise AssertionError(f"no message to {user} has a button {label!r}")

    def replies(self, before: int, user: int | None = None) -> list[str]:
        """Texts the bot sent or edited in (to `user`'s chat, if given), and toasts it showed,
        since call number `before`."""
        out = []
        for call in self.api.calls[before:]:
            if not call.ok:
                continue
            if call.method in ("sendMessage", "editMessageText"):
                if user is None or call.params["chat_id"] == user:
                    out.append(call.params["text"])
            elif call.method == "answerCallbackQuery" and call.params.get("text"):
                out.append(call.params["text"])
        return out

    async def tick(self) -> None:
        """Run the hello tick exactly as the JobQueue does."""
        (job,) = self.app.job_queue.get_jobs_by_name(TICK_NAME)
        await job.run(self.app)
        if self.errors:
            raise AssertionError(f"tick raised {self.errors[-1]!r}") from self.errors[-1]

    async def participant(self, user: int) -> Participant | None:
        async with self.services.sessions() as session:
            return await repo.participant_by_chat(session, user)

    async def plan_hello_at(self, user: int, at: dt.datetime) -> None:
        """Put the next hello at a chosen moment (instead of the random one), for tests near edges."""
        async with self.services.sessions() as session:
            participant = await repo.participant_by_chat(session, user)
            participant.next_hello_at = at
            await session.commit()

    def t(self, key: str, language: str = "en", **values: Any) -> str:
        return self.services.catalogs[language](key, **values)

    @contextmanager
    def statements(self) -> Iterator[list[str]]:
        """Every statement sent to the database meanwhile (on one line each), and "COMMIT" at
        every commit, in order."""
        seen: list[str] = []
        engine = self.services.engine.sync_engine

        def statement(_conn, _cursor, sql: str, *_rest) -> None:  # noqa: ANN001
            seen.append(" ".join(sql.split()))

        def committed(_conn) -> None:  # noqa: ANN001
            seen.append("COMMIT")

        event.listen(engine, "before_cursor_execute", statement)
        event.listen(engine, "commit", committed)
        try:
            yield seen
        finally:
            event.remove(engine, "before_cursor_execute", statement)
            event.remove(engine, "commit", committed)

    def sent_to(self, user: int) -> list[FakeMessage]:
        return self.api.messages(user)


def shape(statement: str) -> str:
    """A statement's kind and table, from Harness.statements: "SELECT participants" (the table
    read, not a subquery's), "INSERT INTO hellos", "UPDATE task_offers SET", "COMMIT"."""
    words = statement.split()
    if words[0] != "SELECT":
        return " ".join(words[:3])
    depth = 0
    for word, after in itertools.pairwise(words):
        depth += word.count("(") - word.count(")")
        if word == "FROM" and depth == 0:  # the statement's own table, not a subquery's
            return f"SELECT {'(subquery)' if after.startswith('(') else after}"
    return "SELECT"


def sqlite_write_lock_free(engine: AsyncEngine) -> bool:
    """Whether another connection could take SQLite's write lock right now (that is, nothing of
    the bot's holds a transaction open)."""
    other = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # "database is locked" if someone holds the lock
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()
