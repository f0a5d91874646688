"""/progress: a forgiving look back that fits a phone screen."""

from __future__ import annotations

from core.schedule import Window, hello_day_for
from core.streaks import progress
from handlers import views
from handlers.base import Out, Send, Turn
from schedules.planning import zone_of
from storage import repo
from storage.models import Status


async def progress_command(turn: Turn) -> list[Out]:
    participant = turn.participant
    if participant is None or participant.status in (Status.NEW, Status.ONBOARDING):
        return [Send(turn.t("not_started"))]
    checkins, hellos = await repo.history(turn.session, participant.id)
    zone = zone_of(participant, turn.services.settings.default_timezone)
    today = hello_day_for(turn.now, Window(participant.window), zone)
    if not checkins:
        return [Send(turn.t("progress.empty"))]
    return [Send(views.progress(turn.t, progress(checkins, hellos, today)))]
