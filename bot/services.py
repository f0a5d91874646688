"""What every handler and tick needs, built once by the composition root and kept in `bot_data`."""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from telegram.ext import Application, CallbackContext, ExtBot

from bot.config import Settings
from bot.content import TaskCatalog
from bot.i18n import Catalogs
from bot.metrics import Metrics
from core.clock import Clock
from core.crisis import CrisisDetector

SERVICES_KEY = "komorebi.services"


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker
    clock: Clock
    catalogs: Catalogs
    tasks: TaskCatalog
    crisis: CrisisDetector
    helplines: dict[str, str]
    rng: random.Random = field(default_factory=random.Random)
    metrics: Metrics = field(default_factory=Metrics)
    # SQLite has one writer: updates handled side by side take turns for their (short) transaction
    # here, in asyncio, instead of in SQLite's busy-wait, which a burst can outlast.
    writer_turns: asyncio.Lock | None = None

    def one_writer(self) -> contextlib.AbstractAsyncContextManager[object]:
        return self.writer_turns if self.writer_turns is not None else contextlib.nullcontext()


class Context(CallbackContext[ExtBot, dict, dict, dict]):
    """PTB's context with typed access to the services."""

    @property
    def services(self) -> Services:
        return self.application.bot_data[SERVICES_KEY]


def services_of(application: Application) -> Services:
    return application.bot_data[SERVICES_KEY]
