"""Updates: the full bot answering check-ins against a bare python-telegram-bot echo bot.

Each bot runs as it would in production: a process of its own, long polling, against the same fake
Bot API (`bot.fakeserver`) on 127.0.0.1, served by this script's process. So the bot's CPU time is
read from /proc for the bot process alone, and the latency is measured where an update is handed
out and its reply arrives. The bare echo bot uses PTB's default HTTP transport (httpx), which is
what the target is set against; Komorebi talks HTTP through its own aiohttp transport
(bot/transport.py), so a third bot, the same echo bot on that transport, shows how much of the
difference is the transport and how much is the rest of Komorebi.

The full bot is the real Application (handlers, storage on SQLite, the reply): each update is a
text from a different active participant who had a hello yesterday — a check-in, written to the
database, answered "Thank you for writing". The echo bot answers each text with the same text.
Sending is not paced (the bot's own rate limiter runs with its limits out of the way): Telegram's
30 messages/s would cap both at 30 updates/s; pacing is measured in bench/limits.py.

Two loads, the two bots alternating, each figure the median of the runs:
- throughput: N updates queued at once; updates/s until the last reply, and bot CPU per update;
- steady 100 updates/s for a number of seconds: p50 / p99 latency from handing out to reply.

    .venv/bin/python bench/updates.py             # 3,000 updates, 30 s at 100/s, 5 runs
    .venv/bin/python bench/updates.py --quick     # 500 updates, 5 s at 100/s, 1 run
    .venv/bin/python bench/updates.py --profile   # cProfile of 2,000 check-ins in process
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import common
from bot.fakeapi import FakeBotAPI, text_update
from bot.fakeserver import FakeBotServer
from bot.i18n import LANGUAGES, Catalogs
from core.clock import FakeClock

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")

BOTS = {
    "echo": "PTB echo bot (bare: PTB's default transport)",
    "echo-aiohttp": "PTB echo bot on Komorebi's transport (aiohttp)",
    "full": "Komorebi, a check-in (SQLite)",
}


# --- the bot processes ---------------------------------------------------------------------------------


def run_echo(base_url: str, aiohttp: bool = False) -> None:
    from telegram import Update
    from telegram.ext import ApplicationBuilder, MessageHandler, filters

    async def echo(update: Update, _context: object) -> None:
        await update.message.reply_text(update.message.text)

    builder = ApplicationBuilder().token(common.TOKEN).base_url(base_url)
    if aiohttp:
        from bot.transport import AiohttpRequest

        builder = builder.request(AiohttpRequest()).get_updates_request(AiohttpRequest(connection_pool_size=1))
    application = builder.build()
    application.add_handler(MessageHandler(filters.TEXT, echo))
    application.run_polling(poll_interval=0)


def run_full(base_url: str, database: Path) -> None:
    os.environ["TELEGRAM_API_BASE_URL"] = base_url
    from bot.app import build_application
    from bot.config import Settings

    settings = Settings(
        _env_file=None,
        TELEGRAM_BOT_TOKEN=common.TOKEN,
        TELEGRAM_API_BASE_URL=base_url,
        DATABASE_URL=common.database_url(database),
        KOMOREBI_DEFAULT_LANGUAGE="en",
    )
    # The clock stands still, so the tick (every 20 s, as in production) finds nothing due.
    application = build_application(settings, clock=FakeClock(common.NOW), rate_limiter=common.unpaced())
    application.run_polling(poll_interval=0)


# --- the driver ---------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


@dataclass
class Load:
    updates: int
    wall: float
    cpu: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.updates / self.wall


class Driver:
    """The fake Bot API on 127.0.0.1 and the bookkeeping of when each update went out and its
    reply came back (every update comes from a different chat)."""

    def __init__(self) -> None:
        self.api = FakeBotAPI()
        self.server = FakeBotServer(self.api)
        self.handed_out: dict[int, float] = {}
        self.replied: dict[int, float] = {}
        self.all_replied = asyncio.Event()
        self.expected = 0
        self.api.delay_hook = self._on_call
        catalogs = Catalogs()
        self.error_texts = {catalogs[language]("error.generic") for language in LANGUAGES}

    async def _on_call(self, method: str, params: dict) -> None:
        if method == "sendMessage":
            self.replied[params["chat_id"]] = time.perf_counter()
            if len(self.replied) >= self.expected:
                self.all_replied.set()

    def push(self, chat_id: int) -> None:
        self.handed_out[chat_id] = time.perf_counter()
        self.api.push_update(text_update(chat_id, "a quiet day", language_code="en"))

    def reset(self, expected: int) -> None:
        self.handed_out.clear()
        self.replied.clear()
        self.all_replied.clear()
        self.expected = expected

    async def forget_updates(self) -> None:
        """Confirm every queued update, as a getUpdates with an offset does."""
        queued = self.api.pending_updates
        if queued:
            await self.api.handle("getUpdates", {"offset": queued[-1]["update_id"] + 1, "timeout": 0})

    def check_replies(self) -> None:
        texts = [call.params.get("text") for call in self.api.calls_to("sendMessage")]
        broken = sum(text in self.error_texts for text in texts)
        if broken:
            raise SystemExit(f"the bot answered {broken} updates with its error message: figures not reported")
        self.api.clear()


@contextlib.asynccontextmanager
async def bot_process(kind: str, base_url: str, database: Path | None, driver: Driver) -> AsyncIterator[int]:
    await driver.forget_updates()
    driver.api.clear()
    command = [sys.executable, __file__, "--child", kind, "--base-url", base_url]
    if database is not None:
        command += ["--database", str(database)]
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not driver.api.calls_to("getUpdates"):  # polling has begun: the bot is ready
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise SystemExit(f"the {kind} bot did not start:\n{log.read().decode()[-3000:]}")
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        yield process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


async def throughput(driver: Driver, pid: int, chats: range) -> Load:
    driver.reset(len(chats))
    cpu = cpu_seconds(pid)
    start = time.perf_counter()
    for chat_id in chats:
        driver.push(chat_id)
    await asyncio.wait_for(driver.all_replied.wait(), timeout=600)
    wall = time.perf_counter() - start
    return Load(len(chats), wall, cpu_seconds(pid) - cpu, [])


async def steady(driver: Driver, pid: int, chats: range, rate: float) -> Load:
    driver.reset(len(chats))
    loop = asyncio.get_running_loop()
    cpu = cpu_seconds(pid)
    start = loop.time() + 0.05
    for index, chat_id in enumerate(chats):
        await asyncio.sleep(max(0.0, start + index / rate - loop.time()))
        driver.push(chat_id)
    await asyncio.wait_for(driver.all_replied.wait(), timeout=600)
    wall = loop.time() - start
    latencies = [(driver.replied[c] - driver.handed_out[c]) * 1000 for c in chats]
    return Load(len(chats), wall, cpu_seconds(pid) - cpu, latencies)


# Where one check-in's time goes, by step (cumulative main-thread CPU).
PROFILED = [
    "telegram/ext/_application.py:process_update",
    "handlers/base.py:run",
    "storage/repo.py:participant_by_chat",
    "storage/repo.py:clear_family_prompt",
    "storage/repo.py:family_member_by_chat",
    "handlers/checkin.py:answer_day",
    "storage/repo.py:latest_hello",
    "storage/repo.py:has_checkin",
    "storage/repo.py:add_checkin",
    "core/crisis.py:matches",
    "sqlalchemy/ext/asyncio/session.py:commit",
    "sqlalchemy/ext/asyncio/session.py:close",
    "handlers/base.py:deliver",
    "telegram/_bot.py:send_message",
    "bot/fakeapi.py:do_request",
    "telegram/_update.py:de_json",
]


async def profile_in_process(count: int) -> None:
    """The full bot's check-ins fed straight to Application.process_update, the fake Bot API in
    process, under cProfile: where the time of one update goes (HTTP and polling left out)."""
    from telegram import Update

    with tempfile.TemporaryDirectory() as folder:
        path = await common.Templates(Path(folder)).copy(common.Population(total=count, history_days=1), "profile")
        clock = FakeClock(common.NOW)
        api = FakeBotAPI(clock=clock.now)
        application = common.komorebi(path, api, clock, updater=False)
        errors = common.record_errors(application)
        async with common.running(application):
            updates = [Update.de_json(text_update(common.CHAT_BASE + i, "a quiet day"), application.bot)
                       for i in range(1, count + 1)]
            with common.profiled() as prof, common.timed() as timer:
                for update in updates:
                    await application.process_update(update)
        common.check(errors)
    print(f"\n### Profile: {count:,} check-ins in process ({timer.cpu / count * 1000:.2f} ms CPU each under "
          "cProfile; main-thread CPU time)\n")
    print(common.hotspots(prof))
    print(common.cumulative_shares(prof, PROFILED))


async def measure(args: argparse.Namespace) -> None:
    common.quiet_logs()
    count = 500 if args.quick else args.updates
    seconds = 5 if args.quick else args.seconds
    runs = 1 if args.quick else args.runs
    steady_count = int(seconds * args.rate)
    print(f"updates: {count:,} at once, {seconds} s at {args.rate:.0f}/s, {runs} run(s); {common.machine()}")
    first = common.CHAT_BASE + 1
    burst_chats = range(first, first + count)
    steady_chats = range(burst_chats.stop, burst_chats.stop + steady_count)
    results: dict[str, list[tuple[Load, Load]]] = {kind: [] for kind in BOTS}
    driver = Driver()
    with tempfile.TemporaryDirectory(dir=args.tmp) as folder:
        templates = common.Templates(Path(folder))
        population = common.Population(total=count + steady_count, history_days=1)
        async with driver.server:
            for _ in range(runs):
                for kind in BOTS:
                    database = await templates.copy(population, "updates") if kind == "full" else None
                    async with bot_process(kind, driver.server.base_url, database, driver) as pid:
                        burst = await throughput(driver, pid, burst_chats)
                        driver.check_replies()
                        await asyncio.sleep(0.5)
                        level = await steady(driver, pid, steady_chats, args.rate)
                        driver.check_replies()
                    results[kind].append((burst, level))
                    print(f"  {kind}: {burst.per_second:,.0f} updates/s, "
                          f"p99 {common.percentile(level.latencies, 99):.1f} ms", flush=True)
    out = []
    rows = []
    for kind, label in BOTS.items():
        bursts = [b for b, _ in results[kind]]
        levels = [s for _, s in results[kind]]
        rows.append([
            label,
            common.spread([b.per_second for b in bursts]),
            common.spread([b.cpu / b.updates * 1000 for b in bursts]),
            common.spread([common.percentile(s.latencies, 50) for s in levels]),
            common.spread([common.percentile(s.latencies, 99) for s in levels]),
            common.spread([s.cpu / s.updates * 1000 for s in levels]),
        ])
    def ratios(echo: str, of: Callable[[Load], float]) -> list[float]:
        return [of(f[0]) / of(e[0]) for e, f in zip(results[echo], results["full"], strict=True)]

    def cpu(load: Load) -> float:
        return load.cpu / load.updates

    throughput_ratios = ratios("echo", lambda load: load.per_second)
    like_for_like = ratios("echo-aiohttp", lambda load: load.per_second)
    p99 = common.median([common.percentile(s.latencies, 99) for _, s in results["full"]])
    out.append(common.table(
        "Updates through long polling on 127.0.0.1 (median (min–max) of the runs)",
        ["bot", "updates/s, all queued at once", "bot CPU per update, ms", f"p50 at {args.rate:.0f}/s, ms",
         f"p99 at {args.rate:.0f}/s, ms", f"bot CPU per update at {args.rate:.0f}/s, ms"],
        rows,
    ))
    out.append(common.table(
        "Full bot against the echo bot (ratios per pair of runs)",
        ["figure", "median (min–max)", "target"],
        [
            ["throughput, full / bare echo", common.spread(throughput_ratios),
             f"≥ 0.5: {common.verdict(common.median(throughput_ratios) >= 0.5)}"],
            ["CPU per update, full / bare echo", common.spread(ratios("echo", cpu)), ""],
            ["throughput, full / echo on the same transport", common.spread(like_for_like), ""],
            ["CPU per update, full / echo on the same transport", common.spread(ratios("echo-aiohttp", cpu)), ""],
            [f"full bot p99 at {args.rate:.0f} updates/s, ms", common.fmt(p99), f"< 20 ms: {common.verdict(p99 < 20)}"],
        ],
    ))
    common.write(args.output, out)


if __name__ == "__main__":
    parser = common.arguments(__doc__, runs=5)
    parser.add_argument("--updates", type=int, default=3_000, help="updates queued at once")
    parser.add_argument("--seconds", type=float, default=30, help="length of the steady load")
    parser.add_argument("--rate", type=float, default=100, help="updates per second of the steady load")
    parser.add_argument("--profile", action="store_true", help="profile check-ins in process instead")
    parser.add_argument("--child", choices=tuple(BOTS), help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--database", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.profile:
        asyncio.run(profile_in_process(300 if arguments.quick else 2_000))
    elif arguments.child in ("echo", "echo-aiohttp"):
        run_echo(arguments.base_url, aiohttp=arguments.child == "echo-aiohttp")
    elif arguments.child == "full":
        run_full(arguments.base_url, arguments.database)
    else:
        asyncio.run(measure(arguments))
