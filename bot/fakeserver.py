"""The fake Bot API (:class:`bot.fakeapi.FakeBotAPI`) served over real HTTP on 127.0.0.1.

A real bot process can then run unchanged against it, with nothing reaching Telegram::

    async with FakeBotServer() as server:           # a free port on 127.0.0.1
        env = {"TELEGRAM_API_BASE_URL": server.base_url, "TELEGRAM_BOT_TOKEN": "1:T"}
        ...                                          # start `python -m bot run` with env
        server.api.push_update(text_update(42, "/start"))
        server.api.inject_flood("sendMessage", retry_after=2)
        ...
        assert server.api.calls_to("sendMessage")

API:

- ``FakeBotServer(api=None, *, token=None, host="127.0.0.1", port=0)``: ``api`` is the
  :class:`FakeBotAPI` to serve (a fresh one by default); with ``token`` set, a request for any other
  token is answered 401 like Telegram (PTB raises ``InvalidToken``); ``port=0`` picks a free port.
- ``await server.start()`` / ``await server.stop()``, or ``async with server``. ``stop`` closes the
  listening socket and every open connection (a pending long-polling ``getUpdates`` included).
- ``server.port``, ``server.base_url`` (``http://127.0.0.1:PORT/bot``: the value for
  ``TELEGRAM_API_BASE_URL``; PTB appends ``<token>/<method>``), ``server.api`` (the
  :class:`FakeBotAPI`: recorded calls, chats as the user sees them, fault injection, queued updates
  for ``getUpdates``), ``server.requests`` (how many HTTP requests were answered).

Every request is answered by :meth:`FakeBotAPI.handle`, so the HTTP fake behaves exactly like the
in-process one: same recorded :class:`~bot.fakeapi.ApiCall`\\ s, same injected faults, same
long polling. PTB sends parameters form-encoded (multipart with uploads), every value a string,
objects and numbers as JSON; numbers, booleans and objects are decoded back (texts, captions and
other string parameters are kept as they are), so ``call.params["chat_id"]`` is an ``int`` as in
process.

Faults specific to HTTP: if :attr:`FakeBotAPI.delay_hook` raises, the connection is closed without
an answer (the bot sees a network error); to make the bot's request *time out*, let the hook wait
longer than the bot's read timeout.

The server runs on the event loop that starts it; use the :class:`FakeBotAPI` from that loop only
(it is not thread-safe). Plain asyncio HTTP/1.1 with keep-alive; request bodies need a
``Content-Length`` (httpx, which PTB uses, always sends one).
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import json
import logging
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bot.fakeapi import FakeBotAPI

__all__ = ["FakeBotServer"]

log = logging.getLogger("komorebi.fakeserver")

#: Bot API parameters that are strings even when they look like JSON ("123", "true").
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "url",
        "secret_token",
        "description",
        "short_description",
        "language_code",
        "document",
        "name",
        "title",
        "emoji",
    }
)

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            409: "Conflict", 411: "Length Required", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway"}


class FakeBotServer:
    """Serves a :class:`FakeBotAPI` over HTTP on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self, api: FakeBotAPI | None = None, *, token: str | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.api = api if api is not None else FakeBotAPI()
        self.token = token
        self.host = host
        self.requests = 0
        self._port = port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The port listened on (known once started)."""
        if self._server is None:
            raise RuntimeError("the server is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """The value for ``TELEGRAM_API_BASE_URL``."""
        return f"http://{self.host}:{self.port}/bot"

    async def start(self) -> None:
        """Listen (on a free port unless one was given)."""
        if self._server is not None:
            raise RuntimeError("the server is already started")
        self._server = await asyncio.start_server(self._connection, self.host, self._port)
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and close every open connection; the :attr:`api` keeps its state."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await server.wait_closed()

    async def __aenter__(self) -> FakeBotServer:
        await self.start()
        return self

    async def __aexit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------ HTTP

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while await self._exchange(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
            log.debug("connection ended: %s", type(exc).__name__)
        except asyncio.CancelledError:
            # Only stop() cancels these tasks. Ending quietly matters on Python 3.11, whose stream
            # server reports a cancelled connection task as an error.
            pass
        finally:
            self._connections.discard(task)
            writer.close()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """One request and its answer; False when the connection is to be closed."""
        request_line = await reader.readline()
        if not request_line.strip():
            return False
        _verb, target, _version = request_line.decode("latin-1").split()
        headers: dict[str, str] = {}
        while (line := await reader.readline()).strip():
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            await _respond(writer, 411, _error(411, "Length Required"), close=True)
            return False
        body = await reader.readexactly(int(headers.get("content-length") or 0))
        try:
            status, payload = await self._answer(target, headers.get("content-type", ""), body)
        except Exception as exc:  # noqa: BLE001 - a failing delay_hook means "no answer", as documented
            log.debug("no answer (delay_hook raised %s)", type(exc).__name__)
            return False
        self.requests += 1
        keep_alive = headers.get("connection", "").lower() != "close"
        await _respond(writer, status, payload, close=not keep_alive)
        return keep_alive

    async def _answer(self, target: str, content_type: str, body: bytes) -> tuple[int, bytes]:
        url = urlsplit(target)
        prefix, _, method = url.path.rpartition("/")
        token = prefix.rpartition("/bot")[2]
        if "/bot" not in prefix or not method:
            return 404, _error(404, "Not Found")
        if self.token is not None and token != self.token:
            return 401, _error(401, "Unauthorized")
        fields, files = _parse_body(content_type, body)
        fields = dict(parse_qsl(url.query)) | fields
        return await self.api.handle(method, {name: _decode(name, value) for name, value in fields.items()}, files)


def _decode(name: str, value: str) -> Any:
    """A form value back to what PTB had before encoding it (see the module docstring)."""
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _parse_body(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """Form fields and uploads of a urlencoded or multipart body (JSON bodies are accepted too)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return {}, {}
    if kind == "application/json":
        data = json.loads(body)
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}, {}
    if kind != "multipart/form-data":
        return dict(parse_qsl(body.decode(), keep_blank_values=True)), {}
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        content = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            files[str(name)] = (filename, content)
        else:
            fields[str(name)] = content.decode()
    return fields, files


def _error(status: int, description: str) -> bytes:
    return json.dumps({"ok": False, "error_code": status, "description": description}).encode()


async def _respond(writer: asyncio.StreamWriter, status: int, payload: bytes, *, close: bool) -> None:
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n"
        f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
    )
    writer.write(head.encode("latin-1") + payload)
    await writer.drain()
