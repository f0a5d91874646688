"""The shape every handler shares: read the update, work in one session, commit, then reply.

A handler is a plain coroutine ``(turn) -> list[Out]``. :func:`handler` wraps it for PTB: it opens
the session, loads the participant, commits, and only then sends what the handler returned, so a
reply is never sent for work that was not saved. Callback queries are always answered exactly once.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, InputFile, Update
from telegram.error import BadRequest, TelegramError

from bot.i18n import Translator, guess_language
from bot.sending import edit_buttons, edit_text, send_text
from bot.services import Context, Services
from schedules.planning import note_contact, reschedule
from storage import repo
from storage.models import Participant

log = logging.getLogger("komorebi.handlers")


@dataclass(frozen=True)
class Send:
    text: str
    markup: InlineKeyboardMarkup | None = None
    urgent: bool = False  # a crisis reply: nothing may come before it


@dataclass(frozen=True)
class SendTo:
    """A message to someone else's chat (a coordinator's alert, a relayed word)."""

    chat_id: int
    text: str
    markup: InlineKeyboardMarkup | None = None


@dataclass(frozen=True)
class Alert:
    """Messages to the support team, then one line to the person: `told` if at least one arrived,
    `not_told` if none did — so nobody is told the team knows when it does not."""

    messages: tuple[SendTo, ...]
    told: str
    not_told: str


@dataclass(frozen=True)
class Document:
    """A file for the person who asked (their data export)."""

    filename: str
    content: bytes
    caption: str


@dataclass(frozen=True)
class Edit:
    """Replace the message whose button was tapped (falls back to a new message if it is gone)."""

    text: str
    markup: InlineKeyboardMarkup | None = None


@dataclass(frozen=True)
class SetButtons:
    """Change the buttons of the message that was tapped (None takes them off); its words stay."""

    markup: InlineKeyboardMarkup | None = None


@dataclass(frozen=True)
class Toast:
    """A short note shown over the chat when a button is tapped."""

    text: str


Out = Send | SendTo | Alert | Document | Edit | SetButtons | Toast


@dataclass
class Turn:
    """One update being handled: its session, its participant (if any), its words and its moment."""

    update: Update
    services: Services
    session: AsyncSession
    participant: Participant | None
    t: Translator
    now: dt.datetime
    # Whether this chat owes words as a volunteer and as a family member (repo.prompts_waiting),
    # read with the participant when there is one.
    prompts: tuple[bool, bool] | None = None
    # The participant's latest hello (repo.latest_hello_state), read with the participant; read
    # again (latest_hello_fresh False) once this turn has counted a day.
    latest_hello: tuple[dt.date, bool] | None = None
    latest_hello_fresh: bool = False
    # Whether any volunteer is active, read with the participant (None: not read).
    peer_team: bool | None = None

    @property
    def data(self) -> str:
        query = self.update.callback_query
        return query.data or "" if query else ""

    def use_language(self, language: str) -> None:
        self.t = self.services.catalogs[language]


HandlerFn = Callable[[Turn], Awaitable[list[Out]]]

_NUMBER = re.compile(r"[0-9]{1,9}")


def small_number(text: str) -> int | None:
    """A plain ASCII number from callback data, or None. (str.isdigit() also accepts "²", which
    int() refuses, and an id too large for the database column would fail the query.)"""
    return int(text) if _NUMBER.fullmatch(text) else None


def handler(fn: HandlerFn) -> Callable[[Update, Context], Awaitable[None]]:
    """Adapt a turn handler to PTB."""

    async def run(update: Update, context: Context) -> None:
        services = context.services
        chat = update.effective_chat
        if chat is None:
            return
        now = services.clock.now()
        async with services.one_writer(), services.sessions() as session:
            state = await repo.chat_state(session, chat.id)
            participant = state.participant
            default_zone = services.settings.default_timezone
            if participant is not None and participant.blocked_at is not None:
                # They wrote again after blocking the bot: they can be reached again.
                participant.blocked_at = None
                reschedule(participant, now, services.rng, default_zone)
            message = update.effective_message
            if message is not None and (message.text or "").startswith("/"):
                # A command leaves any half-typed answer behind.
                if participant is not None and participant.awaiting is not None:
                    participant.awaiting = None
                await repo.clear_family_prompt(session, chat.id)
                await repo.clear_volunteer_prompt(session, chat.id)
            # Any word or tap ends a quiet spell; after a long one the chosen rhythm comes back.
            welcomed = False
            if participant is not None:
                welcomed = note_contact(participant, now, services.rng, default_zone)
                await repo.clear_unanswered(session, participant)
            language = (participant.language if participant else None) or guess_language(
                update.effective_user.language_code if update.effective_user else None,
                services.settings.default_language,
            )
            turn = Turn(
                update, services, session, participant, services.catalogs[language], now,
                state.prompts, state.latest_hello, latest_hello_fresh=participant is not None,
                peer_team=state.peer_team,
            )
            outs = await fn(turn)
            if welcomed and not any(isinstance(out, Send) and out.urgent for out in outs):
                outs = [Send(turn.t("welcome_back")), *outs]
            await session.commit()
        await deliver(update, context, outs)

    run.__name__ = fn.__name__
    return run


async def _send_elsewhere(
    context: Context, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None
) -> bool:
    """A message to someone else's chat. Its failure is logged, never turned on the person who
    caused it (their own reply still goes out)."""
    try:
        await send_text(context.bot, chat_id, text, markup)
    except TelegramError as exc:
        log.warning("a message to another chat was not delivered: %s", type(exc).__name__)
        return False
    return True


async def deliver(update: Update, context: Context, outs: list[Out]) -> None:
    query = update.callback_query
    toast = next((out.text for out in outs if isinstance(out, Toast)), None)
    if query is not None:
        await query.answer(toast)
    chat_id = update.effective_chat.id
    for out in outs:
        if isinstance(out, Send):
            await send_text(context.bot, chat_id, out.text, out.markup)
        elif isinstance(out, SendTo):
            await _send_elsewhere(context, out.chat_id, out.text, out.markup)
        elif isinstance(out, Alert):
            delivered = [await _send_elsewhere(context, m.chat_id, m.text, m.markup) for m in out.messages]
            await send_text(context.bot, chat_id, out.told if any(delivered) else out.not_told)
        elif isinstance(out, Document):
            await context.bot.send_document(chat_id, InputFile(out.content, filename=out.filename), caption=out.caption)
        elif isinstance(out, Edit):
            if query is None or query.message is None:
                await send_text(context.bot, chat_id, out.text, out.markup)
                continue
            try:
                await edit_text(context.bot, chat_id, query.message.message_id, out.text, out.markup)
            except BadRequest as exc:
                if "not modified" in exc.message:
                    continue
                if "not found" in exc.message or "can't be edited" in exc.message:
                    await send_text(context.bot, chat_id, out.text, out.markup)
                    continue
                raise
        elif isinstance(out, SetButtons) and query is not None and query.message is not None:
            try:
                await edit_buttons(context.bot, chat_id, query.message.message_id, out.markup)
            except BadRequest as exc:
                log.info("buttons could not be changed: %s", type(exc).__name__)
