"""Whatever arrives gets a short kind reply, never a crash; forged and stale buttons change nothing."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from bot.fakeapi import edited_text_update, photo_update, voice_update
from storage.models import CheckIn
from tests.harness import Harness
from tests.test_checkin_loop import checkins, to_next_hello
from tests.test_onboarding import ME, onboard

OTHER = 2002


async def test_stickers_photos_and_voice_are_thanked_and_counted(bot: Harness) -> None:
    await onboard(bot)
    assert await bot.sticker(ME) == [bot.t("checkin.media")]
    before = len(bot.api.calls)
    await bot.process(photo_update(ME, caption="my room"))
    await bot.process(voice_update(ME))
    assert bot.replies(before) == [bot.t("checkin.text_again")] * 2
    assert len(await checkins(bot)) == 1


async def test_media_before_starting_points_to_start(bot: Harness) -> None:
    assert await bot.sticker(ME) == [bot.t("not_started", "en")]


async def test_unknown_commands_get_a_pointer_to_help(bot: Harness) -> None:
    assert await bot.send(ME, "/dance") == [bot.t("command.unknown")]
    await onboard(bot)
    assert await bot.send(ME, "/dance") == [bot.t("command.unknown")]
    [help_text] = await bot.send(ME, "/help")
    assert "/progress" in help_text and "/pause" in help_text


async def test_an_edited_message_changes_nothing_and_breaks_nothing(bot: Harness) -> None:
    await onboard(bot)
    before = len(bot.api.calls)
    await bot.process(edited_text_update(ME, "edited words", message_id=5))
    assert bot.replies(before) == []


@pytest.mark.parametrize(
    "data",
    [
        "h:29990101:here", "h:20260302:explode", "h:notadate:here", "zzz", "set:win:midnight", "set:lang:fr",
        "p:year", "c:maybe", "", "set:lvl:²", "set:lvl:99999999999999999999", "sh:²:none",
        "fr:99999999999999999999", "sc:-1", "fm:note:⁰", "t:20260302:l0-sky:done", "r:20260302:x:11",
        "e:maybe", "nt:maybe", "pl:everything", "pv:alerts:loud", "f:perhaps", "cr:dance",
        "h:20261301:here", "h:2026030²:here", "h:2026-3-2:here", "t:2026-03-02:l0-sky:done", "r:2026030:x:1",
    ],
)
async def test_forged_or_stale_buttons_do_nothing(bot: Harness, data: str) -> None:
    await onboard(bot)
    before_settings = await bot.participant(ME)
    replies = await bot.tap_data(ME, data, message_id=1)
    assert replies == [bot.t("button.stale")]
    after = await bot.participant(ME)
    assert (after.window, after.language, after.status, after.paused_until) == (
        before_settings.window,
        before_settings.language,
        before_settings.status,
        before_settings.paused_until,
    )
    assert await checkins(bot) == []


async def test_a_button_naming_someone_elses_hello_cannot_count_for_anyone(bot: Harness) -> None:
    await onboard(bot, ME)
    await to_next_hello(bot, ME)
    hello = bot.api.last(ME)
    [button] = [b.callback_data for row in hello.buttons for b in row if b.text == "I'm here"]
    # Someone else (set up, but never sent that hello) replays the same callback data.
    await onboard(bot, OTHER)
    assert await bot.tap_data(OTHER, button, message_id=hello.message_id) == [bot.t("button.stale")]
    async with bot.services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(CheckIn)) == 0
    # And a stranger who never started gets the same answer.
    assert await bot.tap_data(3003, button, message_id=hello.message_id) == [bot.t("button.stale")]


async def test_an_old_hello_button_answers_the_latest_hello(bot: Harness) -> None:
    await onboard(bot)
    await to_next_hello(bot)
    first = bot.api.last(ME)
    await to_next_hello(bot)
    second_day = (await checkins(bot), (await bot.participant(ME)).last_hello_day)[1]
    await bot.tap(ME, "I'm here", message_id=first.message_id)
    assert await checkins(bot) == [(second_day, "here")]


async def test_consent_tapped_twice_is_harmless(bot: Harness) -> None:
    await bot.send(ME, "/start")
    welcome = bot.api.last(ME)
    await bot.tap(ME, "OK", message_id=welcome.message_id)
    await bot.tap(ME, "Looks good")
    assert await bot.tap_data(ME, "c:yes", message_id=welcome.message_id) == [bot.t("button.stale")]
    assert await bot.tap_data(ME, "c:no", message_id=welcome.message_id) == [bot.t("button.stale")]
    assert (await bot.participant(ME)).consent_at is not None


async def test_a_failure_gets_a_kind_reply_and_logs_no_words(bot: Harness, caplog: pytest.LogCaptureFixture) -> None:
    await onboard(bot)
    bot.api.inject("sendMessage", 400, "Bad Request: something odd", times=1)
    caplog.set_level(logging.INFO)
    before = len(bot.api.calls)
    await bot.process(
        {
            "update_id": 999_001,
            "message": {
                "message_id": 77,
                "date": 1772400000,
                "chat": {"id": ME, "type": "private", "first_name": "Distinctive-Name-Hanako"},
                "from": {"id": ME, "is_bot": False, "first_name": "Distinctive-Name-Hanako", "username": "hanako_secret_handle"},
                "text": "my very private words 12345",
            },
        },
        expect_error=True,
    )
    assert bot.replies(before) == [bot.t("error.generic")]
    assert "999001" in caplog.text  # the update is traceable by its id ...
    for secret in ("my very private words", "Distinctive-Name-Hanako", "hanako_secret_handle"):
        assert secret not in caplog.text  # ... and by nothing a person wrote or is called


@pytest.mark.parametrize("command", ["/start", "/help", "/stop", "/dance"])
async def test_an_edited_command_is_not_run(bot: Harness, command: str) -> None:
    await onboard(bot)
    before = len(bot.api.calls)
    await bot.process(edited_text_update(ME, command, message_id=5))
    assert bot.replies(before) == []
    assert (await bot.participant(ME)).status == "active"
