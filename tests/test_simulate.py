"""The simulation runs the real bot over weeks of virtual time and fails when a promise breaks."""

from __future__ import annotations

import io

import pytest

import core.backoff
from bot.simulate import simulate


async def test_a_small_simulation_keeps_every_promise() -> None:
    out = io.StringIO()
    assert await simulate(participants=12, days=21, seed=4, out=out) == 0
    report = out.getvalue()
    for persona in ("steady", "slow-starter", "fluctuating", "silent", "night owl", "pauses often"):
        assert persona in report
    assert "messages received per week (mean)" in report
    assert "OK: within the pressure budget" in report


async def test_a_broken_pressure_budget_fails_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the policy stopped slowing down, the simulation must notice and fail."""
    monkeypatch.setattr("schedules.hello.min_gap_days", lambda *_args: 1)
    monkeypatch.setattr("schedules.hello.in_door_phase", lambda *_args: False)
    out = io.StringIO()
    assert await simulate(participants=6, days=21, seed=4, out=out) == 1
    assert "FAILED" in out.getvalue() and "silent participant" in out.getvalue()
    assert core.backoff.BUDGET.week_1_max == 4  # the promise itself was untouched
