"""Fan-out: one day's hellos for many participants, the fake Bot API answering at once.

Measures CPU time per hello, database statements per hello (a ``before_cursor_execute`` listener)
and how one tick's time grows with due rows and with total rows. The fake Bot API runs in this
process, so its CPU time counts too; "bot-alone" measures the same tick with a canned answer
instead, alternating with the fake, to show the bot's own CPU and the fake's share.

    .venv/bin/python bench/fanout.py            # 100,000 participants, 3 runs each
    .venv/bin/python bench/fanout.py --quick    # 2,000 participants, a tick every 2 min, 1 run
    .venv/bin/python bench/fanout.py --profile  # also a cProfile of one tick with 1,000 due
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path

import common
from bot.fakeapi import FakeBotAPI
from bot.services import services_of
from core.clock import FakeClock

TICK = dt.timedelta(seconds=20)  # KOMOREBI_TICK_SECONDS' default
IDLE_TICKS = 50


@dataclass
class DayResult:
    timer: common.Timer
    sent: int
    ticks: int
    queries: common.QueryCount


async def one_day(templates: common.Templates, population: common.Population, every: dt.timedelta) -> DayResult:
    """Every tick of 24 hours, run as the JobQueue runs it."""
    path = await templates.copy(population, "day")
    clock = FakeClock(population.now)
    api = FakeBotAPI(clock=clock.now)
    application = common.komorebi(path, api, clock, updater=False)
    errors = common.record_errors(application)
    ticks = int(dt.timedelta(days=1) / every)
    async with common.running(application):
        engine = services_of(application).engine
        api.clear()
        with common.counting_queries(engine) as queries, common.timed() as timer:
            for _ in range(ticks):
                clock.advance(every)
                await common.tick_once(application)
        sent = len(api.calls_to("sendMessage"))
    common.check(errors)
    return DayResult(timer, sent, ticks, queries)


async def tick_with_due(
    templates: common.Templates, total: int, due: int, history: int, profile: bool = False, canned: bool = False
) -> tuple[common.Timer, int, str]:
    """One tick that sends every due hello (batch after batch) in a store of `total` participants.
    `canned`: Telegram's answers come from `common.CannedBotAPI` (the bot's own CPU alone) instead
    of the fake Bot API, which runs in this process and whose CPU time would count too."""
    population = common.Population(total=total, due=due, history_days=history)
    path = await templates.copy(population, "growth")
    clock = FakeClock(population.now)
    api = common.CannedBotAPI() if canned else FakeBotAPI(clock=clock.now)
    application = common.komorebi(path, api, clock, updater=False)
    errors = common.record_errors(application)
    # A tick with nothing due takes a couple of milliseconds, within this machine's noise: it is
    # timed over IDLE_TICKS ticks and reported per tick.
    repeats = IDLE_TICKS if due == 0 else 1
    async with common.running(application):
        await common.tick_once(application)  # nothing is due yet: this warms the caches
        clock.advance(common.DUE_WITHIN)
        with common.profiled(profile) as prof, common.timed() as timer:
            for _ in range(repeats):
                await common.tick_once(application)
        async with services_of(application).sessions() as session:
            sent = await common.hellos_sent_since(session, population.now)
    common.check(errors)
    timer = common.Timer(timer.wall / repeats, timer.cpu / repeats, timer.main_cpu / repeats)
    text = common.hotspots(prof) + "\n" + common.cumulative_shares(prof, PROFILED) if prof else ""
    return timer, sent, text


# Where one tick's time goes, by step (cumulative main-thread CPU; sends run as tasks of their own,
# so they are not inside _process_batch).
PROFILED = [
    "schedules/hello.py:_process_batch",
    "schedules/hello.py:send",
    "telegram/_bot.py:send_message",
    "bot/fakeapi.py:do_request",
    "telegram/_message.py:de_json",
    "telegram/_telegramobject.py:to_dict",
    "bot/ratelimit.py:process_request",
    "schedules/hello.py:_message",
    "storage/repo.py:claim_due",
    "storage/repo.py:add_hello",
    "storage/repo.py:add_offer",
    "storage/repo.py:finish_claim",
    "storage/repo.py:last_offered",
    "storage/repo.py:pending_notes",
    "sqlalchemy/ext/asyncio/session.py:commit",
    "sqlalchemy/sql/compiler.py:__init__",
    "schedules/hello.py:after_sent",
    "schedules/hello.py:decide",
]


async def main(args: argparse.Namespace) -> None:
    common.quiet_logs()
    participants = 2_000 if args.quick else args.participants
    runs = 1 if args.quick else args.runs
    history = 2 if args.quick else args.history_days
    every = dt.timedelta(seconds=120) if args.quick else TICK
    print(f"fan-out: {participants:,} participants, {history} days of history, {runs} run(s); {common.machine()}")
    out: list[str] = []
    with tempfile.TemporaryDirectory(dir=args.tmp) as folder:
        templates = common.Templates(Path(folder))

        # 1. One tick by due rows and total rows.
        sizes = (1_000, 5_000) if args.quick else (10_000, 100_000)
        dues = (0, 100, 1_000) if args.quick else (0, 1_000, 10_000)
        small, large = sizes
        few, many = dues[1], dues[2]
        cpu: dict[tuple[int, int], float] = {}
        if "growth" in args.parts:
            results: dict[tuple[int, int], list[common.Timer]] = {}
            for _ in range(runs):
                for total in sizes:
                    for due in dues:
                        timer, got, _ = await tick_with_due(templates, total, due, history)
                        if got != due:
                            raise SystemExit(f"{due} due but {got} sent")
                        results.setdefault((total, due), []).append(timer)
            cpu.update({key: common.median([t.cpu for t in timers]) for key, timers in results.items()})
            rows = []
            for (total, due), timers in results.items():
                cpu_ms = [t.cpu * 1000 for t in timers]
                rows.append([f"{total:,}", f"{due:,}", common.spread(cpu_ms), common.spread([t.wall * 1000 for t in timers]),
                             common.fmt(common.median(cpu_ms) / due) if due else "–"])
            out.append(common.table(
                "One tick by due rows and stored rows",
                ["participants stored", "due", "tick CPU, ms", "tick wall, ms", "CPU ms per due hello"],
                rows,
            ))
            due_ratio = cpu[(large, many)] / cpu[(large, few)]
            total_ratio = cpu[(large, many)] / cpu[(small, many)]
            empty_ratio = cpu[(large, 0)] / cpu[(small, 0)]
            out.append(common.table(
                "Growth (ratios of median CPU times)",
                ["comparison", "ratio", "ideal", "target"],
                [
                    [f"{many:,} due / {few:,} due, {large:,} stored", f"{due_ratio:.2f}", f"{many / few:.0f}",
                     f"linear in due rows: {common.verdict(0.8 * many / few <= due_ratio <= 1.2 * many / few)}"],
                    [f"{large:,} stored / {small:,} stored, {many:,} due", f"{total_ratio:.2f}", "1",
                     f"flat in stored rows: {common.verdict(total_ratio <= 1.2)}"],
                    [f"{large:,} stored / {small:,} stored, nothing due", f"{empty_ratio:.2f}", "1",
                     f"flat in stored rows: {common.verdict(empty_ratio <= 1.2)}"],
                ],
            ))

        # 1b. The same tick with Telegram's answers canned: the bot's own CPU, without the fake's.
        if "bot-alone" in args.parts:
            per_hello: dict[str, list[float]] = {"fake": [], "canned": []}
            for _ in range(runs):
                for kind in per_hello:
                    timer, got, _ = await tick_with_due(templates, small, few, history, canned=kind == "canned")
                    if got != few:
                        raise SystemExit(f"{few} due but {got} sent")
                    per_hello[kind].append(timer.cpu / few * 1000)
            fake, alone = (common.median(per_hello[kind]) for kind in ("fake", "canned"))
            out.append(common.table(
                f"CPU per hello, one tick of {few:,} due among {small:,}: the fake Bot API's share (alternating runs)",
                ["Telegram's answers from", "CPU ms per hello", "target"],
                [
                    ["the fake Bot API (in this process, as above)", common.spread(per_hello["fake"]), ""],
                    ["a canned answer (the bot's own CPU)", common.spread(per_hello["canned"]),
                     f"< 1 ms: {common.verdict(alone < 1)}"],
                    ["the fake's share", f"{1 - alone / fake:.0%}", ""],
                ],
            ))

        # 2. A whole day of hellos.
        if "day" in args.parts:
            population = common.Population(total=participants, day_spread=True, history_days=history)
            days = [await one_day(templates, population, every) for _ in range(1 if args.quick else args.day_runs)]
            cpu_per_hello = [d.timer.cpu / d.sent * 1000 for d in days]
            queries, sent = days[0].queries, days[0].sent
            after_growth = []
            if cpu:  # what the one-tick measurements add: the day without its empty ticks, full batches
                marginal = [(d.timer.cpu - d.ticks * cpu[(large, 0)]) / d.sent * 1000 for d in days]
                batch = cpu[(large, many)] / many * 1000
                after_growth = [
                    ["CPU per hello without the empty ticks' share, ms", common.spread(marginal), ""],
                    [f"CPU per hello in full batches ({many:,} due at once), ms", common.fmt(batch),
                     f"< 1 ms: {common.verdict(batch < 1)}"],
                ]
            out.append(common.table(
                f"One day's hellos: {participants:,} participants, a tick every {every.total_seconds():.0f} s for 24 h",
                ["figure", "median (min–max)", "target"],
                [
                    ["hellos sent in the day", f"{sent:,} in {days[0].ticks:,} ticks", ""],
                    ["CPU time for the day, s", common.spread([d.timer.cpu for d in days]), ""],
                    ["wall time for the day, s", common.spread([d.timer.wall for d in days]), ""],
                    ["CPU per hello, ms (the day's CPU / hellos)", common.spread(cpu_per_hello),
                     f"< 1 ms: {common.verdict(common.median(cpu_per_hello) < 1)}"],
                    *after_growth,
                    ["share of CPU outside the main thread, %",
                     common.spread([d.timer.other_threads_cpu / d.timer.cpu * 100 for d in days]), ""],
                    ["database statements per hello (all ticks)", f"{queries.total / sent:.2f}", ""],
                    ["… by kind", ", ".join(f"{k} {v / sent:.2f}" for k, v in queries.kinds.most_common()), ""],
                ],
            ))
        if args.profile:
            _, _, text = await tick_with_due(templates, large, few if args.quick else 1_000, history, profile=True)
            print("\n### Profile: one tick sending the due hellos (cProfile, main-thread CPU time)\n")
            print(text)
    common.write(args.output, out)


if __name__ == "__main__":
    parser = common.arguments(__doc__, runs=3)
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--day-runs", type=int, default=3, help="runs of the whole day")
    parser.add_argument("--history-days", type=int, default=14, help="past hellos, offers, check-ins each")
    parser.add_argument("--parts", default="growth,bot-alone,day", help="which parts: growth (one tick by due and stored rows), bot-alone (the fake Bot API's share), day")
    parser.add_argument("--profile", action="store_true", help="also profile one tick with 1,000 due (cProfile)")
    asyncio.run(main(parser.parse_args()))
