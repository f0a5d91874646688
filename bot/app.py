"""The composition root: build the real Application from settings and the pieces it needs."""

from __future__ import annotations

import asyncio
import gc
import logging
import random

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import BotCommand, BotCommandScopeAllPrivateChats
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults
from telegram.request import BaseRequest

import handlers
from bot.config import Settings
from bot.content import TaskCatalog, load_crisis_detector, load_helplines
from bot.i18n import LANGUAGES, Catalogs
from bot.ratelimit import PacedRateLimiter
from bot.services import SERVICES_KEY, Context, Services
from bot.transport import AiohttpRequest
from bot.updates import ChatOrderedProcessor
from core.clock import Clock, SystemClock
from schedules.tick import schedule_tick
from storage.db import create_engine, migrate, session_factory

log = logging.getLogger("komorebi")


# Container allocations (net of frees) between two collections of the youngest generation; Python's
# default is 700. With 10,000 the collector runs some 14 times less often, and each run still sees
# only what the last few updates left; the older generations follow the same counts.
GC_YOUNG_THRESHOLD = 10_000


def settle_memory() -> None:
    """Once start-up is over, in a process that runs for long: what exists now (the modules, and the
    Application where it is built already) is kept out of the garbage collector's way, and the
    collector runs less often.

    The garbage collector's full collections walked every object the process holds, most of them
    made at start-up and alive until the end; ``gc.freeze()`` leaves those out of all later
    collections (Python's documented use of it). Together, in the simulation of 1,000 participants
    over 56 days: 13 full collections took 2.5 s and 4,700 in all 3.6 s; now 2 and 300, 1.7 s
    (bench/README.md)."""
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def paced(rate: float) -> PacedRateLimiter:
    """The limiter for a share of Telegram's limit: replies to people take each next slot before
    hellos and notices (bulk), which use every slot the replies leave."""
    return PacedRateLimiter(overall_rate=rate)


def build_application(
    settings: Settings,
    *,
    clock: Clock | None = None,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    rate_limiter: PacedRateLimiter | None = None,
    rng: random.Random | None = None,
    catalogs: Catalogs | None = None,
    tasks: TaskCatalog | None = None,
    engine: AsyncEngine | None = None,
    updater: bool = True,
) -> Application:
    """Everything wired together. Tests and `bot try` pass a fake Bot API and a fake clock."""
    if not settings.telegram_bot_token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token)
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.api_base_file_url)
        .context_types(ContextTypes(context=Context))
        .rate_limiter(rate_limiter or paced(settings.send_rate))
        .concurrent_updates(ChatOrderedProcessor(settings.concurrent_updates))
        .defaults(Defaults(link_preview_options=None))
        .post_init(on_startup)
        .post_shutdown(on_shutdown)
    )
    # Telegram over aiohttp unless told otherwise (bot/transport.py says why); long polling keeps
    # one connection of its own, as in PTB.
    builder = builder.request(request or AiohttpRequest()).get_updates_request(
        get_updates_request or AiohttpRequest(connection_pool_size=1)
    )
    if not updater:  # webhook mode: updates arrive through bot.webhook, not by polling
        builder = builder.updater(None)
    application = builder.build()
    engine = engine or create_engine(settings.database_url)
    application.bot_data[SERVICES_KEY] = Services(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        clock=clock or SystemClock(),
        catalogs=catalogs or Catalogs(),
        tasks=tasks or TaskCatalog(settings.tasks_dir),
        crisis=load_crisis_detector(),
        helplines=load_helplines(),
        rng=rng or random.Random(),
        writer_turns=asyncio.Lock() if engine.dialect.name == "sqlite" else None,
    )
    handlers.register(application)
    schedule_tick(application, settings.tick_seconds)
    return application


async def on_startup(application: Application) -> None:
    """Migrate the database and publish the command menu in both languages."""
    services: Services = application.bot_data[SERVICES_KEY]
    await migrate(services.engine)
    # One list per language, and the deployment's default language for everyone else.
    for language in (*LANGUAGES, None):
        t = services.catalogs[language or services.settings.default_language]
        commands = [BotCommand(name, t(f"command.{name}")) for name in handlers.COMMANDS]
        await application.bot.set_my_commands(
            commands, scope=BotCommandScopeAllPrivateChats(), language_code=language
        )


async def on_shutdown(application: Application) -> None:
    services: Services = application.bot_data[SERVICES_KEY]
    await services.engine.dispose()
