"""Concurrent updates: side by side across chats, in order within a chat."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.fakeapi import text_update
from bot.updates import ChatOrderedProcessor


def update(chat: int) -> Update:
    return Update.de_json(text_update(chat, "hello"), None)


async def test_updates_of_one_chat_wait_for_each_other_and_other_chats_do_not() -> None:
    processor = ChatOrderedProcessor(8)
    order: list[str] = []
    began = {name: asyncio.Event() for name in ("a1", "a2", "b1")}
    release = {name: asyncio.Event() for name in ("a1", "a2", "b1")}

    async def work(name: str) -> None:
        order.append(name)
        began[name].set()
        await release[name].wait()

    tasks = [
        asyncio.create_task(processor.process_update(update(1), work("a1"))),
        asyncio.create_task(processor.process_update(update(1), work("a2"))),
        asyncio.create_task(processor.process_update(update(2), work("b1"))),
    ]
    await began["a1"].wait()
    await began["b1"].wait()  # b1 runs beside a1 ...
    assert order == ["a1", "b1"]  # ... while a2, already queued behind a1, waits
    assert processor.chats_in_flight == 2
    release["b1"].set()
    release["a1"].set()
    await began["a2"].wait()
    assert order == ["a1", "b1", "a2"]
    release["a2"].set()
    await asyncio.gather(*tasks)
    assert processor.chats_in_flight == 0  # nothing is kept per chat once it is quiet


async def test_a_failing_update_releases_its_chat() -> None:
    processor = ChatOrderedProcessor(2)

    async def fail() -> None:
        raise RuntimeError("handler broke")

    async def fine() -> str:
        return "ok"

    try:
        await processor.process_update(update(1), fail())
    except RuntimeError:
        pass
    await processor.process_update(update(1), fine())
    assert processor.chats_in_flight == 0


async def test_the_bot_is_built_with_it(tmp_path) -> None:  # noqa: ANN001
    from bot.app import build_application
    from bot.config import Settings

    settings = Settings(_env_file=None, TELEGRAM_BOT_TOKEN="1:x", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/x.db")
    application = build_application(settings)
    assert isinstance(application.update_processor, ChatOrderedProcessor)
    assert application.update_processor.max_concurrent_updates == 16
    one = build_application(Settings(_env_file=None, TELEGRAM_BOT_TOKEN="1:x", KOMOREBI_CONCURRENT_UPDATES="1"))
    assert one.update_processor.max_concurrent_updates == 1


async def test_on_sqlite_updates_take_turns_for_their_transactions(tmp_path) -> None:  # noqa: ANN001
    """Handled side by side, updates queue for SQLite's one writer in asyncio, not in SQLite's
    busy-wait (a burst of thousands outlasted it: "database is locked")."""
    from bot.app import build_application
    from bot.config import Settings
    from bot.services import services_of

    sqlite = build_application(Settings(_env_file=None, TELEGRAM_BOT_TOKEN="1:x", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/x.db"))
    assert isinstance(services_of(sqlite).writer_turns, asyncio.Lock)
    postgres = build_application(
        Settings(_env_file=None, TELEGRAM_BOT_TOKEN="1:x", DATABASE_URL="postgresql+asyncpg://u@127.0.0.1:1/db")
    )
    assert services_of(postgres).writer_turns is None  # row locks: transactions may overlap


async def test_a_burst_of_check_ins_side_by_side_on_sqlite_never_meets_a_locked_database(sqlite_engine, clock, monkeypatch) -> None:  # noqa: ANN001
    """Any two transactions that overlapped would meet a locked database: one would be refused and
    retried (storage/inline_sqlite.py). Updates take turns, and SQLite's calls never leave the
    loop's thread mid-transaction, so none is ever refused."""
    from storage import inline_sqlite
    from tests.harness import Harness
    from tests.test_onboarding import onboard

    refused = []
    locked = inline_sqlite._locked
    monkeypatch.setattr(inline_sqlite, "_locked", lambda error: refused.append(error) or locked(error))

    async with Harness.started(sqlite_engine, clock) as bot:
        users = range(7001, 7031)
        for user in users:
            await onboard(bot, user)
        processor = bot.app.update_processor
        updates = [Update.de_json(text_update(user, "here"), bot.app.bot) for user in users]
        await asyncio.gather(*(processor.process_update(u, bot.app.process_update(u)) for u in updates))
        assert bot.errors == []
        assert refused == []
        answered = [call.params["chat_id"] for call in bot.api.calls_to("sendMessage")[-len(users):]]
        assert sorted(answered) == list(users)
