"""Answers to a hello: its buttons, any text, a sticker or a photo. Each counts once per day."""

from __future__ import annotations

import datetime as dt

from core.schedule import Window, hello_day_for
from handlers import views
from handlers.base import Out, Send, SetButtons, Toast, Turn
from handlers.peer import maybe_ask_about_board
from schedules.planning import zone_of
from storage import repo
from storage.models import Participant, Status

COUNTED = (Status.ACTIVE, Status.PAUSED)


async def latest_hello(turn: Turn, participant: Participant) -> tuple[dt.date, bool] | None:
    """The participant's latest hello's day and whether that day is counted
    (:func:`repo.latest_hello_state`), as read at the start of the turn unless a day was counted since."""
    if turn.latest_hello_fresh and participant is turn.participant:
        return turn.latest_hello
    return await repo.latest_hello_state(turn.session, participant.id)


async def answer_day(turn: Turn, participant: Participant) -> dt.date:
    """The day an answer now belongs to: the latest hello's, until a newer hello comes; otherwise
    (the latest was answered already, or none was sent) the current hello-day."""
    return answer_day_after(turn, participant, await latest_hello(turn, participant))


def answer_day_after(turn: Turn, participant: Participant, latest: tuple[dt.date, bool] | None) -> dt.date:
    """:func:`answer_day` for a caller that has read the latest hello already
    (:func:`latest_hello`)."""
    if latest is not None and not latest[1]:
        return latest[0]
    zone = zone_of(participant, turn.services.settings.default_timezone)
    return hello_day_for(turn.now, Window(participant.window), zone)


async def count_day(turn: Turn, participant: Participant, day: dt.date, source: str) -> bool:
    """Count `day` as a day the participant showed up; False if it already was (a double tap)."""
    counted = await repo.add_checkin(turn.session, participant.id, day, turn.now, source)
    if counted:
        turn.latest_hello_fresh = False  # the latest hello may be counted now
        turn.services.metrics.checkins.inc()
    return counted


def _parse_hello_button(data: str) -> tuple[dt.date, str] | None:
    parts = data.split(":")
    if len(parts) != 3 or parts[2] not in views.HELLO_ANSWERS:
        return None
    day = views.button_day(parts[1])
    return None if day is None else (day, parts[2])


async def hello_button(turn: Turn) -> list[Out]:
    """ "I'm here", "Not today", "Pause for a while" under a hello."""
    participant = turn.participant
    parsed = _parse_hello_button(turn.data)
    if participant is None or parsed is None or participant.status not in COUNTED:
        return [Toast(turn.t("button.stale"))]
    day, answer = parsed
    # The button must name a hello this very person received; anything else is forged or foreign.
    latest = await latest_hello(turn, participant)
    if (latest is None or latest[0] != day) and not await repo.hello_exists(turn.session, participant.id, day):
        return [Toast(turn.t("button.stale"))]
    target = answer_day_after(turn, participant, latest)
    counted = await count_day(turn, participant, target, answer)
    if not counted and answer != "pause":
        return [Toast(turn.t("checkin.already"))]
    # The hello is answered: its buttons go; a task on the same message stays open until the next hello.
    message = turn.update.callback_query.message
    outs: list[Out] = [SetButtons(views.without_rows(message.reply_markup if message else None, "h:"))]
    if answer == "here":
        outs.append(Send(turn.t("checkin.here")))
        outs += await maybe_ask_about_board(turn, participant)
    elif answer == "not_today":
        outs.append(Send(turn.t("checkin.not_today")))
    else:
        outs.append(Send(*views.pause_menu(turn.t)))
    return outs


async def sample_button(turn: Turn) -> list[Out]:
    return [Toast(turn.t("sample.tapped")), SetButtons(None)]


async def _count_contact(turn: Turn, source: str, counted_key: str) -> list[Out]:
    participant = turn.participant
    if participant is None or participant.status == Status.NEW:
        return [Send(turn.t("not_started"))]
    if participant.status == Status.ONBOARDING:
        return [Send(turn.t("onboarding.use_buttons"))]
    if participant.status == Status.STOPPED:
        return [Send(turn.t("stopped.reminder"))]
    day = await answer_day(turn, participant)
    counted = await count_day(turn, participant, day, source)
    return [Send(turn.t(counted_key if counted else "checkin.text_again"))]


async def text(turn: Turn) -> list[Out]:
    """Any words at all count as showing up. The text itself is never stored or logged."""
    return await _count_contact(turn, "text", "checkin.text")


async def media(turn: Turn) -> list[Out]:
    """Stickers, photos, voice and the like: thanked, counted, and not kept."""
    return await _count_contact(turn, "media", "checkin.media")
