"""Komorebi's HTTP transport to Telegram (bot/transport.py), over real HTTP to the fake Bot API on
127.0.0.1: it must look to PTB exactly like PTB's own httpx transport, so each behaviour is checked
on both, and then its own promises (timeouts, errors that never carry the token, its life cycle)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.request import BaseRequest, HTTPXRequest

from bot.app import build_application
from bot.config import Settings
from bot.fakeapi import text_update
from bot.fakeserver import FakeBotServer
from bot.ratelimit import retry_after_seconds
from bot.transport import AiohttpRequest, _timeout, _without_url, tls_context

TOKEN = "4242:TRANSPORT-SECRET-abcdefghijklmnop"

TRANSPORTS: dict[str, Callable[..., BaseRequest]] = {"aiohttp": AiohttpRequest, "httpx": HTTPXRequest}


@pytest.fixture
async def server() -> AsyncIterator[FakeBotServer]:
    async with FakeBotServer(token=TOKEN) as running:
        yield running


def bot_on(server: FakeBotServer, transport: str = "aiohttp", token: str = TOKEN, **options: float | None) -> Bot:
    make = TRANSPORTS[transport]
    return Bot(token, base_url=server.base_url, request=make(**options), get_updates_request=make(**options))


async def never(_method: str, _params: dict[str, object]) -> None:
    await asyncio.Event().wait()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_sends_edits_uploads_and_polls_as_ptb_expects(server: FakeBotServer, transport: str) -> None:
    async with bot_on(server, transport) as bot:
        assert bot.username == server.api.bot_username
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("ここにいます", callback_data="h:1")]])
        message = await bot.send_message(77, "123 & = ?", reply_markup=markup)  # characters form-encoding must keep
        await bot.edit_message_text("true", chat_id=77, message_id=message.message_id)
        await bot.send_document(77, b'{"a": 1}', filename="わたしのデータ.json", caption="あなたのデータ")
        server.api.push_update(text_update(77, "こんにちは"))
        updates = await bot.get_updates(timeout=0)

    (sent,) = server.api.calls_to("sendMessage")
    assert sent.params["chat_id"] == 77 and sent.params["text"] == "123 & = ?"
    assert sent.params["reply_markup"] == {"inline_keyboard": [[{"text": "ここにいます", "callback_data": "h:1"}]]}
    document = server.api.last(77)
    assert (document.document_filename, document.document_content, document.caption) == (
        "わたしのデータ.json", b'{"a": 1}', "あなたのデータ"
    )
    assert [u.message.text for u in updates] == ["こんにちは"]
    assert server.requests == len(server.api.calls) == 5


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_telegram_errors_arrive_as_ptb_errors(server: FakeBotServer, transport: str) -> None:
    server.api.block(5)
    server.api.inject("sendMessage", 400, "Bad Request: chat not found", chat_id=6)
    server.api.inject_flood("sendMessage", retry_after=3, chat_id=8)
    async with bot_on(server, transport) as bot:
        with pytest.raises(Forbidden):
            await bot.send_message(5, "hi")
        with pytest.raises(BadRequest, match="(?i)chat not found"):
            await bot.send_message(6, "hi")
        with pytest.raises(RetryAfter) as flood:
            await bot.send_message(8, "hi")
    assert retry_after_seconds(flood.value) == 3
    with pytest.raises(InvalidToken):
        async with bot_on(server, transport, token="1:WRONG"):
            pass


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_dropped_connection_is_a_network_error(server: FakeBotServer, transport: str) -> None:
    async def drop(_method: str, _params: dict[str, object]) -> None:
        raise RuntimeError("dropped")

    async with bot_on(server, transport) as bot:
        server.api.delay_hook = drop
        with pytest.raises(NetworkError) as caught:
            await bot.send_message(7, "hi")
    assert not isinstance(caught.value, TimedOut)


async def test_an_answer_that_never_comes_times_out(server: FakeBotServer) -> None:
    async with bot_on(server, read_timeout=0.05) as bot:
        server.api.delay_hook = never
        with pytest.raises(TimedOut):
            await bot.send_message(7, "hi")


async def test_waiting_for_a_free_connection_times_out(server: FakeBotServer) -> None:
    request = AiohttpRequest(connection_pool_size=1, pool_timeout=0.05, connect_timeout=0.05)
    async with Bot(TOKEN, base_url=server.base_url, request=request) as bot:
        server.api.delay_hook = never
        stuck = asyncio.ensure_future(bot.send_message(7, "first"))
        while not server.api.calls_to("sendMessage"):
            await asyncio.sleep(0)
        with pytest.raises(TimedOut):
            await bot.send_message(8, "second")  # the only connection is taken
        stuck.cancel()
    assert [call.params["chat_id"] for call in server.api.calls_to("sendMessage")] == [7]


async def test_errors_never_carry_the_token() -> None:
    server = FakeBotServer()
    await server.start()
    base_url = server.base_url
    await server.stop()  # nothing listens on the port any more
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as caught:
            await request.post(f"{base_url}{TOKEN}/getMe")
    finally:
        await request.shutdown()
    error = caught.value
    texts = [error.message, str(error.__cause__ or "")]
    assert error.message.startswith("aiohttp.")
    assert TOKEN not in error.message and "TRANSPORT-SECRET" not in error.message, texts
    # An aiohttp error that does quote the URL (or only its path) has it taken out.
    url = f"http://127.0.0.1:1/bot{TOKEN}/getMe"
    for quoted in (url, f"/bot{TOKEN}/getMe"):
        scrubbed = _without_url(aiohttp.InvalidURL(quoted), url)
        assert "TRANSPORT-SECRET" not in scrubbed and "<the Bot API URL>" in scrubbed


async def test_it_must_be_initialised_and_may_be_again(server: FakeBotServer) -> None:
    request = AiohttpRequest()
    url = f"{server.base_url}{TOKEN}/getMe"
    with pytest.raises(NetworkError, match="not initialized"):  # PTB wraps the transport's RuntimeError
        await request.post(url)
    for _ in range(2):
        await request.initialize()
        await request.initialize()  # twice is harmless
        assert (await request.post(url))["username"] == server.api.bot_username
        await request.shutdown()
        await request.shutdown()
    with pytest.raises(NetworkError, match="not initialized"):
        await request.post(url)


def test_ptbs_timeouts_map_onto_aiohttps() -> None:
    timeout = _timeout(read=5, write=5, connect=4, pool=1)
    assert (timeout.total, timeout.connect, timeout.sock_connect, timeout.sock_read) == (15, 5, 4, 5)
    unbounded = _timeout(read=None, write=5, connect=None, pool=1)
    assert (unbounded.total, unbounded.connect, unbounded.sock_connect, unbounded.sock_read) == (None, None, None, None)
    with pytest.raises(ValueError):
        AiohttpRequest(connection_pool_size=0)
    assert AiohttpRequest(read_timeout=7).read_timeout == 7


def test_the_bot_talks_to_telegram_through_it() -> None:
    settings = Settings(_env_file=None, TELEGRAM_BOT_TOKEN=TOKEN, DATABASE_URL="sqlite+aiosqlite:///:memory:")
    for updater in (True, False):
        application = build_application(settings, updater=updater)
        assert isinstance(application.bot.request, AiohttpRequest)
        assert isinstance(application.bot._request[0], AiohttpRequest)  # the long-polling one (PTB's own slot)


async def test_it_checks_certificates_against_certifi_and_follows_proxy_settings() -> None:
    context = tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 100  # certifi's bundle, loaded
    request = AiohttpRequest()
    await request.initialize()
    try:
        session = request._session
        assert session is not None and session.trust_env
        assert session.connector._ssl is context  # the connector uses it for every HTTPS request
    finally:
        await request.shutdown()
