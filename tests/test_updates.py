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
