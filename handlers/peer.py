"""The peer team: volunteers join with a code, see anonymized cards, and send cheers; participants
choose whether their card is shown, can ask for a kind word, and can say thank you back.

Anonymity both ways: a card names an alias (random words), never an id; a cheer reaches the
participant signed "someone from the peer team"; a thank-you reaches the volunteer as "a
participant said thank you". Callback data names an alias or a cheer, and every tap is checked
against the person who tapped, so a forged button does nothing to anyone else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Translator
from core.activities import NoticeKind
from core.peer import (
    CARDS_PER_PAGE,
    FALLBACKS,
    KIND_WORD_WAIT,
    MAX_CHEER_LENGTH,
    PHRASES,
    THANKS,
    Card,
    card,
    may_cheer,
    normalise_code,
)
from core.textfilter import check_note
from handlers import views
from handlers.base import Edit, Out, Send, SendTo, SetButtons, Toast, Turn, small_number
from storage import repo
from storage.models import Participant, Status, Volunteer

AWAITING_CHEER = "cheer:"
ASK_AFTER_CHECKINS = 3  # the board question comes once someone has shown up a few times


def code_hash(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def local_day_start(turn: Turn) -> tuple[dt.date, dt.datetime]:
    """The deployment's date today and the moment it began (cheer limits count in that day)."""
    zone = ZoneInfo(turn.services.settings.default_timezone)
    local = turn.now.astimezone(zone)
    start = dt.datetime.combine(local.date(), dt.time(), tzinfo=zone)
    return local.date(), start.astimezone(dt.UTC)


async def _volunteer(turn: Turn) -> Volunteer | None:
    """The tapper as an active volunteer, or None."""
    volunteer = await repo.volunteer_by_chat(turn.session, turn.update.effective_chat.id)
    return volunteer if volunteer is not None and volunteer.revoked_at is None else None


def _vt(turn: Turn, volunteer: Volunteer) -> Translator:
    return turn.services.catalogs[volunteer.language]


# --- joining -------------------------------------------------------------------------------------


async def volunteer_command(turn: Turn) -> list[Out]:
    """/volunteer CODE: the rules first; joining only after "I agree"."""
    if await _volunteer(turn) is not None:
        return [Send(turn.t("volunteer.already"))]
    words = (turn.update.effective_message.text or "").split(maxsplit=1)
    if len(words) < 2:
        return [Send(turn.t("volunteer.usage"))]
    code = normalise_code(words[1])
    keyboard = views.one_per_row([(turn.t("volunteer.agree"), f"vo:yes:{code}"[:64]), (turn.t("volunteer.not_now"), "vo:no")])
    return [Send(turn.t("volunteer.rules"), keyboard)]


async def volunteer_agree(turn: Turn) -> list[Out]:
    parts = turn.data.split(":", 2)
    if parts[:2] == ["vo", "no"]:
        return [Edit(turn.t("volunteer.declined"))]
    if len(parts) != 3 or parts[1] != "yes":
        return [Toast(turn.t("button.stale"))]
    chat_id = turn.update.effective_chat.id
    existing = await repo.volunteer_by_chat(turn.session, chat_id)
    if existing is not None and existing.revoked_at is None:
        return [Edit(turn.t("volunteer.already"))]
    hashed = code_hash(parts[2])
    result = await repo.redeem_code(turn.session, hashed, turn.now)
    if result != "ok":
        return [Edit(turn.t(f"volunteer.code_{result}"))]
    if existing is None:
        existing = Volunteer(chat_id=chat_id, language=turn.t.language, created_at=turn.now)
        await repo.add(turn.session, existing)
    else:  # once revoked, a new code from a coordinator lets them back in
        existing.revoked_at = None
        existing.created_at = turn.now
    await repo.link_code(turn.session, hashed, existing.id)
    return [Edit(turn.t("volunteer.welcome"))]


# --- the board -----------------------------------------------------------------------------------


def _card_line(t: Translator, c: Card) -> str:
    line = t(
        "board.card",
        alias=c.alias,
        step=views.level_label(t, c.level),
        streak=c.streak,
        days=c.days_last_7,
        seen=t(f"board.seen.{c.last_seen}"),
    )
    return line + ("\n" + t("board.asked") if c.asked_kind_word else "")


async def _board(turn: Turn, t: Translator, page: int) -> tuple[str, InlineKeyboardMarkup | None]:
    rows, total = await repo.board_page(turn.session, page * CARDS_PER_PAGE, CARDS_PER_PAGE)
    if not rows and total:  # the board shrank since that page was shown (or the page was made up)
        page = (total - 1) // CARDS_PER_PAGE
        rows, total = await repo.board_page(turn.session, page * CARDS_PER_PAGE, CARDS_PER_PAGE)
    if not rows:
        return t("board.empty"), None
    days = await repo.board_days(turn.session, [row.alias for row in rows])
    today, _ = local_day_start(turn)
    cards = [card(r.alias, r.level, r.cheers_on, r.asked_kind_word, *days[r.alias], today) for r in rows]
    pages = -(-total // CARDS_PER_PAGE)
    text = t("board.title", page=page + 1, pages=pages) + "\n\n" + "\n\n".join(_card_line(t, c) for c in cards)
    buttons = [
        [InlineKeyboardButton(t("board.cheer", alias=c.alias), callback_data=f"vc:{c.alias}")] for c in cards if c.cheers_on
    ]
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton(t("board.previous"), callback_data=f"vb:{page - 1}"))
    if page + 1 < pages:
        nav.append(InlineKeyboardButton(t("board.next"), callback_data=f"vb:{page + 1}"))
    if nav:
        buttons.append(nav)
    return text, InlineKeyboardMarkup(buttons) if buttons else None


async def streaks_command(turn: Turn) -> list[Out]:
    volunteer = await _volunteer(turn)
    if volunteer is None:
        return [Send(turn.t("volunteer.only"))]
    volunteer.awaiting = None
    return [Send(*await _board(turn, _vt(turn, volunteer), 0))]


async def board_button(turn: Turn) -> list[Out]:
    volunteer = await _volunteer(turn)
    page = small_number(turn.data.removeprefix("vb:"))
    if volunteer is None or page is None:
        return [Toast(turn.t("button.stale"))]
    return [Edit(*await _board(turn, _vt(turn, volunteer), page))]


# --- cheers --------------------------------------------------------------------------------------


async def _may_cheer(turn: Turn, volunteer: Volunteer, participant: Participant | None) -> str | None:
    """None if a cheer may go to this card now; otherwise the catalogue key that says why not."""
    if participant is None or not participant.cheers_on:
        return "cheer.card_gone"
    day, since = local_day_start(turn)
    sent = await repo.cheers_by_volunteer_since(turn.session, volunteer.id, since)
    cheered = await repo.cheered_on(turn.session, participant.id, day)
    if may_cheer(sent, cheered):
        return None
    return "cheer.enough_today" if cheered else "cheer.your_limit"


async def cheer_button(turn: Turn) -> list[Out]:
    """A card's "Send a kind word": the prepared phrases, or the volunteer's own words."""
    volunteer = await _volunteer(turn)
    if volunteer is None:
        return [Toast(turn.t("button.stale"))]
    t = _vt(turn, volunteer)
    alias = turn.data.removeprefix("vc:")
    why_not = await _may_cheer(turn, volunteer, await repo.board_participant(turn.session, alias))
    if why_not:
        return [Send(t(why_not))]
    choices = [(t(f"cheer.phrase.{n}"), f"vp:{alias}:{n}") for n in range(1, PHRASES + 1)]
    choices.append((t("cheer.own_words"), f"vw:{alias}"))
    return [Send(t("cheer.choose", alias=alias), views.one_per_row(choices))]


async def _send_cheer(turn: Turn, volunteer: Volunteer, alias: str, *, phrase: int | None = None, text: str | None = None) -> list[Out]:
    t = _vt(turn, volunteer)
    participant = await repo.board_participant(turn.session, alias)
    why_not = await _may_cheer(turn, volunteer, participant)
    if why_not:
        return [Send(t(why_not))]
    assert participant is not None
    day, _ = local_day_start(turn)
    cheer_id = await repo.add_cheer(turn.session, participant.id, volunteer.id, day, turn.now, phrase=phrase, text=text)
    if cheer_id is None:  # someone else was a moment quicker
        return [Send(t("cheer.enough_today"))]
    if participant.kind_word_asked_at is not None:
        # They asked for a kind word: it goes now, not with the next hello.
        participant.kind_word_asked_at = None
        await repo.delete_notices(turn.session, participant_id=participant.id, kinds=[NoticeKind.KIND_WORD])
        await repo.add_notice(turn.session, participant.id, NoticeKind.CHEER, turn.now, cheer_id=cheer_id)
        return [Send(t("cheer.sent_now"))]
    return [Send(t("cheer.sent"))]


async def phrase_button(turn: Turn) -> list[Out]:
    volunteer = await _volunteer(turn)
    alias, _, number = turn.data.removeprefix("vp:").rpartition(":")
    phrase = small_number(number)
    if volunteer is None or not alias or phrase not in range(1, PHRASES + 1):
        return [Toast(turn.t("button.stale"))]
    return [SetButtons(None), *await _send_cheer(turn, volunteer, alias, phrase=phrase)]


async def own_words_button(turn: Turn) -> list[Out]:
    volunteer = await _volunteer(turn)
    alias = turn.data.removeprefix("vw:")
    if volunteer is None or await repo.board_participant(turn.session, alias) is None:
        return [Toast(turn.t("button.stale"))]
    volunteer.awaiting = AWAITING_CHEER + alias
    return [SetButtons(None), Send(_vt(turn, volunteer)("cheer.write", limit=MAX_CHEER_LENGTH))]


async def volunteer_text(turn: Turn, volunteer: Volunteer) -> list[Out]:
    """A volunteer's own words for a cheer: checked, then stored for the participant's next hello."""
    t = _vt(turn, volunteer)
    alias = (volunteer.awaiting or "").removeprefix(AWAITING_CHEER)
    words = (turn.update.effective_message.text or "").strip()
    refusal = check_note(words, MAX_CHEER_LENGTH)
    if refusal is not None:
        return [Send(t(f"cheer.refused.{refusal}", limit=MAX_CHEER_LENGTH))]  # still waiting for their words
    volunteer.awaiting = None
    return await _send_cheer(turn, volunteer, alias, text=words)


# --- participants: the board question, a kind word, thank you --------------------------------------


async def peer_team_exists(turn: Turn) -> bool:
    """Whether any volunteer is active (read with the participant at the start of the turn)."""
    if turn.peer_team is not None:
        return turn.peer_team
    return await repo.peer_team_exists(turn.session)


def peer_question(t: Translator) -> Send:
    keyboard = views.one_per_row([(t("peer.ask_yes"), "pe:yes"), (t("peer.ask_no"), "pe:no")])
    return Send(t("peer.ask"), keyboard)


async def maybe_ask_about_board(turn: Turn, participant: Participant) -> list[Out]:
    """Asked once, when it first matters: there is a peer team and they have shown up a few times."""
    if participant.peer_visible is not None or participant.status != Status.ACTIVE:
        return []
    if not await peer_team_exists(turn):
        return []
    if await repo.checkin_count(turn.session, participant.id) < ASK_AFTER_CHECKINS:
        return []
    participant.peer_visible = False  # asked now; stays off unless they say yes
    return [peer_question(turn.t)]


async def peer_answer(turn: Turn) -> list[Out]:
    participant = turn.participant
    if participant is None or participant.status not in (Status.ACTIVE, Status.PAUSED) or turn.data not in ("pe:yes", "pe:no"):
        return [Toast(turn.t("button.stale"))]
    participant.peer_visible = turn.data == "pe:yes"
    return [Edit(turn.t("peer.on" if participant.peer_visible else "peer.off"))]


async def kindword_command(turn: Turn) -> list[Out]:
    """ "I'd like a kind word": a volunteer may send one; after 12 hours without, the bot does."""
    participant = turn.participant
    if participant is None or participant.status not in (Status.ACTIVE, Status.PAUSED):
        return [Send(turn.t("not_started"))]
    if not participant.peer_visible or not participant.cheers_on or not await peer_team_exists(turn):
        return await _kind_word_from_the_bot(turn, participant)
    if participant.kind_word_asked_at is None:
        participant.kind_word_asked_at = turn.now
        await repo.add_notice(turn.session, participant.id, NoticeKind.KIND_WORD, turn.now + KIND_WORD_WAIT)
    return [Send(turn.t("kindword.asked"))]


async def _kind_word_from_the_bot(turn: Turn, participant: Participant) -> list[Out]:
    """No peer team can see them (their choice, or there is none): a word from the bot at once."""
    words = turn.t(f"kindword.fallback.{turn.services.rng.randint(1, FALLBACKS)}")
    return [Send(turn.t("kindword.from_bot", words=words))]


def thanks_keyboard(t: Translator, cheer_id: int) -> InlineKeyboardMarkup:
    return views.one_per_row([(t(f"thanks.phrase.{n}"), f"tq:{cheer_id}:{n}") for n in range(1, THANKS + 1)])


async def thank_button(turn: Turn) -> list[Out]:
    """ "Say thank you" under a cheer: offers a few anonymous phrases."""
    participant = turn.participant
    cheer_id = small_number(turn.data.removeprefix("ty:"))
    cheer = await repo.cheer(turn.session, cheer_id) if cheer_id is not None else None
    if participant is None or cheer is None or cheer.participant_id != participant.id or cheer.delivered_at is None:
        return [Toast(turn.t("button.stale"))]
    if cheer.thanked_at is not None:
        return [Toast(turn.t("thanks.already"))]
    return [Send(turn.t("thanks.choose"), thanks_keyboard(turn.t, cheer.id))]


async def thanks_phrase_button(turn: Turn) -> list[Out]:
    participant = turn.participant
    parts = turn.data.split(":")
    cheer_id = small_number(parts[1]) if len(parts) == 3 else None
    phrase = small_number(parts[2]) if len(parts) == 3 else None
    cheer = await repo.cheer(turn.session, cheer_id) if cheer_id is not None else None
    if (
        participant is None
        or cheer is None
        or cheer.participant_id != participant.id
        or cheer.delivered_at is None
        or phrase not in range(1, THANKS + 1)
    ):
        return [Toast(turn.t("button.stale"))]
    if cheer.thanked_at is not None:  # a double tap passes it on once
        return [Toast(turn.t("thanks.already"))]
    cheer.thanked_at = turn.now
    volunteer = await repo.volunteer(turn.session, cheer.volunteer_id) if cheer.volunteer_id else None
    if volunteer is None or volunteer.revoked_at is not None:
        return [SetButtons(None), Send(turn.t("thanks.kept"))]
    vt = turn.services.catalogs[volunteer.language]
    return [
        SetButtons(None),
        Send(turn.t("thanks.passed")),
        SendTo(volunteer.chat_id, vt("thanks.to_volunteer", words=vt(f"thanks.phrase.{phrase}"))),
    ]


def cheer_words(t: Translator, pending: repo.PendingCheer) -> str:
    """A cheer as the participant reads it: prepared phrases in their own language, signed only
    "someone from the peer team"."""
    words = t(f"cheer.phrase.{pending.phrase}") if pending.phrase else (pending.text or "")
    return t("cheer.line", words=words)
