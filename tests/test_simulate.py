"""The simulation runs the real bot over weeks of virtual time and fails when a promise breaks."""

from __future__ import annotations

import io
import re

import pytest

import core.backoff
from bot.simulate import PERSONAS, simulate
from storage.models import Participant


async def test_a_small_simulation_keeps_every_promise() -> None:
    out = io.StringIO()
    assert await simulate(participants=12, days=21, seed=4, out=out) == 0
    report = out.getvalue()
    for persona in ("steady", "slow-starter", "fluctuating", "silent", "night owl", "pauses often"):
        assert persona in report
    assert "messages received per week (mean)" in report
    assert "OK: within the pressure budget" in report


async def test_the_report_shows_each_personas_level_week_by_week() -> None:
    out = io.StringIO()
    assert await simulate(participants=12, days=17, seed=4, out=out) == 0
    lines = out.getvalue().splitlines()
    title = next(i for i, line in enumerate(lines) if line.startswith("level at the end of each week (mean"))
    header, *rows = lines[title + 1 : title + 8]
    assert header.split() == ["persona", "n", "w1", "w2", "w3"]  # the last, shorter week too
    assert [row.split()[-4] for row in rows] == ["2"] * 6  # n, then a mean level for each week
    assert all(0 <= float(value) <= 5 for row in rows for value in row.split()[-3:])
    # Where each persona ended is where its "Yes" and quiet steps back took it, from 0.
    totals = next(i for i, line in enumerate(lines) if line.startswith("persona        check-ins"))
    moves = {" ".join(line.split()[:-4]): line.split() for line in lines[totals + 1 : totals + 7]}
    ended = {" ".join(row.split()[:-4]): float(row.split()[-1]) for row in rows}
    assert ended == {name: (int(m[-2]) - int(m[-1])) / 2 for name, m in moves.items()}
    assert any(ended.values())  # this seed does climb


def break_the_pressure_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """The policy stops slowing down: a hello every day, however long nobody answers."""
    monkeypatch.setattr("schedules.hello.min_gap_days", lambda *_args: 1)
    monkeypatch.setattr("schedules.hello.in_door_phase", lambda *_args: False)


async def test_a_broken_pressure_budget_fails_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the policy stopped slowing down, the simulation must notice and fail."""
    break_the_pressure_budget(monkeypatch)
    out = io.StringIO()
    assert await simulate(participants=6, days=21, seed=4, out=out) == 1
    assert "FAILED" in out.getvalue() and "silent participant" in out.getvalue()
    assert core.backoff.BUDGET.week_1_max == 4  # the promise itself was untouched


async def test_a_step_up_without_a_yes_fails_the_run_even_when_a_step_back_hides_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Twice, a rise nobody said "Yes" to, each undone by a quiet step back a day or two later: the
    level is back where it was, but two steps up happened (a step back is no "Yes" for the next one)
    and the run must fail."""
    done: dict[int, int] = {}

    async def rise_then_fall(_turn: object, participant: Participant) -> list[object]:
        done[participant.chat_id] = done.get(participant.chat_id, 0) + 1
        if done[participant.chat_id] <= 4:
            participant.level += 1 if done[participant.chat_id] % 2 else -1
        return []

    monkeypatch.setattr("handlers.tasks._maybe_offer_step_up", rise_then_fall)
    out = io.StringIO()
    assert await simulate(participants=1, days=7, seed=4, out=out) == 1
    report = out.getvalue()
    assert done[1000000] >= 4
    assert "FAILED: 2 problems" in report
    assert report.count("participant 1000000: level 0 → 1 with 0 'Yes' to a step-up offer") == 2


async def test_the_pressure_budget_holds_for_people_who_do_answer_now_and_then(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without anyone who never answers, a broken policy still shows: someone who answers only
    sometimes gets too much between two replies, counted from the first message after a reply."""
    break_the_pressure_budget(monkeypatch)
    monkeypatch.setattr("bot.simulate.PERSONAS", tuple(p for p in PERSONAS if p.name != "silent"))
    out = io.StringIO()
    assert await simulate(participants=5, days=14, seed=4, out=out) == 1
    report = out.getvalue()
    assert "FAILED" in report and "silent" not in report
    assert re.search(r"participant \d+, quiet from [-0-9]+: week 1: [5-7] messages \(at most 4\)", report)
