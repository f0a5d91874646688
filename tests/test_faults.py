"""Nothing is lost through faults (issue #7): workers killed mid-send, several workers on one
PostgreSQL, Telegram failing in every way it does, and the database going away for a while.

The first two run real `python -m bot run` processes against the fake Bot API over HTTP
(tests/workers.py); the others run in process through tests/harness.py on the fake clock.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import re
import shutil
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram.error import TimedOut

from bot.fakeapi import callback_update, text_update
from bot.fakeserver import FakeBotServer
from bot.ratelimit import PacedRateLimiter
from core.clock import FakeClock
from schedules.hello import CLAIM_TIMEOUT, CONCURRENCY
from schedules.tick import TICK_NAME
from storage.db import create_engine, migrate
from storage.models import CheckIn, Hello, Participant
from tests import harness
from tests.conftest import POSTGRES_URL, SKIP_POSTGRES
from tests.harness import Harness
from tests.workers import TOKEN, Deliveries, Worker, last_hello_seen, seed_due, wait_until

KILLS = 10


async def test_a_worker_killed_ten_times_mid_send_loses_nothing(tmp_path: Path, sqlite_template: Path) -> None:
    """SIGKILL at a random moment of a send, ten times, each time restarted: in the end every due
    hello went out, at most one more per kill than once, and every check-in the bot acknowledged
    is stored."""
    database = tmp_path / "komorebi.db"
    shutil.copy(sqlite_template, database)
    url = f"sqlite+aiosqlite:///{database}"
    engine = create_engine(url)
    chats = await seed_due(engine, 200, dt.datetime.now(dt.UTC))
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    kills: list[int] = []  # hellos delivered at each kill
    answered: set[int] = set()
    async with FakeBotServer(token=TOKEN) as server:
        sent = Deliveries(server.api)
        for run in range(KILLS + 1):
            worker = Worker(server, url, tmp_path)
            await worker.start()
            before = sent.total
            await wait_until(lambda: sent.total > before, lambda: f"run {run} to send (seed {seed})", [worker])
            if run == KILLS:
                break
            # Some of those who have their hello answer it while the send goes on.
            for chat in sorted(sent.hellos.keys() - answered):
                if rng.random() < 0.3:
                    answered.add(chat)
                    server.api.push_update(text_update(chat, "hi", update_id=chat))
            await asyncio.sleep(rng.uniform(0.05, 0.6))  # a random moment of the send
            await worker.kill()
            kills.append(sent.total)
            # A claim left by a dead worker is taken over once CLAIM_TIMEOUT has passed.
            async with engine.begin() as connection:
                stale = dt.datetime.now(dt.UTC) - CLAIM_TIMEOUT - dt.timedelta(seconds=1)
                await connection.execute(
                    update(Participant).where(Participant.claim_token.is_not(None)).values(claimed_at=stale)
                )
        await wait_until(
            lambda: sent.update().hellos.keys() == set(chats) and not server.api.pending_updates,
            lambda: f"every hello and every answer: {len(sent.hellos)} of {len(chats)} (seed {seed})",
            [worker],
        )
        await worker.stop()  # gracefully: the updates it took in are answered before it exits
        acknowledged = sent.update().replies & answered
        shown = {chat: last_hello_seen(server.api, chat) for chat in chats}

    assert worker.process is not None and worker.process.returncode == 0, worker.tail()
    assert len(kills) == KILLS and all(0 < count < len(chats) for count in kills), f"kills not mid-send: {kills}"
    duplicates = sent.total - len(chats)
    assert duplicates <= KILLS, f"{duplicates} repeated hellos after {KILLS} kills (seed {seed})"
    assert acknowledged, f"no check-in was acknowledged, the test proves nothing (seed {seed})"
    async with engine.connect() as connection:
        recorded = (await connection.execute(select(Participant.chat_id, Hello.message_id).join(Hello))).all()
        checked_in = set((await connection.scalars(select(Participant.chat_id).join(CheckIn))).all())
        claimed = await connection.scalar(select(func.count()).where(Participant.claim_token.is_not(None)))
    await engine.dispose()
    # One hello row per person, and it is the message they see (not a copy lost in a kill).
    assert len(recorded) == len(chats) and dict(recorded) == shown, f"seed {seed}"
    assert acknowledged <= checked_in, f"acknowledged check-ins missing: {sorted(acknowledged - checked_in)} (seed {seed})"
    assert claimed == 0


@pytest.mark.skipif(not POSTGRES_URL, reason=SKIP_POSTGRES)
async def test_three_workers_on_postgresql_send_ten_thousand_hellos_once_each(tmp_path: Path) -> None:
    assert POSTGRES_URL
    schema = f"komorebi_faults_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_URL).update_query_dict({"search_path": schema}).render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        await migrate(engine)
        chats = await seed_due(engine, 10_000, dt.datetime.now(dt.UTC))
        async with FakeBotServer(token=TOKEN) as server:
            sent = Deliveries(server.api)
            workers = [Worker(server, url, tmp_path, unpaced=True, name=f"worker{n}", tick_seconds=1) for n in range(3)]
            await asyncio.gather(*(worker.start() for worker in workers))
            try:
                await wait_until(
                    lambda: len(sent.update().hellos) == len(chats), lambda: f"10,000 hellos: {len(sent.hellos)} sent", workers
                )
            finally:
                await asyncio.gather(*(worker.stop() for worker in workers))
            sent.update()
        async with engine.connect() as connection:
            recorded = await connection.scalar(select(func.count(func.distinct(Hello.participant_id))))
            rows = await connection.scalar(select(func.count()).select_from(Hello))
    finally:
        await engine.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()

    assert sent.hellos.keys() == set(chats), "missing hellos"
    assert sent.total == len(chats), f"{sent.total - len(chats)} duplicates"
    assert recorded == rows == len(chats)
    # All three shared the work (each logs what its ticks sent).
    per_worker = [sum(int(n) for n in re.findall(r"tick: (\d+) sent", worker.log.read_text())) for worker in workers]
    assert sum(per_worker) == len(chats) and all(per_worker), per_worker


# ---------------------------------------------------------------------- in process, on the fake clock


class RecordingLimiter(PacedRateLimiter):
    """The harness's limiter, recording what it paces (endpoint, chat, bulk) and every wait it is
    asked for; its waits return at once (the fake clock does not move with them)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{**kwargs, "sleep": self._wait})
        self.paced: list[tuple[str, object, bool]] = []
        self.waits: list[float] = []

    async def _wait(self, seconds: float) -> None:
        self.waits.append(seconds)

    async def process_request(self, **request: Any) -> Any:  # PTB passes everything by keyword
        bulk = bool(request["rate_limit_args"] and request["rate_limit_args"].get("bulk"))
        self.paced.append((request["endpoint"], request["data"].get("chat_id"), bulk))
        return await super().process_request(**request)


class Outage:
    """While `down`, every statement on the engine fails as when the database cannot be reached.
    With `from_statement`, it goes down by itself when a statement starting so is first run."""

    def __init__(self, engine: AsyncEngine, from_statement: str | None = None) -> None:
        self.down = False
        self.began = asyncio.Event()
        self._trigger = from_statement
        event.listen(engine.sync_engine, "before_cursor_execute", self._refuse)

    def _refuse(self, _connection: object, _cursor: object, statement: str, parameters: object, *_args: object) -> None:
        if self._trigger is not None and statement.startswith(self._trigger):
            self.down, self._trigger = True, None
        if self.down:
            self.began.set()
            raise OperationalError(statement, parameters, ConnectionRefusedError("the database is unreachable"))


@dataclass
class Faulty:
    bot: Harness
    limiter: RecordingLimiter
    chats: list[int]

    def attempts(self, chat: int | None = None) -> int:
        """Hellos and other messages the bot tried to send (to `chat`), answered or not."""
        return sum(1 for call in self.bot.api.calls_to("sendMessage") if chat is None or call.params["chat_id"] == chat)

    def hellos(self) -> Counter[int]:
        return Deliveries(self.bot.api).update().hellos

    async def tick_failing(self) -> None:
        """Run the tick's job, which must fail with the database unreachable, and hand the error
        to the error handlers as the JobQueue does."""
        app = self.bot.app
        (job,) = app.job_queue.get_jobs_by_name(TICK_NAME)
        with pytest.raises(OperationalError) as failure:
            await job.callback(app.context_types.context.from_job(job, app))
        await app.process_error(None, failure.value, job=job)
        assert self.bot.errors == [failure.value]
        self.bot.errors.clear()


@pytest.fixture
async def faulty(engine: AsyncEngine, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Faulty]:
    """The real Application in process, with 40 participants whose hello is due now."""
    limiters: list[RecordingLimiter] = []

    def limiter(**kwargs: Any) -> RecordingLimiter:
        limiters.append(RecordingLimiter(**kwargs))
        return limiters[-1]

    monkeypatch.setattr(harness, "PacedRateLimiter", limiter)
    async with Harness.started(engine, clock) as bot:
        chats = await seed_due(engine, 40, clock.now())
        yield Faulty(bot, limiters[0], chats)


async def test_telegram_failing_in_every_way_during_a_tick_loses_no_hello(faulty: Faulty) -> None:
    """429 with retry_after is waited out and retried; a 500 or a timeout is tried again a minute
    later (a timed-out send may have arrived, so it is never resent at once); 403 marks the person
    blocked and they are not tried again. Every attempt is counted: no storm."""
    bot, chats = faulty.bot, faulty.chats
    flooded, failing, timing_out, blocked = chats[:3], chats[5:10], set(chats[10:13]), chats[13:17]
    for chat in flooded:
        bot.api.inject_flood("sendMessage", retry_after=5, chat_id=chat)
    for chat in failing:
        bot.api.inject("sendMessage", 500, "Internal Server Error", chat_id=chat)
    for chat in blocked:
        bot.api.block(chat)

    async def time_out_once(method: str, params: dict[str, Any]) -> None:
        if method == "sendMessage" and params["chat_id"] in timing_out:
            timing_out.remove(params["chat_id"])
            raise TimedOut("simulated")

    bot.api.delay_hook = time_out_once
    await bot.tick()
    assert faulty.attempts() == len(chats) + 3  # each once, and the three flooded ones again
    assert faulty.limiter.waits and max(faulty.limiter.waits) == pytest.approx(5, abs=0.5)
    assert sum(1 for call in bot.api.calls if call.status == 429) == 3
    late = set(failing) | set(chats[10:13])
    assert faulty.hellos().keys() == set(chats) - late - set(blocked)

    for _ in range(6):  # a minute later the deferred ones go out; then nothing more, ever
        bot.clock.advance(dt.timedelta(seconds=20))
        await bot.tick()
    bot.clock.advance(dt.timedelta(hours=1))
    await bot.tick()
    assert faulty.hellos() == dict.fromkeys(set(chats) - set(blocked), 1)
    assert faulty.attempts() == len(chats) + 3 + len(late)
    assert all(faulty.attempts(chat) == 2 for chat in (*flooded, *failing))
    assert all(faulty.attempts(chat) == 1 for chat in blocked)
    for chat in blocked:
        participant = await bot.participant(chat)
        assert participant is not None and participant.blocked_at is not None and participant.next_hello_at is None
    # Every hello went through the limiter as a bulk send, so it was paced.
    assert all(bulk for endpoint, _chat, bulk in faulty.limiter.paced if endpoint == "sendMessage")


async def test_telegram_down_for_a_while_means_tries_further_and_further_apart_then_every_hello(faulty: Faulty) -> None:
    """Retries back off: after 1, 2, 4, 8 minutes... (core.backoff.retry_delay_seconds), never a storm."""
    bot, chats = faulty.bot, faulty.chats
    bot.api.inject("sendMessage", 500, "Internal Server Error", times=1_000_000)
    tries_by_minute = []
    for _minute in range(15):
        before = faulty.attempts()
        for _ in range(3):  # the tick runs every 20 seconds
            await bot.tick()
            bot.clock.advance(dt.timedelta(seconds=20))
        tries_by_minute.append((faulty.attempts() - before) // len(chats))
    # Each person: a try at minutes 0, 1, 3 and 7; the next one is due at minute 15.
    assert tries_by_minute == [1, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert faulty.attempts() == 4 * len(chats)
    bot.api.clear_faults()
    await bot.tick()
    assert faulty.hellos() == dict.fromkeys(chats, 1)
    assert faulty.limiter.waits == []
    # Sent at last: the next failure would wait a minute again.
    assert all(p.send_failures == 0 for p in [await bot.participant(chat) for chat in chats])


async def test_with_the_database_down_people_hear_a_kind_word_and_the_tick_catches_up(
    faulty: Faulty, engine: AsyncEngine
) -> None:
    bot, chats = faulty.bot, faulty.chats
    outage = Outage(engine)
    outage.down = True
    # Words and a tap on a hello's button: each gets the kind error text, in the person's language.
    assert await bot.send(chats[0], "おはよう", language="ja", expect_error=True) == [bot.t("error.generic", "ja")]
    before = len(bot.api.calls)
    tap = callback_update(chats[1], f"h:{bot.clock.now():%Y%m%d}:here", message_id=1, language_code="en")
    await bot.process(tap, expect_error=True)
    assert bot.replies(before, chats[1]) == [bot.t("error.generic")]
    assert len(bot.api.answers) == 1  # the tap's spinner stops
    assert all(isinstance(error, OperationalError) for error in bot.errors)
    bot.errors.clear()

    # A minute of ticks while it is down: each fails, nothing is sent, the job stays scheduled.
    for _ in range(3):
        await faulty.tick_failing()
        bot.clock.advance(dt.timedelta(seconds=20))
    assert faulty.hellos() == {}
    assert bot.app.job_queue.get_jobs_by_name(TICK_NAME)

    outage.down = False
    paced_before = len(faulty.limiter.paced)
    await bot.tick()
    assert faulty.hellos() == dict.fromkeys(chats, 1)
    # The catch-up is one paced bulk send per person, nothing at once around the limiter.
    catch_up = [entry for entry in faulty.limiter.paced[paced_before:] if entry[0] == "sendMessage"]
    assert len(catch_up) == len(chats) and all(bulk for _endpoint, _chat, bulk in catch_up)
    assert await bot.send(chats[0], "hi", language="ja") == [bot.t("checkin.text", "ja")]


async def test_the_database_going_down_mid_tick_repeats_at_most_the_hellos_in_flight(
    faulty: Faulty, engine: AsyncEngine
) -> None:
    """The database goes away as the tick records its first hello. The hellos then in flight may
    be sent again once it is back (their claims time out); the rest of the batch must not go out
    unrecorded meanwhile, or all of it would be sent twice."""
    bot, chats = faulty.bot, faulty.chats
    outage = Outage(engine, from_statement="INSERT INTO hellos")
    tried = 0

    async def after_the_first_few_wait_for_the_outage(method: str, _params: dict[str, Any]) -> None:
        # Telegram answers the first sends at once and the later ones only once the outage began,
        # so the failing record meets a batch still being sent.
        nonlocal tried
        tried += method == "sendMessage"
        if tried > CONCURRENCY:
            await outage.began.wait()

    bot.api.delay_hook = after_the_first_few_wait_for_the_outage
    await faulty.tick_failing()
    # Let whatever the failed tick left running finish (no clock involved: only queued work).
    for _ in range(1000):
        await asyncio.sleep(0)
    sent_around_the_outage = sum(faulty.hellos().values())
    bot.api.delay_hook = None
    outage.down = False
    bot.clock.advance(CLAIM_TIMEOUT + dt.timedelta(seconds=1))
    await bot.tick()
    hellos = faulty.hellos()
    assert hellos.keys() == set(chats)
    repeated = sum(hellos.values()) - len(chats)
    assert repeated <= CONCURRENCY, f"{repeated} hellos sent twice ({sent_around_the_outage} went out around the outage)"
