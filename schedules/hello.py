"""The hello tick: one repeating job that claims every participant whose hello is due and sends it.

The schedule lives in the database (``participants.next_hello_at``), so a restart or a second
process loses nothing; the tick only ever holds one batch in memory. Each hello is recorded in its
own short transaction right after Telegram accepted it, so a crash can repeat at most the hellos in
flight at that moment.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from telegram import Bot, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, TelegramError
from sqlalchemy.ext.asyncio import AsyncSession
from telegram.ext import Application

from bot.sending import send_text
from bot.services import Services, services_of
from core.backoff import in_door_phase, min_gap_days, retry_delay_seconds
from core.ladder import RULES, choose_task
from core.schedule import Rhythm, Window, hello_day_for, is_still_open, plan_next_hello
from handlers import views
from handlers.family import NOTES_PER_HELLO
from handlers.peer import cheer_words
from storage import repo
from storage.models import Status

log = logging.getLogger("komorebi.tick")

BATCH_SIZE = 100
# A claim not finished by then belongs to a worker that died; another may take it over.
CLAIM_TIMEOUT = dt.timedelta(minutes=5)
# Sends in flight at once; the rate limiter sets the pace, this only hides network round trips.
CONCURRENCY = 8


@dataclass(frozen=True)
class Decision:
    """What to do with one claimed row."""

    send_day: dt.date | None = None  # send the hello of this day now
    values: dict[str, object] = field(default_factory=dict)  # columns to write when not sending


def decide(due: repo.DueHello, now: dt.datetime, default_zone: str, rng: random.Random) -> Decision:
    """Send now, skip a window that passed while the bot was down, end a pause, or unschedule."""
    if due.status not in (Status.ACTIVE, Status.PAUSED) or due.window is None or due.rhythm is None:
        return Decision(values={"next_hello_at": None})
    zone = ZoneInfo(due.timezone or default_zone)
    window, rhythm = Window(due.window), Rhythm(due.rhythm)
    gap = min_gap_days(due.unanswered, _quiet_days(due, due.last_hello_day))
    values: dict[str, object] = {}
    if due.status == Status.PAUSED:
        if due.paused_until is None:
            return Decision(values={"next_hello_at": None})
        if due.paused_until > now:
            planned = plan_next_hello(now, zone, window, rhythm, due.last_hello_day, rng, due.paused_until, gap)
            return Decision(values={"next_hello_at": planned.at})
        values = {"status": Status.ACTIVE, "paused_until": None}  # the pause is over
    day = hello_day_for(due.next_hello_at, window, zone)
    fresh = due.last_hello_day is None or day > due.last_hello_day
    if fresh and is_still_open(day, window, zone, now):
        return Decision(send_day=day, values=values)
    # The window passed while the bot was down (or this day had its hello): skip, never pile up.
    planned = plan_next_hello(now, zone, window, rhythm, due.last_hello_day, rng, min_gap_days=gap)
    return Decision(values={**values, "next_hello_at": planned.at})


def _quiet_days(due: repo.DueHello, day: dt.date | None) -> int:
    """How old the quiet spell is on `day`, in days (0 when there is none)."""
    if due.quiet_since is None or day is None:
        return 0
    return (day - due.quiet_since).days


def is_door(due: repo.DueHello, day: dt.date) -> bool:
    """Whether the message for `day` is the weekly "the door is open" one rather than a hello."""
    return in_door_phase(due.unanswered, _quiet_days(due, day))


def after_sent(due: repo.DueHello, day: dt.date, now: dt.datetime, default_zone: str, rng: random.Random) -> dict[str, object]:
    """The columns to write once a hello went out: one more unanswered in the quiet spell, and the
    next hello planned with the pressure budget's gap."""
    unanswered = due.unanswered + 1
    quiet_since = due.quiet_since or day
    gap = min_gap_days(unanswered, (day - quiet_since).days)
    zone = ZoneInfo(due.timezone or default_zone)
    planned = plan_next_hello(now, zone, Window(due.window), Rhythm(due.rhythm), day, rng, min_gap_days=gap)
    return {
        "last_hello_day": day,
        "next_hello_at": planned.at,
        "unanswered": unanswered,
        "quiet_since": quiet_since,
        "awaiting": None,  # a new hello starts afresh: a question left unanswered no longer waits
    }


@dataclass
class TickReport:
    sent: int = 0
    skipped: int = 0
    blocked: int = 0
    deferred: int = 0

    def __bool__(self) -> bool:
        return bool(self.sent or self.skipped or self.blocked or self.deferred)


def _message(
    services: Services,
    due: repo.DueHello,
    day: dt.date,
    task_id: str | None,
    notes: list[repo.PendingNote],
    cheer: repo.PendingCheer | None,
) -> tuple[str, InlineKeyboardMarkup]:
    t = services.catalogs[due.language or services.settings.default_language]
    if is_door(due, day):
        return views.door(t, day)
    task = (task_id, services.tasks.text(t.language, task_id)) if task_id else None
    cheered = (cheer_words(t, cheer), cheer.cheer_id) if cheer else None
    if not notes or due.notes_allowed is False:
        return views.hello(t, day, services.rng, task, cheer=cheered)
    if due.notes_allowed is None:
        return views.hello(t, day, services.rng, task, ask_about_notes=notes[0].from_name, cheer=cheered)
    shown = tuple(t("notes.line", name=note.from_name, text=note.text) for note in notes[:NOTES_PER_HELLO])
    return views.hello(t, day, services.rng, task, notes=shown, cheer=cheered)


def _delivered_notes(due: repo.DueHello, day: dt.date, notes: list[repo.PendingNote]) -> list[int]:
    """The notes a sent hello carried (and that can now be deleted)."""
    if not due.notes_allowed or is_door(due, day):
        return []
    return [note.note_id for note in notes[:NOTES_PER_HELLO]]


class Sent(NamedTuple):
    """A scheduled message Telegram accepted."""

    message_id: int


async def send_bulk(bot: Bot, text: str, markup: InlineKeyboardMarkup | None, chat_id: int) -> Sent | TelegramError:
    """One scheduled message, through the rate limiter's lane for them."""
    try:
        return Sent(await send_text(bot, chat_id, text, markup, bulk=True))
    except TelegramError as exc:
        return exc


T = TypeVar("T")
Claim = Callable[[AsyncSession, dt.datetime, str, int, dt.datetime], Awaitable[list[T]]]


async def claimed_batches(
    services: Services, claim: Claim[T], *, commit: bool = True
) -> AsyncIterator[tuple[AsyncSession, list[T], str]]:
    """Claim due rows a batch at a time with `claim` (a repo function), each batch committed at
    once, so other workers see it, and handed out with a session of its own and the claim token;
    until a batch comes back short. With `commit` False the claim's transaction is handed out
    open: the caller reads what it needs in it and then commits, before sending anything. Claims
    older than CLAIM_TIMEOUT (a dead worker's) are taken over."""
    token = str(uuid.uuid4())
    while True:
        now = services.clock.now()
        async with services.sessions() as session:
            batch = await claim(session, now, token, BATCH_SIZE, now - CLAIM_TIMEOUT)
            if commit:
                await session.commit()
            yield session, batch, token
        if len(batch) < BATCH_SIZE:
            return


async def run_tick(application: Application) -> TickReport:
    """Claim and send every due hello, one batch at a time, until none is due."""
    services = services_of(application)
    report = TickReport()
    # The claim's transaction goes on with the batch's reads (_process_batch commits it).
    async for session, batch, token in claimed_batches(services, repo.claim_due, commit=False):
        if not batch:
            await session.commit()
            continue
        services.metrics.batch_size.observe(len(batch))
        services.metrics.tick_lag.set((services.clock.now() - batch[0].next_hello_at).total_seconds())
        await _process_batch(application.bot, services, session, batch, token, report)
        services.metrics.tick_progressed(services.clock.now().timestamp())
    metrics = services.metrics
    for outcome in ("sent", "skipped", "blocked", "deferred"):
        metrics.hellos.labels(outcome).inc(getattr(report, outcome))
    metrics.tick_finished(services.clock.now().timestamp())
    if report:
        log.info(
            "tick: %d sent, %d skipped, %d blocked, %d deferred",
            report.sent, report.skipped, report.blocked, report.deferred,
        )
    return report


class Prepared(NamedTuple):
    """One hello ready to go, and what to write if it is sent."""

    due: repo.DueHello
    decision: Decision
    task_id: str | None
    planned: dict[str, object]  # the columns to write if it was sent (see after_sent)


Outgoing = tuple[int, str, InlineKeyboardMarkup | None]  # chat id, text, buttons
Recorder = Callable[[list[tuple[int, Sent | TelegramError]]], Awaitable[None]]


async def send_all(bot: Bot, outgoing: Sequence[Outgoing], record: Recorder) -> None:
    """Send scheduled messages, CONCURRENCY at a time, through the rate limiter, and record them as
    they finish: every send finished by then goes to one call of `record`, as (index, result) pairs
    in index order. A send's slot is freed only once it is recorded, so sending never runs more
    than CONCURRENCY messages ahead of the database (a crash repeats at most those), and if
    recording fails the sends not yet made are cancelled."""
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(index: int, chat_id: int, text: str, markup: InlineKeyboardMarkup | None) -> tuple[int, Sent | TelegramError]:
        await limit.acquire()  # released below, once recorded
        return index, await send_bulk(bot, text, markup, chat_id)

    tasks = [asyncio.ensure_future(one(index, *message)) for index, message in enumerate(outgoing)]
    try:
        waiting = set(tasks)
        while waiting:
            done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            await record(sorted(task.result() for task in done))
            for _ in done:
                limit.release()
    finally:
        for task in tasks:
            task.cancel()


async def _process_batch(
    bot: Bot,
    services: Services,
    session: AsyncSession,
    batch: list[repo.DueHello],
    token: str,
    report: TickReport,
) -> None:
    default_zone = services.settings.default_timezone
    to_send: list[tuple[repo.DueHello, Decision]] = []
    skipped: list[tuple[int, dict[str, object]]] = []
    for due in batch:
        decision = decide(due, services.clock.now(), default_zone, services.rng)
        if decision.send_day is None:
            skipped.append((due.participant_id, decision.values))
        else:
            to_send.append((due, decision))
    if skipped:
        await repo.finish_claims(session, token, skipped)
        report.skipped += len(skipped)
    tasks = await _choose_tasks(services, session, to_send)
    # Notes and cheers are read only for those the claim found some waiting for (most have none).
    with_notes = [due.participant_id for due, _ in to_send if due.notes_waiting]
    with_cheer = [due.participant_id for due, _ in to_send if due.cheer_waiting]
    notes = await repo.pending_notes(session, with_notes) if with_notes else {}
    cheers = await repo.pending_cheers(session, with_cheer) if with_cheer else {}
    # The transaction ends before anything is sent: on SQLite it holds the write lock, and a round
    # trip to Telegram must not keep people's answers waiting for it.
    await session.commit()
    prepared: list[Prepared] = []
    outgoing: list[Outgoing] = []
    for due, decision in to_send:
        pid, task_id = due.participant_id, tasks.get(due.participant_id)
        text, markup = _message(services, due, decision.send_day, task_id, notes.get(pid, []), cheers.get(pid))
        # The next hello is planned before sending, in batch order, so the random moments drawn
        # do not depend on which send Telegram answers first (a seeded run repeats exactly).
        planned = after_sent(due, decision.send_day, services.clock.now(), default_zone, services.rng)
        prepared.append(Prepared(due, decision, task_id, planned))
        outgoing.append((due.chat_id, text, markup))

    async def record(finished: list[tuple[int, Sent | TelegramError]]) -> None:
        sent = [(prepared[index], result) for index, result in finished]
        await _record(services, session, sent, notes, cheers, token, report)

    await send_all(bot, outgoing, record)


async def _record(
    services: Services,
    session: AsyncSession,
    finished: list[tuple[Prepared, Sent | TelegramError]],
    notes: dict[int, list[repo.PendingNote]],
    cheers: dict[int, repo.PendingCheer],
    token: str,
    report: TickReport,
) -> None:
    """Write what became of some sends, in one transaction."""
    now = services.clock.now()
    hellos, offers, delivered_notes, delivered_cheers = [], [], [], []
    claims: list[tuple[int, dict[str, object]]] = []
    for (due, decision, task_id, planned), result in finished:
        pid = due.participant_id
        if isinstance(result, Sent):
            day = decision.send_day
            hellos.append({"participant_id": pid, "day": day, "sent_at": now, "message_id": result.message_id})
            if task_id is not None:
                offers.append(
                    {"participant_id": pid, "task_id": task_id, "level": due.level, "day": day, "offered_at": now, "kind": "hello"}
                )
            delivered_notes += _delivered_notes(due, day, notes.get(pid, []))
            if pid in cheers and not is_door(due, day):
                delivered_cheers.append(cheers[pid].cheer_id)
            claims.append((pid, {**decision.values, **planned, "send_failures": 0}))
            report.sent += 1
        elif unreachable(result):
            # The decision stands (a pause that ended is over), but nothing goes out any more.
            claims.append((pid, {**decision.values, "blocked_at": now, "next_hello_at": None}))
            report.blocked += 1
        else:
            log.warning("hello not sent, will try again: %s", type(result).__name__)
            services.metrics.telegram_errors.labels(type(result).__name__).inc()
            retry = {"next_hello_at": retry_at(now, due.send_failures), "send_failures": due.send_failures + 1}
            claims.append((pid, {**decision.values, **retry}))
            report.deferred += 1
    await repo.add_hellos(session, hellos)
    await repo.add_offers(session, offers)
    await repo.delete_notes(session, delivered_notes)
    await repo.mark_cheers_delivered(session, delivered_cheers, now)
    await repo.finish_claims(session, token, claims)
    await session.commit()


async def _choose_tasks(
    services: Services, session: AsyncSession, to_send: list[tuple[repo.DueHello, Decision]]
) -> dict[int, str]:
    """A small task for each hello that carries one, avoiding tasks offered in the last two weeks
    (one query for the whole batch)."""
    wanting = [(due, d.send_day) for due, d in to_send if due.wants_tasks and not is_door(due, d.send_day)]
    if not wanting:
        return {}
    earliest = min(day for _, day in wanting) - dt.timedelta(days=RULES.repeat_after_days)
    recent = await repo.last_offered(session, [due.participant_id for due, _ in wanting], earliest)
    chosen = {}
    for due, day in wanting:
        task_id = choose_task(services.tasks.by_level[due.level], recent[due.participant_id], day, services.rng)
        if task_id is not None:
            chosen[due.participant_id] = task_id
    return chosen


def retry_at(now: dt.datetime, failures_before: int) -> dt.datetime:
    """After a failure that is not the person's doing (network, Telegram): a later try, each one
    waiting twice as long as the last (see core.backoff.retry_delay_seconds)."""
    return now + dt.timedelta(seconds=retry_delay_seconds(failures_before))


def unreachable(error: TelegramError) -> bool:
    """The person blocked the bot or the chat is gone: never send again until they write."""
    if isinstance(error, Forbidden):
        return True
    return isinstance(error, BadRequest) and "chat not found" in error.message.lower()
