"""The peer team through the real Application: codes, the board, cheers, thank-yous, kind words."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.clock import FakeClock
from storage import repo
from storage.models import Cheer, Notice, Volunteer, VolunteerCode
from tests.harness import Harness
from tests.test_checkin_loop import to_next_hello
from tests.test_onboarding import onboard as onboard_without_team

COORDINATOR = 9001
VOL = 4001
VOL2 = 4002
P = 1001  # a participant who shows their card
HIDDEN = 1002  # a participant who keeps it hidden
NOBODY = 6006


@pytest.fixture
async def team(engine: AsyncEngine, clock: FakeClock) -> AsyncIterator[Harness]:
    async with Harness.started(engine, clock, KOMOREBI_COORDINATORS=str(COORDINATOR)) as harness:
        yield harness


async def onboard(bot: Harness, user: int) -> None:
    """Onboarding where a support team is connected: the crisis-alert question comes too."""
    await onboard_without_team(bot, user)
    await bot.tap(user, bot.t("onboarding.alerts_no"))


async def new_code(bot: Harness) -> str:
    [reply] = await bot.send(COORDINATOR, "/newcode")
    match = re.search(r"Volunteer code: ([A-Z0-9]{4}-[A-Z0-9]{4})", reply)
    assert match, reply
    return match.group(1)


async def join(bot: Harness, user: int = VOL) -> None:
    code = await new_code(bot)
    assert await bot.send(user, f"/volunteer {code}") == [bot.t("volunteer.rules")]
    assert await bot.tap(user, "I agree") == [bot.t("volunteer.welcome")]


async def show_up(bot: Harness, user: int, days: int) -> None:
    """`days` hellos answered with "I'm here"."""
    for _ in range(days):
        await to_next_hello(bot, user)
        await bot.tap(user, "I'm here")


async def visible(bot: Harness, user: int = P, checkins: int = 3) -> str:
    """Onboard `user`, show up until the board question comes, say yes; returns their alias."""
    await onboard(bot, user)
    await show_up(bot, user, checkins - 1)
    await to_next_hello(bot, user)
    assert await bot.tap(user, "I'm here") == [bot.t("checkin.here"), bot.t("peer.ask")]
    assert await bot.tap(user, "Yes, show my card") == [bot.t("peer.on")]
    return (await bot.participant(user)).alias


def messages_to(bot: Harness, before: int, user: int) -> list[str]:
    """Messages sent to `user`'s chat since call number `before` (toasts are the tapper's, not theirs)."""
    return [c.params["text"] for c in bot.api.calls[before:] if c.method == "sendMessage" and c.params["chat_id"] == user]


async def card_shown(bot: Harness, user: int) -> str:
    """A participant onboarded with their card on the board straight away; returns their alias."""
    await onboard(bot, user)
    async with bot.services.sessions() as session:
        participant = await repo.participant_by_chat(session, user)
        participant.peer_visible = True
        await session.commit()
        return participant.alias


def from_the_bot(bot: Harness, text: str) -> bool:
    """A kind word the bot sent itself (not a volunteer's)."""
    return text.startswith(bot.t("kindword.from_bot", words=""))


async def count(bot: Harness, model: type) -> int:
    async with bot.services.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


# --- codes ---------------------------------------------------------------------------------------


async def test_a_code_works_once_and_only_its_hash_is_stored(team: Harness) -> None:
    code = await new_code(team)
    async with team.services.sessions() as session:
        [stored] = (await session.scalars(select(VolunteerCode))).all()
    assert code not in stored.code_hash and len(stored.code_hash) == 64
    # Typed in lower case with a space instead of the dash: still the same code.
    assert await team.send(VOL, f"/volunteer {code.lower().replace('-', ' ')}") == [team.t("volunteer.rules")]
    assert await team.tap(VOL, "I agree") == [team.t("volunteer.welcome")]
    # The same code again, by someone else: refused kindly, nobody new joins.
    await team.send(VOL2, f"/volunteer {code}")
    assert await team.tap(VOL2, "I agree") == [team.t("volunteer.code_used")]
    assert await count(team, Volunteer) == 1
    # Joining twice is not needed.
    assert await team.send(VOL, f"/volunteer {code}") == [team.t("volunteer.already")]


async def test_an_expired_an_unknown_and_a_missing_code(team: Harness) -> None:
    code = await new_code(team)
    team.clock.advance(dt.timedelta(days=7, minutes=1))
    await team.send(VOL, f"/volunteer {code}")
    assert await team.tap(VOL, "I agree") == [team.t("volunteer.code_expired")]
    await team.send(VOL, "/volunteer ABCD-EFGH")
    assert await team.tap(VOL, "I agree") == [team.t("volunteer.code_unknown")]
    assert await team.send(VOL, "/volunteer") == [team.t("volunteer.usage")]
    await team.send(VOL, f"/volunteer {code}")
    assert await team.tap(VOL, "Not now") == [team.t("volunteer.declined")]
    assert await count(team, Volunteer) == 0


async def test_someone_who_is_not_a_coordinator_gets_the_unknown_command_answer_for_every_tool(team: Harness) -> None:
    await onboard(team, P)
    for command in (
        "/newcode",
        "/volunteers",
        "/newactivity 2026-03-10 14:00 | Tea | Online | 5 | 0",
        "/editactivity 1 | 2026-03-10 14:00 | Tea | Online | 5 | 0",
        "/cancelactivity 1",
        "/figures",
    ):
        assert await team.send(NOBODY, command) == [team.t("command.unknown")], command
        assert await team.send(P, command) == [team.t("command.unknown")], command
    assert await count(team, VolunteerCode) == 0
    # A forged "end this volunteer's place" button does nothing either.
    await join(team)
    [volunteer_row] = await team.send(COORDINATOR, "/volunteers")
    assert await team.tap_data(NOBODY, "vx:1", message_id=1) == [team.t("button.stale")]
    async with team.services.sessions() as session:
        assert (await repo.volunteer_by_chat(session, VOL)).revoked_at is None
    # The help a participant sees does not mention the tools.
    [text] = await team.send(P, "/help")
    assert "/newcode" not in text and "/streaks" not in text


# --- the board ------------------------------------------------------------------------------------


async def test_the_board_shows_only_anonymized_cards_of_people_who_said_yes(team: Harness) -> None:
    await join(team)
    await onboard(team, HIDDEN)
    await show_up(team, HIDDEN, 2)
    await to_next_hello(team, HIDDEN)
    assert await team.tap(HIDDEN, "I'm here") == [team.t("checkin.here"), team.t("peer.ask")]
    assert await team.tap(HIDDEN, "No, thank you") == [team.t("peer.off")]
    hidden_alias = (await team.participant(HIDDEN)).alias
    alias = await visible(team)

    [board] = await team.send(VOL, "/streaks")
    assert alias in board and hidden_alias not in board
    assert "step 0: just saying hello · streak 3 · 3 of the last 7 days · last here: today" in board
    # Nothing that narrows a person down: no chat id, no zone, no name.
    for secret in (str(P), "Asia/Tokyo", "Tokyo", "Test"):
        assert secret not in board
    assert team.api.last(VOL).button_texts == [f"A kind word for {alias}"]
    # Someone who is not on the team cannot see it.
    assert await team.send(NOBODY, "/streaks") == [team.t("volunteer.only")]
    # The question was asked once: later check-ins do not ask again. (HIDDEN let a few hellos
    # pass while P was set up, so a "Welcome back" may come first.)
    await to_next_hello(team, HIDDEN)
    replies = await team.tap(HIDDEN, "I'm here")
    assert replies[-1] == team.t("checkin.here") and team.t("peer.ask") not in replies
    # A week later, without P: "earlier", and the days in the last 7 are none.
    team.clock.advance(dt.timedelta(days=8))
    [board] = await team.send(VOL, "/streaks")
    assert "· 0 of the last 7 days · last here: earlier" in board


def test_the_board_query_selects_no_identifying_column() -> None:
    allowed = {"alias", "level", "cheers_on", "asked", "day"}
    statements = [repo.board_statement(0, 5), *repo.board_days_statements(["quiet-fern-42"])]
    for statement in statements:
        names = {column.name for column in statement.selected_columns}
        assert names <= allowed, names
        selected = re.split(r"\sFROM\s", str(statement))[0]
        assert selected.startswith("SELECT")
        for column in ("chat_id", "participants.id", "timezone", "window", "created_at", "consent_at", "language"):
            assert column not in selected, (column, selected)


async def test_the_board_pages(team: Harness) -> None:
    await join(team)
    aliases = [await card_shown(team, user) for user in range(2001, 2007)]  # two pages of five
    [first] = await team.send(VOL, "/streaks")
    assert "page 1 of 2" in first
    [second] = await team.tap(VOL, "More ▶")
    assert "page 2 of 2" in second
    shown = [a for a in aliases if a in first] + [a for a in aliases if a in second]
    assert sorted(shown) == sorted(aliases)
    [again] = await team.tap(VOL, "◀ Back")
    assert again == first
    # A page that no longer exists (or never did) shows the last one.
    [last] = await team.tap_data(VOL, "vb:99", message_id=team.api.last(VOL).message_id)
    assert last == second


# --- cheers ---------------------------------------------------------------------------------------


async def test_a_cheer_arrives_with_the_next_hello_and_a_thank_you_goes_back_anonymously(team: Harness) -> None:
    await join(team)
    alias = await visible(team)
    [board] = await team.send(VOL, "/streaks")
    assert await team.tap(VOL, f"A kind word for {alias}") == [team.t("cheer.choose", alias=alias)]
    assert await team.tap(VOL, team.t("cheer.phrase.2")) == [team.t("cheer.sent")]
    # Nothing reaches the participant at once; it comes with the next hello, signed by nobody.
    assert team.api.last(P).text != team.t("cheer.line", words=team.t("cheer.phrase.2"))
    await to_next_hello(team, P)
    hello = team.api.last(P)
    assert team.t("cheer.line", words=team.t("cheer.phrase.2")) in hello.text
    assert "Say thank you" in hello.button_texts
    assert str(VOL) not in hello.text
    # A second hello does not repeat it.
    await team.tap(P, "I'm here")
    await to_next_hello(team, P)
    assert team.t("cheer.line", words=team.t("cheer.phrase.2")) not in team.api.last(P).text

    assert await team.tap(P, "Say thank you", message_id=hello.message_id) == [team.t("thanks.choose")]
    thanks = team.api.last(P)
    before = len(team.api.calls)
    assert await team.tap(P, "That helped today.") == [team.t("thanks.passed")]
    assert team.replies(before, VOL) == [team.t("thanks.to_volunteer", words=team.t("thanks.phrase.2"))]
    # A double tap passes it on once.
    before = len(team.api.calls)
    assert await team.tap_data(P, "tq:1:1", message_id=thanks.message_id) == [team.t("thanks.already")]
    assert messages_to(team, before, VOL) == []


async def test_one_cheer_a_participant_a_day_and_ten_a_volunteer_a_day(team: Harness) -> None:
    await join(team, VOL)
    await join(team, VOL2)
    alias = await visible(team)
    await team.send(VOL, "/streaks")
    await team.tap(VOL, f"A kind word for {alias}")
    await team.tap(VOL, team.t("cheer.phrase.1"))
    await team.send(VOL2, "/streaks")
    assert await team.tap(VOL2, f"A kind word for {alias}") == [team.t("cheer.enough_today")]
    # A forged phrase button for the same card is refused the same way.
    assert await team.tap_data(VOL2, f"vp:{alias}:3", message_id=1) == [team.t("cheer.enough_today")]
    assert await count(team, Cheer) == 1

    # Ten more cards; VOL2 may send ten, not eleven.
    aliases = [await card_shown(team, user) for user in range(3001, 3011)]
    for a in aliases[:9]:
        assert await team.tap_data(VOL2, f"vp:{a}:1", message_id=1) == [team.t("cheer.sent")]
    await team.tap_data(VOL2, f"vp:{aliases[9]}:1", message_id=1)
    assert await count(team, Cheer) == 11  # 1 from VOL, 10 from VOL2
    extra = await card_shown(team, 3100)
    assert await team.tap_data(VOL2, f"vp:{extra}:1", message_id=1) == [team.t("cheer.your_limit")]
    # The next day, it opens again.
    team.clock.advance(dt.timedelta(days=1))
    assert await team.tap_data(VOL2, f"vp:{extra}:1", message_id=1) == [team.t("cheer.sent")]


async def test_own_words_are_checked_kindly_and_arrive_as_written(team: Harness) -> None:
    await join(team)
    alias = await visible(team)
    await team.send(VOL, "/streaks")
    await team.tap(VOL, f"A kind word for {alias}")
    assert await team.tap(VOL, "Write my own words") == [team.t("cheer.write", limit=200)]
    for words, refusal in (
        ("see https://example.com", "link"),
        ("find me at @kindperson", "handle"),
        ("call 090-1234-5678", "phone"),
        ("write to me@example.com", "email"),
        ("x" * 201, "too_long"),
    ):
        assert await team.send(VOL, words) == [team.t(f"cheer.refused.{refusal}", limit=200)], words
    assert await count(team, Cheer) == 0
    assert await team.send(VOL, "The sun was warm today. Thinking of you.") == [team.t("cheer.sent")]
    await to_next_hello(team, P)
    assert team.t("cheer.line", words="The sun was warm today. Thinking of you.") in team.api.last(P).text
    # A volunteer's words are never counted as a check-in of theirs, and never stored as one.
    assert (await team.participant(VOL)) is None


async def test_forged_and_foreign_buttons_touch_nobody_else(team: Harness) -> None:
    await join(team)
    alias = await visible(team)
    await onboard(team, HIDDEN)
    hidden_alias = (await team.participant(HIDDEN)).alias
    # A volunteer forging a card for someone who is not on the board: nothing is stored.
    assert await team.tap_data(VOL, f"vc:{hidden_alias}", message_id=1) == [team.t("cheer.card_gone")]
    assert await team.tap_data(VOL, f"vp:{hidden_alias}:1", message_id=1) == [team.t("cheer.card_gone")]
    assert await team.tap_data(VOL, f"vw:{hidden_alias}", message_id=1) == [team.t("button.stale")]
    # A participant (not a volunteer) forging a cheer button: nothing.
    assert await team.tap_data(HIDDEN, f"vp:{alias}:1", message_id=1) == [team.t("button.stale")]
    assert await count(team, Cheer) == 0
    # A cheer for P; HIDDEN forging P's thank-you buttons: nothing reaches the volunteer.
    await team.tap_data(VOL, f"vp:{alias}:1", message_id=1)
    await to_next_hello(team, P)
    before = len(team.api.calls)
    assert await team.tap_data(HIDDEN, "ty:1", message_id=1) == [team.t("button.stale")]
    assert await team.tap_data(HIDDEN, "tq:1:1", message_id=1) == [team.t("button.stale")]
    assert await team.tap_data(P, "tq:1:9", message_id=1) == [team.t("button.stale")]
    assert messages_to(team, before, VOL) == []
    async with team.services.sessions() as session:
        assert (await session.get(Cheer, 1)).thanked_at is None


async def test_cheers_switched_off_are_not_kept_and_the_card_takes_none(team: Harness) -> None:
    await join(team)
    alias = await visible(team)
    await team.tap_data(VOL, f"vp:{alias}:1", message_id=1)
    await team.send(P, "/settings")
    await team.tap(P, "Peer team")
    [menu] = await team.tap(P, "Kind words: off")
    assert "kind words off" in menu
    assert await count(team, Cheer) == 0
    [board] = await team.send(VOL, "/streaks")
    assert alias in board and team.api.last(VOL).button_texts == []
    team.clock.advance(dt.timedelta(days=1))
    assert await team.tap_data(VOL, f"vc:{alias}", message_id=1) == [team.t("cheer.card_gone")]
    # Hiding the card from /privacy takes it off the board.
    await team.send(P, "/privacy")
    await team.tap(P, "Hide my card from the peer team")
    assert await team.send(VOL, "/streaks") == [team.t("board.empty")]


# --- a kind word, asked for --------------------------------------------------------------------------


async def test_a_kind_word_asked_for_comes_from_the_bot_after_twelve_hours_without_a_volunteer(team: Harness) -> None:
    await join(team)
    alias = await visible(team)
    assert await team.send(P, "/kindword") == [team.t("kindword.asked")]
    assert await team.send(P, "/kindword") == [team.t("kindword.asked")]  # asking twice waits once
    [board] = await team.send(VOL, "/streaks")
    assert team.t("board.asked").strip() in board
    team.clock.advance(dt.timedelta(hours=11, minutes=59))
    before = len(team.api.calls)
    await team.tick()
    assert not any(from_the_bot(team, text) for text in team.replies(before, P))
    team.clock.advance(dt.timedelta(minutes=2))
    before = len(team.api.calls)
    await team.tick()
    [fallback] = [text for text in team.replies(before, P) if from_the_bot(team, text)]
    assert fallback.removeprefix(team.t("kindword.from_bot", words="")) in [
        team.t(f"kindword.fallback.{n}") for n in range(1, 5)
    ]
    assert (await team.participant(P)).kind_word_asked_at is None
    assert await count(team, Notice) == 0
    [board] = await team.send(VOL, "/streaks")
    assert team.t("board.asked").strip() not in board
    # Nothing more comes on later ticks.
    before = len(team.api.calls)
    await team.tick()
    assert not any(from_the_bot(team, text) for text in team.replies(before, P))


async def test_a_volunteer_answering_an_ask_is_delivered_at_once_and_the_fallback_is_off(team: Harness) -> None:
    await join(team)
    alias = await visible(team)
    await team.send(P, "/kindword")
    await team.send(VOL, "/streaks")
    await team.tap(VOL, f"A kind word for {alias}")
    assert await team.tap(VOL, team.t("cheer.phrase.4")) == [team.t("cheer.sent_now")]
    before = len(team.api.calls)
    await team.tick()
    [arrived] = [text for text in team.replies(before, P) if text.startswith(team.t("kindword.arrived"))]
    assert team.t("cheer.line", words=team.t("cheer.phrase.4")) in arrived
    assert team.api.last(P).button_texts == ["Say thank you"]
    team.clock.advance(dt.timedelta(hours=13))
    before = len(team.api.calls)
    await team.tick()
    assert not any(from_the_bot(team, text) for text in team.replies(before, P))


async def test_without_a_visible_card_a_kind_word_comes_from_the_bot_at_once(team: Harness) -> None:
    await onboard(team, HIDDEN)
    [reply] = await team.send(HIDDEN, "/kindword")
    assert reply.startswith(team.t("kindword.from_bot", words="").strip())
    assert await count(team, Notice) == 0


# --- revoking -----------------------------------------------------------------------------------------


async def test_a_coordinator_ends_a_volunteers_place_and_their_waiting_cheers_go(team: Harness) -> None:
    await join(team)
    alias = await visible(team)
    await team.tap_data(VOL, f"vp:{alias}:1", message_id=1)
    [listing] = await team.send(COORDINATOR, "/volunteers")
    assert "Volunteer #1" in listing and "1 kind words" in listing
    before = len(team.api.calls)
    assert await team.tap(COORDINATOR, "End the place of #1") == [team.t("admin.volunteers.revoked_now", id=1)]
    assert team.replies(before, VOL) == [team.t("volunteer.revoked")]
    assert await count(team, Cheer) == 0
    assert await team.send(VOL, "/streaks") == [team.t("volunteer.only")]
    assert await team.tap_data(VOL, f"vp:{alias}:1", message_id=1) == [team.t("button.stale")]
    # A new code lets them back in.
    await join(team)
    [board] = await team.send(VOL, "/streaks")
    assert alias in board


async def test_a_volunteer_can_see_and_delete_their_data(team: Harness) -> None:
    await join(team)
    alias = await visible(team)
    await team.tap_data(VOL, f"vp:{alias}:5", message_id=1)
    await team.send(VOL, "/mydata")
    [document] = team.api.calls_to("sendDocument")
    await team.send(VOL, "/forget")
    assert await team.tap(VOL, "Yes, delete everything") == [team.t("forget.done")]
    assert await count(team, Volunteer) == 0
    async with team.services.sessions() as session:
        [cheer] = (await session.scalars(select(Cheer))).all()
    assert cheer.volunteer_id is None  # the participant keeps the kind word, unsigned
    assert document.params["chat_id"] == VOL
