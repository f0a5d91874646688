"""The fake Bot API over real HTTP (bot/fakeserver.py), as a bot process meets it: through
Komorebi's own transport (bot/transport.py) and PTB's httpx one alike, the token in the path,
parameters decoded to what the in-process fake records. Both transports must look the same to
PTB, so each test runs on both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.request import BaseRequest, HTTPXRequest

from bot.fakeapi import text_update
from bot.fakeserver import FakeBotServer
from bot.ratelimit import retry_after_seconds
from bot.transport import AiohttpRequest

TOKEN = "4242:HTTP-TEST"

TRANSPORTS: dict[str, Callable[[], BaseRequest]] = {"aiohttp": AiohttpRequest, "httpx": HTTPXRequest}
each_transport = pytest.mark.parametrize("transport", TRANSPORTS)


@pytest.fixture
async def server() -> AsyncIterator[FakeBotServer]:
    async with FakeBotServer(token=TOKEN) as running:
        yield running


def bot_for(server: FakeBotServer, transport: str, token: str = TOKEN) -> Bot:
    make = TRANSPORTS[transport]
    return Bot(token, base_url=server.base_url, request=make(), get_updates_request=make())


@each_transport
async def test_a_real_bot_sends_edits_and_polls_through_http(server: FakeBotServer, transport: str) -> None:
    assert server.base_url == f"http://127.0.0.1:{server.port}/bot" and server.port > 0
    async with bot_for(server, transport) as bot:
        assert bot.username == server.api.bot_username
        markup = InlineKeyboardMarkup(
            [[InlineKeyboardButton("I'm here", callback_data="h:1"), InlineKeyboardButton("ここにいます", callback_data="h:2")]]
        )
        message = await bot.send_message(77, "123", reply_markup=markup)  # a text that looks like JSON
        await bot.send_message(77, "a & b = ?")  # characters form-encoding must keep
        await bot.edit_message_text("true", chat_id=77, message_id=message.message_id)
        await bot.send_document(77, b"{}", filename="わたしのデータ.json", caption="あなたのデータ")
        server.api.push_update(text_update(77, "こんにちは"))
        updates = await bot.get_updates(timeout=0)

    sent, special = server.api.calls_to("sendMessage")
    assert sent.params["chat_id"] == 77 and sent.params["text"] == "123"
    assert sent.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "I'm here", "callback_data": "h:1"}, {"text": "ここにいます", "callback_data": "h:2"}]]
    }
    assert special.params["text"] == "a & b = ?"
    assert [m.text for m in server.api.messages(77)] == ["true", "a & b = ?", None]
    document = server.api.last(77)
    assert (document.document_filename, document.document_content, document.caption) == (
        "わたしのデータ.json", b"{}", "あなたのデータ"
    )
    assert [u.message.text for u in updates] == ["こんにちは"]
    assert server.requests == len(server.api.calls) == 6


@each_transport
async def test_faults_reach_the_bot_as_telegram_errors(server: FakeBotServer, transport: str) -> None:
    server.api.block(5)
    server.api.inject("sendMessage", 400, "Bad Request: chat not found", chat_id=6)
    server.api.inject_flood("sendMessage", retry_after=3, chat_id=8)
    async with bot_for(server, transport) as bot:
        with pytest.raises(Forbidden):
            await bot.send_message(5, "hi")
        with pytest.raises(BadRequest, match="(?i)chat not found"):
            await bot.send_message(6, "hi")
        with pytest.raises(RetryAfter) as flood:
            await bot.send_message(8, "hi")

        async def no_answer(_method: str, _params: dict[str, object]) -> None:
            raise RuntimeError("dropped")

        server.api.delay_hook = no_answer
        with pytest.raises(NetworkError) as dropped:
            await bot.send_message(7, "hi")
    assert retry_after_seconds(flood.value) == 3
    assert not isinstance(dropped.value, TimedOut)  # a dropped connection is no timeout
    assert [call.status for call in server.api.calls_to("sendMessage")] == [403, 400, 429, None]


@each_transport
async def test_a_wrong_token_or_path_is_refused(server: FakeBotServer, transport: str) -> None:
    with pytest.raises(InvalidToken):
        async with bot_for(server, transport, "1:WRONG"):
            pass
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"http://127.0.0.1:{server.port}/nothing")
    assert answer.status_code == 404
    assert server.api.calls == []


@each_transport
async def test_stop_ends_a_pending_long_poll_and_the_port_closes(transport: str) -> None:
    server = FakeBotServer()
    await server.start()
    port = server.port
    async with bot_for(server, transport, "1:T") as bot:
        poll = asyncio.ensure_future(bot.get_updates(timeout=30))
        while not server.api.calls_to("getUpdates"):
            await asyncio.sleep(0.01)
        await server.stop()
        with pytest.raises(NetworkError):
            await poll
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.post(f"http://127.0.0.1:{port}/bot1:T/getMe")
