"""How the bot talks HTTP to Telegram: a python-telegram-bot ``BaseRequest`` on aiohttp.

PTB's default transport (httpx and httpcore) was most of the CPU time of an update in a bare echo
bot, and with updates handled concurrently its connection pool got slower with every open
connection (shared/notes/performance.md: 1.3 ms per update sequential, 4.6 ms concurrent; on
aiohttp 0.5 and 0.4 ms). Komorebi handles updates concurrently, so it talks to Telegram through
:class:`AiohttpRequest` instead. It is a drop-in for PTB's ``HTTPXRequest`` as far as PTB can see:

- parameters go as PTB sends them, form-encoded, or multipart when a file is uploaded;
- PTB's timeouts keep their meaning: ``connect_timeout`` bounds opening a connection,
  ``pool_timeout`` waiting for a free one, ``read_timeout`` each wait for the answer, and the
  whole request is bounded by the sum of the four (aiohttp has no timeout for writing alone), so no
  request can hang forever;
- a timeout raises ``telegram.error.TimedOut``; any other failure to get an answer
  ``NetworkError``. The error text names the failure, never the URL (it holds the bot's token);
- as with httpx, Telegram's certificate is checked against certifi's CA bundle (not whatever the
  machine's store holds), and the ``HTTPS_PROXY``/``HTTP_PROXY`` settings of the environment are
  followed.

The status code and body go back to PTB unread: PTB turns 429, 401, 400 and the rest into its
own errors, exactly as with httpx.
"""

from __future__ import annotations

import functools
import ssl
from urllib.parse import urlencode, urlsplit

import aiohttp
import certifi
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

__all__ = ["AiohttpRequest"]

_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class AiohttpRequest(BaseRequest):
    """PTB's request interface on an aiohttp client session (see the module docstring).

    The defaults are those of PTB's ``HTTPXRequest``; the session is made in :meth:`initialize`
    (on the running event loop) and closed in :meth:`shutdown`, and may be initialised again.
    """

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_read_timeout",
        "_session",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size, ssl=tls_context()),
                cookie_jar=aiohttp.DummyCookieJar(),  # the Bot API sets no cookies
                headers={"User-Agent": self.USER_AGENT},
                trust_env=True,  # proxies from the environment, as httpx does
            )

    async def shutdown(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data is not None and request_data.contains_files else None
        if isinstance(read_timeout, DefaultValue):
            read_timeout = self._read_timeout
        if isinstance(connect_timeout, DefaultValue):
            connect_timeout = self._connect_timeout
        if isinstance(pool_timeout, DefaultValue):
            pool_timeout = self._pool_timeout
        if isinstance(write_timeout, DefaultValue):
            write_timeout = self._media_write_timeout if files else self._write_timeout
        timeout = _timeout(read_timeout, write_timeout, connect_timeout, pool_timeout)

        data: bytes | aiohttp.FormData | None = None
        headers = None
        if request_data is not None:
            if files:
                data = aiohttp.FormData(quote_fields=False)
                for name, value in request_data.json_parameters.items():
                    data.add_field(name, value)
                for name, (filename, content, mimetype) in files.items():
                    data.add_field(name, content, filename=filename, content_type=mimetype)
            elif parameters := request_data.json_parameters:
                data = urlencode(parameters).encode()
                headers = _FORM
        try:
            async with session.request(method, url, data=data, headers=headers, timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as exc:  # aiohttp's timeouts derive from asyncio.TimeoutError, that is TimeoutError
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {_without_url(exc, url)}") from exc


@functools.cache
def tls_context() -> ssl.SSLContext:
    """Certificates checked against certifi's CA bundle, as PTB's httpx transport does (a slim
    container image may have no system store at all)."""
    return ssl.create_default_context(cafile=certifi.where())


def _timeout(
    read: float | None, write: float | None, connect: float | None, pool: float | None
) -> aiohttp.ClientTimeout:
    """PTB's four timeouts as aiohttp's: see the module docstring."""
    parts = (read, write, connect, pool)
    return aiohttp.ClientTimeout(
        total=None if None in parts else sum(parts),  # type: ignore[arg-type]
        connect=None if connect is None or pool is None else connect + pool,  # waiting for the pool, then connecting
        sock_connect=connect,
        sock_read=read,
    )


def _without_url(exc: BaseException, url: str) -> str:
    """The error's text with the request's URL and path (which hold the bot's token) taken out."""
    text = str(exc)
    for secret in (url, urlsplit(url).path):
        if secret:
            text = text.replace(secret, "<the Bot API URL>")
    return text

