"""`python -m bot simulate`: many simulated participants, weeks of virtual time, the real bot.

The real Application, handlers, tick, ladder and back-off run against the in-process fake Bot API
on a virtual clock and a throwaway SQLite file. Simulated people (personas) read what the bot sends
and answer — or not — by tapping its real buttons. The report shows, per persona, what they
received and did; the run fails (exit status 1) if anyone got more than the pressure budget allows,
got anything while paused, or moved up the ladder without saying "Yes".
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from sqlalchemy import event, select
from telegram import Update

from bot.app import build_application, on_startup
from bot.config import Settings
from bot.content import TaskCatalog
from bot.fakeapi import FakeBotAPI, FakeMessage, text_update
from bot.ratelimit import PacedRateLimiter
from bot.services import services_of
from core.backoff import budget_breaches
from core.clock import FakeClock
from schedules.hello import run_tick
from schedules.planning import reschedule
from storage import repo
from storage.models import CheckIn, Hello, Participant

START = dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.UTC)  # a Monday; the run crosses DST in New York and London
TICK = dt.timedelta(minutes=10)
ZONES = ("Asia/Tokyo",) * 6 + ("America/New_York", "Europe/London", "Asia/Seoul", "Australia/Sydney")
WINDOWS = ("morning", "afternoon", "evening", "evening", "late_night")
RHYTHMS = ("daily",) * 5 + ("every_other_day", "weekdays", "twice_a_week")
# Every change of a participant's level, whichever code writes it, calls back into the run as the
# database makes it (SQLite runs on the event loop's own thread, storage/inline_sqlite.py).
LEVEL_CHANGED = "simulation_level_changed"


@dataclass(frozen=True)
class Persona:
    """How a kind of person answers: chance of answering a hello (by week), what they do with tasks."""

    name: str
    answer: Callable[[int], float]  # week (0-based) -> chance of answering a hello
    done: Callable[[int], float]  # week -> chance "Done" (else later or too much) when answering a task
    too_much: float = 0.15  # share of non-done task answers that are "too much"
    says_yes: float = 0.5  # chance of "Yes" to a step-up offer
    late_night: bool = False
    pauses_every_days: int | None = None


PERSONAS = (
    Persona("steady", lambda w: 0.9, lambda w: 0.75, says_yes=0.6),
    Persona("slow-starter", lambda w: min(0.9, 0.15 + 0.15 * w), lambda w: min(0.75, 0.1 + 0.12 * w), says_yes=0.4),
    Persona("fluctuating", lambda w: 0.85 if w % 2 == 0 else 0.25, lambda w: 0.6 if w % 2 == 0 else 0.2, too_much=0.5),
    Persona("silent", lambda w: 0.0, lambda w: 0.0),
    Persona("night owl", lambda w: 0.8, lambda w: 0.6, late_night=True),
    Persona("pauses often", lambda w: 0.75, lambda w: 0.6, pauses_every_days=20),
)


@dataclass
class Person:
    chat_id: int
    persona: Persona
    received: list[dt.datetime] = field(default_factory=list)  # messages the tick sent them
    # Where each reply (any tap that reached the bot) fell among them: the index of the first
    # message after it. A quiet spell is the messages between two replies.
    replies: list[int] = field(default_factory=list)
    pauses: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)
    offers: int = 0
    accepted: int = 0  # "Yes" taps to a step-up offer
    yes_unused: int = 0  # "Yes" taps being handled that no step up has answered yet
    steps_back: int = 0
    level: int | None = None  # as the changes the run saw left it (None before the first snapshot)
    last_pause: dt.datetime | None = None


@dataclass(order=True)
class Action:
    at: dt.datetime
    seq: int
    chat_id: int = field(compare=False)
    label: str = field(compare=False)
    message_id: int = field(compare=False)


class Simulation:
    def __init__(self, participants: int, days: int, seed: int, database: Path) -> None:
        self.days = days
        self.rng = random.Random(seed)
        self.clock = FakeClock(START)
        self.api = FakeBotAPI(clock=self.clock.now)
        settings = Settings(
            _env_file=None,
            TELEGRAM_BOT_TOKEN="0:simulation",
            DATABASE_URL=f"sqlite+aiosqlite:///{database}",
            KOMOREBI_DEFAULT_LANGUAGE="en",
        )

        async def no_sleep(_seconds: float) -> None:
            return None

        # The production limiter (bot.app.paced) at a rate that never holds anything back: virtual
        # time does not wait for real seconds.
        self.app = build_application(
            settings,
            clock=self.clock,
            request=self.api,
            get_updates_request=self.api,
            rate_limiter=PacedRateLimiter(overall_rate=1e9, sleep=no_sleep),
            rng=random.Random(seed + 1),
            tasks=TaskCatalog(),  # the shipped tasks, whatever KOMOREBI_TASKS_DIR says
        )
        self.people = {
            1_000_000 + i: Person(1_000_000 + i, PERSONAS[i % len(PERSONAS)]) for i in range(participants)
        }
        # Each connection the bot opens can call back on a level change (the trigger, in run).
        event.listen(services_of(self.app).engine.sync_engine, "connect", self.watch_levels)
        self.actions: list[Action] = []
        self.seq = itertools.count()
        self.violations: list[str] = []
        # chat id -> level after onboarding, then at the end of each week
        self.levels: dict[int, list[int]] = defaultdict(list)

    # --- driving the bot ---------------------------------------------------------------------------

    async def feed(self, update: dict) -> None:
        await self.app.process_update(Update.de_json(update, self.app.bot))

    async def tap(self, chat_id: int, label: str, message_id: int) -> list[FakeMessage] | None:
        """Tap a button; return the messages the bot sent in answer (None: the button was gone)."""
        before = len(self.api.messages(chat_id))
        try:
            update = self.api.press(chat_id, label, message_id=message_id)
        except KeyError:
            return None  # the button is gone (answered another way meanwhile)
        person = self.people.get(chat_id)
        if person is not None and (not person.replies or person.replies[-1] != len(person.received)):
            person.replies.append(len(person.received))
        await self.feed(update)
        return self.api.messages(chat_id)[before:]

    async def onboard(self) -> None:
        services = services_of(self.app)
        for person in self.people.values():
            await self.feed(text_update(person.chat_id, "/start"))
            await self.tap(person.chat_id, "OK", self.api.last(person.chat_id).message_id)
            await self.tap(person.chat_id, "Looks good", self.api.last(person.chat_id).message_id)
        # Spread zones, windows and rhythms as in a real deployment.
        async with services.sessions() as session:
            for participant in await session.scalars(select(Participant)):
                person = self.people[participant.chat_id]
                participant.timezone = self.rng.choice(ZONES)
                participant.window = "late_night" if person.persona.late_night else self.rng.choice(WINDOWS)
                participant.rhythm = self.rng.choice(RHYTHMS)
                reschedule(participant, self.clock.now(), services.rng, services.settings.default_timezone)
            await session.commit()

    def schedule(self, at: dt.datetime, chat_id: int, label: str, message_id: int) -> None:
        heapq.heappush(self.actions, Action(at, next(self.seq), chat_id, label, message_id))

    def week(self, at: dt.datetime) -> int:
        return (at - START).days // 7

    def on_hello(self, person: Person, message: FakeMessage) -> None:
        """A message from the tick arrived: maybe answer it, some time later."""
        now = self.clock.now()
        persona = person.persona
        if self.rng.random() >= persona.answer(self.week(now)):
            return
        delay = dt.timedelta(minutes=self.rng.randint(5, 240))
        if persona.late_night:
            delay = dt.timedelta(minutes=self.rng.randint(60, 200))  # well past midnight
        labels = message.button_texts
        if persona.pauses_every_days and "Pause for a while" in labels and (
            person.last_pause is None or now - person.last_pause > dt.timedelta(days=persona.pauses_every_days)
        ):
            label = "Pause for a while"
        elif "Done" in labels:
            roll = self.rng.random()
            if roll < persona.done(self.week(now)):
                label = "Done"
            else:
                label = "Too much today" if self.rng.random() < persona.too_much else "Maybe later"
        else:
            label = "I'm here"
        self.schedule(now + delay, person.chat_id, label, message.message_id)

    async def act(self, action: Action) -> None:
        person = self.people[action.chat_id]
        replies = await self.tap(action.chat_id, action.label, action.message_id)
        for reply in replies or ():
            labels = reply.button_texts
            if "Ask me in a few weeks" in labels:
                person.offers += 1
                roll = self.rng.random()
                answer = "Yes" if roll < person.persona.says_yes else "Not yet" if roll < 0.9 else "Ask me in a few weeks"
                if answer != "Yes":
                    await self.tap(action.chat_id, answer, reply.message_id)
                    continue
                person.yes_unused += 1  # what the step up, while the bot handles the tap, answers to
                if await self.tap(action.chat_id, answer, reply.message_id) is not None:
                    person.accepted += 1
                    if person.yes_unused:
                        self.violations.append(f"participant {action.chat_id}: 'Yes' did not move one step up")
                person.yes_unused = 0  # a "Yes" answers its own offer, never a later step
            elif "A week" in labels:
                await self.tap(action.chat_id, "A week", reply.message_id)
                now = self.clock.now()
                person.last_pause = now
                person.pauses.append((now, now + dt.timedelta(days=7)))
            elif "10" in labels and self.rng.random() < 0.5:
                await self.tap(action.chat_id, str(self.rng.randint(0, 6)), reply.message_id)

    def watch_levels(self, dbapi_connection: object, _record: object) -> None:
        dbapi_connection.create_function(LEVEL_CHANGED, 3, self.level_changed)  # type: ignore[attr-defined]

    def level_changed(self, chat_id: int, old: int, new: int) -> None:
        """Called by the database as a level changes: each step up must answer a "Yes" of that
        participant's, to an offer, being handled. (Kept to plain bookkeeping: an exception here
        would fail the bot's statement.)"""
        person = self.people.get(chat_id)
        if person is None:
            return
        person.level = new
        if new < old:
            person.steps_back += old - new
            return
        if new - old > person.yes_unused:
            self.violations.append(
                f"participant {chat_id}: level {old} → {new} with {person.yes_unused} 'Yes' to a step-up offer"
            )
        person.yes_unused = max(0, person.yes_unused - (new - old))

    async def snapshot_levels(self) -> None:
        """Everyone's level as the database has it; it must be where the changes the run saw left it."""
        async with services_of(self.app).sessions() as session:
            rows = (await session.execute(select(Participant.chat_id, Participant.level))).all()
        for chat_id, level in rows:
            self.levels[chat_id].append(level)
            person = self.people[chat_id]
            if person.level is not None and person.level != level:
                self.violations.append(f"participant {chat_id}: level {level}, but the changes seen led to {person.level}")
            person.level = level

    # --- the run ---------------------------------------------------------------------------------------

    async def run(self) -> None:
        async with self.app:
            await on_startup(self.app)
            async with services_of(self.app).sessions() as session:
                await repo.watch_level_changes(session, LEVEL_CHANGED)
                await session.commit()
            await self.onboard()
            self.api.clear()
            await self.snapshot_levels()
            end = START + dt.timedelta(days=self.days)
            while self.clock.now() < end:
                step_end = self.clock.now() + TICK
                while self.actions and self.actions[0].at <= step_end:
                    action = heapq.heappop(self.actions)
                    self.clock.set(max(self.clock.now(), action.at))
                    await self.act(action)
                self.clock.set(step_end)
                # The fake's records of calls and answers are read only here: kept, they would only
                # grow (and slow the garbage collector down).
                self.api.calls.clear()
                self.api.answers.clear()
                await run_tick(self.app)
                sent = Counter(
                    call.params["chat_id"]
                    for call in self.api.calls
                    if call.method == "sendMessage" and call.ok and call.params["chat_id"] in self.people
                )
                # In chat order, not in the order Telegram happened to answer: a seeded run repeats.
                for chat_id in sorted(sent):
                    person = self.people[chat_id]
                    person.received += [self.clock.now()] * sent[chat_id]
                    self.on_hello(person, self.api.last(chat_id))
                if (self.clock.now() - START) % dt.timedelta(days=7) == dt.timedelta(0):
                    await self.snapshot_levels()
            if self.days % 7:
                await self.snapshot_levels()  # the end of the last, shorter week
            self.history = await self.load_history()
            await services_of(self.app).engine.dispose()

    async def load_history(self) -> dict[int, tuple[list[dt.date], set[dt.date]]]:
        async with services_of(self.app).sessions() as session:
            people = dict((await session.execute(select(Participant.id, Participant.chat_id))).all())
            hellos: dict[int, list[dt.date]] = defaultdict(list)
            for pid, day in await session.execute(select(Hello.participant_id, Hello.day)):
                hellos[people[pid]].append(day)
            checkins: dict[int, set[dt.date]] = defaultdict(set)
            for pid, day in await session.execute(select(CheckIn.participant_id, CheckIn.day)):
                checkins[people[pid]].add(day)
        return {chat: (sorted(hellos[chat]), checkins[chat]) for chat in self.people}

    # --- checks and the report ---------------------------------------------------------------------------

    def check(self) -> None:
        self.spells: list[list[int]] = []  # each quiet spell's messages, as days from its first one
        for person in self.people.values():
            self.check_quiet_spells(person)
            for start, end in person.pauses:
                during = [at for at in person.received if start < at < end]
                if during:
                    self.violations.append(f"participant {person.chat_id}: {len(during)} messages while paused")

    def check_quiet_spells(self, person: Person) -> None:
        """The pressure budget, over each stretch of messages between two replies (or from
        onboarding): the messages' days are the participant's own (the hellos' days, in their zone),
        counted from the stretch's first message, as core.backoff counts the weeks of a quiet spell."""
        who = f"{person.persona.name} participant {person.chat_id}"
        hello_days = self.history[person.chat_id][0]
        if len(hello_days) != len(person.received):
            self.violations.append(f"{who}: {len(person.received)} messages but {len(hello_days)} hellos")
            return
        for start, end in itertools.pairwise([0, *person.replies, len(hello_days)]):
            if start < end:
                days = [(day - hello_days[start]).days for day in hello_days[start:end]]
                self.spells.append(days)
                self.violations += [f"{who}, quiet from {hello_days[start]}: {b}" for b in budget_breaches(days)]

    def report(self, out: TextIO, seconds: float) -> None:
        weeks = (self.days + 6) // 7
        print(
            f"Komorebi simulation: {len(self.people)} participants, {self.days} days, "
            f"{seconds:.1f} s of CPU time\n",
            file=out,
        )
        by_persona: dict[str, list[Person]] = defaultdict(list)
        for person in self.people.values():
            by_persona[person.persona.name].append(person)
        header = "persona        n   " + " ".join(f"w{w + 1:<4}" for w in range(weeks))
        start = statistics.fmean(levels[0] for levels in self.levels.values())
        for title, metric in (
            ("messages received per week (mean)", self.received_per_week),
            ("unanswered hellos per week (mean)", self.unanswered_per_week),
            (f"level at the end of each week (mean; {start:.2f} at the start)", self.level_per_week),
        ):
            print(title, file=out)
            print(header, file=out)
            for name, people in by_persona.items():
                values = [statistics.fmean(metric(p)[w] for p in people) for w in range(weeks)]
                print(f"{name:<13} {len(people):>4}  " + " ".join(f"{v:<5.2f}" for v in values), file=out)
            print(file=out)
        print("persona        check-ins  step-up offers  accepted  steps back", file=out)
        for name, people in by_persona.items():
            checkins = statistics.fmean(len(self.history[p.chat_id][1]) for p in people)
            offers = sum(p.offers for p in people)
            accepted = sum(p.accepted for p in people)
            back = sum(p.steps_back for p in people)
            print(f"{name:<13} {checkins:>10.1f}  {offers:>14}  {accepted:>8}  {back:>10}", file=out)
        print(file=out)
        print(
            f"pressure budget, most messages any participant got per week of a quiet spell "
            f"({len(self.spells)} spells): {self.worst_weeks(weeks)}",
            file=out,
        )
        if self.violations:
            print(f"\nFAILED: {len(self.violations)} problems", file=out)
            for line in self.violations[:20]:
                print(f"  {line}", file=out)
        else:
            print(
                "OK: within the pressure budget for everyone, nothing sent during pauses, no step up without a 'Yes'",
                file=out,
            )

    def received_per_week(self, person: Person) -> list[int]:
        counts = [0] * ((self.days + 6) // 7)
        for at in person.received:
            counts[min(self.week(at), len(counts) - 1)] += 1
        return counts

    def level_per_week(self, person: Person) -> list[int]:
        return self.levels[person.chat_id][1:]

    def unanswered_per_week(self, person: Person) -> list[int]:
        hellos, checkins = self.history[person.chat_id]
        counts = [0] * ((self.days + 6) // 7)
        for day in hellos:
            if day not in checkins:
                counts[min((day - START.date()).days // 7, len(counts) - 1)] += 1
        return counts

    def worst_weeks(self, weeks: int) -> str:
        """The most messages anyone got in each week of a quiet spell, in their own days."""
        worst = [0] * weeks
        for days in self.spells:
            for week, count in Counter(day // 7 for day in days).items():
                if week < weeks:
                    worst[week] = max(worst[week], count)
        return " ".join(f"w{i + 1}:{n}" for i, n in enumerate(worst))


def scratch_folder() -> str | None:
    """Where the run's database goes: a memory-backed folder where the system has one (/dev/shm),
    else the usual temporary folder. The database lives for one run only, and the run is there to
    measure the bot's own work: SQLite's commits cost about a third less when nothing goes to a
    disk's file system (bench/README.md)."""
    memory = Path("/dev/shm")
    return str(memory) if memory.is_dir() and os.access(memory, os.W_OK) else None


async def simulate(participants: int, days: int, seed: int, out: TextIO = sys.stdout) -> int:
    started = time.process_time()
    with tempfile.TemporaryDirectory(prefix="komorebi-simulation-", dir=scratch_folder()) as folder:
        simulation = Simulation(participants, days, seed, Path(folder) / "simulation.db")
        await simulation.run()
    simulation.check()
    simulation.report(out, time.process_time() - started)
    return 1 if simulation.violations else 0
