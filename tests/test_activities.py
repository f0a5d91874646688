"""Group activities and the coordinators' tools through the real Application and the tick."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.activities import INVITE_BUSY_HOLD, INVITE_QUIET_HOLD
from core.backoff import BUDGET, budget_breaches
from core.clock import FakeClock
from storage.db import create_engine

from storage import repo
from storage.models import Activity, ActivityReply, CheckIn, Notice
from tests.harness import Harness
from tests.test_checkin_loop import to_next_hello
from tests.test_cli import run_cli
from tests.test_peer import COORDINATOR, NOBODY, messages_to, onboard, team  # noqa: F401 - `team` is a fixture

A, B, C, D = 1101, 1102, 1103, 1104
VOLUNTEER = 4001
TOKYO = ZoneInfo("Asia/Tokyo")
# START is 2026-03-02 09:30 in Tokyo; the activity is on Saturday the 7th at 14:00, Tokyo time.
WHEN = "2026-03-07 14:00"
STARTS = dt.datetime(2026, 3, 7, 14, 0, tzinfo=TOKYO)


async def joiner(bot: Harness, user: int, level: int = 3, *, opted_in: bool = True, zone: str | None = None) -> None:
    """A participant at `level`, opted in to group activities (or not), in `zone`."""
    await onboard(bot, user)
    async with bot.services.sessions() as session:
        participant = await repo.participant_by_chat(session, user)
        participant.level, participant.group_opt_in = level, opted_in
        participant.timezone = zone or participant.timezone
        await session.commit()


async def plan(bot: Harness, capacity: int = 8, level: int = 2, title: str = "Online tea") -> int:
    [reply] = await bot.send(COORDINATOR, f"/newactivity {WHEN} | {title} | https://meet.example/tea | {capacity} | {level}")
    match = re.search(r"#(\d+)", reply)
    assert match, reply
    return int(match.group(1))


async def tick_at(bot: Harness, moment: dt.datetime) -> int:
    """Run the tick at `moment`; returns the call count from before it."""
    bot.clock.set(moment)
    before = len(bot.api.calls)
    await bot.tick()
    return before


def texts(bot: Harness, before: int, user: int) -> list[str]:
    return messages_to(bot, before, user)


async def test_an_invitation_goes_once_to_those_welcome_and_comes_with_the_next_hello(team: Harness) -> None:
    await joiner(team, A, level=3)
    await joiner(team, B, level=1)  # below the lowest step
    await joiner(team, C, level=4, opted_in=False)  # did not opt in
    await joiner(team, D, level=2, zone="America/New_York")
    activity_id = await plan(team)
    # Not yet at 09:30: the invitation waits for A's hello this evening.
    before = await tick_at(team, team.clock.now())
    assert texts(team, before, A) == []
    await to_next_hello(team, A)
    hello, invitation = team.api.messages(A)[-2:]
    assert invitation.text.startswith(team.t("activity.invite"))
    assert "Online tea" in invitation.text and "https://meet.example/tea" in invitation.text
    assert "Saturday 7 March, 14:00" in invitation.text
    assert "0 people are coming so far" in invitation.text
    assert invitation.button_texts == ["I'll come", "Maybe", "Just tell me how it went"]
    # D, in New York, sees the time in their own zone; B and C get nothing at all.
    await to_next_hello(team, D)
    [for_d] = [m.text for m in team.api.messages(D) if "Online tea" in m.text]
    assert "Saturday 7 March, 00:00" in for_d
    for user in (B, C):
        assert not any("Online tea" in m.text for m in team.api.messages(user))
    # Only one invitation each, however many ticks.
    for _ in range(3):
        await team.tick()
    assert sum("Online tea" in m.text for m in team.api.messages(A)) == 1
    async with team.services.sessions() as session:
        invited = set((await session.scalars(select(ActivityReply.participant_id))).all())
    assert len(invited) == 2 and activity_id == 1


async def test_ill_come_brings_two_reminders_and_a_how_was_it_that_counts_as_a_step(team: Harness) -> None:
    await joiner(team, A)
    await plan(team)
    await to_next_hello(team, A)
    assert await team.tap(A, "I'll come") == [team.t("activity.ack.come", coming="1 person is coming so far")]
    assert await team.tap(A, "I'll come") == [team.t("activity.noted_already")]  # a double tap counts once
    # The day before, and two hours before: a gentle reminder each, nothing in between.
    before = await tick_at(team, STARTS - dt.timedelta(hours=24, minutes=1))
    assert not any("tomorrow" in text for text in texts(team, before, A))
    before = await tick_at(team, STARTS - dt.timedelta(hours=24))
    [reminder] = [text for text in texts(team, before, A) if "tomorrow" in text]
    assert "Online tea" in reminder and "1 person is coming so far" in reminder
    before = await tick_at(team, STARTS - dt.timedelta(hours=2))
    assert any(text.startswith("It starts in about two hours") for text in texts(team, before, A))
    before = await tick_at(team, STARTS + dt.timedelta(hours=3))
    assert team.t("activity.how", title="Online tea") in texts(team, before, A)
    assert await team.tap(A, "I went, and it was hard") == [team.t("activity.how_ack.hard")]
    assert await team.tap_data(A, "ah:1:good", message_id=team.api.last(A).message_id) == [team.t("activity.noted_already")]
    async with team.services.sessions() as session:
        sources = (await session.scalars(select(CheckIn.source))).all()
    assert "activity" in sources
    async with team.services.sessions() as session:
        assert (await session.scalars(select(Notice))).all() == []


async def test_not_going_has_no_consequence_and_just_tell_me_gets_only_the_news(team: Harness) -> None:
    await joiner(team, A)
    await joiner(team, B)
    await plan(team)
    await to_next_hello(team, A)
    await team.tap(A, "I'll come")
    await to_next_hello(team, B)
    # B left two hellos and the invitation unanswered: the reply ends that quiet spell too (its
    # welcome back comes first; see the test on invitations and the quiet spell).
    assert (await team.tap(B, "Just tell me how it went"))[-1] == team.t("activity.ack.tell", coming="")
    before = await tick_at(team, STARTS - dt.timedelta(hours=2))
    assert not any("Online tea" in text for text in texts(team, before, B))
    before = await tick_at(team, STARTS + dt.timedelta(hours=3))
    [news] = [text for text in texts(team, before, B) if "took place" in text]
    assert "1 person had planned to come" in news
    [how] = [text for text in texts(team, before, A) if text.startswith("How was")]
    assert await team.tap(A, "I didn't go this time") == [team.t("activity.how_ack.skipped")]
    async with team.services.sessions() as session:
        sources = (await session.scalars(select(CheckIn.source))).all()
    assert "activity" not in sources  # not going counts nothing, and nothing is said about it
    # Nobody is ever told who came or did not.
    for user in (A, B):
        for message in team.api.messages(user):
            assert str(A) not in message.text and str(B) not in message.text


async def test_capacity_is_respected_kindly(team: Harness) -> None:
    await joiner(team, A)
    await joiner(team, B)
    await plan(team, capacity=1)
    await to_next_hello(team, A)
    await to_next_hello(team, B)
    await team.tap(A, "I'll come")
    assert (await team.tap(B, "I'll come"))[-1] == team.t("activity.full", title="Online tea")  # after a welcome back
    assert await team.tap(B, "Maybe") == [team.t("activity.ack.maybe", coming="1 person is coming so far")]
    # A changes their mind: the place opens again.
    assert await team.tap(A, "Maybe") == [team.t("activity.ack.maybe", coming="0 people are coming so far")]
    assert await team.tap(B, "I'll come") == [team.t("activity.ack.come", coming="1 person is coming so far")]


async def test_a_cancellation_tells_everyone_who_answered_and_nothing_else_goes_out(team: Harness) -> None:
    await joiner(team, A)
    await joiner(team, B)
    await joiner(team, C)
    activity_id = await plan(team)
    for user in (A, B, C):
        await to_next_hello(team, user)
    await team.tap(A, "I'll come")
    await team.tap(B, "Just tell me how it went")
    assert await team.send(COORDINATOR, f"/cancelactivity {activity_id}") == [
        team.t("admin.activity.cancelled", id=activity_id, title="Online tea")
    ]
    before = await tick_at(team, team.clock.now())
    for user in (A, B):
        [told] = [text for text in texts(team, before, user) if "cancelled" in text]
        assert told == team.t("activity.cancelled", title="Online tea", when="Saturday 7 March, 14:00")
    assert texts(team, before, C) == []  # C never answered
    # No reminder, no "how was it?" afterwards.
    for moment in (STARTS - dt.timedelta(hours=24), STARTS - dt.timedelta(hours=2), STARTS + dt.timedelta(hours=3)):
        before = await tick_at(team, moment)
        assert not any("Online tea" in text for text in texts(team, before, A))
    # The old invitation's buttons now say so, and a second cancel finds nothing.
    # (C has let a few hellos pass meanwhile, so a "Welcome back" may come first.)
    assert (await team.tap(C, "I'll come"))[-1] == team.t("activity.was_cancelled", title="Online tea")
    assert await team.send(COORDINATOR, f"/cancelactivity {activity_id}") == [team.t("admin.activity.not_found")]


async def test_an_edit_moves_the_reminders_and_tells_those_who_answered(team: Harness) -> None:
    await joiner(team, A)
    activity_id = await plan(team)
    await to_next_hello(team, A)
    await team.tap(A, "Maybe")
    [reply] = await team.send(COORDINATOR, f"/editactivity {activity_id} | 2026-03-08 10:00 | Morning walk | Park gate | 8 | 2")
    assert reply == team.t("admin.activity.edited", id=activity_id, title="Morning walk")
    before = await tick_at(team, team.clock.now())
    [changed] = texts(team, before, A)
    assert changed.startswith(team.t("activity.changed")) and "Sunday 8 March, 10:00" in changed and "Park gate" in changed
    # The old reminder time passes quietly; the new one comes.
    before = await tick_at(team, STARTS - dt.timedelta(hours=24))
    assert texts(team, before, A) == []
    before = await tick_at(team, dt.datetime(2026, 3, 7, 10, 0, tzinfo=TOKYO))
    assert any("Morning walk" in text and "tomorrow" in text for text in texts(team, before, A))


async def test_activities_lists_for_those_who_opted_in(team: Harness) -> None:
    await joiner(team, A)
    await joiner(team, C, opted_in=False)
    assert await team.send(A, "/activities") == [team.t("activities.none")]
    await plan(team)
    title, card = await team.send(A, "/activities")
    assert title == team.t("activities.title") and "Online tea" in card
    # Answering from the list works as from an invitation.
    assert await team.tap(A, "I'll come") == [team.t("activity.ack.come", coming="1 person is coming so far")]
    assert await team.send(C, "/activities") == [team.t("activities.not_opted")]
    # The coordinator's /activities has the numbers (never names).
    [listing] = await team.send(COORDINATOR, "/activities")
    assert "#1 Online tea" in listing and "coming 1 · maybe 0 · to be told 0" in listing
    assert str(A) not in listing


async def test_a_paused_participant_gets_no_reminder_and_a_forged_answer_does_nothing(team: Harness) -> None:
    await joiner(team, A)
    await joiner(team, B, level=0)
    activity_id = await plan(team)
    await to_next_hello(team, A)
    await team.tap(A, "I'll come")
    await team.send(A, "/pause")
    await team.tap(A, "Until I say")
    before = await tick_at(team, STARTS - dt.timedelta(hours=24))
    assert texts(team, before, A) == []
    # B (below the lowest step) forging an answer: nothing is recorded.
    assert await team.tap_data(B, f"ar:{activity_id}:come", message_id=1) == [team.t("button.stale")]
    assert await team.tap_data(B, "ar:99:come", message_id=1) == [team.t("button.stale")]
    assert await team.tap_data(B, f"ah:{activity_id}:good", message_id=1) == [team.t("button.stale")]
    async with team.services.sessions() as session:
        assert await repo.reply(session, activity_id, (await repo.participant_by_chat(session, B)).id) is None


async def test_coordinator_forms_are_checked_kindly(team: Harness) -> None:
    usage = team.t("admin.activity.usage", zone="Asia/Tokyo")
    assert await team.send(COORDINATOR, "/newactivity") == [team.t("admin.activity.form") + "\n\n" + usage]
    for line, key in (
        ("tomorrow | Tea | Online | 5 | 2", "admin.activity.bad_time"),
        ("2026-03-07 14:00 | Tea | Online | none | 2", "admin.activity.bad_capacity"),
        ("2026-03-07 14:00 | Tea | Online | 5 | 9", "admin.activity.bad_level"),
        ("2026-03-07 14:00 |  | Online | 5 | 2", "admin.activity.bad_text"),
    ):
        assert await team.send(COORDINATOR, f"/newactivity {line}") == [team.t(key) + "\n\n" + usage]
    assert await team.send(COORDINATOR, "/newactivity 2020-01-01 10:00 | Tea | Online | 5 | 2") == [team.t("admin.activity.past")]
    assert await team.send(COORDINATOR, "/editactivity 42 | 2026-03-07 14:00 | Tea | Online | 5 | 2") == [
        team.t("admin.activity.not_found")
    ]
    async with team.services.sessions() as session:
        assert (await session.scalars(select(Activity))).all() == []


async def test_figures_hide_every_count_below_five(team: Harness) -> None:
    for user in range(5001, 5007):
        await onboard(team, user)  # six at step 0
    await joiner(team, A, level=2)  # one at step 2
    for user in range(5001, 5007):
        await team.send(user, "here")
    [figures] = await team.send(COORDINATOR, "/figures")
    assert "Participants: 7" in figures
    assert "step 0: 6" in figures and "step 2: <5" in figures and "step 5: <5" in figures
    assert "03-02  6" in figures and "03-01  <5" in figures
    assert "Quiet (no reply to the last 3 hellos or more): <5" in figures
    assert await team.send(NOBODY, "/figures") == [team.t("command.unknown")]


async def test_the_admin_command_line_issues_codes_and_plans_activities_the_bot_then_uses(tmp_path: Path, clock: FakeClock) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'admin.db'}"
    help_text = run_cli("admin", "--help", cwd=tmp_path).stdout
    for tool in ("code", "volunteers", "revoke", "activities", "activity-add", "activity-edit", "activity-cancel", "figures"):
        assert tool in help_text
    code_run = run_cli("admin", "--language", "en", "code", cwd=tmp_path, DATABASE_URL=url)
    assert code_run.returncode == 0, code_run.stderr
    code = re.search(r"Volunteer code: (\S+)", code_run.stdout).group(1)
    add = ("admin", "--language", "en", "activity-add", "--title", "Farm day", "--place", "Green farm")
    planned = run_cli(*add, "--at", "2030-05-01 10:00", "--capacity", "6", "--level", "1", cwd=tmp_path, DATABASE_URL=url)
    assert planned.returncode == 0 and 'Activity #1 "Farm day" is planned' in planned.stdout
    refused = run_cli(*add, "--at", "2030-05-01 10:00", "--capacity", "0", "--level", "1", cwd=tmp_path, DATABASE_URL=url)
    assert refused.returncode == 2 and "capacity" in refused.stderr
    missing = run_cli("admin", "--language", "en", "activity-cancel", "7", cwd=tmp_path, DATABASE_URL=url)
    assert missing.returncode == 1
    edit = ("admin", "--language", "en", "activity-edit", "1", "--title", "Farm day", "--place", "Green farm, gate 2")
    edited = run_cli(*edit, "--at", "2030-05-02 10:00", "--capacity", "6", "--level", "1", cwd=tmp_path, DATABASE_URL=url)
    assert edited.returncode == 0 and 'Activity #1 "Farm day" is changed' in edited.stdout
    listing = run_cli("admin", "--language", "en", "activities", cwd=tmp_path, DATABASE_URL=url)
    assert "#1 Farm day" in listing.stdout and "2030-05-02 10:00 · Green farm, gate 2" in listing.stdout

    engine = create_engine(url)
    try:
        async with Harness.started(engine, clock, KOMOREBI_COORDINATORS=str(COORDINATOR)) as bot:
            await bot.send(VOLUNTEER, f"/volunteer {code}")
            assert await bot.tap(VOLUNTEER, "I agree") == [bot.t("volunteer.welcome")]
            await joiner(bot, A, level=1)
            await to_next_hello(bot, A)
            assert any("Farm day" in m.text for m in bot.api.messages(A))
    finally:
        await engine.dispose()
    figures = run_cli("admin", "--language", "en", "figures", cwd=tmp_path, DATABASE_URL=url)
    assert "Participants: <5" in figures.stdout
    volunteers = run_cli("admin", "--language", "en", "volunteers", cwd=tmp_path, DATABASE_URL=url)
    assert "Volunteer #1" in volunteers.stdout
    revoked = run_cli("admin", "--language", "en", "revoke", "1", cwd=tmp_path, DATABASE_URL=url)
    assert revoked.returncode == 0 and "#1" in revoked.stdout


async def test_an_invitation_waiting_for_the_next_hello_is_dropped_if_they_opt_out_meanwhile(team: Harness) -> None:
    await joiner(team, A)
    await plan(team)
    await tick_at(team, team.clock.now())  # planned for this evening's hello
    async with team.services.sessions() as session:
        assert [n.kind for n in (await session.scalars(select(Notice))).all()] == ["invite"]
    await team.send(A, "/settings")
    await team.tap(A, "Group activities")
    await team.tap(A, team.t("choose.group_off"))
    await to_next_hello(team, A)
    await tick_at(team, team.clock.now() + dt.timedelta(hours=12))  # well past the planned moment
    assert not any("Online tea" in m.text for m in team.api.messages(A))
    async with team.services.sessions() as session:
        assert (await session.scalars(select(Notice))).all() == []


async def test_an_invitation_counts_in_the_quiet_spell_so_silence_stays_within_the_budget(team: Harness) -> None:
    await joiner(team, A, level=3)
    await plan(team)
    # A never answers: the hello and the invitation that comes with it, and every message after,
    # stay within the pressure budget counted over all of them.
    start = len(team.api.messages(A))
    first: dt.date | None = None
    days: list[int] = []
    for _ in range(4 * 24):  # four weeks, a tick every hour (plus one at each planned moment)
        participant = await team.participant(A)
        team.clock.set(min(participant.next_hello_at, team.clock.now() + dt.timedelta(hours=7)))
        before = len(team.api.messages(A))
        await team.tick()
        for _new in range(len(team.api.messages(A)) - before):
            today = team.clock.now().date()
            first = first or today
            days.append((today - first).days)
        if first and (team.clock.now().date() - first).days >= 28:
            break
    assert sum("Online tea" in m.text for m in team.api.messages(A)[start:]) == 1
    assert days[:2] == [0, 0]  # the invitation came with the first hello
    assert budget_breaches(days) == []
    assert len(days) >= BUDGET.week_1_max + 3  # and still a weekly door after the first week
    assert days[:5] == [0, 0, 1, 4, 11]  # hello and invitation, hello, then slower: the invitation counted
    assert (await team.tap(A, "I'm here"))[0] == team.t("welcome_back")


async def test_an_invitation_waits_through_a_quiet_spell_and_comes_after_a_reply(team: Harness) -> None:
    await joiner(team, A, level=3)
    start = len(team.api.messages(A))

    async def hours(count: int) -> None:  # a tick every hour, and one at each planned hello
        for _ in range(count):
            participant = await team.participant(A)
            team.clock.set(min(participant.next_hello_at, team.clock.now() + dt.timedelta(hours=1)))
            await team.tick()

    await hours(10 * 24)  # ten days without a reply: the weekly door by now
    assert (await team.participant(A)).unanswered > 1
    [reply] = await team.send(COORDINATOR, "/newactivity 2026-03-28 14:00 | Garden walk | Park gate | 8 | 2")
    assert "#" in reply
    await hours(7 * 24)
    quiet = team.api.messages(A)[start:]
    assert not any("Garden walk" in m.text for m in quiet)  # not while they are quiet
    first = quiet[0].date
    assert budget_breaches([(m.date - first).days for m in quiet]) == []
    replied_at = team.clock.now()
    await team.tap(A, "I'm here")
    await hours(24)  # looked at again once a day, at the time it first came due: now it goes
    [invitation] = [m for m in team.api.messages(A) if "Garden walk" in m.text]
    assert invitation.date - replied_at <= INVITE_QUIET_HOLD
    await hours(48)
    assert sum("Garden walk" in m.text for m in team.api.messages(A)) == 1


async def test_an_invitation_waits_while_another_worker_is_sending_them_a_hello(team: Harness) -> None:
    await joiner(team, A, level=3)
    await plan(team)
    async with team.services.sessions() as session:  # another worker's claim, taken just now
        participant = await repo.participant_by_chat(session, A)
        participant.claim_token, participant.claimed_at = "another-worker", participant.next_hello_at
        await session.commit()
    await tick_at(team, (await team.participant(A)).next_hello_at)
    assert not any("Online tea" in m.text for m in team.api.messages(A))
    async with team.services.sessions() as session:  # that worker is done
        participant = await repo.participant_by_chat(session, A)
        participant.claim_token = participant.claimed_at = None
        await session.commit()
    await tick_at(team, team.clock.now() + INVITE_BUSY_HOLD)
    assert sum("Online tea" in m.text for m in team.api.messages(A)) == 1
