"""Updates handled concurrently across chats, one at a time within a chat.

PTB handles updates one after another by default: with a real network each reply's round trip to
Telegram holds up everyone else's. Its `concurrent_updates` runs them side by side, but then two
quick taps in one chat could overtake each other. This processor does both: up to N updates at
once, and within one chat strictly in the order they arrived (asyncio's locks are fair, and the
tasks reach them in arrival order). The per-chat locks exist only while a chat has updates in
flight, so memory does not grow with the number of people.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

DEFAULT_CONCURRENCY = 16


class ChatOrderedProcessor(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int = DEFAULT_CONCURRENCY) -> None:
        super().__init__(max_concurrent_updates)
        self._chats: dict[int, tuple[asyncio.Lock, int]] = {}  # chat id -> (lock, updates waiting or running)

    @property
    def chats_in_flight(self) -> int:
        return len(self._chats)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        lock, users = self._chats.get(chat.id, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._chats[chat.id] = (lock, users + 1)
        try:
            async with lock:
                await coroutine
        finally:
            lock, users = self._chats[chat.id]
            if users == 1:
                del self._chats[chat.id]
            else:
                self._chats[chat.id] = (lock, users - 1)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""
