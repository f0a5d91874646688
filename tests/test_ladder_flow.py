"""Small tasks, the rare offer of a bigger step, stepping back, and backing off when silent —
through the real Application and the real tick."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from core.backoff import BUDGET, budget_breaches
from core.ladder import RULES
from storage.models import TaskOffer
from tests.harness import Harness, shape
from tests.test_checkin_loop import checkins, to_next_hello
from tests.test_onboarding import ME, onboard

TASK_BUTTONS = ["Done", "Maybe later", "Too much today"]


async def offers(bot: Harness, user: int = ME) -> list[TaskOffer]:
    participant = await bot.participant(user)
    async with bot.services.sessions() as session:
        rows = await session.scalars(
            select(TaskOffer).where(TaskOffer.participant_id == participant.id).order_by(TaskOffer.id)
        )
        return list(rows)


async def set_level(bot: Harness, level_label: str, user: int = ME) -> None:
    await bot.send(user, "/settings")
    await bot.tap(user, "Step")
    await bot.tap(user, level_label)


def task_words(bot: Harness, task_id: str, language: str = "en") -> str:
    return bot.services.tasks.text(language, task_id)


async def test_done_counts_the_day_and_asks_gently_how_hard_it_was(bot: Harness) -> None:
    await onboard(bot)
    await to_next_hello(bot)
    [offer] = await offers(bot)
    assert offer.level == 0 and offer.kind == "hello" and bot.services.tasks.level_of(offer.task_id) == 0
    assert task_words(bot, offer.task_id) in bot.api.last(ME).text
    [ack] = await bot.tap(ME, "Done")
    assert ack == bot.t("task.done_ack")
    assert bot.api.last(ME).button_texts == [str(n) for n in range(11)]
    assert await bot.tap(ME, "3") == [bot.t("task.rated")]
    [offer] = await offers(bot)
    assert (offer.outcome, offer.rating) == ("done", 3)
    assert [source for _, source in await checkins(bot)] == ["task_done"]
    # A second rating, or "Done" again, changes nothing.
    assert await bot.tap_data(ME, f"r:{offer.day:%Y%m%d}:{offer.task_id}:9", message_id=1) == [bot.t("checkin.already")]
    assert (await offers(bot))[0].rating == 3


async def test_an_answer_to_a_task_is_written_without_reading_the_task_first(bot: Harness) -> None:
    """"Done" and a rating each write the task with one conditional UPDATE (which also tells
    whether the task was open); the task is read only when nothing was written, to say why. Whether
    to ask about a bigger step after "Done" is one more read."""
    await onboard(bot)
    await to_next_hello(bot)
    with bot.statements() as done:
        assert await bot.tap(ME, "Done") == [bot.t("task.done_ack")]
    with bot.statements() as rated:
        assert await bot.tap(ME, "3") == [bot.t("task.rated")]
    [offer] = await offers(bot)
    with bot.statements() as again:
        data = f"t:{offer.day:%Y%m%d}:{offer.task_id}:done"
        assert await bot.tap_data(ME, data, message_id=1) == [bot.t("checkin.already")]
    assert [shape(s) for s in done] == [
        "SELECT participants",
        "UPDATE participants SET",  # the hello is answered
        "UPDATE task_offers SET",  # the task is done (it was open: else nothing is written)
        'INSERT INTO "checkins"',
        "SELECT (subquery)",  # steady enough to ask about a bigger step? one read
        "COMMIT",
    ]
    tasks = [[shape(s) for s in seen if "task_offers" in s] for seen in (rated, again)]
    assert tasks[0] == ["UPDATE task_offers SET"], rated
    assert tasks[1] == ["UPDATE task_offers SET", "SELECT task_offers"], again


async def test_maybe_later_keeps_the_task_until_the_next_hello(bot: Harness) -> None:
    await onboard(bot)
    await to_next_hello(bot)
    hello = bot.api.last(ME)
    assert await bot.tap(ME, "Maybe later") == [bot.t("task.later_ack")]
    assert bot.api.message(ME, hello.message_id).button_texts == TASK_BUTTONS  # the hello is answered
    bot.clock.advance(dt.timedelta(hours=1))
    assert await bot.tap(ME, "Done", message_id=hello.message_id) == [bot.t("task.done_ack")]

    await to_next_hello(bot)
    second = bot.api.last(ME)
    await bot.tap(ME, "Maybe later", message_id=second.message_id)
    await to_next_hello(bot)
    # The next hello came: the old task has passed, kindly, and its buttons go.
    assert await bot.tap(ME, "Done", message_id=second.message_id) == [bot.t("task.passed")]
    assert bot.api.message(ME, second.message_id).buttons == []
    assert [o.outcome for o in await offers(bot)] == ["done", "later", None]


async def test_too_much_is_accepted_and_a_smaller_task_comes_only_if_they_ask(bot: Harness) -> None:
    await onboard(bot)
    await set_level(bot, "step 2: something for the household")
    await to_next_hello(bot)
    # Acceptance, and no task in the same breath: a button, if they would like something smaller.
    assert await bot.tap(ME, "Too much today") == [bot.t("task.rest")]
    accepted = bot.api.last(ME)
    assert accepted.button_texts == ["Something smaller"]
    assert len(await offers(bot)) == 1
    [easier] = await bot.tap(ME, "Something smaller", message_id=accepted.message_id)
    hello_offer, easier_offer = await offers(bot)
    assert hello_offer.level == 2 and hello_offer.outcome == "too_much"
    assert easier_offer.level == 1 and easier_offer.kind == "easier"
    assert easier == bot.t("task.easier", task=task_words(bot, easier_offer.task_id))
    assert bot.api.message(ME, accepted.message_id).buttons == []
    # The same button tapped again gives nothing more.
    data = f"sm:{hello_offer.day:%Y%m%d}:{hello_offer.task_id}"
    assert await bot.tap_data(ME, data, message_id=accepted.message_id) == [bot.t("task.smaller_given")]
    # Too much again: just acceptance, with no button and no third offer.
    assert await bot.tap(ME, "Too much today") == [bot.t("task.rest")]
    assert bot.api.last(ME).button_texts == []
    assert len(await offers(bot)) == 2
    assert (await bot.participant(ME)).level == 2  # once is not a pattern
    # Someone else's, or a made-up, "something smaller" does nothing.
    await onboard(bot, 2002)
    assert await bot.tap_data(2002, data, message_id=1) == [bot.t("button.stale")]
    for forged in ("sm:", "sm:2026030:l1-water", f"sm:{hello_offer.day:%Y%m%d}:nope", "sm:a:b:c"):
        assert await bot.tap_data(ME, forged, message_id=accepted.message_id) == [bot.t("button.stale")]
    assert len(await offers(bot)) == 2


async def test_something_smaller_lapses_with_the_next_hello_and_never_goes_above_the_step(bot: Harness) -> None:
    await onboard(bot)
    await set_level(bot, "step 3: stepping outside")
    await to_next_hello(bot)
    await bot.tap(ME, "Too much today")
    accepted = bot.api.last(ME)
    [hello_offer] = await offers(bot)
    # They set step 1 meanwhile: the smaller task comes from step 1, not step 2.
    await set_level(bot, "step 1: caring for yourself at home")
    await bot.tap(ME, "Something smaller", message_id=accepted.message_id)
    assert (await offers(bot))[-1].level == 1
    # The next day's "too much", tapped for something smaller after the hello after it: it lapsed.
    await to_next_hello(bot)
    await bot.tap(ME, "Too much today")
    later = bot.api.last(ME)
    await to_next_hello(bot)
    count = len(await offers(bot))
    assert await bot.tap(ME, "Something smaller", message_id=later.message_id) == [bot.t("task.passed")]
    assert len(await offers(bot)) == count
    # After /stop, nothing.
    await bot.send(ME, "/stop")
    data = f"sm:{hello_offer.day:%Y%m%d}:{hello_offer.task_id}"
    assert await bot.tap_data(ME, data, message_id=accepted.message_id) == [bot.t("button.stale")]


async def test_at_level_zero_too_much_is_simply_accepted(bot: Harness) -> None:
    await onboard(bot)
    await to_next_hello(bot)
    assert await bot.tap(ME, "Too much today") == [bot.t("task.rest")]


async def test_two_too_much_in_a_row_step_back_quietly(bot: Harness) -> None:
    await onboard(bot)
    await set_level(bot, "step 3: stepping outside")
    replies = []
    for _ in range(2):
        await to_next_hello(bot)
        replies += await bot.tap(ME, "Too much today", message_id=bot.message_with_button(ME, "I'm here").message_id)
    assert (await bot.participant(ME)).level == 2
    # Nothing said about it: only acceptance and an easier task each time.
    assert all(r.startswith("That's okay.") for r in replies)
    await to_next_hello(bot)
    assert (await offers(bot))[-1].level == 2


async def steady_days(bot: Harness, count: int) -> list[str]:
    """Answer `count` hellos with "Done" (or "I'm here" on a day with no fresh task); return every
    reply the bot sent."""
    replies = []
    for _ in range(count):
        await to_next_hello(bot)
        hello = bot.message_with_button(ME, "I'm here")
        answer = "Done" if "Done" in hello.button_texts else "I'm here"
        replies += await bot.tap(ME, answer, message_id=hello.message_id)
    return replies


async def test_a_steady_stretch_brings_one_gentle_offer_and_only_yes_moves_up(bot: Harness) -> None:
    await onboard(bot)
    replies = await steady_days(bot, 9)
    assert bot.t("step_up.ask") not in replies  # ten hello-days make a stretch
    replies = await steady_days(bot, 1)
    # One question at a time: that day, "Done" gets its warm word and the offer, not "how hard?".
    assert replies == [bot.t("task.done_ack_plain"), bot.t("step_up.ask")]
    assert bot.api.last(ME).button_texts == ["Yes", "Not yet", "Ask me in a few weeks"]
    assert not any("10" in m.button_texts for m in bot.sent_to(ME)[-2:])
    assert await bot.tap(ME, "Not yet") == [bot.t("step_up.declined")]
    assert (await bot.participant(ME)).level == 0
    # No new offer within two weeks, however steady.
    replies = await steady_days(bot, 13)
    assert bot.t("step_up.ask") not in replies
    replies = await steady_days(bot, 1)
    assert replies[-1] == bot.t("step_up.ask")
    offer_message = bot.api.last(ME)
    [accepted] = await bot.tap(ME, "Yes")
    assert accepted.startswith("Lovely.")
    participant = await bot.participant(ME)
    assert participant.level == 1 and participant.level_since is not None
    # The old "Yes" tapped again does nothing.
    assert await bot.tap_data(ME, "e:yes:0", message_id=offer_message.message_id) == [bot.t("button.stale")]
    assert (await bot.participant(ME)).level == 1
    await to_next_hello(bot)
    assert (await offers(bot))[-1].level == 1


async def test_ask_me_in_a_few_weeks_waits_four_weeks(bot: Harness) -> None:
    await onboard(bot)
    await steady_days(bot, 10)
    assert await bot.tap(ME, "Ask me in a few weeks") == [bot.t("step_up.snoozed")]
    replies = await steady_days(bot, 27)
    assert bot.t("step_up.ask") not in replies
    replies = await steady_days(bot, 1)
    assert bot.t("step_up.ask") in replies
    assert (await bot.participant(ME)).level == 0


async def test_a_hard_task_means_stay(bot: Harness) -> None:
    await onboard(bot)
    await steady_days(bot, 9)
    await bot.tap(ME, "9")  # the last task felt hard
    replies = await steady_days(bot, 1)
    assert bot.t("step_up.ask") not in replies


async def test_the_step_to_group_activities_asks_about_groups_and_yes_opts_in(bot: Harness) -> None:
    await onboard(bot)
    await set_level(bot, "step 4: out and about, a little contact")
    replies = await steady_days(bot, 10)
    assert replies[-1] == bot.t("step_up.ask_group")
    await bot.tap(ME, "Yes")
    participant = await bot.participant(ME)
    assert (participant.level, participant.group_opt_in) == (5, True)


async def test_level_five_in_settings_needs_its_own_group_opt_in(bot: Harness) -> None:
    await onboard(bot)
    await bot.send(ME, "/settings")
    await bot.tap(ME, "Step")
    assert await bot.tap(ME, "step 5: group activities") == [bot.t("choose.group")]
    await bot.tap(ME, "Not now")
    participant = await bot.participant(ME)
    assert (participant.level, participant.group_opt_in) == (0, False)
    await bot.tap(ME, "Step")
    await bot.tap(ME, "step 5: group activities")
    [menu] = await bot.tap(ME, "Yes")
    assert "Group activities: yes" in menu
    participant = await bot.participant(ME)
    assert (participant.level, participant.group_opt_in) == (5, True)
    # Turning group activities off steps back to 4.
    await bot.tap(ME, "Group activities")
    await bot.tap(ME, "Not now")
    participant = await bot.participant(ME)
    assert (participant.level, participant.group_opt_in) == (4, False)


async def test_tasks_can_be_switched_off_and_asked_for(bot: Harness) -> None:
    await onboard(bot)
    await bot.send(ME, "/settings")
    await bot.tap(ME, "Small tasks")
    [menu] = await bot.tap(ME, "Just the hello")
    assert "Small tasks: off" in menu
    await to_next_hello(bot)
    assert bot.api.last(ME).button_texts == ["I'm here", "Not today", "Pause for a while"]
    assert await offers(bot) == []
    [asked] = await bot.send(ME, "/task")
    [offer] = await offers(bot)
    assert asked == bot.t("task.asked", task=task_words(bot, offer.task_id))
    assert offer.kind == "asked"
    assert await bot.tap(ME, "Done") == [bot.t("task.done_ack")]


async def test_a_task_is_not_offered_again_within_two_weeks(bot: Harness) -> None:
    await onboard(bot)
    level_0 = bot.services.tasks.by_level[0]
    await to_next_hello(bot)  # the hello carries the first task
    await bot.tap(ME, "I'm here", message_id=bot.message_with_button(ME, "I'm here").message_id)
    for _ in range(len(level_0) - 1):  # and /task asks for every other one the same evening
        [asked] = await bot.send(ME, "/task")
        assert asked.startswith("Here's a small one")
    # Each level-0 task was offered today: /task says so kindly, and repeats none.
    assert await bot.send(ME, "/task") == [bot.t("task.none_fresh")]
    offered = await offers(bot)
    assert sorted(o.task_id for o in offered) == sorted(level_0)
    # The hellos come without a task until two weeks have passed since those offers.
    with_task = []
    for _ in range(RULES.repeat_after_days):
        await to_next_hello(bot)
        with_task.append("Done" in bot.api.last(ME).button_texts)
        await bot.tap(ME, "I'm here", message_id=bot.message_with_button(ME, "I'm here").message_id)
    assert with_task == [False] * (RULES.repeat_after_days - 1) + [True]
    again = (await offers(bot))[-1]
    first = next(o for o in offered if o.task_id == again.task_id)
    assert (again.day - first.day).days == RULES.repeat_after_days


async def test_a_forged_task_button_touches_nobody(bot: Harness) -> None:
    await onboard(bot)
    await to_next_hello(bot)
    [offer] = await offers(bot)
    await onboard(bot, 2002)
    data = f"t:{offer.day:%Y%m%d}:{offer.task_id}:done"
    assert await bot.tap_data(2002, data, message_id=1) == [bot.t("button.stale")]
    assert await bot.tap_data(2002, "t:garbage", message_id=1) == [bot.t("button.stale")]
    assert (await offers(bot))[0].outcome is None


async def test_silence_gets_quieter_within_the_budget_and_any_reply_restores_the_rhythm(bot: Harness) -> None:
    await onboard(bot)
    start = len(bot.api.calls_to("sendMessage"))
    first: dt.date | None = None
    days: list[int] = []
    for _ in range(8 * 24):  # eight weeks, a tick every hour (plus one at each planned moment)
        participant = await bot.participant(ME)
        bot.clock.set(min(participant.next_hello_at, bot.clock.now() + dt.timedelta(hours=7)))
        before = len(bot.api.calls_to("sendMessage"))
        await bot.tick()
        if len(bot.api.calls_to("sendMessage")) > before:
            today = bot.clock.now().date()
            first = first or today
            days.append((today - first).days)
        if first and (bot.clock.now().date() - first).days >= 56:
            break
    assert budget_breaches(days) == []
    assert len(days) >= 8 + BUDGET.week_1_max - 1  # still a weekly door, never nothing at all
    door = bot.api.last(ME)
    assert door.text == bot.t("door.open") and door.button_texts == ["I'm here"]
    assert len(bot.api.calls_to("sendMessage")) - start == len(days)

    replies = await bot.tap(ME, "I'm here")
    assert replies[0] == bot.t("welcome_back")  # plain, with no word about the silence
    participant = await bot.participant(ME)
    assert participant.unanswered == 0
    # The chosen daily rhythm is back: the next hello within about a day, not a week.
    assert participant.next_hello_at - bot.clock.now() < dt.timedelta(hours=48)


async def test_an_old_offer_does_nothing_after_the_step_changed(bot: Harness) -> None:
    await onboard(bot)
    await set_level(bot, "step 3: stepping outside")
    await steady_days(bot, 10)
    offer = bot.message_with_button(ME, "Yes")
    await set_level(bot, "step 4: out and about, a little contact")
    assert await bot.tap(ME, "Yes", message_id=offer.message_id) == [bot.t("button.stale")]
    participant = await bot.participant(ME)
    assert (participant.level, participant.group_opt_in) == (4, False)
