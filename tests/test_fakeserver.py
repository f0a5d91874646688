"""The fake Bot API over real HTTP (bot/fakeserver.py), as a bot process meets it: PTB's own HTTP
transport, the token in the path, parameters decoded to what the in-process fake records."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError

from bot.fakeapi import text_update
from bot.fakeserver import FakeBotServer

TOKEN = "4242:HTTP-TEST"


@pytest.fixture
async def server() -> AsyncIterator[FakeBotServer]:
    async with FakeBotServer(token=TOKEN) as running:
        yield running


def bot_for(server: FakeBotServer, token: str = TOKEN) -> Bot:
    return Bot(token, base_url=server.base_url)


async def test_a_real_bot_sends_edits_and_polls_through_http(server: FakeBotServer) -> None:
    assert server.base_url == f"http://127.0.0.1:{server.port}/bot" and server.port > 0
    async with bot_for(server) as bot:
        assert bot.username == server.api.bot_username
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("I'm here", callback_data="h:1")]])
        message = await bot.send_message(77, "123", reply_markup=markup)  # a text that looks like JSON
        await bot.edit_message_text("true", chat_id=77, message_id=message.message_id)
        await bot.send_document(77, b"{}", filename="mydata.json", caption="yours")
        server.api.push_update(text_update(77, "hello"))
        updates = await bot.get_updates(timeout=0)

    (sent,) = server.api.calls_to("sendMessage")
    assert sent.params["chat_id"] == 77 and sent.params["text"] == "123"
    assert sent.params["reply_markup"] == {"inline_keyboard": [[{"text": "I'm here", "callback_data": "h:1"}]]}
    assert [m.text for m in server.api.messages(77)] == ["true", None]
    document = server.api.last(77)
    assert (document.document_filename, document.document_content, document.caption) == ("mydata.json", b"{}", "yours")
    assert [u.message.text for u in updates] == ["hello"]
    assert server.requests == len(server.api.calls) == 5


async def test_faults_reach_the_bot_as_telegram_errors(server: FakeBotServer) -> None:
    server.api.block(5)
    server.api.inject("sendMessage", 400, "Bad Request: chat not found", chat_id=6)
    async with bot_for(server) as bot:
        with pytest.raises(Forbidden):
            await bot.send_message(5, "hi")
        with pytest.raises(BadRequest, match="(?i)chat not found"):
            await bot.send_message(6, "hi")

        async def no_answer(_method: str, _params: dict[str, object]) -> None:
            raise RuntimeError("dropped")

        server.api.delay_hook = no_answer
        with pytest.raises(NetworkError):
            await bot.send_message(7, "hi")
    assert [call.status for call in server.api.calls_to("sendMessage")] == [403, 400, None]


async def test_a_wrong_token_or_path_is_refused(server: FakeBotServer) -> None:
    with pytest.raises(InvalidToken):
        async with bot_for(server, "1:WRONG"):
            pass
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"http://127.0.0.1:{server.port}/nothing")
    assert answer.status_code == 404
    assert server.api.calls == []


async def test_stop_ends_a_pending_long_poll_and_the_port_closes() -> None:
    server = FakeBotServer()
    await server.start()
    port = server.port
    async with Bot("1:T", base_url=server.base_url) as bot:
        poll = asyncio.ensure_future(bot.get_updates(timeout=30))
        while not server.api.calls_to("getUpdates"):
            await asyncio.sleep(0.01)
        await server.stop()
        with pytest.raises(NetworkError):
            await poll
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.post(f"http://127.0.0.1:{port}/bot1:T/getMe")
