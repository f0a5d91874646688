"""The daily loop through the real Application: the tick's hello, answers, streaks, pause, stop."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from storage.models import CheckIn, Hello, Status
from tests.harness import Harness, shape, sqlite_write_lock_free
from tests.test_onboarding import ME, onboard

TOKYO = ZoneInfo("Asia/Tokyo")


async def hello_count(bot: Harness, user: int = ME) -> int:
    participant = await bot.participant(user)
    async with bot.services.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Hello).where(Hello.participant_id == participant.id))


async def checkins(bot: Harness, user: int = ME) -> list[tuple[dt.date, str]]:
    participant = await bot.participant(user)
    async with bot.services.sessions() as session:
        rows = await session.execute(
            select(CheckIn.day, CheckIn.source).where(CheckIn.participant_id == participant.id).order_by(CheckIn.day)
        )
        return [tuple(row) for row in rows]


async def to_next_hello(bot: Harness, user: int = ME) -> None:
    """Move the clock to the planned moment of the next hello and run the tick."""
    participant = await bot.participant(user)
    assert participant.next_hello_at is not None, "no hello planned"
    bot.clock.set(participant.next_hello_at)
    await bot.tick()


async def test_the_tick_sends_the_hello_inside_the_window_and_a_tap_counts_once(bot: Harness) -> None:
    await onboard(bot)
    sent_before = len(bot.sent_to(ME))
    await bot.tick()  # 09:30 in Tokyo: nothing is due yet
    assert len(bot.sent_to(ME)) == sent_before

    await to_next_hello(bot)
    hello = bot.api.last(ME)
    # A hello, with a small task from level 0 (tasks are on by default).
    assert hello.button_texts == ["Done", "Maybe later", "Too much today", "I'm here", "Not today", "Pause for a while"]
    greeting, task_line = hello.text.split("\n\n")
    assert greeting in {bot.t(f"hello.greeting.{i}") for i in range(1, 6)}
    assert task_line.startswith("A small step, if you'd like: ")
    local = bot.clock.now().astimezone(TOKYO)
    assert 18 <= local.hour < 21 and local.date() == dt.date(2026, 3, 2)
    assert await hello_count(bot) == 1

    # The next hello is planned for tomorrow evening, once.
    nxt = (await bot.participant(ME)).next_hello_at.astimezone(TOKYO)
    assert nxt.date() == dt.date(2026, 3, 3) and 18 <= nxt.hour < 21
    await bot.tick()
    assert await hello_count(bot) == 1

    assert await bot.tap(ME, "I'm here", message_id=hello.message_id) == [bot.t("checkin.here")]
    # The hello is answered, so its buttons go; the task stays open until the next hello.
    assert bot.api.message(ME, hello.message_id).button_texts == ["Done", "Maybe later", "Too much today"]
    # A double tap (the same button again) counts once and says so gently.
    assert await bot.tap_data(ME, "h:20260302:here", message_id=hello.message_id) == [bot.t("checkin.already")]
    assert await checkins(bot) == [(dt.date(2026, 3, 2), "here")]


async def test_not_today_is_contact_and_gets_acceptance(bot: Harness) -> None:
    await onboard(bot)
    await to_next_hello(bot)
    assert await bot.tap(ME, "Not today") == [bot.t("checkin.not_today")]
    assert await checkins(bot) == [(dt.date(2026, 3, 2), "not_today")]


async def test_pause_for_a_while_from_a_hello(bot: Harness) -> None:
    await onboard(bot)
    await to_next_hello(bot)
    assert await bot.tap(ME, "Pause for a while") == [bot.t("pause.ask")]
    [confirm] = await bot.tap(ME, "A day")
    assert confirm.startswith("Paused 🌿")
    assert (await bot.participant(ME)).status == Status.PAUSED
    assert await checkins(bot) == [(dt.date(2026, 3, 2), "pause")]


async def test_words_answer_the_hello_and_a_late_night_reply_belongs_to_the_evening_before(bot: Harness) -> None:
    await onboard(bot)
    await bot.send(ME, "/settings")
    await bot.tap(ME, "Time of day")
    await bot.tap(ME, "Late night (22:00–02:00)")
    await to_next_hello(bot)
    sent_at = bot.clock.now().astimezone(TOKYO)
    hello_day = (sent_at - dt.timedelta(hours=2)).date()  # 22:00–02:00 belongs to the evening it starts
    # A reply at 01:30 the next night (or whenever before the next hello) counts for that evening.
    reply_at = dt.datetime.combine(hello_day + dt.timedelta(days=1), dt.time(1, 30), TOKYO)
    bot.clock.set(reply_at)
    assert await bot.send(ME, "still awake") == [bot.t("checkin.text")]
    assert await checkins(bot) == [(hello_day, "text")]
    # More words the same night are thanked, and the day is not counted twice.
    assert await bot.send(ME, "x" * 4000) == [bot.t("checkin.text_again")]
    assert len(await checkins(bot)) == 1


async def test_a_reply_days_later_still_answers_the_last_hello(bot: Harness) -> None:
    await onboard(bot)
    await bot.send(ME, "/settings")
    await bot.tap(ME, "How often")
    await bot.tap(ME, "Twice a week (Mon, Thu)")
    await to_next_hello(bot)
    monday = bot.clock.now().astimezone(TOKYO).date()
    bot.clock.advance(dt.timedelta(days=2))  # Wednesday: no hello since Monday's
    await bot.tick()
    await bot.sticker(ME)
    assert await checkins(bot) == [(monday, "media")]


@contextlib.contextmanager
def writes_watched(bot: Harness) -> Iterator[tuple[list[str], list[int]]]:
    """The first word of every statement sent to the database meanwhile (Harness.statements), and
    for every ORM flush the number of changed objects it had to work out."""
    first_words: list[str] = []
    flushes: list[int] = []

    def flushed(session: Session, *_rest) -> None:  # noqa: ANN001
        flushes.append(len(session.dirty))

    event.listen(Session, "before_flush", flushed)
    try:
        with bot.statements() as statements:
            yield first_words, flushes
        first_words += [statement.split()[0].upper() for statement in statements if statement != "COMMIT"]
    finally:
        event.remove(Session, "before_flush", flushed)


async def test_an_answer_writes_the_day_and_nothing_else(bot: Harness) -> None:
    """A check-in from someone with nothing unanswered writes its one row and leaves the
    participant untouched: assigning even equal values would make the session work out an
    UPDATE (a flush) at every commit, the largest cost of an answer after the statements."""
    await onboard(bot)
    await to_next_hello(bot)
    await bot.tap(ME, "I'm here")  # nothing is unanswered now
    bot.clock.advance(dt.timedelta(days=1))
    await to_next_hello(bot)
    await bot.tap(ME, "I'm here")
    with writes_watched(bot) as (statements, flushes):
        assert await bot.send(ME, "a quiet evening") == [bot.t("checkin.text_again")]
        assert await bot.sticker(ME) == [bot.t("checkin.text_again")]
    assert flushes == []
    assert "UPDATE" not in statements, statements
    assert statements.count("INSERT") == 2  # the day, tried once per answer and skipped


async def test_an_answer_to_a_hello_clears_it_with_one_statement(bot: Harness) -> None:
    """The answer to a hello sets the unanswered count back with one UPDATE of its own, not
    through the ORM's flush; the participant read afterwards shows it cleared."""
    await onboard(bot)
    await to_next_hello(bot)
    assert (await bot.participant(ME)).unanswered == 1
    with writes_watched(bot) as (statements, flushes):
        assert await bot.send(ME, "a quiet evening") == [bot.t("checkin.text")]
    assert flushes == []
    assert statements.count("UPDATE") == 1, statements
    participant = await bot.participant(ME)
    assert participant.unanswered == 0 and participant.quiet_since is None


async def test_im_here_reads_the_chat_once_and_writes_twice(bot: Harness) -> None:
    """ "I'm here" is one read (the participant, with whatever the turn may need: prompts, the
    latest hello, whether there is a peer team to ask about), the unanswered hello cleared, the
    day counted, and the commit."""
    await onboard(bot)
    await to_next_hello(bot)
    with bot.statements() as statements:
        assert await bot.tap(ME, "I'm here") == [bot.t("checkin.here")]
    assert [shape(statement) for statement in statements] == [
        "SELECT participants",
        "UPDATE participants SET",
        'INSERT INTO "checkins"',
        "COMMIT",
    ]


async def test_a_plain_hello_is_one_transaction_before_it_is_sent_and_one_after(bot: Harness) -> None:
    """The claim says whether family notes or a cheer wait for each hello, and the batch's reads go
    on in the claim's own transaction: a hello with neither waiting is claimed and read for in one
    transaction before it is sent and recorded in one after, with no read of notes or cheers."""
    await onboard(bot)
    participant = await bot.participant(ME)
    bot.clock.set(participant.next_hello_at)
    sent_before = len(bot.sent_to(ME))
    with bot.statements() as statements:
        await bot.tick()
    seen = [shape(statement) for statement in statements]
    assert len(bot.sent_to(ME)) == sent_before + 1
    assert (await bot.participant(ME)).last_hello_day is not None  # sent, and recorded
    assert seen[:10] == [
        "SELECT",  # the tick's first read: is anything due? (subqueries only)
        "COMMIT",
        "UPDATE participants SET",  # the claim, which tells that no notes or cheer wait
        "SELECT task_offers",  # the tasks offered lately, in the claim's transaction
        "COMMIT",
        'INSERT INTO hellos',  # sent: what was sent, and the claim released
        'INSERT INTO "task_offers"',
        "UPDATE participants SET",
        "COMMIT",
        "DELETE FROM processed_updates",  # the tick's hourly housekeeping
    ], seen


async def test_the_database_is_free_while_a_hello_is_on_its_way(bot: Harness) -> None:
    """While the tick waits for Telegram to take a hello, it holds no transaction: on SQLite
    another connection can take the write lock at once, so answers are never kept waiting."""
    engine = bot.services.engine
    if engine.dialect.name != "sqlite":
        pytest.skip("on PostgreSQL an open read transaction holds no lock that answers wait for")
    await onboard(bot)
    participant = await bot.participant(ME)
    bot.clock.set(participant.next_hello_at)
    free: list[bool] = []

    async def while_sending(method: str, _params: dict) -> None:
        if method == "sendMessage":
            free.append(sqlite_write_lock_free(engine))

    bot.api.delay_hook = while_sending
    await bot.tick()
    bot.api.delay_hook = None
    assert free == [True]
    assert await hello_count(bot) == 1


async def test_progress_counts_days_and_bridges_one_rest_day(bot: Harness) -> None:
    await onboard(bot)
    for day in range(6):
        await to_next_hello(bot)
        if day != 2:  # one hello left unanswered
            await bot.tap(ME, "I'm here")
    [text] = await bot.send(ME, "/progress")
    assert "Days you showed up in the last 7: 5" in text
    assert bot.t("progress.last28", n=5) in text
    assert "Current streak: 5 days" in text
    assert "Best streak: 5 days" in text
    assert bot.t("progress.total", n=5) in text
    rows = [line for line in text.splitlines() if set(line) <= {"●", "・", " "} and line]
    assert len(rows) == 4 and all(len(row.split()) == 7 for row in rows)
    assert rows[-1].split()[-6:] == ["●", "●", "・", "●", "●", "●"][-6:]


async def test_pause_silences_everything_and_resume_brings_the_hello_back(bot: Harness) -> None:
    await onboard(bot)
    await bot.send(ME, "/pause")
    [confirm] = await bot.tap(ME, "Until I say")
    assert confirm == bot.t("pause.confirm_open")
    sent = len(bot.api.calls_to("sendMessage"))
    for _ in range(30):
        bot.clock.advance(dt.timedelta(days=1))
        await bot.tick()
    assert len(bot.api.calls_to("sendMessage")) == sent
    [back] = await bot.send(ME, "/resume")
    assert back.startswith("Welcome back")
    await to_next_hello(bot)
    assert "I'm here" in bot.api.last(ME).button_texts


async def test_a_week_pause_ends_by_itself(bot: Harness) -> None:
    await onboard(bot)
    await bot.send(ME, "/pause")
    await bot.tap(ME, "A week")
    start = bot.clock.now()
    participant = await bot.participant(ME)
    assert participant.next_hello_at >= start + dt.timedelta(days=7)
    sent = len(bot.api.calls_to("sendMessage"))
    for _ in range(6 * 24):
        bot.clock.advance(dt.timedelta(hours=1))
        await bot.tick()
    assert len(bot.api.calls_to("sendMessage")) == sent
    await to_next_hello(bot)
    assert len(bot.api.calls_to("sendMessage")) == sent + 1
    participant = await bot.participant(ME)
    assert participant.status == Status.ACTIVE and participant.paused_until is None


async def test_pause_can_be_cancelled(bot: Harness) -> None:
    await onboard(bot)
    await bot.send(ME, "/pause")
    assert await bot.tap(ME, "Never mind") == [bot.t("pause.cancelled")]
    assert (await bot.participant(ME)).status == Status.ACTIVE


async def test_stop_ends_messages_keeps_data_and_start_returns(bot: Harness) -> None:
    await onboard(bot)
    await to_next_hello(bot)
    await bot.tap(ME, "I'm here")
    assert await bot.send(ME, "/stop") == [bot.t("stop.done")]
    sent = len(bot.api.calls_to("sendMessage"))
    for _ in range(14):
        bot.clock.advance(dt.timedelta(days=1))
        await bot.tick()
    assert len(bot.api.calls_to("sendMessage")) == sent
    assert await bot.send(ME, "hi") == [bot.t("stopped.reminder")]
    assert len(await checkins(bot)) == 1  # kept
    [returning] = await bot.send(ME, "/start")
    assert returning.startswith("Welcome back")
    [done] = await bot.tap(ME, "Looks good")
    assert done.startswith("All set")
    assert (await bot.participant(ME)).status == Status.ACTIVE


async def test_a_user_who_blocked_the_bot_is_not_sent_to_until_they_write(bot: Harness) -> None:
    await onboard(bot)
    bot.api.block(ME)
    await to_next_hello(bot)
    participant = await bot.participant(ME)
    assert participant.blocked_at is not None and participant.next_hello_at is None
    attempts = len(bot.api.calls_to("sendMessage"))
    for _ in range(5):
        bot.clock.advance(dt.timedelta(days=1))
        await bot.tick()
    assert len(bot.api.calls_to("sendMessage")) == attempts  # not even tried
    bot.api.unblock(ME)
    await bot.send(ME, "/progress")
    participant = await bot.participant(ME)
    assert participant.blocked_at is None and participant.next_hello_at is not None
    await to_next_hello(bot)
    assert "I'm here" in bot.api.last(ME).button_texts


async def test_flood_control_delays_a_hello_but_never_loses_it(bot: Harness) -> None:
    await onboard(bot)
    bot.api.inject_flood("sendMessage", retry_after=3, times=2)
    await to_next_hello(bot)
    assert await hello_count(bot) == 1
    assert "I'm here" in bot.api.last(ME).button_texts


async def test_a_server_error_defers_the_hello_and_the_next_tick_sends_it(bot: Harness) -> None:
    await onboard(bot)
    bot.api.inject("sendMessage", 502, "Bad Gateway")
    await to_next_hello(bot)
    assert await hello_count(bot) == 0
    participant = await bot.participant(ME)
    assert participant.next_hello_at == bot.clock.now() + dt.timedelta(minutes=1)
    bot.clock.advance(dt.timedelta(minutes=1))
    await bot.tick()
    assert await hello_count(bot) == 1


async def test_a_pause_that_ends_while_blocked_is_over_when_they_come_back(bot: Harness) -> None:
    await onboard(bot)
    await bot.send(ME, "/pause")
    await bot.tap(ME, "A week")
    bot.api.block(ME)
    await to_next_hello(bot)  # the pause is over, but the bot is blocked
    bot.api.unblock(ME)
    await bot.send(ME, "hi")
    participant = await bot.participant(ME)
    assert participant.status == Status.ACTIVE and participant.next_hello_at is not None
