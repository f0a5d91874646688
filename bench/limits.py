"""Sending under Telegram's limits: a fake Bot API that enforces them with 429s, the bot's own
limiter (`bot.ratelimit.PacedRateLimiter`, production settings) in front of it, in real time.

The fake (`StrictBotAPI`, below) answers 429 "Too Many Requests: retry after N" when a message
would make more than 30 in any 1-second window overall, or a second *new* message to one chat
within 1 second (edits count towards the 30/s, not towards the per-chat limit). Time is real
(the event loop's clock), not virtual: each scenario takes as long as it would in production.

Scenarios (each N messages):
- hellos: N due hellos sent by one tick (bulk sends: they take every slot no reply needs);
- replies: N people each write a word, handled one after another as PTB does by default;
- mixed: the tick's N hellos while N/2 people write at the same time;
- two per chat: N/10 people back from a quiet spell each write once and get two messages
  ("Welcome back" and the thanks), back to back in their chat.

    .venv/bin/python bench/limits.py           # N = 600, 3 runs
    .venv/bin/python bench/limits.py --quick   # N = 100, 1 run
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import common
from bot.fakeapi import FakeBotAPI, text_update
from bot.ratelimit import PacedRateLimiter
from core.clock import FakeClock
from telegram import Update

OVERALL_PER_SECOND = 30
NEW_MESSAGES = frozenset({"sendMessage", "sendDocument", "sendPhoto", "sendSticker"})
COUNTED = NEW_MESSAGES | {"editMessageText", "editMessageReplyMarkup", "editMessageCaption"}
WARM_UP = 1.0  # seconds: a 429 after this counts as "once warmed up"


class StrictBotAPI(FakeBotAPI):
    """FakeBotAPI that enforces 30 messages/s overall and 1 new message/s per chat."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted: list[float] = []
        self.refused: list[tuple[float, str]] = []  # (seconds since begin(), "overall" or "chat")
        self._window: collections.deque[float] = collections.deque()
        self._last_new: dict[Any, float] = {}
        self.started = 0.0

    async def handle(
        self, method: str, parameters: Mapping[str, Any], files: Mapping[str, tuple[str, bytes]] | None = None
    ) -> tuple[int, bytes]:
        if method in COUNTED and "chat_id" in parameters:
            now = asyncio.get_running_loop().time()
            while self._window and self._window[0] <= now - 1.0:
                self._window.popleft()
            chat = str(parameters["chat_id"])
            wait = 0.0
            if len(self._window) >= OVERALL_PER_SECOND:
                wait, why = self._window[0] + 1.0 - now, "overall"
            elif method in NEW_MESSAGES and now - self._last_new.get(chat, -math.inf) < 1.0:
                wait, why = self._last_new[chat] + 1.0 - now, "chat"
            if wait > 0:
                self.refused.append((now - self.started, why))
                seconds = max(1, math.ceil(wait))
                return 429, (
                    b'{"ok": false, "error_code": 429, "description": "Too Many Requests: retry after %d", '
                    b'"parameters": {"retry_after": %d}}' % (seconds, seconds)
                )
            self._window.append(now)
            if method in NEW_MESSAGES:
                self._last_new[chat] = now
            self.accepted.append(now)
        return await super().handle(method, parameters, files)

    def begin(self) -> None:
        self.accepted.clear()
        self.refused.clear()
        self.started = asyncio.get_running_loop().time()


@dataclass
class Outcome:
    expected: int
    delivered: int
    seconds: float
    refused: list[tuple[float, str]]

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0

    @property
    def late_429s(self) -> int:
        return sum(1 for at, _ in self.refused if at > WARM_UP)


async def scenario(templates: common.Templates, name: str, n: int) -> Outcome:
    hellos = {"hellos": n, "replies": 0, "mixed": n, "two per chat": 0}[name]
    # Each "two per chat" writer can cost a whole second (see the README), so fewer of them.
    writers = {"hellos": 0, "replies": n, "mixed": n // 2, "two per chat": max(10, n // 10)}[name]
    population = common.Population(
        total=hellos + writers, due=hellos, history_days=1, unanswered=4 if name == "two per chat" else 0
    )
    path = await templates.copy(population, "limits")
    clock = FakeClock(population.now)
    api = StrictBotAPI()
    application = common.komorebi(path, api, clock, rate_limiter=PacedRateLimiter(), updater=False)
    errors = common.record_errors(application)
    async with common.running(application):
        await common.tick_once(application)  # nothing due yet
        clock.advance(common.DUE_WITHIN)
        api.begin()
        first_writer = common.CHAT_BASE + hellos + 1

        async def write() -> None:
            for chat_id in range(first_writer, first_writer + writers):
                update = text_update(chat_id, "a quiet day", language_code="en")
                await application.process_update(Update.de_json(update, application.bot))

        work = [write()] if writers else []
        if hellos:
            work.append(common.tick_once(application))
        await asyncio.gather(*work)
        sent = api.accepted
        seconds = sent[-1] - api.started if sent else 0.0
    common.check(errors)
    expected = hellos + writers * (2 if name == "two per chat" else 1)
    return Outcome(expected, len(api.calls_to("sendMessage")), seconds, list(api.refused))


async def main(args: argparse.Namespace) -> None:
    common.quiet_logs()
    n = 100 if args.quick else args.messages
    runs = 1 if args.quick else args.runs
    print(f"limits: {n} messages a scenario, {runs} run(s), real time; {common.machine()}")
    names = ("hellos", "replies", "mixed", "two per chat")
    results: dict[str, list[Outcome]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(dir=args.tmp) as folder:
        templates = common.Templates(Path(folder))
        for _ in range(runs):
            for name in names:
                outcome = await scenario(templates, name, n)
                results[name].append(outcome)
                print(f"  {name}: {outcome.delivered}/{outcome.expected} in {outcome.seconds:.1f} s, "
                      f"{len(outcome.refused)} × 429", flush=True)
    rows = []
    for name in names:
        outcomes = results[name]
        share = [o.rate / OVERALL_PER_SECOND for o in outcomes]
        late = [o.late_429s for o in outcomes]
        kinds = collections.Counter(why for o in outcomes for _, why in o.refused)
        rows.append([
            name,
            f"{common.median([o.delivered for o in outcomes]):.0f} of {outcomes[0].expected}",
            common.spread([o.rate for o in outcomes]),
            f"{common.spread(share)}: {common.verdict(common.median(share) >= 0.95)}",
            common.spread([len(o.refused) for o in outcomes]),
            f"{common.spread(late)}: {common.verdict(max(late) == 0)}",
            ", ".join(f"{k} {v}" for k, v in kinds.items()) or "–",
        ])
    out = common.table(
        "Sending under 30 messages/s overall and 1/s per chat (median (min–max) of the runs)",
        ["scenario", "delivered", "messages/s", "share of 30/s (target ≥ 0.95)", "429s",
         f"429s after the first {WARM_UP:.0f} s (target 0)", "429s by limit, all runs"],
        rows,
    )
    common.write(args.output, [out])


if __name__ == "__main__":
    parser = common.arguments(__doc__, runs=3)
    parser.add_argument("--messages", type=int, default=600, help="messages per scenario")
    asyncio.run(main(parser.parse_args()))
