"""Komorebi's HTTP transport to Telegram (bot/transport.py), over real HTTP to the fake Bot API on
127.0.0.1: its own promises (timeouts, errors that never carry the token, its life cycle, its
certificates). That it looks to PTB exactly like PTB's own httpx transport is checked in
tests/test_fakeserver.py, whose tests run on both."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram import Bot
from telegram.error import NetworkError, TimedOut

from bot.app import build_application
from bot.config import Settings
from bot.fakeserver import FakeBotServer
from bot.transport import AiohttpRequest, _timeout, _without_url, tls_context

TOKEN = "4242:TRANSPORT-SECRET-abcdefghijklmnop"


@pytest.fixture
async def server() -> AsyncIterator[FakeBotServer]:
    async with FakeBotServer(token=TOKEN) as running:
        yield running


async def never(_method: str, _params: dict[str, object]) -> None:
    await asyncio.Event().wait()


async def test_an_answer_that_never_comes_times_out(server: FakeBotServer) -> None:
    async with Bot(TOKEN, base_url=server.base_url, request=AiohttpRequest(read_timeout=0.05)) as bot:
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
