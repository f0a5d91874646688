"""Telegram updates, by feature. :func:`register` wires them into an Application in a fixed order."""

from __future__ import annotations

from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from handlers import checkin, help as help_, onboarding, pause, progress, tasks
from handlers.base import Out, Turn, handler
from handlers.errors import on_error
from handlers.onboarding import AWAITING_TIMEZONE

PRIVATE = filters.ChatType.PRIVATE
# Everything else a person can send (stickers, photos, voice, files...): thanked, counted, never kept.
OTHER_MESSAGES = PRIVATE & filters.UpdateType.MESSAGE & ~filters.TEXT & ~filters.StatusUpdate.ALL

COMMANDS = ("start", "task", "progress", "settings", "pause", "resume", "stop", "help")


async def _plain_text(turn: Turn) -> list[Out]:
    participant = turn.participant
    if participant is not None and participant.awaiting == AWAITING_TIMEZONE:
        return await onboarding.typed_timezone(turn)
    return await checkin.text(turn)


def register(application: Application) -> None:
    add = application.add_handler
    add(CommandHandler("start", handler(onboarding.start, create=True), filters=PRIVATE))
    add(CommandHandler("settings", handler(onboarding.settings_command), filters=PRIVATE))
    add(CommandHandler("progress", handler(progress.progress_command), filters=PRIVATE))
    add(CommandHandler("task", handler(tasks.task_command), filters=PRIVATE))
    add(CommandHandler("pause", handler(pause.pause_command), filters=PRIVATE))
    add(CommandHandler("resume", handler(pause.resume_command), filters=PRIVATE))
    add(CommandHandler("stop", handler(pause.stop_command), filters=PRIVATE))
    add(CommandHandler("help", handler(help_.help_command), filters=PRIVATE))

    add(CallbackQueryHandler(handler(onboarding.consent), pattern=r"^c:"))
    add(CallbackQueryHandler(handler(onboarding.summary_answer), pattern=r"^s:"))
    add(CallbackQueryHandler(handler(onboarding.settings_answer), pattern=r"^set:"))
    add(CallbackQueryHandler(handler(checkin.hello_button), pattern=r"^h:"))
    add(CallbackQueryHandler(handler(checkin.sample_button), pattern=r"^sample:"))
    add(CallbackQueryHandler(handler(tasks.task_button), pattern=r"^t:"))
    add(CallbackQueryHandler(handler(tasks.rating_button), pattern=r"^r:"))
    add(CallbackQueryHandler(handler(tasks.step_up_button), pattern=r"^e:"))
    add(CallbackQueryHandler(handler(pause.pause_choice), pattern=r"^p:"))
    add(CallbackQueryHandler(handler(help_.stale_button)))

    add(MessageHandler(PRIVATE & filters.COMMAND, handler(help_.unknown_command)))
    add(MessageHandler(PRIVATE & filters.UpdateType.MESSAGE & filters.TEXT, handler(_plain_text)))
    add(MessageHandler(OTHER_MESSAGES, handler(checkin.media)))

    application.add_error_handler(on_error)
