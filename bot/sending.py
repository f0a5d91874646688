"""Sending a text message without building PTB objects the bot never reads.

``Bot.send_message`` serialises the buttons by walking every attribute of every PTB object and
turns Telegram's answer into a full ``Message`` (chat, sender, buttons and all). The bot only ever
needs the new message's id, and these two steps were the largest share of the CPU time of a hello
and of a reply (bench/README.md). :func:`send_text` writes the buttons directly and reads only the
id; it goes through the same ``ExtBot`` pipeline, so the rate limiter, retries, errors and the
request layer are exactly those of ``send_message``.
"""

from __future__ import annotations

import json
import operator
import warnings

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.warnings import PTBUserWarning

# Bot.do_api_request is used for a method PTB has its own function for, on purpose; PTB warns
# about that at every call.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.sendMessage'", category=PTBUserWarning)

# The button fields written here; a button with any other is serialised by PTB instead.
_PLAIN_BUTTON = ("text", "url", "callback_data")
_OTHER_BUTTON_FIELDS = operator.attrgetter(*(name for name in InlineKeyboardButton.__slots__ if name not in _PLAIN_BUTTON))
_NONE_BUT_PLAIN = (None,) * (len(InlineKeyboardButton.__slots__) - len(_PLAIN_BUTTON))


def _wire_button(button: InlineKeyboardButton) -> dict[str, object] | None:
    """A button as the Bot API takes it, or None if it has fields beyond the plain ones."""
    if _OTHER_BUTTON_FIELDS(button) != _NONE_BUT_PLAIN:
        return None
    return {name: value for name in _PLAIN_BUTTON if (value := getattr(button, name)) is not None}


def markup_json(markup: InlineKeyboardMarkup | None) -> str | None:
    """The buttons as the Bot API takes them (the same JSON as PTB's ``to_json``)."""
    if markup is None:
        return None
    if not markup.inline_keyboard:
        return markup.to_json()  # PTB's own way with an empty keyboard
    rows = []
    for row in markup.inline_keyboard:
        buttons = [_wire_button(button) for button in row]
        if None in buttons:
            return markup.to_json()
        rows.append(buttons)
    return json.dumps({"inline_keyboard": rows})


async def send_text(
    bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None, *, bulk: bool = False
) -> int:
    """Send `text` (with `markup`) to `chat_id` and return the new message's id. `bulk` puts it in
    the rate limiter's lane for scheduled messages. Raises ``TelegramError`` as ``send_message`` does."""
    arguments: dict[str, object] = {"chat_id": chat_id, "text": text}
    buttons = markup_json(markup)
    if buttons is not None:
        arguments["reply_markup"] = buttons
    rate_limit_args = {"bulk": True} if bulk else None
    answer = await bot.do_api_request("sendMessage", arguments, rate_limit_args=rate_limit_args)  # type: ignore[call-arg]
    return int(answer["message_id"])
