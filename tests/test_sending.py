"""bot/sending.py: a text message sent without building PTB objects, through the same pipeline
(rate limiter, flood control, errors) as ``Bot.send_message``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from telegram import CopyTextButton, InlineKeyboardButton, InlineKeyboardMarkup, LoginUrl
from telegram.error import BadRequest, Forbidden
from telegram.ext import Application, ApplicationBuilder

from bot.fakeapi import FakeBotAPI
from bot.ratelimit import PacedRateLimiter
from bot.sending import edit_buttons, edit_text, markup_json, send_text
from tests.test_ratelimit import FakeSleep, ignore_retry_after_deprecation

CHAT = 424242

PLAIN = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton("I'm here", callback_data="h:20260302:here"), InlineKeyboardButton("いいえ", callback_data="x")],
        [InlineKeyboardButton("Helpline", url="https://example.org/help")],
    ]
)


@pytest.mark.parametrize(
    "markup",
    [
        PLAIN,
        InlineKeyboardMarkup([]),
        InlineKeyboardMarkup([[InlineKeyboardButton("copy", copy_text=CopyTextButton("a code"))]]),
        InlineKeyboardMarkup([[InlineKeyboardButton("log in", login_url=LoginUrl("https://example.org"))], [PLAIN.inline_keyboard[0][0]]]),
    ],
    ids=["plain", "empty", "copy-text", "login-and-plain"],
)
def test_buttons_are_written_as_ptb_writes_them(markup: InlineKeyboardMarkup) -> None:
    assert json.loads(markup_json(markup)) == json.loads(markup.to_json())


def test_no_buttons_no_markup() -> None:
    assert markup_json(None) is None


@pytest.fixture
async def app() -> AsyncIterator[Application]:
    application = (
        ApplicationBuilder()
        .token("123:ABC")
        .request(FakeBotAPI())
        .get_updates_request(FakeBotAPI())
        .rate_limiter(PacedRateLimiter(sleep=FakeSleep()))
        .updater(None)
        .build()
    )
    await application.initialize()
    yield application
    await application.shutdown()


def api_of(application: Application) -> FakeBotAPI:
    return application.bot.request  # type: ignore[return-value]


async def test_a_message_arrives_with_its_buttons_and_its_id_comes_back(app: Application) -> None:
    first = await send_text(app.bot, CHAT, "hello", PLAIN)
    second = await send_text(app.bot, CHAT, "again", bulk=True)

    api = api_of(app)
    shown = api.messages(CHAT)
    assert [m.message_id for m in shown] == [first, second] and first != second
    assert [m.text for m in shown] == ["hello", "again"]
    assert [[b.text for b in row] for row in shown[0].buttons] == [["I'm here", "いいえ"], ["Helpline"]]
    assert shown[0].buttons[0][0].callback_data == "h:20260302:here"
    assert shown[1].buttons == []


@ignore_retry_after_deprecation
async def test_flood_control_is_waited_out_as_for_send_message(app: Application) -> None:
    api = api_of(app)
    api.inject_flood("sendMessage", retry_after=3, times=1)

    await send_text(app.bot, CHAT, "hello", bulk=True)

    assert [c.status for c in api.calls_to("sendMessage")] == [429, 200]
    assert [m.text for m in api.messages(CHAT)] == ["hello"]


async def test_errors_reach_the_caller(app: Application) -> None:
    api_of(app).inject("sendMessage", 403, "Forbidden: bot was blocked by the user")

    with pytest.raises(Forbidden):
        await send_text(app.bot, CHAT, "hello")


async def test_edits_change_the_words_and_the_buttons_of_that_message_only(app: Application) -> None:
    first = await send_text(app.bot, CHAT, "hello", PLAIN)
    second = await send_text(app.bot, CHAT, "again", PLAIN)
    keep = InlineKeyboardMarkup([PLAIN.inline_keyboard[1]])

    await edit_buttons(app.bot, CHAT, first, keep)
    await edit_text(app.bot, CHAT, second, "edited")  # no markup: the buttons go

    first_now, second_now = api_of(app).messages(CHAT)
    assert first_now.text == "hello" and [[b.text for b in row] for row in first_now.buttons] == [["Helpline"]]
    assert second_now.text == "edited" and second_now.buttons == []
    await edit_buttons(app.bot, CHAT, first, None)
    assert api_of(app).messages(CHAT)[0].buttons == []
    await edit_text(app.bot, CHAT, first, "with buttons", PLAIN)
    assert api_of(app).messages(CHAT)[0].button_texts == ["I'm here", "いいえ", "Helpline"]


async def test_an_edit_of_a_message_that_is_gone_raises_as_ptb_does(app: Application) -> None:
    with pytest.raises(BadRequest, match="not found"):
        await edit_text(app.bot, CHAT, 999, "edited")
    with pytest.raises(BadRequest, match="not found"):
        await edit_buttons(app.bot, CHAT, 999, None)
