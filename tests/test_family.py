"""Families through the real Application: invitations, consent, sharing, notes and the weekly note."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from sqlalchemy import func, select

from storage.models import FamilyInvite, FamilyLink, FamilyNote, Participant
from tests.harness import Harness, sqlite_write_lock_free
from tests.test_checkin_loop import to_next_hello
from tests.test_onboarding import ME, onboard

MUM = 5005
KEN = ME
STRANGER = 7007


async def invite(bot: Harness, name: str = "Mum", label: str = "Ken") -> str:
    """Mum asks for an invitation for Ken; returns the token in the link."""
    [intro] = await bot.send(MUM, "/family")
    assert intro == bot.t("family.intro")
    assert await bot.send(MUM, name) == [bot.t("family.ask_label")]
    invitation, _menu = await bot.send(MUM, label)
    match = re.search(r"https://t\.me/komorebi_test_bot\?start=f_([A-Za-z0-9_-]+)", invitation)
    assert match, invitation
    return match.group(1)


async def open_invite(bot: Harness, token: str, user: int = KEN) -> list[str]:
    return await bot.send(user, f"/start f_{token}")


async def accept(bot: Harness, token: str, share: str = "How many days this week, and my step") -> None:
    """Ken accepts, gives consent (new to Komorebi), chooses what Mum sees, and finishes onboarding."""
    await open_invite(bot, token)
    await bot.tap(KEN, "Accept")
    await bot.tap(KEN, "OK")
    await bot.tap(KEN, share)
    await bot.tap(KEN, "Looks good")


async def count(bot: Harness, model: type) -> int:
    async with bot.services.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_an_invitation_is_a_link_stored_only_as_a_hash(bot: Harness) -> None:
    token = await invite(bot)
    async with bot.services.sessions() as session:
        [stored] = (await session.scalars(select(FamilyInvite))).all()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored.token_hash
    assert stored.expires_at == bot.clock.now() + dt.timedelta(days=14)
    assert len(token) >= 32


async def test_opening_shows_who_invited_and_stores_nothing(bot: Harness) -> None:
    token = await invite(bot)
    [shown] = await open_invite(bot, token)
    assert shown == bot.t("invite.open", name="Mum")
    assert bot.api.last(KEN).button_texts == ["Accept", "Not now", "No"]
    assert await bot.participant(KEN) is None
    assert await count(bot, FamilyLink) == 0


async def test_accepting_asks_for_consent_first_then_links_with_nothing_shared(bot: Harness) -> None:
    token = await invite(bot)
    await open_invite(bot, token)
    replies = await bot.tap(KEN, "Accept")
    # New to Komorebi: the usual consent comes first, and nothing is linked before it.
    assert replies == [bot.t("invite.consent_first", name="Mum"), bot.t("welcome")]
    assert await count(bot, FamilyLink) == 0
    assert bot.api.messages(MUM)[-1].text != bot.t("family.accepted", label="Ken")
    replies = await bot.tap(KEN, "OK")
    assert replies[-1].startswith(bot.t("invite.accepted", name="Mum"))
    assert bot.api.last(MUM).text == bot.t("family.accepted", label="Ken")
    async with bot.services.sessions() as session:
        [link] = (await session.scalars(select(FamilyLink))).all()
    assert link.share == "none"
    [choice] = await bot.tap(KEN, "Whether I checked in this week")
    assert choice == bot.t("share.set", name="Mum", share=bot.t("share.checked_in"))
    await bot.send(MUM, "/family")
    [status] = await bot.tap(MUM, "My invitations")
    assert status == bot.t("family.status", lines="Ken: accepted")


@pytest.mark.parametrize("answer", ["Not now", "No"])
async def test_not_now_and_no_look_the_same_to_the_family(bot: Harness, answer: str) -> None:
    token = await invite(bot)
    await open_invite(bot, token)
    await bot.tap(KEN, answer)
    assert bot.api.last(MUM).text == bot.t("family.not_accepted", label="Ken")
    await bot.send(MUM, "/family")
    assert await bot.tap(MUM, "My invitations") == [bot.t("family.status", lines="Ken: not accepted (yet)")]
    assert await bot.participant(KEN) is None  # nothing stored about them
    still_works = answer == "Not now"
    assert (await open_invite(bot, token) == [bot.t("invite.open", name="Mum")]) is still_works


async def test_an_invitation_expires_and_cannot_be_reused(bot: Harness) -> None:
    token = await invite(bot)
    await accept(bot, token)
    assert await open_invite(bot, token, STRANGER) == [bot.t("invite.unusable")]
    await bot.send(MUM, "/family")
    await bot.tap(MUM, "Invite someone")
    [invitation, _menu] = await bot.send(MUM, "Aki")
    second = re.search(r"start=f_([A-Za-z0-9_-]+)", invitation).group(1)
    bot.clock.advance(dt.timedelta(days=14, seconds=1))
    assert await open_invite(bot, second, STRANGER) == [bot.t("invite.unusable")]
    assert await open_invite(bot, "guessed-token-that-does-not-exist", STRANGER) == [bot.t("invite.unusable")]
    assert await open_invite(bot, second, MUM) == [bot.t("invite.unusable")]


async def test_the_inviter_cannot_accept_their_own_invitation(bot: Harness) -> None:
    token = await invite(bot)
    assert await open_invite(bot, token, MUM) == [bot.t("invite.own")]


async def weekly_note(bot: Harness) -> str:
    async with bot.services.sessions() as session:
        from storage.repo import family_member_by_chat

        member = await family_member_by_chat(session, MUM)
    bot.clock.set(max(bot.clock.now(), member.next_note_at))
    await bot.tick()
    return bot.api.last(MUM).text


async def relative_with_days(bot: Harness, share: str) -> str:
    """Ken, set up at step 3, shows up on 2 days; Mum's next weekly note."""
    token = await invite(bot)
    await accept(bot, token, share)
    await bot.send(KEN, "/settings")
    await bot.tap(KEN, "Step")
    await bot.tap(KEN, "step 3: stepping outside")
    for _ in range(2):
        await to_next_hello(bot)
        await bot.tap(KEN, "I'm here", message_id=bot.message_with_button(KEN, "I'm here").message_id)
    return await weekly_note(bot)


async def test_the_weekly_note_with_count_and_step(bot: Harness) -> None:
    note = await relative_with_days(bot, "How many days this week, and my step")
    assert "Ken showed up on 2 days this week, at step 3: stepping outside." in note
    assert "An idea for this week:" in note
    assert bot.api.last(MUM).button_texts == ["Okay", "So-so", "Hard"]


async def test_the_database_is_free_while_a_weekly_note_is_on_its_way(bot: Harness) -> None:
    engine = bot.services.engine
    if engine.dialect.name != "sqlite":
        pytest.skip("on PostgreSQL an open read transaction holds no lock that answers wait for")
    token = await invite(bot)
    await accept(bot, token, "How many days this week, and my step")
    free: list[bool] = []

    async def while_sending(method: str, params: dict) -> None:
        if method == "sendMessage" and params["chat_id"] == MUM:
            free.append(sqlite_write_lock_free(engine))

    bot.api.delay_hook = while_sending
    note = await weekly_note(bot)
    bot.api.delay_hook = None
    assert free == [True]
    assert "An idea for this week:" in note


async def test_the_weekly_note_with_checked_in_only_says_nothing_more(bot: Harness) -> None:
    note = await relative_with_days(bot, "Whether I checked in this week")
    assert "Ken checked in this week." in note
    assert not re.search(r"\d", note.split("An idea")[0])  # no count, no step number
    assert "stepping outside" not in note


async def test_the_weekly_note_with_nothing_shared(bot: Harness) -> None:
    note = await relative_with_days(bot, "Nothing")
    assert bot.t("family.weekly.private", label="Ken") in note
    assert "checked in" not in note and "stepping outside" not in note
    assert not re.search(r"\d", note.split("An idea")[0])


@pytest.mark.parametrize("share", ["none", "checked_in", "count_level"])
async def test_no_family_message_carries_what_was_not_shared(bot: Harness, share: str) -> None:
    """Whatever the share level, nothing sent to the family holds a message text, a task, a time of
    day, the alias, or a figure the relative did not choose to share."""
    labels = {"none": "Nothing", "checked_in": "Whether I checked in this week", "count_level": "How many days this week, and my step"}
    await relative_with_days(bot, labels[share])
    await bot.send(KEN, "private words about my day")
    ken = await bot.participant(KEN)
    family_texts = "\n".join(m.text or "" for m in bot.api.messages(MUM))
    forbidden = ["private words", ken.alias, "Asia/Tokyo", "18:", "19:", "20:"]
    forbidden += [bot.services.tasks.text("en", task) for level in range(6) for task in bot.services.tasks.by_level[level]]
    if share != "count_level":
        forbidden += ["stepping outside", "2 days"]
    if share == "none":
        forbidden += ["checked in this week.", "quiet week"]
    for text in forbidden:
        assert text not in family_texts, text


async def test_the_family_member_checks_on_their_own_week(bot: Harness) -> None:
    await invite(bot)
    await weekly_note(bot)
    [reply] = await bot.tap(MUM, "Hard")
    assert reply.startswith("Yorisoi Hotline 0120-279-338")
    assert "you deserve support too" in reply


async def test_changing_and_ending_sharing_from_privacy(bot: Harness) -> None:
    token = await invite(bot)
    await accept(bot, token, "Whether I checked in this week")
    [view] = await bot.send(KEN, "/privacy")
    assert "Mum sees: Whether I checked in this week" in view
    await bot.tap(KEN, "Change what Mum sees")
    await bot.tap(KEN, "Nothing")
    [view] = await bot.send(KEN, "/privacy")
    assert "Mum sees: Nothing" in view
    [removed] = await bot.tap(KEN, "Stop sharing with Mum")
    assert removed == bot.t("share.removed", name="Mum")
    assert bot.api.last(MUM).text == bot.t("family.sharing_ended", label="Ken")
    assert await count(bot, FamilyLink) == 0
    assert bot.t("family.weekly.no_links") in await weekly_note(bot)


async def test_a_forged_share_button_touches_nobody(bot: Harness) -> None:
    token = await invite(bot)
    await accept(bot, token, "Nothing")
    await onboard(bot, STRANGER)
    async with bot.services.sessions() as session:
        [link] = (await session.scalars(select(FamilyLink))).all()
    assert await bot.tap_data(STRANGER, f"sh:{link.id}:count_level", message_id=1) == [bot.t("button.stale")]
    assert await bot.tap_data(STRANGER, f"fr:{link.id}", message_id=1) == [bot.t("button.stale")]
    async with bot.services.sessions() as session:
        assert (await session.get(FamilyLink, link.id)).share == "none"


async def write_note(bot: Harness, text: str) -> list[str]:
    await bot.send(MUM, "/family")
    await bot.tap(MUM, "Write a note")
    await bot.tap(MUM, "Ken")
    return await bot.send(MUM, text)


async def test_a_note_comes_with_the_next_hello_after_asking_once(bot: Harness) -> None:
    token = await invite(bot)
    await accept(bot, token, "Nothing")
    sent = len(bot.api.messages(KEN))
    assert await write_note(bot, "Dinner is in the fridge.") == [bot.t("family.note_saved", label="Ken")]
    assert len(bot.api.messages(KEN)) == sent  # never a sudden message
    await to_next_hello(bot)
    hello = bot.api.last(KEN)
    assert bot.t("notes.ask", name="Mum") in hello.text and "Dinner" not in hello.text
    assert await bot.tap(KEN, "Show me") == ["A note from Mum: Dinner is in the fridge."]
    await write_note(bot, "See you at breakfast.")
    await to_next_hello(bot)
    assert "A note from Mum: See you at breakfast." in bot.api.last(KEN).text
    assert await count(bot, FamilyNote) == 0  # delivered notes are not kept


async def test_a_note_refused(bot: Harness) -> None:
    token = await invite(bot)
    await accept(bot, token, "Nothing")
    await write_note(bot, "Thinking of you.")
    await to_next_hello(bot)
    assert await bot.tap(KEN, "No notes, thanks") == [bot.t("notes.off")]
    assert bot.api.last(MUM).text == bot.t("family.notes_off", label="Ken")
    assert await count(bot, FamilyNote) == 0
    assert await write_note(bot, "One more?") == [bot.t("family.notes_off", label="Ken")]


async def test_notes_cannot_carry_a_way_out_of_the_bot(bot: Harness) -> None:
    token = await invite(bot)
    await accept(bot, token, "Nothing")
    assert await write_note(bot, "call me 090-1234-5678") == [bot.t("note.refused.phone")]
    assert await bot.send(MUM, "see https://example.org") == [bot.t("note.refused.link")]
    assert await bot.send(MUM, "Warm soup tonight.") == [bot.t("family.note_saved", label="Ken")]


async def test_a_family_member_who_is_also_a_participant(bot: Harness) -> None:
    await onboard(bot, MUM)
    await invite(bot)
    assert (await bot.participant(MUM)).status == "active"
    await to_next_hello(bot, MUM)
    assert "I'm here" in bot.api.last(MUM).button_texts
    note = await weekly_note(bot)
    assert bot.t("family.weekly.no_links") in note
    assert await bot.send(MUM, "/tips") == [bot.t("family.tip.2")]


async def test_family_sharing_is_in_settings_too(bot: Harness) -> None:
    token = await invite(bot)
    await accept(bot, token, "Nothing")
    await bot.send(KEN, "/settings")
    [panel] = await bot.tap(KEN, "Family")
    assert panel == "Mum sees: Nothing"
    await bot.tap(KEN, "Change what Mum sees")
    [done] = await bot.tap(KEN, "How many days this week, and my step")
    assert done == bot.t("share.set", name="Mum", share=bot.t("share.count_level"))


async def test_many_notes_wait_their_turn_so_a_hello_stays_short(bot: Harness) -> None:
    token = await invite(bot)
    await accept(bot, token, "Nothing")
    async with bot.services.sessions() as session:
        ken = await session.scalar(select(Participant).where(Participant.chat_id == KEN))
        ken.notes_allowed = True
        await session.commit()
    for i in range(5):
        await write_note(bot, f"Note number {i} " + "with warm words " * 15)
    await to_next_hello(bot)
    first = bot.api.last(KEN).text
    assert first.count("A note from Mum:") == 3 and "Note number 0" in first and "Note number 3" not in first
    await to_next_hello(bot)
    assert bot.api.last(KEN).text.count("A note from Mum:") == 2
    assert await count(bot, FamilyNote) == 0


async def test_a_guessed_invitation_button_does_nothing(bot: Harness) -> None:
    await invite(bot)
    assert await bot.tap_data(STRANGER, "iv:guessed-token:yes", message_id=1) == [bot.t("invite.unusable")]
    assert await count(bot, FamilyLink) == 0
    assert await bot.participant(STRANGER) is None


async def test_accepting_then_not_giving_consent_links_nothing(bot: Harness) -> None:
    token = await invite(bot)
    await open_invite(bot, token)
    await bot.tap(KEN, "Accept")
    assert await bot.tap(KEN, "Not now") == [bot.t("consent.declined")]
    assert await count(bot, FamilyLink) == 0
    assert bot.api.last(MUM).text == bot.t("family.not_accepted", label="Ken")
    participant = await bot.participant(KEN)
    assert (participant.consent_at, participant.awaiting) == (None, None)


async def test_a_double_tap_on_not_now_tells_the_family_once(bot: Harness) -> None:
    token = await invite(bot)
    await open_invite(bot, token)
    message = bot.message_with_button(KEN, "Not now")
    before = len(bot.api.messages(MUM))
    await bot.tap(KEN, "Not now", message_id=message.message_id)
    await bot.tap_data(KEN, f"iv:{token}:later", message_id=message.message_id)
    assert len(bot.api.messages(MUM)) == before + 1


async def test_notes_can_be_switched_back_on_in_privacy(bot: Harness) -> None:
    token = await invite(bot)
    await accept(bot, token, "Nothing")
    await write_note(bot, "Thinking of you.")
    await to_next_hello(bot)
    hello = bot.api.last(KEN)
    await bot.tap(KEN, "No notes, thanks")
    # Only the question's buttons went; the hello can still be answered.
    assert "I'm here" in bot.api.message(KEN, hello.message_id).button_texts
    await bot.send(KEN, "/privacy")
    [view] = await bot.tap(KEN, "Receive notes from family")
    assert "Notes from family: yes" in view
    assert (await bot.participant(KEN)).notes_allowed is True


async def test_a_family_member_can_see_and_delete_their_own_data(bot: Harness) -> None:
    import json

    token = await invite(bot)
    await accept(bot, token, "Nothing")
    await write_note(bot, "Soup tonight.")
    before = len(bot.api.calls)
    await bot.send(MUM, "/mydata")
    [call] = [c for c in bot.api.calls[before:] if c.method == "sendDocument"]
    [(_, content)] = call.files.values()
    data = json.loads(content)
    assert data["as_family_member"][0]["display_name"] == "Mum"
    assert data["family_invitations"][0]["relative_label"] == "Ken"
    assert data["family_notes_waiting"][0]["text"] == "Soup tonight."
    assert data["participant"] == []
    await bot.send(MUM, "/forget")
    await bot.tap(MUM, "Yes, delete everything")
    for model in (FamilyInvite, FamilyLink, FamilyNote):
        assert await count(bot, model) == 0
    from storage.models import FamilyMember

    assert await count(bot, FamilyMember) == 0


async def test_a_command_leaves_a_family_question_behind(bot: Harness) -> None:
    await onboard(bot, MUM)
    await bot.send(MUM, "/family")  # asks for the name to show
    await bot.send(MUM, "/progress")
    assert await bot.send(MUM, "tired today") == [bot.t("checkin.text")]
    async with bot.services.sessions() as session:
        from storage.repo import family_member_by_chat

        assert (await family_member_by_chat(session, MUM)).display_name is None


async def test_the_weekly_note_comes_at_the_chosen_day_time_and_zone(bot: Harness) -> None:
    from zoneinfo import ZoneInfo

    await invite(bot)
    await bot.send(MUM, "/family")
    await bot.tap(MUM, "Weekly note time")
    await bot.tap(MUM, "Wednesday")
    [chosen] = await bot.tap(MUM, "Morning (08:00–11:00)")
    assert chosen.startswith(bot.t("family.time_set", weekday="Wednesday", window="Morning (08:00–11:00)", zone="Asia/Tokyo"))
    await bot.tap(MUM, "Europe/London")
    await weekly_note(bot)
    local = bot.clock.now().astimezone(ZoneInfo("Europe/London"))
    assert local.weekday() == 2 and 8 <= local.hour < 11
