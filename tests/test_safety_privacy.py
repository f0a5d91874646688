"""The crisis layer, the safety plan and data rights, through the real Application."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli import configure_logging
from bot.fakeapi import text_update
from core.clock import FakeClock
from storage.models import Base, Participant
from tests.harness import Harness
from tests.test_checkin_loop import checkins, to_next_hello
from tests.test_onboarding import ME, onboard

COORDINATOR = 9001


@pytest.fixture
async def team_bot(engine: AsyncEngine, clock: FakeClock) -> AsyncIterator[Harness]:
    """The bot of a deployment with one coordinator."""
    async with Harness.started(engine, clock, KOMOREBI_COORDINATORS=str(COORDINATOR)) as harness:
        yield harness


async def onboard_with_team(bot: Harness, alerts: bool, user: int = ME, language: str = "en") -> None:
    await bot.send(user, "/start", language=language)
    await bot.tap(user, bot.t("consent.yes", language), language=language)
    [question] = await bot.tap(user, bot.t("summary.ok", language), language=language)
    assert question == bot.t("onboarding.alerts_ask", language)
    choice = "onboarding.alerts_yes" if alerts else "onboarding.alerts_no"
    await bot.tap(user, bot.t(choice, language), language=language)
    assert (await bot.participant(user)).crisis_alerts is alerts


def numbers_first(reply: str) -> bool:
    return reply.splitlines()[0].startswith("Yorisoi Hotline 0120-279-338")


async def test_words_of_crisis_get_the_numbers_first_and_two_buttons(bot: Harness) -> None:
    await onboard(bot)
    [reply] = await bot.send(ME, "honestly I just want to disappear")
    assert numbers_first(reply)
    assert "not a crisis service" in reply
    assert not re.search(r"[\U0001F300-\U0001FAFF]", reply)  # no emoji in a crisis reply
    assert bot.api.last(ME).button_texts == ["I'm safe for now", "I'd like someone to reach out"]
    # The normal flow goes on: it was contact, and it counts.
    assert len(await checkins(bot)) == 1
    assert await bot.tap(ME, "I'm safe for now") == [bot.t("crisis.safe_ack")]


async def test_japanese_crisis_words_get_japanese_help_lines(bot: Harness) -> None:
    await onboard(bot, language="ja")
    [reply] = await bot.send(ME, "もう死にたい", language="ja")
    assert reply.splitlines()[0].startswith("よりそいホットライン 0120-279-338")
    assert "緊急の相談窓口ではありません" in reply


async def test_crisis_words_before_starting_still_get_the_numbers(bot: Harness) -> None:
    [reply] = await bot.send(ME, "no reason to live anymore")
    assert numbers_first(reply)
    # Nothing was stored about them for it.
    assert await bot.participant(ME) is None


async def test_ordinary_words_are_not_a_crisis(bot: Harness) -> None:
    await onboard(bot)
    assert await bot.send(ME, "I'm dying to try the new ramen place") == [bot.t("checkin.text")]


async def test_with_consent_a_match_alerts_the_coordinator_with_the_alias_and_nothing_else(team_bot: Harness) -> None:
    bot = team_bot
    await onboard_with_team(bot, alerts=True)
    alias = (await bot.participant(ME)).alias
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d\d", alias)
    await bot.process(text_update(ME, "i want to end it all, Hanako here", first_name="Hanako"))
    [alert] = [m.text for m in bot.api.messages(COORDINATOR)]
    assert alias in alert and f"/reach {alias}" in alert
    for private in ("end it all", "Hanako", str(ME)):
        assert private not in alert


async def test_without_consent_no_alert_until_they_ask_for_someone(team_bot: Harness) -> None:
    bot = team_bot
    await onboard_with_team(bot, alerts=False)
    await bot.send(ME, "I can't go on like this")
    assert bot.api.messages(COORDINATOR) == []
    assert await bot.tap(ME, "I'd like someone to reach out") == [bot.t("crisis.team_told")]
    [alert] = bot.api.messages(COORDINATOR)
    # Coordinators read the deployment's language (Japanese by default).
    assert alert.text == bot.t("alert.asked", "ja", alias=(await bot.participant(ME)).alias)


async def test_asking_for_someone_without_a_team_points_to_the_lines(bot: Harness) -> None:
    await onboard(bot)
    await bot.send(ME, "kms")
    assert await bot.tap(ME, "I'd like someone to reach out") == [bot.t("crisis.no_team")]


async def test_a_coordinator_writes_through_the_bot_and_the_reply_comes_back(team_bot: Harness) -> None:
    bot = team_bot
    await onboard_with_team(bot, alerts=True)
    alias = (await bot.participant(ME)).alias
    assert await bot.send(COORDINATOR, f"/reach {alias} Hello, I'm here if you want to talk.") == [
        bot.t("reach.sent", alias=alias)
    ]
    message = bot.api.last(ME)
    assert message.text == bot.t("reach.message", text="Hello, I'm here if you want to talk.")
    await bot.tap(ME, "Reply")
    assert await bot.send(ME, "thank you, a bit better") == [bot.t("reach.passed")]
    assert bot.api.last(COORDINATOR).text == bot.t("reach.from", "ja", alias=alias, text="thank you, a bit better")
    assert await bot.send(COORDINATOR, "/reach nobody-here-00 hi") == [bot.t("reach.unknown", alias="nobody-here-00")]
    assert await bot.send(COORDINATOR, "/reach") == [bot.t("reach.usage")]


async def test_reach_from_anyone_else_looks_like_an_unknown_command(team_bot: Harness) -> None:
    bot = team_bot
    await onboard_with_team(bot, alerts=True)
    alias = (await bot.participant(ME)).alias
    sent_to_me = len(bot.api.messages(ME))
    assert await bot.send(2002, f"/reach {alias} hi") == [bot.t("command.unknown")]
    assert len(bot.api.messages(ME)) == sent_to_me


async def test_the_safety_plan_is_private_and_comes_with_a_crisis_reply(bot: Harness) -> None:
    await onboard(bot)
    [intro] = await bot.send(ME, "/safetyplan")
    assert "(not written yet)" in intro
    assert await bot.tap(ME, "Warning signs") == [bot.t("plan.ask.signs")]
    [saved] = await bot.send(ME, "staying in bed all day, not eating")
    assert "Warning signs: staying in bed all day, not eating" in saved
    await bot.tap(ME, "People and places", message_id=bot.message_with_button(ME, "People and places").message_id)
    await bot.send(ME, "my aunt, the library")
    # A command in between leaves nothing half-typed behind.
    await bot.tap(ME, "What helps", message_id=bot.message_with_button(ME, "What helps").message_id)
    await bot.send(ME, "/progress")
    assert (await bot.participant(ME)).awaiting is None
    [reply] = await bot.send(ME, "I want to die")
    assert numbers_first(reply)
    assert "Warning signs: staying in bed all day, not eating" in reply
    assert "People and places: my aunt, the library" in reply


async def test_privacy_shows_who_sees_what_and_changes_alerts(team_bot: Harness) -> None:
    bot = team_bot
    await onboard_with_team(bot, alerts=False)
    [view] = await bot.send(ME, "/privacy")
    assert "Family members: none." in view and "coordinator may be told your alias: no" in view
    [view] = await bot.tap(ME, "Let a coordinator know in a crisis")
    assert "coordinator may be told your alias: yes" in view
    assert (await bot.participant(ME)).crisis_alerts is True
    assert await bot.send(2002, "/privacy") == [bot.t("privacy.nothing")]


async def test_without_a_support_team_privacy_offers_no_alert_switch(bot: Harness) -> None:
    await onboard(bot)
    [view] = await bot.send(ME, "/privacy")
    assert "coordinator may be told your alias: no support team is connected to this bot" in view
    assert bot.api.last(ME).buttons == []


async def test_mydata_sends_everything_as_readable_json(bot: Harness) -> None:
    await onboard(bot)
    await to_next_hello(bot)
    await bot.tap(ME, "Done")
    await bot.send(ME, "/safetyplan")
    await bot.tap(ME, "What helps")
    await bot.send(ME, "tea")
    before = len(bot.api.calls)
    await bot.send(ME, "/mydata")
    [call] = [c for c in bot.api.calls[before:] if c.method == "sendDocument"]
    [(filename, content)] = call.files.values()
    assert filename == "komorebi-my-data.json"
    data = json.loads(content)
    assert data["participant"][0]["chat_id"] == ME and data["participant"][0]["window"] == "evening"
    assert [c["source"] for c in data["checkins"]] == ["task_done"]
    assert len(data["hellos"]) == 1 and data["tasks"][0]["outcome"] == "done"
    assert data["safety_plan"][0]["what_helps"] == "tea"
    assert "UTC" in data["about"]


async def test_forget_deletes_everything_everywhere_after_a_confirmation(bot: Harness) -> None:
    await onboard(bot)
    await onboard(bot, 2002)
    for user in (ME, 2002):
        await to_next_hello(bot, user)
        await bot.tap(user, "Done", message_id=bot.message_with_button(user, "Done").message_id)
    await bot.send(ME, "/safetyplan")
    await bot.tap(ME, "What helps")
    await bot.send(ME, "tea")
    await bot.send(ME, "/forget")
    assert await bot.tap(ME, "No, keep it") == [bot.t("forget.kept")]
    pid = (await bot.participant(ME)).id
    await bot.send(ME, "/forget")
    assert await bot.tap(ME, "Yes, delete everything") == [bot.t("forget.done")]

    async with bot.services.sessions() as session:
        for table in Base.metadata.sorted_tables:
            columns = table.c
            if "participant_id" in columns:
                count = await session.scalar(select(func.count()).select_from(table).where(columns.participant_id == pid))
                assert count == 0, table.name
        assert await session.scalar(select(func.count()).where(Participant.chat_id == ME)) == 0
        # The other participant is untouched.
        assert await session.scalar(select(func.count()).select_from(Participant)) == 1
    assert await bot.send(ME, "hello?") == [bot.t("not_started")]


async def test_logs_never_hold_words_names_usernames_or_numbers(
    team_bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """A whole conversation with distinctive values, at the most verbose log level allowed."""
    bot = team_bot
    configure_logging("DEBUG")
    caplog.set_level(logging.DEBUG)
    secrets = ["Zephyrine", "zephy_handle_77", "0120-999-777", "my-secret-words-123", "I want to disappear"]

    def update(text_: str) -> dict:
        raw = text_update(ME, text_, first_name="Zephyrine")
        raw["message"]["from"]["username"] = "zephy_handle_77"
        return raw

    await bot.process(update("/start"))
    await bot.tap(ME, "OK")
    await bot.tap(ME, "Looks good")
    await bot.tap(ME, "Yes, that's okay")
    await bot.process(update("call me on 0120-999-777, my-secret-words-123"))
    await bot.process(update("I want to disappear"))
    await bot.send(ME, "/safetyplan")
    await bot.tap(ME, "What helps")
    await bot.process(update("my-secret-words-123 again"))
    await to_next_hello(bot)
    await bot.tap(ME, "I'm here")
    bot.api.inject("sendMessage", 500, "Internal Server Error")
    await bot.process(update("my-secret-words-123 once more"), expect_error=True)
    assert caplog.records, "the test must see the logs it checks"
    everything = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    for secret in secrets:
        assert secret not in everything
    assert str(bot.app.bot.token) not in everything
    logging.getLogger("telegram").setLevel(logging.NOTSET)
    logging.getLogger("httpx").setLevel(logging.NOTSET)


async def test_every_table_is_covered_by_forget() -> None:
    """A new table about participants must cascade from them, or /forget would leave it behind."""
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == "participants":
                assert fk.ondelete == "CASCADE", f"{table.name}.{fk.parent.name}"



async def test_relayed_words_are_shortened_to_fit_a_message(team_bot: Harness) -> None:
    bot = team_bot
    await onboard_with_team(bot, alerts=True)
    alias = (await bot.participant(ME)).alias
    await bot.send(COORDINATOR, f"/reach {alias} " + "word " * 1000)
    assert len(bot.api.last(ME).text) < 4096
    await bot.tap(ME, "Reply")
    await bot.send(ME, "thanks " * 700)
    assert len(bot.api.last(COORDINATOR).text) < 4096


async def test_an_abandoned_plan_question_never_swallows_a_crisis(bot: Harness) -> None:
    await onboard(bot)
    await bot.send(ME, "/safetyplan")
    await bot.tap(ME, "Warning signs")  # and then nothing is written
    [reply] = await bot.send(ME, "I want to die")
    assert numbers_first(reply)


async def test_a_new_hello_leaves_any_half_answered_question_behind(bot: Harness) -> None:
    await onboard(bot)
    await bot.send(ME, "/settings")
    await bot.tap(ME, "Time zone")  # the menu is left open
    await to_next_hello(bot)
    assert await bot.send(ME, "a bit tired today") == [bot.t("checkin.text")]


async def test_no_welcome_back_before_the_numbers(bot: Harness) -> None:
    await onboard(bot)
    for _ in range(3):
        await to_next_hello(bot)  # three hellos go unanswered
    replies = await bot.send(ME, "I want to die")
    assert numbers_first(replies[0])
    assert bot.t("welcome_back") not in replies


async def test_one_unreachable_coordinator_does_not_stop_the_others(engine, clock) -> None:  # noqa: ANN001
    async with Harness.started(engine, clock, KOMOREBI_COORDINATORS="9001,9002") as bot:
        await onboard_with_team(bot, alerts=False)
        bot.api.inject("sendMessage", 400, "Bad Request: chat not found", chat_id=9001)
        await bot.send(ME, "I can't go on")
        assert await bot.tap(ME, "I'd like someone to reach out") == [bot.t("crisis.team_told")]
        assert len(bot.api.messages(9002)) == 1
        bot.api.block(9002)
        bot.api.inject("sendMessage", 400, "Bad Request: chat not found", chat_id=9001)
        await bot.send(ME, "I can't go on")
        assert await bot.tap(ME, "I'd like someone to reach out") == [bot.t("crisis.team_unreachable")]


async def test_someone_the_bot_knows_nothing_about_is_told_plainly(team_bot: Harness) -> None:
    bot = team_bot
    await bot.send(2002, "I want to die")
    assert await bot.tap(2002, "I'd like someone to reach out") == [bot.t("crisis.cannot_pass")]
    assert bot.api.messages(COORDINATOR) == []


async def test_reach_respects_a_pause_or_a_stop(team_bot: Harness) -> None:
    bot = team_bot
    await onboard_with_team(bot, alerts=True)
    alias = (await bot.participant(ME)).alias
    await bot.send(ME, "/stop")
    sent = len(bot.api.messages(ME))
    assert await bot.send(COORDINATOR, f"/reach {alias} hello") == [bot.t("reach.silent", alias=alias)]
    assert len(bot.api.messages(ME)) == sent


async def test_reach_says_so_when_the_message_did_not_arrive(team_bot: Harness) -> None:
    bot = team_bot
    await onboard_with_team(bot, alerts=True)
    alias = (await bot.participant(ME)).alias
    bot.api.block(ME)
    assert await bot.send(COORDINATOR, f"/reach {alias} hello") == [bot.t("reach.not_sent", alias=alias)]
