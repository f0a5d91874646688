"""Where the simulation's time goes: `python -m bot simulate` under cProfile (main-thread CPU).

The simulation itself is the bot's code (bot/simulate.py); this only runs it smaller and
profiled, so its hotspots can be named. Issue #3 wants 1,000 participants × 56 days in under a
minute of CPU on one core.

    .venv/bin/python bench/simulation_profile.py            # 300 participants × 14 days
    .venv/bin/python bench/simulation_profile.py --quick    # 60 participants × 7 days
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import common
from bot.simulate import simulate

# Cumulative main-thread CPU under each: the simulation's own bookkeeping against the bot's work.
PROFILED = [
    "bot/simulate.py:run",
    "bot/simulate.py:onboard",
    "bot/simulate.py:act",
    "bot/simulate.py:tap",
    "bot/simulate.py:level",
    "bot/simulate.py:snapshot_levels",
    "schedules/hello.py:run_tick",
    "telegram/ext/_application.py:process_update",
    "handlers/base.py:run",
    "handlers/tasks.py:task_button",
    "handlers/checkin.py:hello_button",
    "storage/repo.py:participant_by_chat",
    "sqlalchemy/ext/asyncio/session.py:execute",
    "sqlalchemy/ext/asyncio/session.py:commit",
    "bot/fakeapi.py:press",
    "bot/fakeapi.py:do_request",
    "telegram/_bot.py:_post",
    "telegram/_update.py:de_json",
]


def main(args: Any) -> None:
    common.quiet_logs()
    participants, days = (60, 7) if args.quick else (args.participants, args.days)
    report = io.StringIO()
    with common.profiled() as prof, common.timed() as timer:
        asyncio.run(simulate(participants, days, seed=1, out=report))
    print(f"simulation: {participants} participants × {days} days, {timer.cpu:.1f} s CPU under cProfile; "
          f"{common.machine()}\n")
    print(common.hotspots(prof, top=20))
    print(common.cumulative_shares(prof, PROFILED))


if __name__ == "__main__":
    parser = common.arguments(__doc__, runs=1)  # one profiled run; --runs, --tmp and --output are ignored
    parser.add_argument("--participants", type=int, default=300)
    parser.add_argument("--days", type=int, default=14)
    main(parser.parse_args())
