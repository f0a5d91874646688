"""Putting the pure schedule rules onto a participant row: when their next hello is due."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

from core.backoff import welcomes_back
from core.schedule import Rhythm, Window, plan_next_hello
from storage.models import Participant, Status

# After onboarding or a change of settings the first hello keeps a little distance, so it never
# arrives right on the heels of the sample hello.
SETTLE_TIME = dt.timedelta(minutes=30)


def note_contact(participant: Participant, now: dt.datetime, rng: random.Random, default_zone: str) -> bool:
    """Someone wrote or tapped. If the bot had slowed down for a quiet spell, the chosen rhythm
    comes back; returns True then (time for a plain welcome back). The caller then clears the
    unanswered hellos (repo.clear_unanswered), which this reads first."""
    welcome = participant.status == Status.ACTIVE and welcomes_back(participant.unanswered)
    if welcome:
        reschedule(participant, now, rng, default_zone, not_before=now + SETTLE_TIME)
    return welcome


def zone_of(participant: Participant, default: str) -> ZoneInfo:
    return ZoneInfo(participant.timezone or default)


def reschedule(
    participant: Participant,
    now: dt.datetime,
    rng: random.Random,
    default_zone: str,
    not_before: dt.datetime | None = None,
) -> None:
    """Set the next hello of an active participant (or clear it for anyone else)."""
    if participant.status != Status.ACTIVE or participant.blocked_at is not None:
        participant.next_hello_at = None
        return
    participant.next_hello_at = _next_hello_at(participant, now, rng, default_zone, not_before)


def _next_hello_at(
    participant: Participant, now: dt.datetime, rng: random.Random, default_zone: str, not_before: dt.datetime | None
) -> dt.datetime:
    return plan_next_hello(
        now,
        zone_of(participant, default_zone),
        Window(participant.window),
        Rhythm(participant.rhythm),
        participant.last_hello_day,
        rng,
        not_before,
    ).at


def activate(participant: Participant, now: dt.datetime, rng: random.Random, default_zone: str) -> None:
    """Messages on, from a fresh start: after onboarding, /start after /stop, or /resume."""
    participant.status = Status.ACTIVE
    participant.paused_until = None
    participant.awaiting = None
    reschedule(participant, now, rng, default_zone, not_before=now + SETTLE_TIME)


def pause(
    participant: Participant, now: dt.datetime, until: dt.datetime | None, rng: random.Random, default_zone: str
) -> None:
    """Silence everything until `until` (None: until the participant says so)."""
    participant.status = Status.PAUSED
    participant.paused_until = until
    if until is None:
        participant.next_hello_at = None
        return
    # The row stays on the schedule: the first hello after the pause is planned now, and the tick
    # ends the pause when it comes due.
    participant.next_hello_at = _next_hello_at(participant, now, rng, default_zone, until)


def replan(participant: Participant, now: dt.datetime, rng: random.Random, default_zone: str) -> None:
    """After a change of settings: plan the next hello again with the new zone, window or rhythm."""
    if participant.status == Status.ACTIVE:
        reschedule(participant, now, rng, default_zone, not_before=now + SETTLE_TIME)
    elif participant.status == Status.PAUSED and participant.paused_until is not None:
        pause(participant, now, participant.paused_until, rng, default_zone)


def stop(participant: Participant) -> None:
    participant.status = Status.STOPPED
    participant.paused_until = None
    participant.next_hello_at = None
    participant.awaiting = None
