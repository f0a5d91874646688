"""One error handler: log what broke (never what anyone wrote), and reassure the person."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, TelegramError

from bot.i18n import guess_language
from bot.services import Context, Services
from storage import repo

log = logging.getLogger("komorebi.errors")


async def _language(services: Services, update: Update) -> str:
    """The person's chosen language if the database can tell (it may be what failed), else a guess."""
    try:
        async with services.sessions() as session:
            participant = await repo.participant_by_chat(session, update.effective_chat.id)
        if participant is not None and participant.language:
            return participant.language
    except Exception as exc:  # noqa: BLE001 - any failure here only means falling back to the guess
        log.info("language lookup failed while handling an error: %s", type(exc).__name__)
    user = update.effective_user
    return guess_language(user.language_code if user else None, services.settings.default_language)


async def on_error(update: object, context: Context) -> None:
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    # Only the type, the update id and the traceback: no message text, names or usernames.
    log.error("error while handling update %s: %s", update_id, type(error).__name__, exc_info=error)
    if isinstance(error, TelegramError):
        context.services.metrics.telegram_errors.labels(type(error).__name__).inc()
    if not isinstance(update, Update) or update.effective_chat is None or isinstance(error, Forbidden):
        return
    services = context.services
    t = services.catalogs[await _language(services, update)]
    try:
        if update.callback_query is not None:
            await update.callback_query.answer()
        await context.bot.send_message(update.effective_chat.id, t("error.generic"))
    except TelegramError as exc:
        log.warning("could not tell the person about the error: %s", type(exc).__name__)
