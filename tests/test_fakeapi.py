"""The in-process fake Bot API, driven through a real PTB Application."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)
from telegram.error import (
    BadRequest,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    TimedOut,
)
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, CommandHandler

from bot.fakeapi import (
    ApiCall,
    Button,
    CallbackAnswer,
    FakeBotAPI,
    callback_update,
    edited_text_update,
    photo_update,
    sticker_update,
    text_update,
    voice_update,
)
from bot.ratelimit import PacedRateLimiter

CHAT = 42
START = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)


async def _no_sleep(seconds: float) -> None:
    return None


@dataclass
class Harness:
    app: Application
    api: FakeBotAPI
    updates: FakeBotAPI


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    api = FakeBotAPI(clock=lambda: START)
    updates = FakeBotAPI()
    app = (
        ApplicationBuilder()
        .token("123:ABC")
        .request(api)
        .get_updates_request(updates)
        .rate_limiter(PacedRateLimiter(overall_rate=1000, bulk_rate=1000, sleep=_no_sleep))
        .updater(None)
        .build()
    )
    async with app:
        yield Harness(app, api, updates)


def keyboard(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


# ---------------------------------------------------------------------- basics


async def test_initialize_calls_get_me(h: Harness) -> None:
    assert h.api.calls[0] == ApiCall(method="getMe", params={}, files={}, status=200)
    assert h.app.bot.username == "komorebi_test_bot"
    assert h.app.bot.id == 1
    assert h.app.bot.bot.can_join_groups is True


async def test_send_returns_full_message(h: Harness) -> None:
    message = await h.app.bot.send_message(CHAT, "hello", reply_markup=keyboard([("Yes", "y")]))

    assert message.message_id == 1
    assert message.chat.id == CHAT
    assert message.chat.type == "private"
    assert message.chat.first_name == "Test"
    assert message.from_user is not None and message.from_user.is_bot
    assert message.text == "hello"
    assert message.date == START
    assert message.reply_markup == keyboard([("Yes", "y")])


async def test_message_ids_increment_per_chat(h: Harness) -> None:
    ids = [
        (await h.app.bot.send_message(chat, "x")).message_id for chat in (CHAT, CHAT, 7, CHAT)
    ]
    assert ids == [1, 2, 1, 3]


async def test_send_edit_answer_are_recorded_and_visible(h: Harness) -> None:
    bot = h.app.bot
    sent = await bot.send_message(CHAT, "How are you?", reply_markup=keyboard([("Fine", "f")]))
    await bot.edit_message_text(
        "How are you today?",
        chat_id=CHAT,
        message_id=sent.message_id,
        reply_markup=keyboard([("Fine", "f"), ("Tired", "t")], [("Skip", "s")]),
    )
    await bot.answer_callback_query("cq-1", text="Noted")
    await bot.edit_message_reply_markup(
        chat_id=CHAT, message_id=sent.message_id, reply_markup=keyboard([("Done", "d")])
    )

    assert [c.method for c in h.api.calls] == [
        "getMe",
        "sendMessage",
        "editMessageText",
        "answerCallbackQuery",
        "editMessageReplyMarkup",
    ]
    assert h.api.calls[1].params["text"] == "How are you?"
    assert h.api.calls[3].params == {"callback_query_id": "cq-1", "text": "Noted"}
    assert h.api.answers == [CallbackAnswer("cq-1", "Noted", False)]

    last = h.api.last(CHAT)
    assert last.message_id == sent.message_id
    assert last.text == "How are you today?"
    assert last.buttons == [[Button("Done", callback_data="d")]]
    assert last.edit_count == 2
    assert len(h.api.messages(CHAT)) == 1


async def test_edit_returns_edited_message(h: Harness) -> None:
    sent = await h.app.bot.send_message(CHAT, "one")
    edited = await h.app.bot.edit_message_text("two", chat_id=CHAT, message_id=sent.message_id)

    assert not isinstance(edited, bool)
    assert edited.text == "two"
    assert edited.edit_date == START


async def test_edit_text_without_markup_removes_keyboard(h: Harness) -> None:
    sent = await h.app.bot.send_message(CHAT, "pick", reply_markup=keyboard([("A", "a")]))
    await h.app.bot.edit_message_text("picked A", chat_id=CHAT, message_id=sent.message_id)

    assert h.api.last(CHAT).buttons == []


async def test_url_buttons(h: Harness) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Help", url="https://example.org")]])
    await h.app.bot.send_message(CHAT, "see", reply_markup=markup)

    assert h.api.last(CHAT).buttons == [[Button("Help", url="https://example.org")]]


async def test_not_modified_is_bad_request(h: Harness) -> None:
    markup = keyboard([("A", "a")])
    sent = await h.app.bot.send_message(CHAT, "same", reply_markup=markup)

    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await h.app.bot.edit_message_text(
            "same", chat_id=CHAT, message_id=sent.message_id, reply_markup=markup
        )
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await h.app.bot.edit_message_reply_markup(
            chat_id=CHAT, message_id=sent.message_id, reply_markup=markup
        )
    assert h.api.last(CHAT).edit_count == 0
    assert [c.status for c in h.api.calls_to("editMessageText")] == [400]


async def test_edit_missing_message_is_bad_request(h: Harness) -> None:
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await h.app.bot.edit_message_text("x", chat_id=CHAT, message_id=99)
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await h.app.bot.edit_message_reply_markup(chat_id=CHAT, message_id=99)


async def test_delete_message(h: Harness) -> None:
    first = await h.app.bot.send_message(CHAT, "first")
    await h.app.bot.send_message(CHAT, "second")

    assert await h.app.bot.delete_message(CHAT, first.message_id) is True
    assert [m.text for m in h.api.messages(CHAT)] == ["second"]
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await h.app.bot.delete_message(CHAT, first.message_id)


async def test_text_limits(h: Harness) -> None:
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await h.app.bot.send_message(CHAT, "x" * 4097)
    with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
        await h.app.bot.send_message(CHAT, "x", reply_markup=keyboard([("A", "a" * 65)]))
    assert h.api.messages(CHAT) == []


async def test_reply_markup_as_json_string_is_normalised(h: Harness) -> None:
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    message = await h.app.bot.send_message(
        CHAT, "raw", api_kwargs={"reply_markup": json.dumps(markup)}
    )

    assert h.api.calls[-1].params["reply_markup"] == markup
    assert h.api.last(CHAT).buttons == [[Button("A", callback_data="a")]]
    assert message.reply_markup == keyboard([("A", "a")])


async def test_clear(h: Harness) -> None:
    await h.app.bot.send_message(CHAT, "x")
    h.api.clear()

    assert h.api.calls == []
    assert h.api.messages(CHAT) == []
    with pytest.raises(LookupError):
        h.api.last(CHAT)
    assert (await h.app.bot.send_message(CHAT, "y")).message_id == 1


# ---------------------------------------------------------------------- faults


async def test_blocked_chat_is_forbidden_until_unblocked(h: Harness) -> None:
    sent = await h.app.bot.send_message(CHAT, "before")
    h.api.block(CHAT)

    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await h.app.bot.send_message(CHAT, "hello?")
    with pytest.raises(Forbidden):
        await h.app.bot.edit_message_text("edit", chat_id=CHAT, message_id=sent.message_id)
    await h.app.bot.send_message(7, "other chats are fine")

    h.api.unblock(CHAT)
    await h.app.bot.send_message(CHAT, "after")
    assert [m.text for m in h.api.messages(CHAT)] == ["before", "after"]


async def test_injected_faults_match_method_chat_and_times(h: Harness) -> None:
    h.api.inject("sendMessage", 500, "Internal Server Error", times=2, chat_id=CHAT)

    await h.app.bot.send_message(7, "other chat unaffected")
    for _ in range(2):
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await h.app.bot.send_message(CHAT, "x")
    await h.app.bot.send_message(CHAT, "third time lucky")

    assert [c.status for c in h.api.calls_to("sendMessage")] == [200, 500, 500, 200]
    assert [m.text for m in h.api.messages(CHAT)] == ["third time lucky"]


async def test_injected_bad_request(h: Harness) -> None:
    h.api.inject("sendMessage", 400, "Bad Request: chat not found")
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await h.app.bot.send_message(CHAT, "x")


async def test_unknown_method(h: Harness) -> None:
    # Telegram answers 404 for unknown methods; PTB maps a bare 404 to InvalidToken and
    # only do_api_request turns it into EndPointNotFound.
    with pytest.raises(EndPointNotFound):
        await h.app.bot.do_api_request("frobnicate_widgets")
    with pytest.raises(InvalidToken, match="method not found"):
        await h.app.bot.send_dice(CHAT)

    status, payload = await h.api.do_request("https://x/bot123:ABC/nope", "POST")
    assert status == 404
    assert json.loads(payload) == {
        "ok": False,
        "error_code": 404,
        "description": "Not Found: method not found",
    }


async def test_delay_hook_timeout_propagates(h: Harness) -> None:
    async def time_out(method: str, params: dict[str, object]) -> None:
        if method == "sendMessage":
            raise TimedOut("simulated")

    h.api.delay_hook = time_out
    with pytest.raises(TimedOut, match="simulated"):
        await h.app.bot.send_message(CHAT, "lost?")

    (call,) = h.api.calls_to("sendMessage")
    assert call.status is None
    assert h.api.messages(CHAT) == []


async def test_delay_hook_other_exception_becomes_network_error(h: Harness) -> None:
    async def explode(method: str, params: dict[str, object]) -> None:
        raise ConnectionResetError("peer went away")

    h.api.delay_hook = explode
    with pytest.raises(NetworkError, match="peer went away"):
        await h.app.bot.send_message(CHAT, "x")


async def test_delay_hook_can_hold_an_answer(h: Harness) -> None:
    release = asyncio.Event()
    arrived = asyncio.Event()

    async def hold(method: str, params: dict[str, object]) -> None:
        arrived.set()
        await release.wait()

    h.api.delay_hook = hold
    task = asyncio.create_task(h.app.bot.send_message(CHAT, "slow"))
    await arrived.wait()
    assert h.api.calls[-1].method == "sendMessage"
    assert h.api.messages(CHAT) == []

    release.set()
    message = await task
    assert message.text == "slow"


# ---------------------------------------------------------------------- other methods


async def test_commands_per_scope_and_language(h: Harness) -> None:
    bot = h.app.bot
    await bot.set_my_commands([BotCommand("start", "Begin")])
    await bot.set_my_commands([BotCommand("start", "Beginnen")], language_code="de")
    await bot.set_my_commands([BotCommand("pause", "Pause")], scope=BotCommandScopeChat(CHAT))

    assert await bot.get_my_commands() == (BotCommand("start", "Begin"),)
    assert await bot.get_my_commands(language_code="de") == (BotCommand("start", "Beginnen"),)
    assert await bot.get_my_commands(scope=BotCommandScopeChat(CHAT)) == (
        BotCommand("pause", "Pause"),
    )
    await bot.delete_my_commands(language_code="de")
    assert await bot.get_my_commands(language_code="de") == ()


async def test_trivial_methods(h: Harness) -> None:
    bot = h.app.bot
    assert await bot.set_my_description("A gentle bot") is True
    assert await bot.set_my_short_description("Gentle") is True
    assert (await bot.get_my_description()).description == "A gentle bot"
    assert await bot.set_webhook("https://example.org/hook") is True
    assert await bot.delete_webhook() is True
    assert await bot.set_chat_menu_button() is True
    assert await bot.send_chat_action(CHAT, "typing") is True


async def test_document_bytes_are_captured(h: Harness) -> None:
    bot = h.app.bot
    message = await bot.send_document(
        CHAT, InputFile(b"id,mood\n1,ok\n", filename="export.csv"), caption="Your data"
    )
    await bot.send_document(CHAT, io.BytesIO(b"from a handle"), filename="handle.txt")
    await bot.send_document(
        CHAT, InputFile(io.BytesIO(b"streamed"), filename="s.bin", read_file_handle=False)
    )

    assert message.document is not None
    assert message.document.file_name == "export.csv"
    assert message.caption == "Your data"
    first, second, third = h.api.messages(CHAT)
    assert (first.document_filename, first.document_content) == ("export.csv", b"id,mood\n1,ok\n")
    assert first.caption == "Your data"
    assert (second.document_filename, second.document_content) == ("handle.txt", b"from a handle")
    assert third.document_content == b"streamed"
    assert h.api.calls_to("sendDocument")[0].files == {
        "document": ("export.csv", b"id,mood\n1,ok\n")
    }


# ---------------------------------------------------------------------- getUpdates


async def test_get_updates_with_timeout_zero_returns_empty(h: Harness) -> None:
    assert await h.app.bot.get_updates(timeout=0) == ()
    assert h.updates.calls[-1].method == "getUpdates"
    assert h.api.calls_to("getUpdates") == []


async def test_push_update_then_get_updates(h: Harness) -> None:
    first = h.updates.push_update({"message": text_update(CHAT, "hi")["message"]})
    second = h.updates.push_update(text_update(CHAT, "again"))
    third = h.updates.push_update({"message": text_update(CHAT, "no id")["message"]})

    assert first["update_id"] == 1
    assert third["update_id"] == second["update_id"] + 1

    updates = await h.app.bot.get_updates(timeout=0)
    assert [u.message.text for u in updates if u.message] == ["hi", "again", "no id"]

    # An offset confirms everything before it.
    remaining = await h.app.bot.get_updates(offset=third["update_id"], timeout=0)
    assert [u.update_id for u in remaining] == [third["update_id"]]
    assert await h.app.bot.get_updates(offset=third["update_id"] + 1, timeout=0) == ()
    assert h.updates.pending_updates == []


async def test_get_updates_long_poll_wakes_on_push(h: Harness) -> None:
    poll = asyncio.create_task(h.app.bot.get_updates(timeout=300))
    while not h.updates.calls:  # wait until the poll has reached the fake
        await asyncio.sleep(0)
    assert not poll.done()

    h.updates.push_update(text_update(CHAT, "wake up"))
    (update,) = await poll
    assert update.message is not None and update.message.text == "wake up"


async def test_get_updates_long_poll_returns_empty_after_timeout(h: Harness) -> None:
    # timeout is honoured as an upper bound; a short one keeps the test quick.
    assert await h.app.bot.get_updates(timeout=dt.timedelta(milliseconds=10)) == ()


# ---------------------------------------------------------------------- update builders


async def test_command_handler_matches_text_update(h: Harness) -> None:
    seen: list[list[str]] = []

    async def start(update: Update, context: object) -> None:
        seen.append(list(getattr(context, "args", [])))
        assert update.effective_chat is not None
        await update.effective_chat.send_message("Welcome")

    h.app.add_handler(CommandHandler("start", start))
    await h.app.process_update(Update.de_json(text_update(CHAT, "/start"), h.app.bot))
    await h.app.process_update(
        Update.de_json(text_update(CHAT, "/start@komorebi_test_bot from_qr"), h.app.bot)
    )

    assert seen == [[], ["from_qr"]]
    assert [m.text for m in h.api.messages(CHAT)] == ["Welcome", "Welcome"]


async def test_text_update_fields(h: Harness) -> None:
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    update = Update.de_json(
        text_update(7, "/pause 3", first_name="Ren", language_code="ja", update_id=5, date=moment),
        h.app.bot,
    )

    assert update.update_id == 5
    assert update.message is not None
    assert update.message.date == moment
    assert update.message.chat.id == 7
    assert update.effective_user is not None
    assert (update.effective_user.first_name, update.effective_user.language_code) == (
        "Ren",
        "ja",
    )
    assert update.message.parse_entities() == {update.message.entities[0]: "/pause"}
    assert text_update(7, "plain")["message"].get("entities") is None


async def test_update_ids_increase(h: Harness) -> None:
    ids = [text_update(1, "a")["update_id"], sticker_update(1)["update_id"]]
    assert ids[1] > ids[0]


async def test_callback_update_and_press(h: Harness) -> None:
    pressed: list[tuple[str | None, int]] = []

    async def on_button(update: Update, context: object) -> None:
        query = update.callback_query
        assert query is not None and query.message is not None
        pressed.append((query.data, query.message.message_id))
        await query.answer("ok")
        await query.edit_message_text("Thanks!")

    h.app.add_handler(CallbackQueryHandler(on_button))
    sent = await h.app.bot.send_message(CHAT, "Ready?", reply_markup=keyboard([("Yes", "yes")]))

    await h.app.process_update(Update.de_json(h.api.press(CHAT, "Yes"), h.app.bot))
    assert pressed == [("yes", sent.message_id)]
    assert h.api.last(CHAT).text == "Thanks!"
    assert h.api.last(CHAT).buttons == []
    assert h.api.answers[-1].text == "ok"

    raw = Update.de_json(callback_update(CHAT, "later", message_id=sent.message_id), h.app.bot)
    assert raw.callback_query is not None and raw.callback_query.data == "later"
    assert raw.callback_query.from_user.id == CHAT
    assert raw.callback_query.message is not None
    assert raw.callback_query.message.chat.id == CHAT

    with pytest.raises(KeyError):
        h.api.press(CHAT, "No such button")


async def test_updates_and_records_hold_copies_of_a_keyboard(h: Harness) -> None:
    """A pressed button's update and the message the fake keeps never share a keyboard:
    changing one changes nothing in the other."""
    sent = await h.app.bot.send_message(CHAT, "Ready?", reply_markup=keyboard([("Yes", "yes"), ("No", "no")]))
    update = h.api.press(CHAT, "Yes")
    handed_out = update["callback_query"]["message"]["reply_markup"]
    handed_out["inline_keyboard"][0][0]["text"] = "changed"
    handed_out["inline_keyboard"].append([])
    message = h.api.message(CHAT, sent.message_id)
    assert message.button_texts == ["Yes", "No"]
    assert message.reply_markup["inline_keyboard"][0][0]["text"] == "Yes"
    again = h.api.press(CHAT, "Yes")["callback_query"]["message"]["reply_markup"]
    assert again == message.reply_markup and again is not message.reply_markup
    assert again["inline_keyboard"][0] is not message.reply_markup["inline_keyboard"][0]


async def test_media_and_edit_builders_parse(h: Harness) -> None:
    bot = h.app.bot
    sticker = Update.de_json(sticker_update(CHAT, emoji="🌿"), bot)
    photo = Update.de_json(photo_update(CHAT, caption="my walk"), bot)
    voice = Update.de_json(voice_update(CHAT, duration=7), bot)
    edited = Update.de_json(edited_text_update(CHAT, "fixed typo", message_id=12), bot)

    assert sticker.message is not None and sticker.message.sticker is not None
    assert sticker.message.sticker.emoji == "🌿"
    assert photo.message is not None and photo.message.caption == "my walk"
    assert len(photo.message.photo) == 2
    assert voice.message is not None and voice.message.voice is not None
    assert voice.message.voice.to_dict()["duration"] == 7
    assert edited.edited_message is not None
    assert (edited.edited_message.message_id, edited.edited_message.text) == (12, "fixed typo")
    assert edited.edited_message.edit_date is not None
    assert edited.effective_message is edited.edited_message


async def test_shutdown_ends_a_pending_long_poll(h: Harness) -> None:
    poll = asyncio.create_task(h.app.bot.get_updates(timeout=300))
    while not h.updates.calls:  # wait until the poll has reached the fake
        await asyncio.sleep(0)

    await h.updates.shutdown()
    assert await poll == ()


async def test_polling_with_the_real_updater() -> None:
    # `python -m bot try` runs the bot in polling mode against the fake.
    api = FakeBotAPI()
    app = ApplicationBuilder().token("123:ABC").request(api).get_updates_request(api).build()
    replied = asyncio.Event()

    async def echo(update: Update, context: object) -> None:
        assert update.effective_chat is not None and update.effective_message is not None
        await update.effective_chat.send_message(f"echo: {update.effective_message.text}")
        replied.set()

    app.add_handler(CommandHandler("echo", echo))
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=dt.timedelta(seconds=300))
        await app.start()
        pushed = api.push_update(text_update(CHAT, "/echo hi"))
        await asyncio.wait_for(replied.wait(), 30)  # guard against hanging, not a timing check
        await app.updater.stop()
        await app.stop()

    assert api.last(CHAT).text == "echo: /echo hi"
    assert api.calls_to("deleteWebhook")
    # Stopping confirms the fetched updates with a final offset.
    assert api.calls_to("getUpdates")[-1].params["offset"] == pushed["update_id"] + 1
    assert api.pending_updates == []
