"""What-if measurements for the proposals in bench/README.md ("Where the time goes").

Each experiment patches one function *inside this process only* (nothing in the repository
changes) with a prototype of a proposed change, and measures it against the code as it is,
alternating runs, as a ratio of median CPU times. They are prototypes: upper bounds or sketches
of the change, not reviewed code.

- statements: the cost of one indexed read through each layer (ORM session, Core connection,
  each with the statement built per call or once, raw aiosqlite, plain sqlite3 in the event
  loop's thread);
- per update (2,000 check-ins in process): the family-member lookup skipped (the bound for
  folding it into the participant query), answer_day in one query instead of two, add_checkin
  as an INSERT SQLAlchemy can cache, all three;
- per hello (one tick, 1,000 due of 10,000): the hello row as a Core insert instead of an ORM
  add + flush; add_offer as a cacheable INSERT; a batch's writes in one transaction; the fake
  Bot API replaced by a canned answer (how much of the figure is the fake).

    .venv/bin/python bench/experiments.py            # 3 runs each
    .venv/bin/python bench/experiments.py --quick    # 1 run, smaller
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import bindparam, exists, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.request import BaseRequest

import common
import handlers.checkin
import schedules.hello
import storage.repo
from bot.fakeapi import FakeBotAPI, text_update
from bot.services import services_of
from core.clock import FakeClock
from core.schedule import Window, hello_day_for
from schedules.planning import zone_of
from storage.db import create_engine, session_factory
from storage.models import CheckIn, Hello, Participant, TaskOffer


@contextlib.contextmanager
def patched(target: Any, name: str, value: Any) -> Iterator[None]:
    original = getattr(target, name)
    setattr(target, name, value)
    try:
        yield
    finally:
        setattr(target, name, original)


# --- prototypes of the proposals --------------------------------------------------------------------------


async def no_family_lookup(_session: Any, _chat_id: int) -> None:
    return None


async def answer_day_one_query(turn: Any, participant: Participant) -> dt.date:
    """handlers.checkin.answer_day with the latest hello and its check-in read in one query."""
    answered = exists().where(CheckIn.participant_id == Hello.participant_id, CheckIn.day == Hello.day)
    row = (
        await turn.session.execute(
            select(Hello.day, answered).where(Hello.participant_id == participant.id).order_by(Hello.day.desc()).limit(1)
        )
    ).first()
    if row is not None and not row[1]:
        return row[0]
    zone = zone_of(participant, turn.services.settings.default_timezone)
    return hello_day_for(turn.now, Window(participant.window), zone)


async def add_hello_core(session: Any, participant_id: int, day: dt.date, sent_at: dt.datetime, message_id: int) -> None:
    """storage.repo.add_hello as one Core INSERT (no ORM object, no flush)."""
    await session.execute(
        insert(Hello).values(participant_id=participant_id, day=day, sent_at=sent_at, message_id=message_id)
    )


def add_offer_cacheable(session: Any, participant_id: int, task_id: str, level: int, day: dt.date,
                        at: dt.datetime, kind: str) -> Any:
    """storage.repo.add_offer as an INSERT that SQLAlchemy can cache (SQLite's OR IGNORE): the
    dialect's on_conflict_do_nothing() has no cache key in SQLAlchemy 2.0, so it is compiled anew
    for every execution ("[no key]" in the engine log)."""
    values = dict(participant_id=participant_id, task_id=task_id, level=level, day=day, offered_at=at, kind=kind)
    return session.execute(insert(TaskOffer).values(**values).prefix_with("OR IGNORE", dialect="sqlite"))


def add_checkin_cacheable(session: Any, participant_id: int, day: dt.date, at: dt.datetime, source: str) -> Any:
    async def run() -> bool:
        statement = insert(CheckIn).values(participant_id=participant_id, day=day, at=at, source=source)
        result = await session.execute(statement.prefix_with("OR IGNORE", dialect="sqlite"))
        return bool(result.rowcount)

    return run()


class BatchRecorder:
    """A sketch of "record hellos together": the per-hello writes of schedules.hello._process_batch
    are collected and written with one executemany per table, in one transaction, every `group`
    hellos (None: once, at the end of the batch; a crash could then repeat the whole batch)."""

    def __init__(self, group: int | None = None) -> None:
        self.group = group
        self.pending = 0
        self.hellos: list[dict[str, Any]] = []
        self.offers: list[dict[str, Any]] = []
        self.claims: dict[tuple[str, ...], list[dict[str, Any]]] = {}

    async def add_hello(self, _session: Any, participant_id: int, day: dt.date, sent_at: dt.datetime, message_id: int) -> None:
        self.hellos.append(dict(participant_id=participant_id, day=day, sent_at=sent_at, message_id=message_id))

    async def add_offer(self, _session: Any, participant_id: int, task_id: str, level: int, day: dt.date,
                        at: dt.datetime, kind: str) -> None:
        self.offers.append(dict(participant_id=participant_id, task_id=task_id, level=level, day=day, offered_at=at, kind=kind))

    async def delete_notes(self, _session: Any, note_ids: Any) -> None:
        assert not note_ids, "the sketch does not handle family notes"

    async def finish_claim(self, _session: Any, participant_id: int, token: str, **values: Any) -> bool:
        row = {f"v_{name}": value for name, value in values.items()}
        self.claims.setdefault(tuple(sorted(values)), []).append({"pid": participant_id, "token": token, **row})
        self.pending += 1
        if self.group and self.pending >= self.group:
            await self.write(_session)
        return True

    async def write(self, session: Any) -> None:
        table = Participant.__table__
        if self.hellos:
            await session.execute(insert(Hello.__table__), self.hellos)
        if self.offers:
            await session.execute(insert(TaskOffer.__table__).prefix_with("OR IGNORE", dialect="sqlite"), self.offers)
        for names, rows in self.claims.items():
            values = {"claimed_at": None, "claim_token": None,
                      **{name: bindparam(f"v_{name}", type_=table.c[name].type) for name in names}}
            statement = update(table).where(table.c.id == bindparam("pid"), table.c.claim_token == bindparam("token"))
            await session.execute(statement.values(values), rows)
        await self.commit(session)
        self.hellos, self.offers, self.claims, self.pending = [], [], {}, 0

    commit = staticmethod(AsyncSession.commit)  # the real one: the session's own is switched off


_PROCESS_BATCH = schedules.hello._process_batch


async def process_batch_recorded_once(bot: Any, services: Any, session: Any, batch: Any, token: str, report: Any) -> None:
    await _process_batch_recorded(BatchRecorder(), bot, services, session, batch, token, report)


async def process_batch_recorded_by_8(bot: Any, services: Any, session: Any, batch: Any, token: str, report: Any) -> None:
    await _process_batch_recorded(BatchRecorder(group=8), bot, services, session, batch, token, report)


async def _process_batch_recorded(
    recorder: BatchRecorder, bot: Any, services: Any, session: Any, batch: Any, token: str, report: Any
) -> None:
    async def no_commit() -> None:
        return None

    with contextlib.ExitStack() as stack:
        for name in ("add_hello", "add_offer", "delete_notes", "finish_claim"):
            stack.enter_context(patched(storage.repo, name, getattr(recorder, name)))
        stack.enter_context(patched(session, "commit", no_commit))
        await _PROCESS_BATCH(bot, services, session, batch, token, report)
    await recorder.write(session)


# --- the measurements ------------------------------------------------------------------------------------------


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


async def checkins(templates: common.Templates, count: int) -> float:
    """CPU ms per check-in, in process."""
    path = await templates.copy(common.Population(total=count, history_days=1), "checkins")
    clock = FakeClock(common.NOW)
    application = common.komorebi(path, FakeBotAPI(clock=clock.now), clock, updater=False)
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
    """Baseline and each variant alternately; rows of (name, median ms, ratio to the baseline)."""
    results: dict[str, list[float]] = {"as it is": [], **{name: [] for name in variants}}
    for _ in range(runs):
        results["as it is"].append(await baseline())
        for name, variant in variants.items():
            results[name].append(await variant())
    base = common.median(results["as it is"])
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

        async def with_patches(*patches: tuple[Any, str, Any]) -> float:
            with contextlib.ExitStack() as stack:
                for target, name, value in patches:
                    stack.enter_context(patched(target, name, value))
                return await checkins(templates, count)

        family = (storage.repo, "family_member_by_chat", no_family_lookup)
        one_query = (handlers.checkin, "answer_day", answer_day_one_query)
        cacheable = (storage.repo, "add_checkin", add_checkin_cacheable)
        out.append(common.table(
            f"Per update: {count:,} check-ins in process (CPU ms per update)",
            ["variant", "CPU ms", "ratio"],
            await compare(runs, lambda: checkins(templates, count), {
                "no family-member query (bound for folding it into the participant query)": lambda: with_patches(family),
                "answer_day in one query": lambda: with_patches(one_query),
                "add_checkin as a cacheable INSERT": lambda: with_patches(cacheable),
                "all three": lambda: with_patches(family, one_query, cacheable),
            }),
        ))

        async def hellos_with(target: Any, name: str, value: Any) -> float:
            with patched(target, name, value):
                return await hellos(templates, due, fake)

        out.append(common.table(
            f"Per hello: one tick with {due:,} due of {10 * due:,} (CPU ms per hello)",
            ["variant", "CPU ms", "ratio"],
            await compare(runs, lambda: hellos(templates, due, fake), {
                "hello row as a Core INSERT": lambda: hellos_with(storage.repo, "add_hello", add_hello_core),
                "add_offer as a cacheable INSERT": lambda: hellos_with(storage.repo, "add_offer", add_offer_cacheable),
                "a batch's writes in one transaction (executemany)":
                    lambda: hellos_with(schedules.hello, "_process_batch", process_batch_recorded_once),
                "writes in one transaction per 8 hellos (executemany)":
                    lambda: hellos_with(schedules.hello, "_process_batch", process_batch_recorded_by_8),
                "canned Bot API answer instead of the fake (the fake's share)": lambda: hellos(templates, due, canned),
            }),
        ))
    common.write(args.output, out)


if __name__ == "__main__":
    asyncio.run(main(common.arguments(__doc__, runs=3).parse_args()))
