"""/pause, /resume and /stop: every message can be silenced, for a while or for good."""

from __future__ import annotations

import datetime as dt

from handlers import views
from handlers.base import Edit, Out, Send, Toast, Turn
from schedules.planning import activate, pause, stop, zone_of
from storage.models import Participant, Status

LENGTHS = {"day": dt.timedelta(days=1), "week": dt.timedelta(days=7)}
SET_UP = (Status.ACTIVE, Status.PAUSED)


def _when(turn: Turn, participant: Participant) -> str:
    zone = zone_of(participant, turn.services.settings.default_timezone)
    return views.when_text(turn.t, participant.next_hello_at, turn.now, participant, zone)


async def pause_command(turn: Turn) -> list[Out]:
    if turn.participant is None or turn.participant.status not in SET_UP:
        return [Send(turn.t("not_started"))]
    return [Send(*views.pause_menu(turn.t))]


async def pause_choice(turn: Turn) -> list[Out]:
    participant = turn.participant
    choice = turn.data.removeprefix("p:")
    if participant is None or participant.status not in SET_UP or choice not in (*views.PAUSE_CHOICES, "cancel"):
        return [Toast(turn.t("button.stale"))]
    if choice == "cancel":
        return [Edit(turn.t("pause.cancelled"))]
    default_zone = turn.services.settings.default_timezone
    if choice == "open":
        pause(participant, turn.now, None, turn.services.rng, default_zone)
        return [Edit(turn.t("pause.confirm_open"))]
    until = turn.now + LENGTHS[choice]
    pause(participant, turn.now, until, turn.services.rng, default_zone)
    return [Edit(turn.t("pause.confirm_until", when=_when(turn, participant)))]


async def resume_command(turn: Turn) -> list[Out]:
    participant = turn.participant
    if participant is None or participant.status not in (*SET_UP, Status.STOPPED):
        return [Send(turn.t("not_started"))]
    was_active = participant.status == Status.ACTIVE
    if not was_active:
        activate(participant, turn.now, turn.services.rng, turn.services.settings.default_timezone)
    key = "resume.already" if was_active else "resume.done"
    return [Send(turn.t(key, when=_when(turn, participant)))]


async def stop_command(turn: Turn) -> list[Out]:
    participant = turn.participant
    if participant is None or participant.status == Status.NEW:
        return [Send(turn.t("not_started"))]
    stop(participant)
    return [Send(turn.t("stop.done"))]
