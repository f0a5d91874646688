"""`python -m bot try`: chat with the real bot in a terminal, no Telegram and no token needed.

The real Application, handlers, tick and database code run against the in-process fake Bot API,
on a SQLite file of their own and a clock that moves only when you ask. Buttons are shown as
numbered choices; `:next` moves the clock to your next hello and runs the tick.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import sys
import textwrap
from collections.abc import AsyncIterator
from typing import TextIO
from zoneinfo import ZoneInfo

from telegram import Update

from bot.app import build_application, on_startup
from bot.config import Settings
from bot.fakeapi import FakeBotAPI, sticker_update, text_update
from bot.ratelimit import PacedRateLimiter
from bot.services import services_of
from core.clock import FakeClock
from schedules.hello import run_tick
from storage import repo

YOU = 424242  # the chat id of the person at the keyboard
TRY_TOKEN = "0:try-without-telegram"

HELP = """\
Type as you would in Telegram: /start, /progress, /settings, /pause, /resume, /stop, /help, or any words.
  1, 2, ...   tap that button on the latest message with buttons
  :next       move the clock to your next hello and let the bot send it
  :later 3h   move the clock forward (m, h or d)
  :sticker    send a sticker
  :time       show the bot's clock
  :quit       leave (your try-out is kept in {database})
"""


class Terminal:
    def __init__(self, settings: Settings, database: str, language: str, out: TextIO = sys.stdout) -> None:
        self.clock = FakeClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
        self.api = FakeBotAPI(clock=self.clock.now)
        self.language = language
        self.database = database
        self.out = out
        self.seen: dict[int, str | None] = {}  # message id -> the text last shown
        self.toasts_seen = 0
        self.buttons: list[tuple[int, str]] = []  # (message id, button text) by number
        config = settings.model_copy(
            update={"telegram_bot_token": TRY_TOKEN, "database_url": f"sqlite+aiosqlite:///{database}"}
        )
        self.app = build_application(
            config,
            clock=self.clock,
            request=self.api,
            get_updates_request=self.api,
            rate_limiter=PacedRateLimiter(),
            rng=random.Random(),
        )

    def say(self, line: str = "") -> None:
        print(line, file=self.out, flush=True)

    def show_new(self) -> None:
        """Print every bot message that is new or changed since last time, and number its buttons."""
        for answer in self.api.answers[self.toasts_seen :]:
            if answer.text:
                self.say(f"\n(a note pops up: {answer.text})")
        self.toasts_seen = len(self.api.answers)
        for message in self.api.messages(YOU):
            if message.message_id in self.seen and self.seen[message.message_id] == message.text:
                continue
            label = "bot, edited" if message.message_id in self.seen else "bot"
            self.seen[message.message_id] = message.text
            self.say(f"\n[{label}]")
            self.say(textwrap.indent(message.text or "", "  "))
        messages = self.api.messages(YOU)
        latest = messages[-1] if messages else None
        self.buttons = []
        if latest is not None and latest.buttons:
            for row in latest.buttons:
                for button in row:
                    self.buttons.append((latest.message_id, button.text))
            choices = "   ".join(f"[{i}] {text}" for i, (_, text) in enumerate(self.buttons, 1))
            self.say(f"  {choices}")

    async def feed(self, update: dict) -> None:
        await self.app.process_update(Update.de_json(update, self.app.bot))

    async def next_hello(self) -> None:
        services = services_of(self.app)
        async with services.sessions() as session:
            participant = await repo.participant_by_chat(session, YOU)
        if participant is None or participant.next_hello_at is None:
            self.say("(no hello is planned: finish /start, or /resume after a pause)")
            return
        self.clock.set(max(self.clock.now(), participant.next_hello_at))
        zone = ZoneInfo(participant.timezone or services.settings.default_timezone)
        self.say(f"(the clock moves to {self.clock.now().astimezone(zone):%a %Y-%m-%d %H:%M} {zone.key})")
        await run_tick(self.app)

    async def later(self, amount: str) -> None:
        units = {"m": "minutes", "h": "hours", "d": "days"}
        try:
            delta = dt.timedelta(**{units[amount[-1]]: float(amount[:-1])})
        except (KeyError, ValueError, IndexError):
            self.say("(try for example :later 30m, :later 3h or :later 2d)")
            return
        self.clock.advance(delta)
        await run_tick(self.app)
        self.say(f"(the clock is now {self.clock.now():%Y-%m-%d %H:%M} UTC)")

    async def handle(self, line: str) -> bool:
        """Act on one typed line; False to leave."""
        line = line.strip()
        if not line:
            return True
        if line in (":quit", ":q", ":exit"):
            return False
        if line == ":next":
            await self.next_hello()
        elif line.startswith(":later"):
            await self.later(line.removeprefix(":later").strip())
        elif line == ":time":
            self.say(f"(the clock says {self.clock.now():%Y-%m-%d %H:%M} UTC)")
        elif line == ":sticker":
            await self.feed(sticker_update(YOU, language_code=self.language))
        elif line.isdigit() and self.buttons:
            index = int(line) - 1
            if not 0 <= index < len(self.buttons):
                self.say(f"(choose 1 to {len(self.buttons)})")
                return True
            message_id, label = self.buttons[index]
            await self.feed(self.api.press(YOU, label, message_id=message_id, language_code=self.language))
        else:
            await self.feed(text_update(YOU, line, language_code=self.language))
        self.show_new()
        return True

    async def run(self, lines: AsyncIterator[str]) -> None:
        async with self.app:
            await on_startup(self.app)
            self.say("Komorebi, without Telegram. " + HELP.format(database=self.database))
            await self.handle("/start")
            async for line in lines:
                self.say(f"\n> {line.rstrip()}")
                if not await self.handle(line):
                    break
            await services_of(self.app).engine.dispose()


async def _stdin_lines() -> AsyncIterator[str]:
    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            return
        yield line


async def run_try(settings: Settings, database: str, language: str) -> int:
    terminal = Terminal(settings, database, language)
    await terminal.run(_stdin_lines())
    return 0

