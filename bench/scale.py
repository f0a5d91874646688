"""Scale: resident memory and start-up time with 1,000, 10,000 and 100,000 participants stored,
the bot as built (one repeating tick, the schedule in an indexed column) beside the naive
alternative (one PTB JobQueue `run_daily` job per participant, created at start).

Each measurement is a process of its own, so its memory is its own: the child builds the real
Application on a seeded SQLite file against the in-process fake Bot API, starts it (migrations,
command menu, JobQueue) and, for the tick, runs the first tick; then it reports the time since it
began building and its resident memory (VmRSS and the peak VmHWM from /proc/self/status).
Imports are done before the clock starts and are the same for both.

    .venv/bin/python bench/scale.py           # 1k, 10k, 100k stored, 3 runs
    .venv/bin/python bench/scale.py --quick   # 1k, 10k stored, 1 run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import common
from bot.fakeapi import FakeBotAPI
from bot.services import services_of
from core.clock import FakeClock
from core.schedule import WINDOW_HOURS, Window
from sqlalchemy import select
from storage.models import Participant


def memory_kb() -> dict[str, int]:
    status = Path("/proc/self/status").read_text().splitlines()
    return {line.split(":")[0]: int(line.split()[1]) for line in status if line.startswith(("VmRSS", "VmHWM"))}


async def _hello(_context: object) -> None:
    """The naive per-participant job (never due within the measurement)."""


async def child(kind: str, database: Path) -> dict[str, float]:
    common.quiet_logs()
    before = memory_kb()["VmRSS"]
    started, started_cpu = time.perf_counter(), time.process_time()
    clock = FakeClock(common.NOW)
    application = common.komorebi(database, FakeBotAPI(clock=clock.now), clock, updater=False)
    jobs = 0
    async with common.running(application):
        if kind == "naive":
            async with services_of(application).sessions() as session:
                rows = (await session.execute(select(Participant.id, Participant.timezone, Participant.window))).all()
            for pid, zone, window in rows:
                at = WINDOW_HOURS[Window(window)][0].replace(tzinfo=ZoneInfo(zone))
                application.job_queue.run_daily(_hello, at, data=pid, name=f"hello-{pid}")
            jobs = len(rows)
        await application.start()
        if kind == "tick":
            await common.tick_once(application)
        seconds, cpu = time.perf_counter() - started, time.process_time() - started_cpu
        memory = memory_kb()
        await application.stop()
    return {"seconds": seconds, "cpu": cpu, "rss_mb": memory["VmRSS"] / 1024, "peak_mb": memory["VmHWM"] / 1024,
            "imports_mb": before / 1024, "jobs": jobs}


def measure(kind: str, database: Path) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--database", str(database)],
        capture_output=True, text=True, check=False, timeout=900,
    )
    if result.returncode != 0:
        raise SystemExit(f"the {kind} child failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


async def main(args: argparse.Namespace) -> None:
    sizes = (1_000, 10_000) if args.quick else (1_000, 10_000, 100_000)
    runs = 1 if args.quick else args.runs
    print(f"scale: {', '.join(f'{n:,}' for n in sizes)} stored, {runs} run(s); {common.machine()}")
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(dir=args.tmp) as folder:
        templates = common.Templates(Path(folder))
        for _ in range(runs):
            for total in sizes:
                population = common.Population(total=total)
                for kind in ("tick", "naive"):
                    database = await templates.copy(population, "scale")
                    results.setdefault((kind, total), []).append(measure(kind, database))
                    last = results[(kind, total)][-1]
                    print(f"  {kind} {total:,}: {last['seconds']:.2f} s, {last['rss_mb']:.0f} MB", flush=True)
    rows = []
    for (kind, total), found in results.items():
        label = "one tick (as built)" if kind == "tick" else "one run_daily job per participant"
        rows.append([label, f"{total:,}", common.spread([r["seconds"] for r in found]),
                     common.spread([r["cpu"] for r in found]),
                     common.spread([r["rss_mb"] for r in found]), common.spread([r["peak_mb"] for r in found])])
    small, large = sizes[0], sizes[-1]

    def growth(kind: str, key: str) -> float:
        return common.median([r[key] for r in results[(kind, large)]]) / common.median([r[key] for r in results[(kind, small)]])

    imports = common.median([r["imports_mb"] for found in results.values() for r in found])
    out = [common.table(
        "Start-up time and resident memory by participants stored (median (min–max) of the runs)",
        ["setup", "participants", "start-up, s", "start-up CPU, s", "RSS after start, MB", "peak RSS, MB"],
        rows,
    )]
    tick_time, tick_cpu, tick_rss = growth("tick", "seconds"), growth("tick", "cpu"), growth("tick", "rss_mb")
    out.append(common.table(
        f"Growth from {small:,} to {large:,} stored (ratio of medians; imports alone: {imports:.0f} MB)",
        ["setup", "start-up (wall)", "start-up (CPU)", "RSS", "target: neither grows (CPU and RSS within 15%)"],
        [
            ["one tick (as built)", f"{tick_time:.2f}", f"{tick_cpu:.2f}", f"{tick_rss:.2f}",
             common.verdict(tick_cpu <= 1.15 and tick_rss <= 1.15)],
            ["one job per participant", f"{growth('naive', 'seconds'):.1f}", f"{growth('naive', 'cpu'):.1f}",
             f"{growth('naive', 'rss_mb'):.2f}", "(for comparison)"],
        ],
    ))
    common.write(args.output, out)


if __name__ == "__main__":
    parser = common.arguments(__doc__, runs=3)
    parser.add_argument("--child", choices=("tick", "naive"), help=argparse.SUPPRESS)
    parser.add_argument("--database", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(asyncio.run(child(arguments.child, arguments.database))))
    else:
        asyncio.run(main(arguments))
