"""Real bot processes for the fault tests: `python -m bot run` (long polling) against the fake Bot
API served over HTTP (bot/fakeserver.py), on a database file or schema of the test's own.

Time in a subprocess is the real clock, so participants are seeded with a hello that is due now, in
a time zone where it is mid-morning, inside their morning window (08:00-11:00) with an hour to spare.

`python -m tests.workers` runs exactly `python -m bot run` with the send pacing lifted (the fake Bot
API has no flood limit): the same Application, polling, tick and database code, so that a test can
send ten thousand hellos in seconds instead of minutes at Telegram's 30 a second.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.fakeapi import FakeBotAPI
from bot.fakeserver import FakeBotServer
from storage.models import Participant, Status

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "5151:FAULTS"
FIRST_CHAT = 100_000
# Every wait on subprocesses gives up after this long (generous: CI machines and loaded ones are slow).
PATIENCE = 240.0


def morning_zone(now: dt.datetime) -> str:
    """A fixed-offset zone (Etc/GMT-N is UTC+N) where `now` is between 09:00 and 10:00."""
    offset = (9 - now.hour) % 24
    if offset > 14:  # Etc/ zones span UTC-12 to UTC+14
        offset -= 24
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"


async def seed_due(engine: AsyncEngine, count: int, now: dt.datetime) -> list[int]:
    """`count` active participants whose hello of today is due; returns their chat ids."""
    zone = morning_zone(now)
    chats = list(range(FIRST_CHAT, FIRST_CHAT + count))
    rows = [
        {
            "chat_id": chat,
            "status": Status.ACTIVE,
            "created_at": now - dt.timedelta(days=1),
            "consent_at": now - dt.timedelta(days=1),
            "language": "en" if chat % 2 else "ja",
            "timezone": zone,
            "window": "morning",
            "rhythm": "daily",
            "next_hello_at": now - dt.timedelta(seconds=chat % 60),
        }
        for chat in chats
    ]
    async with engine.begin() as connection:
        for start in range(0, len(rows), 1000):
            await connection.execute(insert(Participant), rows[start : start + 1000])
    return chats


def is_hello(markup: dict[str, Any] | None) -> bool:
    """Whether a message with this `reply_markup` is a hello (its buttons answer a hello-day,
    `h:YYYYMMDD:...`)."""
    rows = (markup or {}).get("inline_keyboard", [])
    return any(str(button.get("callback_data", "")).startswith("h:") for row in rows for button in row)


def last_hello_seen(api: FakeBotAPI, chat: int) -> int:
    """The message id of the newest hello in a chat: the one whose buttons the person would tap."""
    return max(message.message_id for message in api.messages(chat) if is_hello(message.reply_markup))


class Deliveries:
    """What the fake Bot API delivered: hellos per chat, and chats that got anything else (an
    answer to something they sent). :meth:`update` reads only the calls made since its last run,
    so polling it stays cheap with ten thousand calls recorded. (A call is answered as soon as it
    is recorded unless :attr:`FakeBotAPI.delay_hook` holds it, so none is missed.)"""

    def __init__(self, api: FakeBotAPI) -> None:
        self.api = api
        self.hellos: Counter[int] = Counter()
        self.replies: set[int] = set()
        self._read = 0

    def update(self) -> Deliveries:
        calls = self.api.calls
        while self._read < len(calls):
            call = calls[self._read]
            if call.method == "sendMessage" and call.ok:
                chat = int(call.params["chat_id"])
                if is_hello(call.params.get("reply_markup")):
                    self.hellos[chat] += 1
                else:
                    self.replies.add(chat)
            self._read += 1
        return self

    @property
    def total(self) -> int:
        return self.update().hellos.total()


class Worker:
    """One bot process. `unpaced` runs `python -m tests.workers` instead of `python -m bot run`."""

    def __init__(
        self,
        server: FakeBotServer,
        database_url: str,
        workdir: Path,
        *,
        unpaced: bool = False,
        name: str = "worker",
        tick_seconds: float = 0.2,
    ) -> None:
        self.server = server
        self.tick_seconds = tick_seconds
        self.database_url = database_url
        self.workdir = workdir
        self.module = "tests.workers" if unpaced else "bot"
        self.log = workdir / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "KOMOREBI_", "DATABASE_"))}
        env.update(
            PYTHONPATH=str(ROOT),
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=self.server.base_url,
            DATABASE_URL=self.database_url,
            KOMOREBI_TICK_SECONDS=str(self.tick_seconds),
            KOMOREBI_LOG_LEVEL="INFO",
        )
        with self.log.open("a") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", self.module, "run", cwd=self.workdir, env=env,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
            )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        """SIGTERM, as an operator stops it; SIGKILL if it does not stop in time."""
        if not self.running:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), PATIENCE / 3)
        except TimeoutError:
            await self.kill()

    def tail(self, lines: int = 30) -> str:
        """The end of the log, without the scheduler's notes that a long tick made it skip a run."""
        if not self.log.exists():
            return ""
        kept = [line for line in self.log.read_text(errors="replace").splitlines() if "apscheduler" not in line]
        return "\n".join(kept[-lines:])


async def wait_until(condition: Callable[[], bool], what: Callable[[], str], workers: list[Worker]) -> None:
    """Poll `condition` (cheap, in this process) until it holds; fail with `what()` (what was
    awaited, and how far it got) and the workers' logs if a worker died or it does not hold within
    PATIENCE seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE
    while not condition():
        dead = [worker for worker in workers if not worker.running]
        if dead or loop.time() > deadline:
            logs = "\n".join(f"--- {worker.log.name}\n{worker.tail()}" for worker in workers)
            reason = "a worker exited" if dead else f"not within {PATIENCE:.0f} s"
            raise AssertionError(f"waiting for {what()}: {reason}\n{logs}")
        await asyncio.sleep(0.02)


def main() -> int:
    """`python -m tests.workers run`: `python -m bot run` without send pacing."""
    import bot.app
    from bot.cli import main as cli
    from bot.ratelimit import PacedRateLimiter

    def unpaced(_rate: float) -> PacedRateLimiter:
        return PacedRateLimiter(overall_rate=1e6, bulk_rate=1e6)

    assert callable(bot.app.paced), "bot.app builds its rate limiter elsewhere now"
    bot.app.paced = unpaced  # type: ignore[assignment]
    return cli(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
