"""Property test: thousands of random updates through the real Application never crash it, and
everything a person sends in a private chat gets a kind reply (every button tap an answer, once).

Each Hypothesis example is a whole *script* of up to 40 steps for three people (one of them also a
coordinator): words (any Unicode, emoji, Japanese, blanks, far too long), the bot's commands with
odd arguments, unknown commands, taps on the buttons the person can see right now (so scripts
walk onboarding, settings, hellos, tasks, pauses, the safety and family flows for real), deep
links the bot handed out, taps carrying forged or mangled callback data, stickers, photos, voice,
files, edited messages, time passing (the tick run as the JobQueue would, so hellos and notes
arrive), and updates the bot has no handler for (groups, a channel, a block, a poll...).

Checked at every step: no handler raised (the harness records errors); each private message got at
least one message back in its chat; each callback query got exactly one answer. Edits and updates
from groups and channels are answered with nothing. After each script: every text sent or edited
is non-empty and at most 4096 characters, every callback_data at most 64 bytes, no apology for an
error was ever sent, and the bot wrote only to the people's private chats.

A script runs on a loop, a database and an Application of its own (a copy of the migrated SQLite
template), so a failing script is reproducible and Hypothesis can shrink it. Examples are
derandomized and no example database is kept: every run tries the same scripts (175 of them, about
4,000 updates; see EXAMPLES for a longer, random hunt). Like every ``@given`` test it carries Hypothesis's ``hypothesis`` marker
(``pytest -m hypothesis`` selects it). The commands and callback prefixes to try are read from
the handlers the bot registers, so new features are fuzzed as they arrive.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import shutil
import string
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

import handlers
from bot.fakeapi import (
    ApiCall,
    FakeBotAPI,
    FakeMessage,
    callback_update,
    edited_text_update,
    photo_update,
    sticker_update,
    text_update,
    voice_update,
)
from core.clock import FakeClock
from storage.db import create_engine
from storage.models import Base
from tests.harness import Harness

# The same Monday morning in Tokyo as the conftest `clock` fixture.
START = dt.datetime(2026, 3, 2, 0, 30, tzinfo=dt.UTC)

USERS = (4101, 4102, 4103)
# One of them is also a coordinator (a setting the Application ignores if it has no such feature).
COORDINATOR = 4103
LANGUAGES = ("ja", "en", "pt-br", None)


def _registered() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The commands and callback-data prefixes the bot registers now (it grows; the fuzz follows)."""
    application = Application.builder().token("1:FUZZ").build()
    handlers.register(application)
    registered = [h for group in application.handlers.values() for h in group]
    commands = sorted({c for h in registered if isinstance(h, CommandHandler) for c in h.commands})
    prefixes = [
        h.pattern.pattern.removeprefix("^")
        for h in registered
        if isinstance(h, CallbackQueryHandler) and isinstance(h.pattern, re.Pattern) and h.pattern.pattern.startswith("^")
    ]
    return tuple(commands), tuple(prefixes)


REGISTERED_COMMANDS, REGISTERED_PREFIXES = _registered()
COMMANDS = tuple(dict.fromkeys(("start", "task", "progress", "settings", "pause", "resume", "stop", "help", *REGISTERED_COMMANDS)))
GROUP_ID = -4200
CHANNEL_ID = -1004300
BOT_USERNAME = "komorebi_test_bot"  # the FakeBotAPI default
MAX_TEXT = 4096
REPLIES = ("sendMessage", "sendDocument")  # /mydata answers with a file
MAX_CALLBACK_BYTES = 64

MAX_TICKS_PER_WAIT = 12
# 175 derandomized scripts (about 4,000 updates, some 25 s) by default. For a long hunt:
#   KOMOREBI_FUZZ_EXAMPLES=2000 KOMOREBI_FUZZ_RANDOM=1 pytest tests/test_fuzz.py
# (new random scripts each run; about 50,000 updates in 4 minutes).
EXAMPLES = int(os.environ.get("KOMOREBI_FUZZ_EXAMPLES", "175"))
DERANDOMIZE = not os.environ.get("KOMOREBI_FUZZ_RANDOM")
MAX_STEPS = 40


# ---------------------------------------------------------------------------------------- steps
# Plain frozen dataclasses, so a falsifying script prints as readable Python.


@dataclass(frozen=True)
class Text:
    user: int
    language: str | None
    text: str
    first_name: str = "Aiko"


@dataclass(frozen=True)
class Command:
    user: int
    language: str | None
    command: str  # without the slash
    args: str = ""
    mention: str | None = None  # "/start@<mention>"


@dataclass(frozen=True)
class Tap:
    """Tap a callback button the person can see now (chosen by `pick`); if they see none, /start."""

    user: int
    language: str | None
    pick: int
    newest_only: bool = True
    inaccessible: bool = False  # Telegram sends an InaccessibleMessage (date 0) for the message


@dataclass(frozen=True)
class Walk:
    """Several taps in a row by one person, each on the newest buttons: a way through a flow."""

    user: int
    language: str | None
    picks: tuple[int, ...]


@dataclass(frozen=True)
class Link:
    """Follow a t.me deep link (an invitation) the bot showed anyone: /start PAYLOAD; else /start."""

    user: int
    language: str | None
    pick: int


@dataclass(frozen=True)
class Mangled:
    """A visible button's data with one `:`-separated part replaced: a forged or very old tap."""

    user: int
    language: str | None
    pick: int
    part: int
    replacement: str


@dataclass(frozen=True)
class Forged:
    """A callback with arbitrary data, on one of the bot's messages in the chat or a made-up id."""

    user: int
    language: str | None
    data: str
    message_pick: int


@dataclass(frozen=True)
class Media:
    user: int
    language: str | None
    kind: str  # sticker, photo, voice, document, location
    caption: str | None = None


@dataclass(frozen=True)
class Edited:
    user: int
    language: str | None
    text: str
    pick: int  # which earlier message of theirs (or a made-up id, if they sent none)


@dataclass(frozen=True)
class Reach:
    """The coordinator writes to a person through the bot: /reach ALIAS words (alias looked up)."""

    target: int
    words: str
    real_alias: bool = True


@dataclass(frozen=True)
class Wait:
    """Time passes. The tick runs as the JobQueue would run it (every few seconds): at each moment
    something falls due on the way, and at the end."""

    minutes: int


@dataclass(frozen=True)
class Unhandled:
    """Updates PTB parses but the bot has no handler for; they must pass quietly."""

    shape: str
    user: int
    text: str = "/start"


Step = Text | Command | Tap | Walk | Link | Mangled | Forged | Media | Edited | Reach | Wait | Unhandled

UNHANDLED_SHAPES = (
    "group_text",
    "supergroup_command",
    "group_callback",
    "bot_added_to_group",
    "channel_post",
    "edited_channel_post",
    "my_chat_member_blocked",
    "my_chat_member_unblocked",
    "poll",
    "inline_query",
)


# ----------------------------------------------------------------------------------- strategies

# One person is drawn more often than the others, so that scripts follow them deep into the flows.
users = st.sampled_from([USERS[0], USERS[0], USERS[0], *USERS[1:]])
languages = st.sampled_from(LANGUAGES)

EMOJI = ["🙂", "🌸", "👍🏽", "👨‍👩‍👧‍👦", "🇯🇵", "🏳️‍🌈", "❤️", "🫠", "😭", "🙇‍♀️", "☀️", "🍵"]
JAPANESE = "こんにちは今日は疲れたありがとうおやすみなさい木漏れ日ですカタカナ漢字、。「」ー〜"
BLANKS = " \t\n\r\u00a0\u200b\u200d\u2028\u3000\ufeff"
ZONE_LIKE = [
    "Asia/Tokyo",
    " asia/tokyo ",
    "europe/LISBON",
    "America/Sao Paulo",
    "America",
    "Asia",
    "Etc/GMT+14",
    "Etc/GMT-15",
    "UTC",
    "utc+9",
    "GMT-3",
    "+05:30",
    "localtime",
    "posixrules",
    "Factory",
    "right/UTC",
    "../../etc/passwd",
    "/etc/localtime",
    "Asia/Tokyo\x00",
    "東京",
]
DISTRESS = ["I can't do this anymore", "もう無理", "死にたい", "i want to disappear", "help", "助けて"]
NAMES = ["Aiko", "小春", "🌸", "A" * 64, "Ｊｏｓé", "<b>x</b>", "{name}"]


def _repeat(piece: str, n: int) -> str:
    return (piece * (n // max(len(piece), 1) + 1))[:n]


# Very long, cheaply: a drawn piece repeated to a drawn length, up to past Telegram's limit.
# Lengths right at Telegram's 4096 matter most (a reply that quotes them must still fit).
long_texts = st.builds(
    _repeat,
    st.text(min_size=1, max_size=12),
    st.one_of(st.sampled_from([4096, 4095, 4060, 4000, 4097, 5000]), st.integers(1000, 5000)),
)
texts = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=JAPANESE, min_size=1, max_size=80),
    st.lists(st.sampled_from(EMOJI), min_size=1, max_size=12).map("".join),
    st.text(alphabet=BLANKS, min_size=1, max_size=8),
    long_texts,
    st.sampled_from(ZONE_LIKE + DISTRESS),
    # Words that look like commands or markup but are not quite.
    st.sampled_from(["/", "//start", " /start", "/ start", "start", "@komorebi_test_bot", "<b>", "{n}", "%s", "\\"]),
)

command_args = st.one_of(
    st.just(""),
    st.text(max_size=40),
    st.sampled_from(["now", "0", "-1", "99999999999999999999", "ja", "Asia/Tokyo", "a" * 64, "🌸", "f_", "f_x", "f_" + "A" * 60]),
)


def _command_text(command: Command) -> str:
    return "/" + command.command + (f"@{command.mention}" if command.mention else "") + (f" {command.args}" if command.args else "")


commands = st.builds(
    Command,
    users,
    languages,
    st.sampled_from([*COMMANDS, "START", "Settings", "hElP"]),
    command_args,
    st.sampled_from([None, None, None, BOT_USERNAME, "other_bot"]),
)
unknown_commands = st.builds(
    Command,
    users,
    languages,
    st.from_regex(r"[a-z_]{1,20}", fullmatch=True).filter(lambda c: c not in COMMANDS),
    command_args,
)


def _fit(data: str) -> str:
    """Cut to Telegram's 64 bytes of callback data without splitting a character."""
    return data.encode()[:MAX_CALLBACK_BYTES].decode(errors="ignore")


PREFIXES = sorted({
    *REGISTERED_PREFIXES,
    "c:", "s:", "set:", "set:lang:", "set:tz:", "set:win:", "set:rhy:", "set:tasks:", "set:lvl:",
    "set:grp:", "h:", "h:20260302:", "sample:", "t:", "t:20260302:", "r:", "r:20260302:", "e:", "p:",
    "fm:time:", "fm:note:",
})  # fmt: skip
# Digits of other scripts, superscripts, fractions, fullwidth: what str.isdigit and int() disagree on.
NUMERIC_LOOKALIKES = st.text(alphabet="0123456789²³¹⁰½٣٤۵०１２３٠߀", min_size=1, max_size=10)
data_suffixes = st.one_of(st.text(max_size=40), NUMERIC_LOOKALIKES, st.sampled_from(["", ":", "::", "yes", "here", "done"]))
callback_data = st.one_of(
    st.text(max_size=64),
    st.builds(lambda prefix, rest: prefix + rest, st.sampled_from(PREFIXES), data_suffixes),
).map(_fit)

picks = st.integers(0, 1_000)
# Half the taps take the first button, which in this bot's keyboards is the way forward ("OK",
# "Looks good", "I'm here", "Done"): random taps alone rarely get a person through onboarding.
forward_picks = st.one_of(st.just(0), picks)
rare = st.sampled_from([False] * 9 + [True])

taps = st.builds(Tap, users, languages, forward_picks, st.sampled_from([True, True, False]), rare)
walks = st.builds(Walk, users, languages, st.lists(forward_picks, min_size=2, max_size=8).map(tuple))
# Up to two days; the usual jumps to the next hello window are drawn more often than chance would.
waits = st.builds(Wait, st.one_of(st.integers(0, 3000), st.sampled_from([540, 600, 720, 1440, 2880])))
# Kinds listed more than once are drawn more often: walking the real flows (and letting time pass
# so that hellos come) matters more than any single odd input.
steps: st.SearchStrategy[Step] = st.one_of(
    st.builds(Text, users, languages, texts, st.sampled_from(NAMES)),
    commands,
    taps,
    taps,
    walks,
    walks,
    waits,
    waits,
    commands,
    st.builds(Link, users, languages, picks),
    unknown_commands,
    st.builds(Mangled, users, languages, picks, st.integers(0, 4), data_suffixes),
    st.builds(Forged, users, languages, callback_data, picks),
    st.builds(
        Media,
        users,
        languages,
        st.sampled_from(["sticker", "photo", "voice", "document", "location"]),
        st.one_of(st.none(), st.text(max_size=50)),
    ),
    st.builds(Edited, users, languages, st.one_of(texts, commands.map(_command_text)), picks),
    # What a coordinator writes is relayed inside another text: long words matter most there.
    st.builds(Reach, users, st.one_of(long_texts, texts), st.sampled_from([True, True, True, False])),
    waits,
    st.builds(Unhandled, st.sampled_from(UNHANDLED_SHAPES), users, st.sampled_from(["/start", "hello", "/settings@" + BOT_USERNAME])),
)
# The length is drawn first (and shrinks on its own): plain st.lists would average only a few steps.
scripts = st.integers(1, MAX_STEPS).flatmap(lambda n: st.lists(steps, min_size=n, max_size=n))


# ----------------------------------------------------------------------------------- the runner


def _private_chat(user: int, first_name: str = "Aiko") -> dict[str, Any]:
    return {"id": user, "type": "private", "first_name": first_name}


def _sender(user: int, language: str | None, first_name: str = "Aiko") -> dict[str, Any]:
    sender: dict[str, Any] = {"id": user, "is_bot": False, "first_name": first_name}
    if language is not None:
        sender["language_code"] = language
    return sender


def _bot_user() -> dict[str, Any]:
    return {"id": 1, "is_bot": True, "first_name": "Komorebi", "username": BOT_USERNAME}


def _with_language(update: dict[str, Any], kind: str, language: str | None) -> dict[str, Any]:
    """The fakeapi builders always set a language code; Telegram may send none."""
    if language is None:
        update[kind]["from"].pop("language_code", None)
    return update


def _realistic_entities(update: dict[str, Any]) -> dict[str, Any]:
    """Telegram marks only /[A-Za-z0-9_]{1,32}(@bot)? as a bot_command; the builder marks any /word."""
    message = update.get("message") or update.get("edited_message")
    first = (message.get("text") or "").split(maxsplit=1)
    command, _, mention = first[0].partition("@") if first else ("", "", "")
    name_ok = 2 <= len(command) <= 33 and command[0] == "/" and all(c in string.ascii_letters + string.digits + "_" for c in command[1:])
    mention_ok = mention == "" or all(c in string.ascii_letters + string.digits + "_" for c in mention)
    if not (name_ok and mention_ok and message.get("text", "").startswith("/")):
        message.pop("entities", None)
    return update


@dataclass
class Script:
    harness: Harness
    clock: FakeClock
    sent_by: dict[int, list[int]] = field(default_factory=lambda: {user: [] for user in USERS})
    processed: int = 0

    @property
    def api(self) -> FakeBotAPI:
        return self.harness.api

    def now(self) -> dt.datetime:
        return self.clock.now()

    # -- choosing buttons -------------------------------------------------------------------

    def _buttons(self, user: int, newest_only: bool) -> list[tuple[FakeMessage, str]]:
        messages = [m for m in self.api.messages(user) if any(b.callback_data for row in m.buttons for b in row)]
        if newest_only:
            messages = messages[-1:]
        return [(m, b.callback_data) for m in messages for row in m.buttons for b in row if b.callback_data]

    async def _next_due(self) -> dt.datetime | None:
        """The earliest moment anything is scheduled for: every `next_..._at` column of any table."""
        columns = [c for table in Base.metadata.sorted_tables for c in table.c if c.name.startswith("next_") and c.name.endswith("_at")]
        async with self.harness.services.sessions() as session:
            moments = [await session.scalar(select(func.min(column))) for column in columns]
        return min((m for m in moments if m is not None), default=None)

    def _deep_links(self) -> list[str]:
        """Start payloads of every t.me link visible in any chat, in texts or on URL buttons."""
        found: list[str] = []
        for user in USERS:
            for message in self.api.messages(user):
                places = [message.text or "", message.caption or ""]
                places += [b.url for row in message.buttons for b in row if b.url]
                for place in places:
                    found += DEEP_LINK.findall(place)
        return found

    # -- feeding ----------------------------------------------------------------------------

    async def _message(self, update: dict[str, Any], user: int, step: Step) -> None:
        """A private message: it must not crash and must get at least one message (or file) back."""
        before = len(self.api.calls)
        sent_id = update["message"]["message_id"]
        await self.harness.process(update)
        self.processed += 1
        self.sent_by[user].append(sent_id)
        replies = [c for c in self.api.calls[before:] if c.method in REPLIES and c.ok and c.params["chat_id"] == user]
        assert replies, f"no reply to {step!r}; calls: {_summary(self.api.calls[before:])}"

    async def _callback(self, update: dict[str, Any], step: Step) -> None:
        """A tap: it must not crash and must be answered exactly once."""
        before = len(self.api.calls)
        query_id = update["callback_query"]["id"]
        await self.harness.process(update)
        self.processed += 1
        answers = [
            c for c in self.api.calls[before:] if c.method == "answerCallbackQuery" and str(c.params.get("callback_query_id")) == query_id
        ]
        assert len(answers) == 1, f"{len(answers)} answers to {step!r}; calls: {_summary(self.api.calls[before:])}"
        assert answers[0].ok, f"answer to {step!r} failed: {answers[0]!r}"

    async def _quiet(self, update: dict[str, Any]) -> None:
        """Anything the bot has no handler for: it must simply not crash."""
        await self.harness.process(update)
        self.processed += 1

    def _tap_update(self, user: int, language: str | None, message: FakeMessage, data: str, inaccessible: bool) -> dict[str, Any]:
        update = callback_update(
            user,
            data,
            message_id=message.message_id,
            language_code=language or "en",
            date=message.date or self.now(),
            message_text=message.text,
            reply_markup=message.reply_markup,
        )
        if inaccessible:
            update["callback_query"]["message"] = {"chat": _private_chat(user), "message_id": message.message_id, "date": 0}
        return _with_language(update, "callback_query", language)

    async def run(self, step: Step) -> None:
        now = self.now()
        if isinstance(step, Text):
            update = text_update(step.user, step.text, first_name=step.first_name, language_code=step.language or "en", date=now)
            await self._message(_realistic_entities(_with_language(update, "message", step.language)), step.user, step)
        elif isinstance(step, Command):
            update = text_update(step.user, _command_text(step), language_code=step.language or "en", date=now)
            await self._message(_realistic_entities(_with_language(update, "message", step.language)), step.user, step)
        elif isinstance(step, Tap):
            buttons = self._buttons(step.user, step.newest_only)
            if not buttons:
                # Nothing to tap: begin instead, so that scripts reach the flows behind the buttons.
                update = text_update(step.user, "/start", language_code=step.language or "en", date=now)
                await self._message(_with_language(update, "message", step.language), step.user, step)
                return
            message, data = buttons[step.pick % len(buttons)]
            await self._callback(self._tap_update(step.user, step.language, message, data, step.inaccessible), step)
        elif isinstance(step, Walk):
            for pick in step.picks:
                await self.run(Tap(step.user, step.language, pick))
        elif isinstance(step, Link):
            payloads = self._deep_links()
            text = f"/start {payloads[step.pick % len(payloads)]}" if payloads else "/start"
            update = text_update(step.user, text, language_code=step.language or "en", date=now)
            await self._message(_with_language(update, "message", step.language), step.user, step)
        elif isinstance(step, Mangled):
            buttons = self._buttons(step.user, newest_only=False)
            if buttons:
                message, data = buttons[step.pick % len(buttons)]
                parts = data.split(":")
                parts[step.part % len(parts)] = step.replacement
                data = _fit(":".join(parts))
            else:
                message, data = FakeMessage(message_id=step.pick + 1, chat_id=step.user, text="…"), _fit(step.replacement)
            await self._callback(self._tap_update(step.user, step.language, message, data, False), step)
        elif isinstance(step, Forged):
            mine = self.api.messages(step.user)
            message = mine[step.message_pick % len(mine)] if mine and step.message_pick % 4 else None
            if message is None:
                message = FakeMessage(message_id=step.message_pick + 1, chat_id=step.user, text="…")
            await self._callback(self._tap_update(step.user, step.language, message, step.data, False), step)
        elif isinstance(step, Media):
            await self._message(self._media(step, now), step.user, step)
        elif isinstance(step, Edited):
            mine = self.sent_by[step.user]
            message_id = mine[step.pick % len(mine)] if mine else step.pick + 1
            update = edited_text_update(step.user, step.text, message_id=message_id, language_code=step.language or "en", date=now)
            update = _realistic_entities(_with_language(update, "edited_message", step.language))
            before = len(self.api.calls)
            await self._quiet(update)
            # An edit is never a second check-in, nor a reply to anything (see test_bad_input).
            assert not [c for c in self.api.calls[before:] if c.method in REPLIES], f"{step!r} was answered"
        elif isinstance(step, Reach):
            participant = await self.harness.participant(step.target)
            alias = getattr(participant, "alias", None) if step.real_alias else None
            text = f"/reach {alias or 'nobody-here'} {step.words}"
            update = text_update(COORDINATOR, text, language_code="en", date=now)
            await self._message(_realistic_entities(update), COORDINATOR, step)
        elif isinstance(step, Wait):
            target = now + dt.timedelta(minutes=step.minutes)
            for _ in range(MAX_TICKS_PER_WAIT):
                due = await self._next_due()
                if due is None or due > target:
                    break
                self.clock.set(max(due, self.now() + dt.timedelta(minutes=1)))
                await self.harness.tick()
            self.clock.set(max(target, self.now()))
            await self.harness.tick()
        elif isinstance(step, Unhandled):
            await self._unhandled(step, now)
        else:  # pragma: no cover
            raise TypeError(step)

    def _media(self, step: Media, now: dt.datetime) -> dict[str, Any]:
        language = step.language or "en"
        if step.kind == "sticker":
            update = sticker_update(step.user, language_code=language, date=now)
        elif step.kind == "photo":
            update = photo_update(step.user, caption=step.caption, language_code=language, date=now)
        elif step.kind == "voice":
            update = voice_update(step.user, language_code=language, date=now)
        else:
            update = sticker_update(step.user, language_code=language, date=now)
            del update["message"]["sticker"]
            if step.kind == "document":
                update["message"]["document"] = {"file_id": "doc-1", "file_unique_id": "udoc-1", "file_name": "notes.txt"}
                if step.caption is not None:
                    update["message"]["caption"] = step.caption
            else:
                update["message"]["location"] = {"latitude": 35.68, "longitude": 139.76}
        return _with_language(update, "message", step.language)

    async def _unhandled(self, step: Unhandled, now: dt.datetime) -> None:
        date = int(now.timestamp())
        sender = _sender(step.user, "en")
        group = {"id": GROUP_ID, "type": "group", "title": "friends"}
        supergroup = {"id": GROUP_ID * 1000, "type": "supergroup", "title": "club"}
        channel = {"id": CHANNEL_ID, "type": "channel", "title": "news"}
        message = {"message_id": 1, "date": date, "from": sender}
        update: dict[str, Any]
        if step.shape in ("group_text", "supergroup_command"):
            chat = group if step.shape == "group_text" else supergroup
            update = text_update(step.user, step.text, date=now)
            update["message"]["chat"] = chat
            _realistic_entities(update)
        elif step.shape == "group_callback":
            update = callback_update(step.user, "set:lang:ja", message_id=1, chat_id=GROUP_ID, date=now)
            update["callback_query"]["message"]["chat"] = group
            before = len(self.api.calls)
            await self._callback(update, step)
            assert not [c for c in self.api.calls[before:] if c.method in REPLIES], "the bot wrote in a group"
            return
        elif step.shape == "bot_added_to_group":
            update = {"update_id": _next_update_id(), "message": {**message, "chat": group, "new_chat_members": [_bot_user()]}}
        elif step.shape in ("channel_post", "edited_channel_post"):
            post = {"message_id": 1, "date": date, "chat": channel, "text": step.text, "sender_chat": channel}
            if step.shape == "edited_channel_post":
                post["edit_date"] = date
            update = {"update_id": _next_update_id(), step.shape: post}
        elif step.shape.startswith("my_chat_member"):
            blocked = step.shape.endswith("_blocked")
            old, new = ("member", "kicked") if blocked else ("kicked", "member")
            update = {
                "update_id": _next_update_id(),
                "my_chat_member": {
                    "chat": _private_chat(step.user),
                    "from": sender,
                    "date": date,
                    "old_chat_member": {"user": _bot_user(), "status": old, **({"until_date": 0} if old == "kicked" else {})},
                    "new_chat_member": {"user": _bot_user(), "status": new, **({"until_date": 0} if new == "kicked" else {})},
                },
            }
        elif step.shape == "poll":
            update = {
                "update_id": _next_update_id(),
                "poll": {
                    "id": "poll-1",
                    "question": step.text,
                    "options": [
                        {"text": "yes", "voter_count": 1, "persistent_id": "o1"},
                        {"text": "no", "voter_count": 0, "persistent_id": "o2"},
                    ],
                    "total_voter_count": 1,
                    "is_closed": False,
                    "is_anonymous": True,
                    "type": "regular",
                    "allows_multiple_answers": False,
                    "allows_revoting": False,
                    "members_only": False,
                },
            }
        elif step.shape == "inline_query":
            update = {"update_id": _next_update_id(), "inline_query": {"id": "iq-1", "from": sender, "query": step.text, "offset": ""}}
        else:  # pragma: no cover
            raise ValueError(step.shape)
        before = len(self.api.calls)
        await self._quiet(update)
        if step.shape != "my_chat_member_unblocked":  # a greeting on coming back would be fine
            # Groups, channels, polls, inline queries and a block: the bot writes to nobody.
            assert not [c for c in self.api.calls[before:] if c.method in REPLIES], f"{step!r} was answered"

    # -- what was sent, over the whole script -------------------------------------------------

    def check_everything_sent(self) -> None:
        generic = {self.harness.t("error.generic", language) for language in ("ja", "en")}
        for call in self.api.calls:
            if call.method in ("sendMessage", "editMessageText"):
                text = call.params.get("text")
                assert isinstance(text, str) and text.strip(), f"empty text in {call!r}"
                assert len(text) <= MAX_TEXT, f"{len(text)} characters in {call.method}"
                assert text not in generic, f"the bot apologised for an error: {call!r}"
            if call.method in REPLIES:
                assert call.ok, f"a message could not be sent: {call!r}"
                assert call.params["chat_id"] in USERS, f"the bot wrote outside a private chat: {call!r}"
            for row in (call.params.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    data = button.get("callback_data")
                    assert data is None or 1 <= len(data.encode()) <= MAX_CALLBACK_BYTES, f"callback data {data!r}"
        for user in USERS:
            for message in self.api.messages(user):
                assert message.text is None or len(message.text) <= MAX_TEXT
                for row in message.buttons:
                    for button in row:
                        assert button.callback_data is None or len(button.callback_data.encode()) <= MAX_CALLBACK_BYTES


DEEP_LINK = re.compile(r"[?&]start=([A-Za-z0-9_-]{1,64})")
_update_ids = iter(range(9_000_000, 10**9))


def _next_update_id() -> int:
    return next(_update_ids)


def _summary(calls: list[ApiCall]) -> list[tuple[str, int | None, Any]]:
    return [(c.method, c.status, c.params.get("text")) for c in calls]


async def _run_script(template: Path, script: list[Step]) -> int:
    with tempfile.TemporaryDirectory(prefix="komorebi-fuzz-") as directory:
        path = Path(directory) / "komorebi.db"
        shutil.copy(template, path)
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            clock = FakeClock(START)
            async with Harness.started(engine, clock, KOMOREBI_COORDINATORS=str(COORDINATOR)) as harness:
                run = Script(harness, clock)
                for step in script:
                    await run.run(step)
                run.check_everything_sent()
                return run.processed
        finally:
            await engine.dispose()


# ------------------------------------------------------------------------------------- the test

# How many updates each example fed through the Application (for a look after a run).
processed_updates: list[int] = []


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=DERANDOMIZE,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(script=scripts)
def test_random_updates_never_crash_and_always_get_a_kind_answer(sqlite_template: Path, script: list[Step]) -> None:
    processed_updates.append(asyncio.run(_run_script(sqlite_template, script)))


# --------------------------------------------------------------------- what the fuzz found, pinned


@pytest.mark.parametrize("command", ["/start", "/help", "/stop", "/dance"])
async def test_an_edited_message_is_never_run_as_a_command(
    sqlite_engine: AsyncEngine, clock: FakeClock, command: str
) -> None:
    person = USERS[0]
    async with Harness.started(sqlite_engine, clock) as bot:
        before = len(bot.api.calls)
        # PTB's CommandHandler and filters.COMMAND also match edited messages unless told not to.
        await bot.process(edited_text_update(person, command, message_id=5, language_code="en", date=clock.now()))
        assert bot.replies(before) == []
        assert await bot.participant(person) is None  # an edit is no first contact either


async def test_digits_that_int_refuses_in_forged_level_data_are_a_stale_button(sqlite_engine: AsyncEngine, clock: FakeClock) -> None:
    """Found by the fuzz: "²".isdigit() is true but int("²") raises."""
    person = USERS[0]
    async with Harness.started(sqlite_engine, clock) as bot:
        await bot.send(person, "/start")
        await bot.tap_data(person, "c:yes", message_id=bot.api.last(person).message_id)
        for value in ("²", "⁰", "½", "1²"):
            assert await bot.tap_data(person, f"set:lvl:{value}", message_id=1) == [bot.t("button.stale")]


async def test_words_relayed_at_telegrams_length_limit_still_fit(sqlite_engine: AsyncEngine, clock: FakeClock) -> None:
    """Found by the fuzz: a coordinator's /reach, or a person's reply, of (nearly) 4096 characters
    made a relayed message longer than Telegram allows, and the handler raised."""
    person = USERS[0]
    async with Harness.started(sqlite_engine, clock, KOMOREBI_COORDINATORS=str(COORDINATOR)) as bot:
        await bot.send(person, "/start")
        await bot.tap_data(person, "c:yes", message_id=bot.api.last(person).message_id)
        alias = (await bot.participant(person)).alias
        prefix = f"/reach {alias} "
        assert await bot.send(COORDINATOR, prefix + "a" * (MAX_TEXT - len(prefix)))
        reach = bot.api.last(person)
        assert reach.text and len(reach.text) <= MAX_TEXT
        [data] = [b.callback_data for row in reach.buttons for b in row if b.callback_data]
        await bot.tap_data(person, data, message_id=reach.message_id)
        before = len(bot.api.calls)
        assert await bot.send(person, "b" * MAX_TEXT)
        relayed = [c for c in bot.api.calls[before:] if c.method == "sendMessage" and c.params["chat_id"] == COORDINATOR]
        assert relayed and all(c.ok and len(c.params["text"]) <= MAX_TEXT for c in relayed)
