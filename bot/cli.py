"""The command line: `python -m bot run | migrate | try | simulate | admin`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from pydantic import ValidationError

from bot.config import Settings
from bot.content import ContentError

NO_TOKEN = """\
Komorebi needs a Telegram bot token to talk to Telegram.

  1. In Telegram, open a chat with @BotFather and send /newbot.
  2. Choose a name and a username; BotFather answers with a token like 123456:ABC-DEF...
  3. Put it in a file named .env next to the Makefile:
         TELEGRAM_BOT_TOKEN=123456:ABC-DEF...
     (or export TELEGRAM_BOT_TOKEN in your shell), then run `make run` again.

To try the bot without Telegram or a token, chat with it in this terminal:

  make try          (or: .venv/bin/python -m bot try)
"""


# Libraries that would log what people wrote, who they are, or the token, and the least level each
# may log at, whatever KOMOREBI_LOG_LEVEL says:
QUIET_LIBRARIES = {
    "telegram": logging.INFO,  # at DEBUG: whole updates and API parameters (texts, names), the token URL
    "httpx": logging.WARNING,  # at INFO: every request URL, which holds the token
    "httpcore": logging.WARNING,
    "aiohttp": logging.WARNING,  # the bot's transport (bot/transport.py); its DEBUG log has connection details
    "sqlalchemy": logging.WARNING,  # at INFO: every SQL statement with its parameters
    "aiosqlite": logging.WARNING,  # at DEBUG: every statement with its parameters
    "asyncpg": logging.WARNING,
    "apscheduler": logging.WARNING,  # at INFO: every run of the tick
    # At WARNING, every 20 s while a long send runs: "skipped: maximum number of running instances"
    # (one tick at a time is the design, see schedules/tick.py).
    "apscheduler.scheduler": logging.ERROR,
    "uvicorn.access": logging.WARNING,  # at INFO: every request line
}


CONTENT_HELP = "Fix the file named above (content/README.md describes it), then start again."


NO_WEBHOOK = """\
Webhook mode needs two more settings (in the environment or .env):

  KOMOREBI_WEBHOOK_URL=https://your.host/telegram   the public HTTPS address Telegram posts to
  KOMOREBI_WEBHOOK_SECRET=...                        1-256 characters of A-Z, a-z, 0-9, _ and -

The bot listens on KOMOREBI_WEBHOOK_LISTEN:KOMOREBI_WEBHOOK_PORT (default 0.0.0.0:8080); put a
TLS-terminating proxy in front of it.
"""


def configure_logging(level: str) -> None:
    """Log to standard error. Never below INFO for the libraries that would log what people wrote."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for name, floor in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(max(floor, logging.getLogger().level))


def _load_settings() -> Settings | None:
    try:
        return Settings()
    except ValidationError as exc:
        print("The configuration is not valid:", file=sys.stderr)
        for error in exc.errors():
            name = error["loc"][0] if error["loc"] else "?"
            print(f"  {name}: {error['msg']}", file=sys.stderr)
        return None


def _run(args: argparse.Namespace) -> int:
    settings = _load_settings()
    if settings is None:
        return 2
    if not settings.telegram_bot_token:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    from telegram import Update

    from bot.app import build_application, settle_memory

    if args.webhook:
        if not settings.webhook_url or not settings.webhook_secret:
            print(NO_WEBHOOK, file=sys.stderr)
            return 2
        import uvicorn

        from bot.webhook import create_web_app

        application = build_application(settings, updater=False)
        web = create_web_app(application)
        settle_memory()
        uvicorn.run(web, host=settings.webhook_listen, port=settings.webhook_port, log_config=None)
        return 0
    application = build_application(settings)
    settle_memory()
    logging.getLogger("komorebi").info("starting with long polling")
    application.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    settings = _load_settings()
    if settings is None:
        return 2
    configure_logging(settings.log_level)
    from storage.db import create_engine, migrate

    async def run() -> None:
        engine = create_engine(settings.database_url)
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    return 0


def _try(args: argparse.Namespace) -> int:
    settings = _load_settings()
    if settings is None:
        return 2
    from bot.trychat import run_try

    return asyncio.run(run_try(settings, database=args.database, language=args.language))


def _simulate(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    from bot.app import settle_memory
    from bot.simulate import simulate

    settle_memory()
    return asyncio.run(simulate(args.participants, args.days, args.seed))


def _admin(args: argparse.Namespace) -> int:
    settings = _load_settings()
    if settings is None:
        return 2
    configure_logging("WARNING")
    from bot.admin import run_admin

    return asyncio.run(run_admin(settings, args))


def _admin_parser(commands: argparse._SubParsersAction) -> None:
    admin = commands.add_parser(
        "admin", help="coordinators' tools: volunteer codes, group activities, figures (no Telegram needed)"
    )
    admin.add_argument("--language", choices=("ja", "en"), help="language of the output (default: KOMOREBI_DEFAULT_LANGUAGE)")
    tools = admin.add_subparsers(dest="tool", required=True, metavar="TOOL")
    tools.add_parser("code", help="issue a single-use volunteer code (valid for 7 days)")
    tools.add_parser("volunteers", help="list volunteers by number, with their kind words this week")
    revoke = tools.add_parser("revoke", help="end a volunteer's place (their undelivered kind words are withdrawn)")
    revoke.add_argument("volunteer", type=int, help="the volunteer's number, from `admin volunteers`")
    tools.add_parser("activities", help="list upcoming group activities with their numbers")
    for name, what in (("add", "plan a group activity"), ("edit", "change a group activity (all fields)")):
        form = tools.add_parser(f"activity-{name}", help=what)
        if name == "edit":
            form.add_argument("activity", type=int, help="the activity's number, from `admin activities`")
        form.add_argument("--at", required=True, help='local time in KOMOREBI_DEFAULT_TIMEZONE, "YYYY-MM-DD HH:MM"')
        form.add_argument("--title", required=True)
        form.add_argument("--place", required=True, help="a place, or an online link")
        form.add_argument("--capacity", required=True, help="how many can come")
        form.add_argument("--level", required=True, help="the lowest step (0-5) it is offered from")
    cancel = tools.add_parser("activity-cancel", help="cancel a group activity; everyone who answered is told")
    cancel.add_argument("activity", type=int)
    tools.add_parser("figures", help='aggregate figures for the last 28 days (counts below 5 shown as "<5")')
    admin.set_defaults(func=_admin)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m bot", description="Komorebi, a gentle check-in bot for Telegram.")
    commands = root.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the bot with long polling (needs TELEGRAM_BOT_TOKEN)")
    run.add_argument(
        "--webhook",
        action="store_true",
        help="take updates by webhook instead (needs KOMOREBI_WEBHOOK_URL and KOMOREBI_WEBHOOK_SECRET)",
    )
    run.set_defaults(func=_run)
    migrate = commands.add_parser("migrate", help="bring the database schema up to date, then exit")
    migrate.set_defaults(func=_migrate)
    trying = commands.add_parser("try", help="chat with the real bot in this terminal, no Telegram needed")
    trying.add_argument("--database", default="data/try.db", help="SQLite file for the try-out (default: %(default)s)")
    trying.add_argument("--language", choices=("ja", "en"), default="en", help="your Telegram language (default: %(default)s)")
    trying.set_defaults(func=_try)
    sim = commands.add_parser(
        "simulate", help="simulated participants over weeks of virtual time; fails if the pressure budget breaks"
    )
    sim.add_argument("--participants", type=int, default=1000, help="how many (default: %(default)s)")
    sim.add_argument("--days", type=int, default=56, help="virtual days (default: %(default)s)")
    sim.add_argument("--seed", type=int, default=1, help="random seed, for a repeatable run (default: %(default)s)")
    sim.set_defaults(func=_simulate)
    _admin_parser(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except ContentError as exc:  # a broken file under content/: its name and line, no traceback
        print(f"The content is not valid:\n  {exc}\n{CONTENT_HELP}", file=sys.stderr)
        return 2
