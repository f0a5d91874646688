"""Shared fixtures: a migrated database on SQLite (always) and PostgreSQL (when configured), a
fake clock, and the real Application driven through an in-process fake Bot API."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.clock import FakeClock
from storage.db import create_engine, migrate
from storage.models import Base
from tests.harness import Harness

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
SKIP_POSTGRES = "TEST_DATABASE_URL is not set: PostgreSQL runs of storage and scheduler tests are skipped"


def pytest_report_header(config: pytest.Config) -> str:
    if POSTGRES_URL:
        return "databases: SQLite and PostgreSQL (TEST_DATABASE_URL)"
    return f"databases: SQLite only; {SKIP_POSTGRES}"


def _run_apart(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run set-up work on a loop of its own (session fixtures may be first asked for inside a test's loop)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coroutine).result()


def _pg_engine(schema: str) -> AsyncEngine:
    assert POSTGRES_URL
    return create_engine(POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}})


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for every test (migrating once keeps the suite quick)."""
    path = tmp_path_factory.mktemp("db") / "template.db"

    async def build() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await migrate(engine)
        await engine.dispose()

    _run_apart(build())
    return path


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str]:
    """A schema of this run's own on the shared PostgreSQL, migrated once and dropped at the end."""
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    schema = f"komorebi_test_{uuid.uuid4().hex[:12]}"

    async def run(statement: str, then_migrate: bool) -> None:
        admin = create_engine(POSTGRES_URL)
        async with admin.begin() as connection:
            await connection.execute(text(statement))
        await admin.dispose()
        if then_migrate:
            engine = _pg_engine(schema)
            await migrate(engine)
            await engine.dispose()

    _run_apart(run(f'CREATE SCHEMA "{schema}"', then_migrate=True))
    yield schema
    _run_apart(run(f'DROP SCHEMA "{schema}" CASCADE', then_migrate=False))


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def engine(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A migrated, empty database of the parametrised backend."""
    if backend == "sqlite":
        path = tmp_path / "komorebi.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
    else:
        schema = request.getfixturevalue("postgres_schema")
        engine = _pg_engine(schema)
        tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield engine
    await engine.dispose()


@pytest.fixture
async def sqlite_engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """SQLite only, for what is particular to it."""
    path = tmp_path / "komorebi.db"
    shutil.copy(request.getfixturevalue("sqlite_template"), path)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    yield engine
    await engine.dispose()


# A Monday morning in Tokyo; tests move the clock from here.
START = dt.datetime(2026, 3, 2, 0, 30, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def bot(engine: AsyncEngine, clock: FakeClock) -> AsyncIterator[Harness]:
    """The real Application through the fake Bot API, on each backend (SQLite, and PostgreSQL
    when configured): every conversation test is also a storage and scheduler test."""
    async with Harness.started(engine, clock) as harness:
        yield harness
