"""An in-process fake of the Telegram Bot API.

:class:`FakeBotAPI` plugs into python-telegram-bot as its networking backend
(``ApplicationBuilder().request(fake)``), so the real bot runs unchanged while every
call stays in this process. It is used by the test-suite and by ``python -m bot try``
(a terminal chat with the bot, no token needed).

It keeps a per-chat view of what the user would see (:meth:`FakeBotAPI.messages`,
:meth:`FakeBotAPI.last`), records every call (:attr:`FakeBotAPI.calls`), answers the
Bot API methods the bot uses with Telegram-shaped JSON, and can inject faults
(blocked users, flood control, server errors, slow answers).

Incoming updates are built with the plain functions at the bottom of this module
(:func:`text_update`, :func:`callback_update`, ...) and either fed to
``Application.process_update(Update.de_json(d, app.bot))`` or queued with
:meth:`FakeBotAPI.push_update` for polling mode.

All methods must be called from the event loop's thread; nothing here is thread-safe.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, NamedTuple, TypeAlias, cast

from telegram.request import BaseRequest, RequestData

__all__ = [
    "ApiCall",
    "Button",
    "CallbackAnswer",
    "FakeBotAPI",
    "FakeMessage",
    "callback_update",
    "edited_text_update",
    "photo_update",
    "sticker_update",
    "text_update",
    "voice_update",
]

JSONDict: TypeAlias = dict[str, Any]
ChatKey: TypeAlias = int | str
DelayHook: TypeAlias = Callable[[str, JSONDict], Awaitable[None]]

# Telegram's limits. Lengths are checked on the text as sent (markup included), which is
# slightly stricter than Telegram for HTML/Markdown texts close to the limit.
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64

#: Parameters that PTB sends as nested JSON; a caller using ``api_kwargs`` may pass them as
#: JSON strings instead, so they are decoded before being recorded or used.
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "scope",
        "commands",
        "entities",
        "caption_entities",
        "link_preview_options",
        "reply_parameters",
        "allowed_updates",
        "menu_button",
    }
)

#: Methods that simply answer ``True``.
_TRUE_METHODS = frozenset(
    {
        "setWebhook",
        "deleteWebhook",
        "close",
        "logOut",
        "setChatMenuButton",
        "sendChatAction",
    }
)


class _ApiError(Exception):
    """Internal: turns into a non-2xx Bot API answer."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


@dataclass
class ApiCall:
    """One request the bot made.

    Attributes:
        method: The Bot API method, e.g. ``"sendMessage"``.
        params: The parameters as Telegram would receive them (nested JSON decoded).
        files: Uploaded files by multipart field name: ``(filename, content)``.
        status: The HTTP status answered (200 on success), or ``None`` if no answer was
            given because :attr:`FakeBotAPI.delay_hook` raised.
    """

    method: str
    params: JSONDict
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    status: int | None = None

    @property
    def ok(self) -> bool:
        """Whether the call was answered successfully."""
        return self.status is not None and 200 <= self.status <= 299


class Button(NamedTuple):
    """One inline keyboard button: a callback button or a URL button. (A named tuple: made for
    every button of every message sent, it costs a fraction of a frozen dataclass.)"""

    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass
class FakeMessage:
    """A bot message as the user currently sees it (edits are applied in place).

    Attributes:
        message_id: The id, unique within the chat.
        chat_id: The chat it was sent to.
        text: The text for text messages, as sent (markup such as HTML tags is kept).
        buttons: The inline keyboard, row by row; empty if there is none.
        document_filename: For documents, the file name.
        document_content: For documents uploaded as a file, the bytes.
        caption: For documents, the caption.
        parse_mode: The parse mode the text or caption was sent with, if any.
        reply_markup: The raw ``reply_markup`` as sent (any kind of keyboard).
        edit_count: How many times the message was edited.
        date: When it was sent, by the fake's clock.
        edit_date: When it was last edited, if ever.
    """

    message_id: int
    chat_id: ChatKey
    text: str | None
    buttons: list[list[Button]] = field(default_factory=list)
    document_filename: str | None = None
    document_content: bytes | None = None
    caption: str | None = None
    parse_mode: str | None = None
    reply_markup: JSONDict | None = None
    edit_count: int = 0
    date: dt.datetime | None = None
    edit_date: dt.datetime | None = None

    @property
    def button_texts(self) -> list[str]:
        """The texts of all inline buttons, row by row, flattened."""
        return [button.text for row in self.buttons for button in row]

    def button(self, text: str) -> Button:
        """The inline button labelled ``text``.

        Raises:
            KeyError: If there is no such button.
        """
        for row in self.buttons:
            for button in row:
                if button.text == text:
                    return button
        raise KeyError(
            f"no button {text!r} in message {self.message_id}; have {self.button_texts}"
        )


@dataclass(frozen=True)
class CallbackAnswer:
    """An answer to a callback query (the small toast or alert the user sees)."""

    callback_query_id: str
    text: str | None
    show_alert: bool


@dataclass
class _Fault:
    method: str
    status: int
    description: str
    retry_after: int | None
    times: int
    chat_id: ChatKey | None


class FakeBotAPI(BaseRequest):
    """A :class:`telegram.request.BaseRequest` that answers Bot API calls in-process.

    Args:
        bot_id: The bot's user id (also the numeric part a real token would start with).
        bot_username: The bot's username, without ``@``.
        clock: Gives the ``date`` of sent messages; defaults to the current UTC time.

    Attributes:
        calls: Every request made, in order (failed ones included, see
            :attr:`ApiCall.status`).
        answers: Every answered callback query, in order.
        delay_hook: If set, awaited with ``(method, params)`` before each answer. Use it to
            hold an answer back (await an event) or to simulate a network failure: an
            exception raised from it reaches PTB as if raised by the HTTP layer
            (:class:`telegram.error.TelegramError` subclasses such as ``TimedOut`` as-is,
            anything else wrapped by PTB in ``NetworkError``). The call is recorded first.
    """

    def __init__(
        self,
        bot_id: int = 1,
        bot_username: str = "komorebi_test_bot",
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.bot_id = bot_id
        self.bot_username = bot_username
        self._clock: Callable[[], dt.datetime] = clock or (lambda: dt.datetime.now(dt.UTC))
        self.calls: list[ApiCall] = []
        self.answers: list[CallbackAnswer] = []
        self.delay_hook: DelayHook | None = None

        self._chats: dict[ChatKey, dict[int, FakeMessage]] = {}
        self._next_message_id: dict[ChatKey, int] = {}
        self._blocked: set[ChatKey] = set()
        self._faults: list[_Fault] = []
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._descriptions: dict[tuple[str, str], str] = {}

        self._updates: list[JSONDict] = []
        self._last_update_id = 0
        self._update_waiters: set[asyncio.Future[None]] = set()
        self._shutdowns = 0

    # ------------------------------------------------------------------ BaseRequest

    async def initialize(self) -> None:
        """Nothing to set up; the fake holds no connections."""

    async def shutdown(self) -> None:
        """Makes a pending long-polling ``getUpdates`` return now; keeps all recorded state."""
        self._shutdowns += 1
        self._wake_update_waiters()

    @property
    def read_timeout(self) -> float | None:
        """The fake never times out on its own, so there is no read timeout."""
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Answer one Bot API request with an HTTP status and a JSON payload.

        Timeouts are accepted for interface compatibility and ignored; use
        :attr:`delay_hook` to simulate slow or failing answers.
        """
        endpoint = url.rsplit("/", 1)[-1]
        raw = request_data.parameters if request_data else {}
        return await self.handle(endpoint, raw, _read_files(request_data))

    async def handle(
        self,
        method: str,
        parameters: Mapping[str, Any],
        files: Mapping[str, tuple[str, bytes]] | None = None,
    ) -> tuple[int, bytes]:
        """Answer one Bot API call given by name, parameters and uploads (the part of
        :meth:`do_request` that does not depend on PTB; :mod:`bot.fakeserver` serves it over HTTP).

        Args:
            method: The Bot API method, e.g. ``"sendMessage"``.
            parameters: As PTB passes them; nested JSON may also be given as JSON strings.
            files: Uploads by multipart field name: ``(filename, content)``.

        Returns:
            The HTTP status and the JSON body, as Telegram would answer.
        """
        params, bad_json = _normalise_params(parameters)
        uploads = dict(files or {})
        call = ApiCall(method=method, params=params, files=uploads)
        self.calls.append(call)

        if self.delay_hook is not None:
            await self.delay_hook(method, params)

        try:
            if bad_json is not None:
                raise _ApiError(400, f"Bad Request: can't parse {bad_json} JSON object")
            self._raise_injected_faults(method, params)
            result = await self._dispatch(method, params, uploads)
        except _ApiError as error:
            call.status = error.status
            return error.status, _error_payload(error)
        call.status = 200
        return 200, json.dumps({"ok": True, "result": result}).encode()

    # ------------------------------------------------------------------ inspection

    def messages(self, chat_id: ChatKey) -> list[FakeMessage]:
        """The bot's messages in a chat that the user can still see, oldest first."""
        return list(self._chats.get(_chat_key(chat_id), {}).values())

    def last(self, chat_id: ChatKey) -> FakeMessage:
        """The newest visible bot message in a chat.

        Raises:
            LookupError: If the bot has no visible message in that chat.
        """
        chat = self._chats.get(_chat_key(chat_id))
        if not chat:
            raise LookupError(f"no messages in chat {chat_id}")
        return next(reversed(chat.values()))

    def message(self, chat_id: ChatKey, message_id: int) -> FakeMessage:
        """One visible bot message by id.

        Raises:
            LookupError: If there is no such message (never sent, or deleted).
        """
        try:
            return self._chats[_chat_key(chat_id)][message_id]
        except KeyError:
            raise LookupError(f"no message {message_id} in chat {chat_id}") from None

    def calls_to(self, method: str) -> list[ApiCall]:
        """The recorded calls of one method, in order."""
        return [call for call in self.calls if call.method == method]

    def clear(self) -> None:
        """Forget recorded calls, answers and messages (faults, blocks and updates stay)."""
        self.calls.clear()
        self.answers.clear()
        self._chats.clear()
        self._next_message_id.clear()

    # ------------------------------------------------------------------ fault injection

    def block(self, chat_id: ChatKey) -> None:
        """Make every request to this chat fail with 403 until :meth:`unblock`."""
        self._blocked.add(_chat_key(chat_id))

    def unblock(self, chat_id: ChatKey) -> None:
        """Undo :meth:`block`."""
        self._blocked.discard(_chat_key(chat_id))

    def inject(
        self,
        method: str,
        status: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
        chat_id: int | None = None,
    ) -> None:
        """Fail the next ``times`` calls of ``method`` (to ``chat_id``, if given).

        With ``retry_after`` the answer carries ``parameters.retry_after``, which PTB turns
        into :class:`telegram.error.RetryAfter` (whatever the status). Other statuses map as
        in PTB: 400 ``BadRequest``, 403 ``Forbidden``, 404/401 ``InvalidToken``, 409
        ``Conflict``, anything else ``NetworkError``. Faults queue in order; the oldest
        matching one is used first.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        self._faults.append(
            _Fault(
                method=method,
                status=status,
                description=description,
                retry_after=retry_after,
                times=times,
                chat_id=None if chat_id is None else _chat_key(chat_id),
            )
        )

    def clear_faults(self) -> None:
        """Drop every injected fault not used up yet (blocks stay; see :meth:`unblock`)."""
        self._faults.clear()

    def inject_flood(
        self, method: str, retry_after: int, times: int = 1, chat_id: int | None = None
    ) -> None:
        """Shortcut: fail like Telegram's flood control (429 with ``retry_after``)."""
        self.inject(
            method,
            429,
            f"Too Many Requests: retry after {retry_after}",
            retry_after=retry_after,
            times=times,
            chat_id=chat_id,
        )

    # ------------------------------------------------------------------ polling

    def push_update(self, update: Mapping[str, Any]) -> JSONDict:
        """Queue an incoming update for ``getUpdates``; returns the queued dict.

        A missing ``update_id`` is assigned: one more than the highest queued so far. Updates
        are returned in the order they were pushed.
        """
        queued = _copied(dict(update))
        if queued.get("update_id") is None:
            queued["update_id"] = self._last_update_id + 1
        # Automatic ids continue above explicit ones so that offsets never skip an update.
        self._last_update_id = max(self._last_update_id, int(queued["update_id"]))
        self._updates.append(queued)
        self._wake_update_waiters()
        return queued

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Queued updates not yet confirmed by a ``getUpdates`` offset."""
        return list(self._updates)

    def _wake_update_waiters(self) -> None:
        for waiter in self._update_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._update_waiters.clear()

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        offset = int(params.get("offset", 0) or 0)
        limit = int(params.get("limit", 100) or 100)
        timeout = float(params.get("timeout", 0) or 0)
        if offset:
            # Like Telegram: an offset confirms (and forgets) every update before it.
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        shutdowns = self._shutdowns
        while True:
            if self._updates or self._shutdowns != shutdowns:
                return _copied(self._updates[:limit])
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            waiter: asyncio.Future[None] = loop.create_future()
            self._update_waiters.add(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                return _copied(self._updates[:limit])
            finally:
                self._update_waiters.discard(waiter)

    # ------------------------------------------------------------------ dispatch

    def _raise_injected_faults(self, method: str, params: JSONDict) -> None:
        chat = _chat_key(params["chat_id"]) if "chat_id" in params else None
        for fault in self._faults:
            if fault.method == method and (fault.chat_id is None or fault.chat_id == chat):
                fault.times -= 1
                if fault.times == 0:
                    self._faults.remove(fault)
                raise _ApiError(fault.status, fault.description, fault.retry_after)
        if chat is not None and chat in self._blocked:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")

    async def _dispatch(
        self, method: str, params: JSONDict, files: dict[str, tuple[str, bytes]]
    ) -> Any:
        if method in _TRUE_METHODS:
            return True
        handler = _HANDLERS.get(method)
        if handler is not None:
            return handler(self, params)
        if method == "sendDocument":
            return self._send_document(params, files)
        if method == "getUpdates":
            return await self._get_updates(params)
        raise _ApiError(404, "Not Found: method not found")

    def _bot_user(self) -> JSONDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Komorebi",
            "username": self.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _get_me(self, params: JSONDict) -> JSONDict:
        return self._bot_user()

    def _store(self, chat: ChatKey, message: FakeMessage) -> None:
        self._chats.setdefault(chat, {})[message.message_id] = message

    def _new_message_id(self, chat: ChatKey) -> int:
        message_id = self._next_message_id.get(chat, 1)
        self._next_message_id[chat] = message_id + 1
        return message_id

    def _find(self, params: JSONDict, missing: str) -> FakeMessage:
        chat = _chat_key(_require(params, "chat_id"))
        message_id = int(_require(params, "message_id"))
        try:
            return self._chats[chat][message_id]
        except KeyError:
            raise _ApiError(400, f"Bad Request: {missing}") from None

    def _message_dict(self, message: FakeMessage) -> JSONDict:
        result: JSONDict = {
            "message_id": message.message_id,
            "date": _timestamp(message.date),
            "chat": _chat_dict(message.chat_id),
            # As Telegram names a message's sender: getMe's capability fields are not repeated here.
            "from": {"id": self.bot_id, "is_bot": True, "first_name": "Komorebi", "username": self.bot_username},
        }
        if message.text is not None:
            result["text"] = message.text
        if message.caption is not None:
            result["caption"] = message.caption
        if message.document_filename is not None or message.document_content is not None:
            result["document"] = {
                "file_id": f"doc-{message.chat_id}-{message.message_id}",
                "file_unique_id": f"udoc-{message.chat_id}-{message.message_id}",
                "file_name": message.document_filename,
                "file_size": len(message.document_content or b""),
            }
        # Telegram only ever attaches inline keyboards to the returned message.
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            result["reply_markup"] = message.reply_markup  # serialised at once: no copy needed
        if message.edit_date is not None:
            result["edit_date"] = _timestamp(message.edit_date)
        return result

    def _send_message(self, params: JSONDict) -> JSONDict:
        chat = _chat_key(_require(params, "chat_id"))
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT_LENGTH:
            raise _ApiError(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        message = FakeMessage(
            message_id=self._new_message_id(chat),
            chat_id=chat,
            text=text,
            buttons=_buttons(markup),
            parse_mode=params.get("parse_mode"),
            reply_markup=markup,  # parsed afresh from this request's JSON: nobody else holds it
            date=self._clock(),
        )
        self._store(chat, message)
        return self._message_dict(message)

    def _send_document(self, params: JSONDict, files: dict[str, tuple[str, bytes]]) -> JSONDict:
        chat = _chat_key(_require(params, "chat_id"))
        caption = params.get("caption")
        if isinstance(caption, str) and len(caption) > MAX_CAPTION_LENGTH:
            raise _ApiError(400, "Bad Request: message caption is too long")
        reference = params.get("document")
        upload = _uploaded(reference, files, "document")
        if upload is not None:
            filename, content = upload
        elif isinstance(reference, str) and reference:
            filename, content = reference.rsplit("/", 1)[-1], None
        else:
            raise _ApiError(400, "Bad Request: there is no document in the request")
        markup = params.get("reply_markup")
        message = FakeMessage(
            message_id=self._new_message_id(chat),
            chat_id=chat,
            text=None,
            buttons=_buttons(markup),
            document_filename=filename,
            document_content=content,
            caption=caption,
            parse_mode=params.get("parse_mode"),
            reply_markup=_copied(markup),
            date=self._clock(),
        )
        self._store(chat, message)
        return self._message_dict(message)

    def _edit_message_text(self, params: JSONDict) -> JSONDict | bool:
        if "inline_message_id" in params:
            return True
        message = self._find(params, "message to edit not found")
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if message.text is None:
            raise _ApiError(400, "Bad Request: there is no text in the message to edit")
        if len(text) > MAX_TEXT_LENGTH:
            raise _ApiError(400, "Bad Request: message is too long")
        # Like Telegram, an edit without reply_markup removes the inline keyboard.
        markup = params.get("reply_markup")
        if text == message.text and markup == message.reply_markup:
            raise _ApiError(400, _NOT_MODIFIED)
        buttons = _buttons(markup)
        message.text = text
        message.parse_mode = params.get("parse_mode")
        message.buttons = buttons
        message.reply_markup = _copied(markup)
        message.edit_count += 1
        message.edit_date = self._clock()
        return self._message_dict(message)

    def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict | bool:
        if "inline_message_id" in params:
            return True
        message = self._find(params, "message to edit not found")
        markup = params.get("reply_markup")
        if markup == message.reply_markup:
            raise _ApiError(400, _NOT_MODIFIED)
        message.buttons = _buttons(markup)
        message.reply_markup = _copied(markup)
        message.edit_count += 1
        message.edit_date = self._clock()
        return self._message_dict(message)

    def _delete_message(self, params: JSONDict) -> bool:
        message = self._find(params, "message to delete not found")
        del self._chats[message.chat_id][message.message_id]
        return True

    def _answer_callback_query(self, params: JSONDict) -> bool:
        self.answers.append(
            CallbackAnswer(
                callback_query_id=str(_require(params, "callback_query_id")),
                text=params.get("text"),
                show_alert=bool(params.get("show_alert", False)),
            )
        )
        return True

    def _set_my_commands(self, params: JSONDict) -> bool:
        self._commands[_scope_key(params)] = _copied(list(_require(params, "commands")))
        return True

    def _delete_my_commands(self, params: JSONDict) -> bool:
        self._commands.pop(_scope_key(params), None)
        return True

    def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        return _copied(self._commands.get(_scope_key(params), []))

    def _set_description(self, kind: str, params: JSONDict) -> bool:
        key = (kind, str(params.get("language_code", "")))
        value = params.get(kind)
        if value:
            self._descriptions[key] = str(value)
        else:
            self._descriptions.pop(key, None)
        return True

    def _set_my_description(self, params: JSONDict) -> bool:
        return self._set_description("description", params)

    def _set_my_short_description(self, params: JSONDict) -> bool:
        return self._set_description("short_description", params)

    def _get_my_description(self, params: JSONDict) -> JSONDict:
        key = ("description", str(params.get("language_code", "")))
        return {"description": self._descriptions.get(key, "")}

    def _get_my_short_description(self, params: JSONDict) -> JSONDict:
        key = ("short_description", str(params.get("language_code", "")))
        return {"short_description": self._descriptions.get(key, "")}

    def _get_webhook_info(self, params: JSONDict) -> JSONDict:
        return {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    # ------------------------------------------------------------------ convenience

    def press(
        self,
        chat_id: int,
        button_text: str,
        *,
        message_id: int | None = None,
        user_id: int | None = None,
        first_name: str = "Aiko",
        language_code: str = "en",
    ) -> JSONDict:
        """Build the callback-query update of the user tapping an inline button.

        Uses the bot's last message in the chat (or ``message_id``) as it currently is, so
        PTB sees the real message text and keyboard.

        Raises:
            LookupError: If there is no such message.
            KeyError: If the message has no callback button with that text.
        """
        message = self.last(chat_id) if message_id is None else self.message(chat_id, message_id)
        button = message.button(button_text)
        if button.callback_data is None:
            raise KeyError(f"button {button_text!r} is not a callback button")
        return callback_update(
            chat_id if user_id is None else user_id,
            button.callback_data,
            message_id=message.message_id,
            chat_id=chat_id,
            first_name=first_name,
            language_code=language_code,
            message_text=message.text,
            reply_markup=message.reply_markup,
            bot_id=self.bot_id,
            bot_username=self.bot_username,
        )


_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)

_HANDLERS: dict[str, Callable[[FakeBotAPI, JSONDict], Any]] = {
    "getMe": FakeBotAPI._get_me,
    "sendMessage": FakeBotAPI._send_message,
    "editMessageText": FakeBotAPI._edit_message_text,
    "editMessageReplyMarkup": FakeBotAPI._edit_message_reply_markup,
    "deleteMessage": FakeBotAPI._delete_message,
    "answerCallbackQuery": FakeBotAPI._answer_callback_query,
    "setMyCommands": FakeBotAPI._set_my_commands,
    "deleteMyCommands": FakeBotAPI._delete_my_commands,
    "getMyCommands": FakeBotAPI._get_my_commands,
    "setMyDescription": FakeBotAPI._set_my_description,
    "setMyShortDescription": FakeBotAPI._set_my_short_description,
    "getMyDescription": FakeBotAPI._get_my_description,
    "getMyShortDescription": FakeBotAPI._get_my_short_description,
    "getWebhookInfo": FakeBotAPI._get_webhook_info,
}


# ---------------------------------------------------------------------- helpers


def _copied(value: Any) -> Any:
    """A copy of JSON-like data (dicts and lists of them, and plain values), as ``copy.deepcopy``
    would make it, at a fraction of its cost: a keyboard is copied for every tap."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    return value


def _error_payload(error: _ApiError) -> bytes:
    body: JSONDict = {"ok": False, "error_code": error.status, "description": error.description}
    if error.retry_after is not None:
        body["parameters"] = {"retry_after": error.retry_after}
    return json.dumps(body).encode()


def _require(params: JSONDict, name: str) -> Any:
    if name not in params:
        raise _ApiError(400, f"Bad Request: {name} is empty")
    return params[name]


def _chat_key(value: Any) -> ChatKey:
    """Chat ids arrive as int or str ("123" or "@channel"); numeric ones become int."""
    if isinstance(value, int):
        return int(value)
    text = str(value)
    try:
        return int(text)
    except ValueError:
        return text


def _chat_dict(chat: ChatKey) -> JSONDict:
    if isinstance(chat, int):
        return {"id": chat, "type": "private", "first_name": "Test"}
    # "@username" chats: Telegram would resolve them; a stable fake id is enough here.
    return {"id": -(zlib.crc32(chat.encode()) + 1), "type": "channel", "title": chat}


def _normalise_params(parameters: Mapping[str, Any]) -> tuple[JSONDict, str | None]:
    """Copy the parameters, decoding nested JSON passed as strings.

    Returns the parameters and the name of the first one that is not valid JSON, if any.
    """
    params: JSONDict = {}
    bad_json: str | None = None
    for name, value in parameters.items():
        if name in _JSON_PARAMS and isinstance(value, str):
            try:
                params[name] = json.loads(value)  # a fresh object: nothing to copy
                continue
            except ValueError:
                bad_json = bad_json or name
        params[name] = _copied(value) if isinstance(value, (dict, list)) else value
    return params, bad_json


def _read_files(request_data: RequestData | None) -> dict[str, tuple[str, bytes]]:
    if request_data is None or not request_data.contains_files:
        return {}
    files: dict[str, tuple[str, bytes]] = {}
    for part, (filename, content, _mimetype) in request_data.multipart_data.items():
        if isinstance(content, bytes):
            data = content
        else:
            # InputFile(read_file_handle=False) hands the open file over to the backend.
            data = cast(IO[bytes], content).read()
        files[part] = (filename, data)
    return files


def _uploaded(
    reference: Any, files: dict[str, tuple[str, bytes]], param: str
) -> tuple[str, bytes] | None:
    """The upload for a file parameter: direct multipart part or an ``attach://`` URI."""
    if isinstance(reference, str) and reference.startswith("attach://"):
        return files.get(reference.removeprefix("attach://"))
    if reference is None:
        return files.get(param)
    return None


def _buttons(markup: Any) -> list[list[Button]]:
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return []
    rows: list[list[Button]] = []
    for row in markup["inline_keyboard"]:
        buttons: list[Button] = []
        for raw in row:
            data = raw.get("callback_data")
            if data is not None and len(str(data).encode()) > MAX_CALLBACK_DATA_BYTES:
                raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            buttons.append(
                Button(text=str(raw.get("text", "")), callback_data=data, url=raw.get("url"))
            )
        rows.append(buttons)
    return rows


def _scope_key(params: JSONDict) -> tuple[str, str]:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(params.get("language_code", ""))


# ---------------------------------------------------------------------- update builders

_update_ids = itertools.count(1_000_000)
_incoming_message_ids = itertools.count(1_000_000)
_callback_ids = itertools.count(1)
_file_ids = itertools.count(1)


def _timestamp(date: dt.datetime | int | None) -> int:
    if date is None:
        return int(dt.datetime.now(dt.UTC).timestamp())
    if isinstance(date, dt.datetime):
        return int(date.timestamp())
    return int(date)


def _user_dict(user_id: int, first_name: str, language_code: str | None) -> JSONDict:
    user: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
    if language_code is not None:
        user["language_code"] = language_code
    return user


def _incoming(
    user_id: int,
    *,
    first_name: str,
    language_code: str | None,
    date: dt.datetime | int | None,
    message_id: int | None = None,
) -> JSONDict:
    return {
        "message_id": next(_incoming_message_ids) if message_id is None else message_id,
        "date": _timestamp(date),
        "chat": {"id": user_id, "type": "private", "first_name": first_name},
        "from": _user_dict(user_id, first_name, language_code),
    }


def _update(kind: str, payload: JSONDict, update_id: int | None) -> JSONDict:
    return {"update_id": next(_update_ids) if update_id is None else update_id, kind: payload}


def _command_entities(text: str) -> list[JSONDict]:
    if not text.startswith("/"):
        return []
    command = text.split(maxsplit=1)[0]
    # Entity offsets and lengths count UTF-16 code units.
    return [{"type": "bot_command", "offset": 0, "length": len(command.encode("utf-16-le")) // 2}]


def _file(prefix: str) -> JSONDict:
    number = next(_file_ids)
    return {"file_id": f"{prefix}-{number}", "file_unique_id": f"u{prefix}-{number}"}


def text_update(
    user_id: int,
    text: str,
    *,
    first_name: str = "Aiko",
    language_code: str = "en",
    update_id: int | None = None,
    date: dt.datetime | int | None = None,
) -> JSONDict:
    """An update with a private text message from ``user_id``.

    Text starting with ``/`` gets a ``bot_command`` entity over its first word, as
    Telegram sends it, so ``CommandHandler`` matches.
    """
    message = _incoming(user_id, first_name=first_name, language_code=language_code, date=date)
    message["text"] = text
    entities = _command_entities(text)
    if entities:
        message["entities"] = entities
    return _update("message", message, update_id)


def edited_text_update(
    user_id: int,
    text: str,
    *,
    message_id: int,
    first_name: str = "Aiko",
    language_code: str = "en",
    update_id: int | None = None,
    date: dt.datetime | int | None = None,
) -> JSONDict:
    """An update where the user edited their earlier message ``message_id`` to ``text``."""
    message = _incoming(
        user_id,
        first_name=first_name,
        language_code=language_code,
        date=date,
        message_id=message_id,
    )
    message["text"] = text
    message["edit_date"] = message["date"]
    entities = _command_entities(text)
    if entities:
        message["entities"] = entities
    return _update("edited_message", message, update_id)


def callback_update(
    user_id: int,
    data: str,
    *,
    message_id: int,
    chat_id: int | None = None,
    first_name: str = "Aiko",
    language_code: str = "en",
    update_id: int | None = None,
    date: dt.datetime | int | None = None,
    message_text: str | None = "…",
    reply_markup: JSONDict | None = None,
    bot_id: int = 1,
    bot_username: str = "komorebi_test_bot",
) -> JSONDict:
    """An update where ``user_id`` tapped a callback button carrying ``data``.

    The query includes the bot's message ``message_id`` (in ``chat_id``, default the user's
    private chat) so PTB can parse ``query.message``. See also :meth:`FakeBotAPI.press`.
    """
    chat = user_id if chat_id is None else chat_id
    message: JSONDict = {
        "message_id": message_id,
        "date": _timestamp(date),
        "chat": {"id": chat, "type": "private", "first_name": first_name},
        "from": {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Komorebi",
            "username": bot_username,
        },
    }
    if message_text is not None:
        message["text"] = message_text
    if reply_markup is not None:
        message["reply_markup"] = _copied(reply_markup)
    query: JSONDict = {
        "id": str(next(_callback_ids)),
        "from": _user_dict(user_id, first_name, language_code),
        "chat_instance": f"ci-{chat}",
        "data": data,
        "message": message,
    }
    return _update("callback_query", query, update_id)


def sticker_update(
    user_id: int,
    *,
    emoji: str = "🙂",
    first_name: str = "Aiko",
    language_code: str = "en",
    update_id: int | None = None,
    date: dt.datetime | int | None = None,
) -> JSONDict:
    """An update with a sticker from ``user_id``."""
    message = _incoming(user_id, first_name=first_name, language_code=language_code, date=date)
    message["sticker"] = {
        **_file("sticker"),
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "emoji": emoji,
    }
    return _update("message", message, update_id)


def photo_update(
    user_id: int,
    *,
    caption: str | None = None,
    first_name: str = "Aiko",
    language_code: str = "en",
    update_id: int | None = None,
    date: dt.datetime | int | None = None,
) -> JSONDict:
    """An update with a photo (two sizes, as Telegram sends) and optional caption."""
    message = _incoming(user_id, first_name=first_name, language_code=language_code, date=date)
    message["photo"] = [
        {**_file("photo"), "width": 90, "height": 90, "file_size": 1_200},
        {**_file("photo"), "width": 800, "height": 800, "file_size": 64_000},
    ]
    if caption is not None:
        message["caption"] = caption
    return _update("message", message, update_id)


def voice_update(
    user_id: int,
    *,
    duration: int = 3,
    first_name: str = "Aiko",
    language_code: str = "en",
    update_id: int | None = None,
    date: dt.datetime | int | None = None,
) -> JSONDict:
    """An update with a voice message of ``duration`` seconds."""
    message = _incoming(user_id, first_name=first_name, language_code=language_code, date=date)
    message["voice"] = {
        **_file("voice"),
        "duration": duration,
        "mime_type": "audio/ogg",
        "file_size": duration * 4_000,
    }
    return _update("message", message, update_id)
