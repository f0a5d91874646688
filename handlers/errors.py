"""One error handler: log what broke (never what anyone wrote), and reassure the person."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, TelegramError

from bot.i18n import guess_language
from bot.services import Context

log = logging.getLogger("komorebi.errors")


async def on_error(update: object, context: Context) -> None:
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    # Only the type, the update id and the traceback: no message text, names or usernames.
    log.error("error while handling update %s: %s", update_id, type(error).__name__, exc_info=error)
    if not isinstance(update, Update) or update.effective_chat is None or isinstance(error, Forbidden):
        return
    services = context.services
    user = update.effective_user
    language = guess_language(user.language_code if user else None, services.settings.default_language)
    t = services.catalogs[language]
    try:
        if update.callback_query is not None:
            await update.callback_query.answer()
        await context.bot.send_message(update.effective_chat.id, t("error.generic"))
    except TelegramError as exc:
        log.warning("could not tell the person about the error: %s", type(exc).__name__)
