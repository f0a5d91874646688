"""Onboarding through the real Application: consent, kind defaults, changes, both languages."""

from __future__ import annotations

import datetime as dt

from storage.models import Status
from tests.harness import Harness

ME = 1001


async def onboard(bot: Harness, user: int = ME, language: str = "en") -> None:
    await bot.send(user, "/start", language=language)
    await bot.tap(user, bot.t("consent.yes", language), language=language)
    await bot.tap(user, bot.t("summary.ok", language), language=language)


async def test_english_onboarding_with_kind_defaults_and_a_sample_hello(bot: Harness) -> None:
    assert await bot.send(ME, "/start") == [bot.t("welcome")]
    [summary] = await bot.tap(ME, "OK")
    assert "Language: English" in summary
    assert "Time zone: Asia/Tokyo" in summary
    assert "Evening (18:00–21:00)" in summary
    assert "Every day" in summary

    done, sample = await bot.tap(ME, "Looks good")
    # 09:30 in Tokyo: the first hello is this evening.
    assert done == bot.t("onboarding.done", when=bot.t("when.today.evening"))
    assert sample == bot.t("sample.hello")
    assert bot.api.last(ME).button_texts == ["I'm here", "Not today", "Pause for a while"]

    participant = await bot.participant(ME)
    assert participant.status == Status.ACTIVE
    assert participant.consent_at == bot.clock.now()
    local = participant.next_hello_at.astimezone(dt.timezone(dt.timedelta(hours=9)))
    assert local.date() == dt.date(2026, 3, 2) and 18 <= local.hour < 21

    # The sample's buttons answer kindly and count nothing.
    assert await bot.tap(ME, "I'm here") == [bot.t("sample.tapped")]
    assert await bot.send(ME, "/progress") == [bot.t("progress.empty")]


async def test_japanese_onboarding_is_in_japanese_from_the_first_word(bot: Harness) -> None:
    assert await bot.send(ME, "/start", language="ja") == [bot.t("welcome", "ja")]
    [summary] = await bot.tap(ME, "OK", language="ja")
    assert "言語：日本語" in summary and "夕方（18:00–21:00）" in summary
    done, sample = await bot.tap(ME, "これでOK", language="ja")
    assert done == bot.t("onboarding.done", "ja", when=bot.t("when.today.evening", "ja"))
    assert bot.api.last(ME).button_texts == ["ここにいるよ", "今日はやめておく", "しばらくお休み"]
    assert (await bot.participant(ME)).language == "ja"


async def test_language_follows_telegram_but_unknown_languages_get_the_default(bot: Harness) -> None:
    assert await bot.send(ME, "/start", language="ja-JP") == [bot.t("welcome", "ja")]
    # The deployment's default language (Japanese) for a language the bot does not speak.
    assert await bot.send(ME + 1, "/start", language="pt-br") == [bot.t("welcome", "ja")]
    assert await bot.send(ME + 2, "/start", language="en-GB") == [bot.t("welcome", "en")]


async def test_not_now_keeps_nothing_but_the_chat_id(bot: Harness) -> None:
    await bot.send(ME, "/start")
    assert await bot.tap(ME, "Not now") == [bot.t("consent.declined")]
    participant = await bot.participant(ME)
    assert participant.chat_id == ME
    assert participant.status == Status.NEW
    assert (participant.consent_at, participant.language, participant.timezone) == (None, None, None)
    assert (participant.window, participant.rhythm, participant.next_hello_at) == (None, None, None)
    # Words, buttons and commands afterwards explain how to begin and store nothing.
    assert await bot.send(ME, "hello?") == [bot.t("not_started")]
    assert await bot.send(ME, "/progress") == [bot.t("not_started")]
    assert (await bot.participant(ME)).consent_at is None
    # /start brings the welcome back.
    assert await bot.send(ME, "/start") == [bot.t("welcome")]


async def test_changing_every_choice_during_onboarding(bot: Harness) -> None:
    await bot.send(ME, "/start")
    await bot.tap(ME, "OK")
    [menu] = await bot.tap(ME, "Change")
    assert menu.startswith("Your settings:")

    await bot.tap(ME, "Language")
    [summary] = await bot.tap(ME, "日本語")
    assert "言語：日本語" in summary  # the very next screen already speaks Japanese
    await bot.tap(ME, "変更する")
    await bot.tap(ME, "言語")
    await bot.tap(ME, "English")

    await bot.tap(ME, "Change")
    await bot.tap(ME, "Time zone")
    assert await bot.send(ME, "Mars/Olympus") == [bot.t("timezone.unknown")]
    replies = await bot.send(ME, "  america/new york ")
    assert replies[0] == bot.t("timezone.set", zone="America/New_York")

    await bot.tap(ME, "Change")
    await bot.tap(ME, "Time of day")
    await bot.tap(ME, "Late night (22:00–02:00)")
    await bot.tap(ME, "Change")
    await bot.tap(ME, "How often")
    [summary] = await bot.tap(ME, "Weekdays")
    assert "America/New_York" in summary and "Late night" in summary and "Weekdays" in summary

    await bot.tap(ME, "Looks good")
    participant = await bot.participant(ME)
    assert (participant.language, participant.timezone, participant.window, participant.rhythm) == (
        "en",
        "America/New_York",
        "late_night",
        "weekdays",
    )
    assert participant.status == Status.ACTIVE and participant.next_hello_at is not None


async def test_a_time_zone_button(bot: Harness) -> None:
    await bot.send(ME, "/start")
    await bot.tap(ME, "OK")
    await bot.tap(ME, "Change")
    await bot.tap(ME, "Time zone")
    [menu] = await bot.tap(ME, "Europe/London")
    assert "Time zone: Europe/London" in menu
    assert (await bot.participant(ME)).awaiting is None


async def test_words_while_a_button_is_expected_get_a_gentle_pointer(bot: Harness) -> None:
    await bot.send(ME, "/start")
    await bot.tap(ME, "OK")
    assert await bot.send(ME, "what now?") == [bot.t("onboarding.use_buttons")]
    assert (await bot.participant(ME)).status == Status.ONBOARDING


async def test_start_again_when_set_up_shows_the_next_hello_and_settings(bot: Harness) -> None:
    await onboard(bot)
    active, menu = await bot.send(ME, "/start")
    assert active == bot.t("start.active", when=bot.t("when.today.evening"))
    assert menu.startswith("Your settings:")


async def test_settings_after_onboarding_replan_the_next_hello(bot: Harness) -> None:
    await onboard(bot)
    await bot.send(ME, "/settings")
    await bot.tap(ME, "Time of day")
    [menu] = await bot.tap(ME, "Morning (08:00–11:00)")
    assert "Morning" in menu
    participant = await bot.participant(ME)
    local = participant.next_hello_at.astimezone(dt.timezone(dt.timedelta(hours=9)))
    # 09:30 now; at least half an hour of settling, so 10:00–11:00 today or tomorrow morning.
    assert 8 <= local.hour < 11
    assert participant.next_hello_at >= bot.clock.now() + dt.timedelta(minutes=30)
    [saved] = await bot.tap(ME, "Done")
    assert saved.startswith("Saved")


async def test_the_command_menu_is_published_in_both_languages(bot: Harness) -> None:
    calls = bot.api.calls_to("setMyCommands")
    by_language = {call.params.get("language_code"): call.params["commands"] for call in calls}
    assert set(by_language) == {"ja", "en", None}
    assert {c["command"] for c in by_language["ja"]} == {
        "start", "task", "progress", "settings", "pause", "resume", "stop", "kindword", "activities",
        "safetyplan", "privacy", "mydata", "forget", "family", "tips", "help",
    }
    assert by_language["ja"][0]["description"] == bot.t("command.start", "ja")
    assert by_language["en"][0]["description"] == bot.t("command.start", "en")
