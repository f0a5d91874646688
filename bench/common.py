"""What the benchmarks share: building the real Application offline, seeding large tables fast,
counting queries, timing (CPU and wall), profiling, medians and printing tables.

Every script puts the repository root on ``sys.path`` through this module, so each runs as
``.venv/bin/python bench/NAME.py`` from the repository root.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime as dt
import io
import json
import logging
import os
import platform
import pstats
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402
from telegram.ext import Application  # noqa: E402
from telegram.request import BaseRequest, RequestData  # noqa: E402

from bot.app import build_application, on_startup  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.content import TaskCatalog  # noqa: E402
from bot.ratelimit import PacedRateLimiter  # noqa: E402
from bot.simulate import RHYTHMS, WINDOWS, ZONES  # noqa: E402  (the spread of a real deployment)
from core.clock import FakeClock  # noqa: E402
from core.schedule import Window, hello_day_for, window_bounds  # noqa: E402
from schedules.tick import TICK_NAME  # noqa: E402
from storage.db import create_engine, migrate  # noqa: E402

TOKEN = "123456:BENCH-TOKEN"
# A Monday at 11:00 UTC: evening in Tokyo and Seoul, late night in Sydney, morning just over in London.
NOW = dt.datetime(2026, 3, 2, 11, 0, tzinfo=dt.UTC)
CHAT_BASE = 10_000_000
DUE_WITHIN = dt.timedelta(seconds=10)


# --- statistics and output ---------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100), nearest rank."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def spread(values: Sequence[float]) -> str:
    """'median (min–max)' for a table cell."""
    return f"{fmt(median(values))} ({fmt(min(values))}–{fmt(max(values))})"


def fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (it reads well in a terminal too), printed and returned."""
    lines = [f"\n### {title}\n", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def machine() -> str:
    cores = len(os.sched_getaffinity(0))
    commit = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                            capture_output=True, text=True, check=False).stdout.strip()
    return (
        f"{dt.date.today().isoformat()}, commit {commit or '?'}, Python {platform.python_version()}, {cores} cores "
        f"(shared with other work: wall-clock figures are noisy, CPU times and ratios less so)"
    )


def verdict(met: bool) -> str:
    return "**met**" if met else "**not met**"


def arguments(doc: str | None, runs: int) -> argparse.ArgumentParser:
    """The options every script has: --quick, --runs, --tmp and --output."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small, fast sanity run")
    parser.add_argument("--runs", type=int, default=runs, help="runs of each measurement (medians are reported)")
    parser.add_argument("--tmp", default=None, help="folder for the SQLite files (default: the system's)")
    parser.add_argument("--output", help="also write the tables to this file")
    return parser


def write(path: str | None, tables: Sequence[str]) -> None:
    if path:
        Path(path).write_text("\n".join(tables) + "\n")


def quiet_logs() -> None:
    logging.basicConfig(level=logging.WARNING)
    for name in ("komorebi", "telegram", "httpx", "apscheduler"):
        logging.getLogger(name).setLevel(logging.WARNING)


# --- timing --------------------------------------------------------------------------------------------


@dataclass
class Timer:
    """Wall time, process CPU time (all threads; SQLite runs on the main one since commit 352f6e5,
    in aiosqlite's thread before) and the main thread's share of it."""

    wall: float = 0.0
    cpu: float = 0.0
    main_cpu: float = 0.0

    @property
    def other_threads_cpu(self) -> float:
        return self.cpu - self.main_cpu


@contextlib.contextmanager
def timed() -> Iterator[Timer]:
    timer = Timer()
    wall, cpu, main = time.perf_counter(), time.process_time(), time.thread_time()
    try:
        yield timer
    finally:
        timer.wall = time.perf_counter() - wall
        timer.cpu = time.process_time() - cpu
        timer.main_cpu = time.thread_time() - main


@dataclass
class QueryCount:
    total: int = 0
    kinds: Counter[str] = field(default_factory=Counter)


@contextlib.contextmanager
def counting_queries(engine: AsyncEngine) -> Iterator[QueryCount]:
    """Count every statement sent to the database (BEGIN included), by its first word."""
    count = QueryCount()

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        count.total += 1
        count.kinds[statement.split(None, 1)[0].upper()] += 1

    def begin(_conn: Any) -> None:
        # Since commit 1272f6b SQLite's BEGIN IMMEDIATE is sent by the dialect's begin step, which
        # no cursor event sees; each transaction's begin is counted here instead.
        count.total += 1
        count.kinds["BEGIN"] += 1

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "begin", begin)
    try:
        yield count
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)
        event.remove(engine.sync_engine, "begin", begin)


@contextlib.contextmanager
def profiled(enabled: bool = True) -> Iterator[cProfile.Profile | None]:
    if not enabled:
        yield None
        return
    # The main thread's CPU time, not wall time (before commit 352f6e5 SQLite ran in a thread of its own).
    profile = cProfile.Profile(time.thread_time)
    profile.enable()
    try:
        yield profile
    finally:
        profile.disable()


# Where a function lives decides its group in "Where the time goes".
_GROUPS = (
    ("fake Bot API (bench only)", ("bot/fakeapi.py",)),
    ("SQLAlchemy", ("sqlalchemy/",)),
    ("aiosqlite / sqlite3", ("aiosqlite/", "sqlite3")),
    ("PTB (telegram/)", ("telegram/",)),
    ("asyncio", ("asyncio/",)),
    ("the project's own code", ("/handlers/", "/schedules/", "/storage/", "/core/", "/bot/")),
    ("json", ("json/",)),
)


def hotspots(profile: cProfile.Profile, top: int = 15) -> str:
    """The top functions by own time, and the main thread's own time by library."""
    stats = pstats.Stats(profile)
    total = sum(row[2] for row in stats.stats.values()) or 1e-9  # type: ignore[attr-defined]
    groups: Counter[str] = Counter()
    rows = []
    for (filename, line, name), (_cc, calls, own, cumulative, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        group = next((g for g, parts in _GROUPS if any(p in filename for p in parts)), "other")
        groups[group] += own
        rows.append((own, cumulative, calls, f"{_short(filename)}:{line} {name}"))
    out = io.StringIO()
    out.write("own time by library (main thread): ")
    out.write(", ".join(f"{g} {100 * t / total:.0f}%" for g, t in groups.most_common()))
    out.write("\n\nown%   cum%    calls  function\n")
    for own, cumulative, calls, where in sorted(rows, reverse=True)[:top]:
        out.write(f"{100 * own / total:5.1f} {100 * cumulative / total:6.1f} {calls:8d}  {where}\n")
    return out.getvalue()


def cumulative_shares(profile: cProfile.Profile, names: Sequence[str]) -> str:
    """Cumulative share of the main thread's time under chosen functions ('file.py:function')."""
    stats = pstats.Stats(profile)
    total = sum(row[2] for row in stats.stats.values()) or 1e-9  # type: ignore[attr-defined]
    lines = []
    for wanted in names:
        file_part, _, func = wanted.partition(":")
        best = 0.0
        for (filename, _line, name), (_cc, _calls, _own, cumulative, _c) in stats.stats.items():  # type: ignore[attr-defined]
            if name == func and filename.endswith(file_part):
                best = max(best, cumulative)
        lines.append(f"{100 * best / total:5.1f}%  {wanted}")
    return "\n".join(lines)


def _short(filename: str) -> str:
    for marker in ("site-packages/", str(ROOT) + "/", "lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


# --- the application ---------------------------------------------------------------------------------


async def _no_sleep(_seconds: float) -> None:
    return None


def unpaced() -> PacedRateLimiter:
    """The bot's own limiter with pacing out of the way: CPU cost is measured, not Telegram's pace."""
    return PacedRateLimiter(overall_rate=1e9, bulk_rate=1e9, sleep=_no_sleep)


def database_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def komorebi(
    path: Path,
    api: BaseRequest,
    clock: FakeClock,
    *,
    rate_limiter: PacedRateLimiter | None = None,
    updater: bool = True,
    seed: int = 7,
) -> Application:
    """The real Application on the SQLite file `path`, against `api`, on a fake clock."""
    settings = Settings(
        _env_file=None,
        TELEGRAM_BOT_TOKEN=TOKEN,
        DATABASE_URL=database_url(path),
        KOMOREBI_DEFAULT_LANGUAGE="en",
    )
    return build_application(
        settings,
        clock=clock,
        request=api,
        get_updates_request=api,
        rate_limiter=rate_limiter or unpaced(),
        rng=random.Random(seed),
        updater=updater,
    )


@contextlib.asynccontextmanager
async def running(application: Application) -> AsyncIterator[Application]:
    """Initialised and migrated, the command menu published (what `post_init` does at start)."""
    async with application:
        await on_startup(application)
        yield application


async def create_schema(path: Path) -> None:
    engine = create_engine(database_url(path))
    await migrate(engine)
    await engine.dispose()


# --- seeding ---------------------------------------------------------------------------------------------


def sql_datetime(moment: dt.datetime) -> str:
    """A UTC moment as SQLAlchemy stores it in SQLite (storage.types.UTCDateTime)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def open_combos(now: dt.datetime) -> list[tuple[str, str]]:
    """(zone, window) pairs whose window is open from 10 minutes before `now` to 10 minutes after."""
    combos = []
    for zone in sorted(set(ZONES)):
        for window in sorted(set(WINDOWS)):
            tz = ZoneInfo(zone)
            day = hello_day_for(now, Window(window), tz)
            start, end = window_bounds(day, Window(window), tz)
            if start + dt.timedelta(minutes=10) <= now < end - dt.timedelta(minutes=10):
                combos.append((zone, window))
    return combos


_PARTICIPANT_COLUMNS = (
    "id, chat_id, status, created_at, consent_at, language, timezone, window, rhythm, next_hello_at, "
    "last_hello_day, unanswered, level, level_since, wants_tasks, group_opt_in, step_up_open, crisis_alerts"
)


@dataclass(frozen=True)
class Population:
    """Who is stored. `due` rows come due within 10 s after `now`, inside an open window; the others
    are planned later in the day (`day_spread`) or between 1 and 24 hours from `now`."""

    total: int
    due: int = 0
    now: dt.datetime = NOW
    history_days: int = 0  # past hellos and task offers per participant (what an older deployment has)
    day_spread: bool = False  # everyone's next hello somewhere in the 24 h after `now`, in their window
    unanswered: int = 0  # hellos unanswered in a quiet spell (3 or more: the next reply is welcomed back)
    seed: int = 1


def seed(path: Path, population: Population) -> None:
    """Write participants (and their history) with plain executemany on a migrated SQLite file."""
    rng = random.Random(population.seed)
    now = population.now
    combos = open_combos(now)
    tasks = TaskCatalog().by_level[0]
    yesterday = (now - dt.timedelta(days=1)).date()
    rows = []
    for pid in range(1, population.total + 1):
        if pid <= population.due:
            zone, window = rng.choice(combos)
            at = now + dt.timedelta(seconds=rng.uniform(1, DUE_WITHIN.total_seconds()))
        else:
            zone, window = rng.choice(ZONES), rng.choice(WINDOWS)
            if population.day_spread:
                at = _in_window_within_a_day(now, zone, window, rng)
            else:
                at = now + dt.timedelta(seconds=rng.uniform(3600, 86400))
        rows.append(
            (
                pid, CHAT_BASE + pid, "active", sql_datetime(now - dt.timedelta(days=30)),
                sql_datetime(now - dt.timedelta(days=30)), rng.choice(("ja", "ja", "en")), zone, window,
                rng.choice(RHYTHMS) if population.day_spread else "daily", sql_datetime(at),
                yesterday.isoformat() if population.history_days else None, population.unanswered, 0,
                (now - dt.timedelta(days=30)).date().isoformat(), 1, 0, 0, 0,
            )
        )
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")
        marks = ", ".join("?" * _PARTICIPANT_COLUMNS.count(",") + "?")
        db.executemany(f"INSERT INTO participants ({_PARTICIPANT_COLUMNS}) VALUES ({marks})", rows)
        for back in range(1, population.history_days + 1):
            day = (now - dt.timedelta(days=back)).date().isoformat()
            sent = sql_datetime(now - dt.timedelta(days=back))
            db.executemany(
                "INSERT INTO hellos (participant_id, day, sent_at, message_id) VALUES (?, ?, ?, ?)",
                ((pid, day, sent, back) for pid in range(1, population.total + 1)),
            )
            db.executemany(
                "INSERT INTO task_offers (participant_id, task_id, level, day, offered_at, kind) "
                "VALUES (?, ?, 0, ?, ?, 'hello')",
                ((pid, tasks[(pid + back) % len(tasks)], day, sent) for pid in range(1, population.total + 1)),
            )
            db.executemany(
                "INSERT INTO checkins (participant_id, day, at, source) VALUES (?, ?, ?, 'here')",
                ((pid, day, sent) for pid in range(1, population.total + 1) if (pid + back) % 3),
            )
        db.commit()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _in_window_within_a_day(now: dt.datetime, zone: str, window: str, rng: random.Random) -> dt.datetime:
    tz = ZoneInfo(zone)
    local_day = now.astimezone(tz).date() - dt.timedelta(days=1)
    for offset in range(4):
        start, end = window_bounds(local_day + dt.timedelta(days=offset), Window(window), tz)
        if start >= now:
            return start + (end - start) * rng.random()
    raise AssertionError("no window within four days")


class Templates:
    """Seeded SQLite files, made once per population and copied for each run (a copy is cheap,
    a run changes its copy)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._made: dict[Population, Path] = {}

    async def copy(self, population: Population, name: str) -> Path:
        template = self._made.get(population)
        if template is None:
            template = self.folder / f"template-{len(self._made)}.db"
            await create_schema(template)
            seed(template, population)
            self._made[population] = template
        target = self.folder / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(template, target)
        return target


def alternate(runs: int, *setups: Callable[[], Any]) -> list[list[Any]]:
    """Run setups A, B, A, B, ... `runs` times each (so drift on a shared machine hits all alike)."""
    results: list[list[Any]] = [[] for _ in setups]
    for _ in range(runs):
        for index, setup in enumerate(setups):
            results[index].append(setup())
    return results


async def tick_once(application: Application) -> None:
    """The repeating job run once, exactly as the JobQueue runs it (errors go to the handlers)."""
    (job,) = application.job_queue.get_jobs_by_name(TICK_NAME)
    await job.run(application)


def record_errors(application: Application) -> list[BaseException]:
    """Collect what reaches the error handlers, so a benchmark can refuse to report a broken run."""
    errors: list[BaseException] = []

    async def record(_update: object, context: Any) -> None:
        errors.append(context.error)

    application.add_error_handler(record)
    return errors


def check(errors: list[BaseException]) -> None:
    if errors:
        raise SystemExit(f"the bot raised {errors[0]!r} ({len(errors)} errors): figures not reported")


async def hellos_sent_since(session: Any, since: dt.datetime) -> int:
    """Hellos recorded as sent since `since` (what a tick really did, whatever Bot API answered)."""
    from sqlalchemy import func, select

    from storage.models import Hello

    return int(await session.scalar(select(func.count()).where(Hello.sent_at >= since)))


class CannedBotAPI(BaseRequest):
    """Answers every request with a fixed, valid message: the cheapest possible Bot API."""

    _ANSWER = json.dumps({"ok": True, "result": {
        "message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "text": "ok",
        "from": {"id": 1, "is_bot": True, "first_name": "Komorebi", "username": "komorebi_test_bot"},
    }}).encode()

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None: ...

    async def shutdown(self) -> None: ...

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None, **_: Any) -> tuple[int, bytes]:
        if url.endswith("/getMe"):
            return 200, json.dumps({"ok": True, "result": {
                "id": 1, "is_bot": True, "first_name": "Komorebi", "username": "komorebi_test_bot"}}).encode()
        if url.endswith("/setMyCommands"):
            return 200, b'{"ok": true, "result": true}'
        return 200, self._ANSWER
