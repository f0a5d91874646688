"""Sending and editing text messages without building PTB objects the bot never reads.

``Bot.send_message`` serialises the buttons by walking every attribute of every PTB object and
turns Telegram's answer into a full ``Message`` (chat, sender, buttons and all). The bot only ever
needs the new message's id, and these two steps were the largest share of the CPU time of a hello
and of a reply (bench/README.md). :func:`send_text` writes the buttons directly and reads only the
id; :func:`edit_text` and :func:`edit_buttons` do the same for the edits a tapped button makes
(whose answer the bot never reads). All go through the same ``ExtBot`` pipeline, so the rate
limiter, retries, errors and the request layer are exactly those of PTB's own methods.
"""

from __future__ import annotations

import json
import operator
import warnings

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.warnings import PTBUserWarning

# Bot.do_api_request is used for methods PTB has its own functions for, on purpose; PTB warns
# about that at every call.
warnings.filterwarnings(
    "ignore", message=r"Please use 'Bot\.(sendMessage|editMessageText|editMessageReplyMarkup)'", category=PTBUserWarning
)

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


def _arguments(markup: InlineKeyboardMarkup | None, **arguments: object) -> dict[str, object]:
    """The call's arguments, with the buttons (if any) as the Bot API takes them."""
    buttons = markup_json(markup)
    if buttons is not None:
        arguments["reply_markup"] = buttons
    return arguments


async def send_text(
    bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None, *, bulk: bool = False
) -> int:
    """Send `text` (with `markup`) to `chat_id` and return the new message's id. `bulk` marks a
    scheduled message, which the rate limiter lets go after any reply that waits. Raises
    ``TelegramError`` as ``send_message`` does."""
    rate_limit_args = {"bulk": True} if bulk else None
    answer = await bot.do_api_request(  # type: ignore[call-arg]
        "sendMessage", _arguments(markup, chat_id=chat_id, text=text), rate_limit_args=rate_limit_args
    )
    return int(answer["message_id"])


async def edit_text(bot: Bot, chat_id: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Replace the words (and buttons: none if `markup` is None) of a message in `chat_id`. Raises
    ``TelegramError`` as ``edit_message_text`` does (``BadRequest`` for a message that is gone)."""
    await bot.do_api_request("editMessageText", _arguments(markup, chat_id=chat_id, message_id=message_id, text=text))


async def edit_buttons(bot: Bot, chat_id: int, message_id: int, markup: InlineKeyboardMarkup | None) -> None:
    """Replace a message's buttons (None takes them all off); its words stay. Raises
    ``TelegramError`` as ``edit_message_reply_markup`` does."""
    await bot.do_api_request("editMessageReplyMarkup", _arguments(markup, chat_id=chat_id, message_id=message_id))
