"""What the layers under the bot cost, and how much of the in-process figures is the fake Bot API.

- statements: the cost of one indexed read through each layer (ORM session, Core connection,
  each with the statement built per call or once, raw aiosqlite, plain sqlite3 in the event
  loop's thread);
- per update (check-ins in process) and per hello (one tick, 1,000 due of 10,000): the fake Bot
  API against a canned answer (`common.CannedBotAPI`), alternating runs, as a ratio of median CPU
  times: the fake's share of those figures, and the bot's own cost without it.

Until commit `4bba4e1` this script also patched functions of the bot, in this process only,
with prototypes of the proposals in bench/README.md ("What-if experiments"). Every one of them
was taken up since, so they measured nothing new and no longer fitted the code; the prototypes
and the code they patched are in `git show 560d50b:bench/experiments.py` and at that commit.

    .venv/bin/python bench/experiments.py            # 3 runs each
    .venv/bin/python bench/experiments.py --quick    # 1 run, smaller
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import bindparam, func, select, text
from telegram import Update
from telegram.request import BaseRequest

import common
from bot.fakeapi import FakeBotAPI, text_update
from bot.services import services_of
from core.clock import FakeClock
from storage.db import create_engine, session_factory
from storage.models import Participant



async def statements(path: Path, count: int) -> dict[str, float]:
    """CPU ms per indexed read of one participant, through each layer."""
    chats = [common.CHAT_BASE + 1 + i % 1000 for i in range(count)]
    out: dict[str, float] = {}
    engine = create_engine(common.database_url(path))
    sessions = session_factory(engine)
    async with sessions() as session:
        await session.scalar(select(Participant).where(Participant.chat_id == chats[0]))
        with common.timed() as timer:
            for chat in chats:
                await session.scalar(select(Participant).where(Participant.chat_id == chat))
        out["ORM: session.scalar(select(Participant)…)"] = timer.cpu
        with common.timed() as timer:
            for chat in chats:
                await session.scalar(select(Participant.id).where(Participant.chat_id == chat))
        out["ORM session, one column"] = timer.cpu
        prebuilt = select(Participant).where(Participant.chat_id == bindparam("chat"))
        with common.timed() as timer:
            for chat in chats:
                await session.scalar(prebuilt, {"chat": chat})
        out["ORM, statement built once (bindparam)"] = timer.cpu
    async with engine.connect() as connection:
        with common.timed() as timer:
            for chat in chats:
                (await connection.execute(select(Participant.__table__).where(Participant.chat_id == chat))).first()
        out["Core: connection.execute(select(table)…)"] = timer.cpu
        table = Participant.__table__
        prebuilt_core = select(table).where(table.c.chat_id == bindparam("chat"))
        with common.timed() as timer:
            for chat in chats:
                (await connection.execute(prebuilt_core, {"chat": chat})).first()
        out["Core, statement built once (bindparam)"] = timer.cpu
        statement = text("SELECT * FROM participants WHERE chat_id = :chat")
        with common.timed() as timer:
            for chat in chats:
                (await connection.execute(statement, {"chat": chat})).first()
        out["Core, textual SQL"] = timer.cpu
    await engine.dispose()
    async with aiosqlite.connect(path) as db:
        with common.timed() as timer:
            for chat in chats:
                async with db.execute("SELECT * FROM participants WHERE chat_id = ?", (chat,)) as cursor:
                    await cursor.fetchone()
        out["raw aiosqlite"] = timer.cpu
    with contextlib.closing(sqlite3.connect(path)) as db, common.timed() as timer:
        for chat in chats:
            db.execute("SELECT * FROM participants WHERE chat_id = ?", (chat,)).fetchone()
    out["plain sqlite3 in the loop's thread"] = timer.cpu
    return {name: seconds / count * 1000 for name, seconds in out.items()}


async def checkins(templates: common.Templates, count: int, api: Callable[[FakeClock], BaseRequest]) -> float:
    """CPU ms per check-in, in process."""
    path = await templates.copy(common.Population(total=count, history_days=1), "checkins")
    clock = FakeClock(common.NOW)
    application = common.komorebi(path, api(clock), clock, updater=False)
    errors = common.record_errors(application)
    async with common.running(application):
        updates = [Update.de_json(text_update(common.CHAT_BASE + i, "a quiet day"), application.bot)
                   for i in range(1, count + 1)]
        with common.timed() as timer:
            for update in updates:
                await application.process_update(update)
    common.check(errors)
    return timer.cpu / count * 1000


async def hellos(templates: common.Templates, due: int, api: Callable[[FakeClock], BaseRequest]) -> float:
    """CPU ms per hello in one tick with `due` due of 10 × `due` stored."""
    population = common.Population(total=10 * due, due=due, history_days=2)
    path = await templates.copy(population, "hellos")
    clock = FakeClock(population.now)
    application = common.komorebi(path, api(clock), clock, updater=False)
    errors = common.record_errors(application)
    async with common.running(application):
        await common.tick_once(application)
        clock.advance(common.DUE_WITHIN)
        with common.timed() as timer:
            await common.tick_once(application)
        async with services_of(application).sessions() as session:  # every variant must record it all
            written = await common.hellos_sent_since(session, population.now)
            claimed = await session.scalar(select(func.count()).where(Participant.claim_token.is_not(None)))
    common.check(errors)
    if written != due or claimed:
        raise SystemExit(f"{written} hellos recorded of {due}, {claimed} claims left: figures not reported")
    return timer.cpu / due * 1000


def fake(clock: FakeClock) -> BaseRequest:
    return FakeBotAPI(clock=clock.now)


def canned(_clock: FakeClock) -> BaseRequest:
    return common.CannedBotAPI()


async def compare(runs: int, baseline: Callable[[], Any], variants: dict[str, Callable[[], Any]]) -> list[list[str]]:
    """Baseline and each variant alternately, after one run of the baseline that is not counted
    (the first run in a process compiles and caches the statements the others reuse); rows of
    (name, median ms, ratio to the baseline)."""
    results: dict[str, list[float]] = {"the fake": [], **{name: [] for name in variants}}
    await baseline()
    for _ in range(runs):
        results["the fake"].append(await baseline())
        for name, variant in variants.items():
            results[name].append(await variant())
    base = common.median(results["the fake"])
    return [[name, common.spread(values), f"{common.median(values) / base:.2f}"] for name, values in results.items()]


async def main(args: Any) -> None:
    common.quiet_logs()
    runs = 1 if args.quick else args.runs
    count = 300 if args.quick else 2_000
    due = 200 if args.quick else 1_000
    print(f"experiments: {runs} run(s); {common.machine()}")
    out = []
    with tempfile.TemporaryDirectory(dir=args.tmp) as folder:
        templates = common.Templates(Path(folder))
        path = await templates.copy(common.Population(total=10_000, history_days=2), "statements")
        per_layer = [await statements(path, count * 5) for _ in range(runs)]
        out.append(common.table(
            "One indexed read of a participant, by layer (CPU ms per statement)",
            ["layer", "CPU ms", "ratio to ORM"],
            [[name, common.spread([r[name] for r in per_layer]),
              f"{common.median([r[name] for r in per_layer]) / common.median([r[next(iter(r))] for r in per_layer]):.2f}"]
             for name in per_layer[0]],
        ))

        out.append(common.table(
            f"Per update: {count:,} check-ins in process (CPU ms per update)",
            ["Bot API", "CPU ms", "ratio"],
            await compare(runs, lambda: checkins(templates, count, fake), {
                "canned answer instead of the fake (the fake's share)": lambda: checkins(templates, count, canned),
            }),
        ))
        out.append(common.table(
            f"Per hello: one tick with {due:,} due of {10 * due:,} (CPU ms per hello)",
            ["Bot API", "CPU ms", "ratio"],
            await compare(runs, lambda: hellos(templates, due, fake), {
                "canned answer instead of the fake (the fake's share)": lambda: hellos(templates, due, canned),
            }),
        ))
    common.write(args.output, out)


if __name__ == "__main__":
    asyncio.run(main(common.arguments(__doc__, runs=3).parse_args()))
