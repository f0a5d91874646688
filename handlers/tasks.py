"""Small tasks on the ladder: answering one, rating it, /task, and the rare offer of a bigger step."""

from __future__ import annotations

import datetime as dt

from core.ladder import (
    GROUP_LEVEL,
    RULES,
    Outcome,
    choose_task,
    fresh_tasks,
    is_steady,
    may_offer_step_up,
    should_step_back,
)
from core.schedule import Window, hello_day_for
from handlers import views
from handlers.base import Edit, Out, Send, SetButtons, Toast, Turn, small_number
from handlers.checkin import COUNTED, answer_day_after, count_day, latest_hello
from schedules.planning import zone_of
from storage import repo
from storage.models import Participant, Status

TASK_ANSWERS = {"done": Outcome.DONE, "later": Outcome.LATER, "too_much": Outcome.TOO_MUCH}


def _today(turn: Turn, participant: Participant) -> dt.date:
    zone = zone_of(participant, turn.services.settings.default_timezone)
    return hello_day_for(turn.now, Window(participant.window), zone)


def _parse(data: str, answers: set[str] | None) -> tuple[dt.date, str, str] | None:
    """ "t:20260302:l1-water:done" → (day, task id, answer), or None if it is not well formed."""
    parts = data.split(":")
    if len(parts) != 4 or (answers is not None and parts[3] not in answers):
        return None
    day = views.button_day(parts[1])
    return None if day is None else (day, parts[2], parts[3])


async def _offered_lately(turn: Turn, participant: Participant, day: dt.date) -> dict[str, dt.date]:
    """The tasks offered to them in the two weeks before `day`, with the day each last was."""
    since = day - dt.timedelta(days=RULES.repeat_after_days)
    return (await repo.last_offered(turn.session, [participant.id], since))[participant.id]


def _smaller_level(offer_level: int, participant: Participant) -> int:
    """Where a smaller task after a "too much" comes from: one step below that task, never above
    the step they are on now."""
    return min(offer_level - 1, participant.level)


async def offer_task(turn: Turn, participant: Participant, level: int, day: dt.date, kind: str) -> tuple[str, str] | None:
    """Pick a fitting task at `level` that was not offered lately, record it, return (id, words)."""
    recent = await _offered_lately(turn, participant, day)
    task_id = choose_task(turn.services.tasks.by_level[level], recent, day, turn.services.rng)
    if task_id is None:
        return None
    await repo.add_offer(turn.session, participant.id, task_id, level, day, turn.now, kind)
    return task_id, turn.services.tasks.text(turn.t.language, task_id)


async def task_button(turn: Turn) -> list[Out]:
    """ "Done", "Maybe later" or "Too much today" under a task."""
    participant = turn.participant
    parsed = _parse(turn.data, set(TASK_ANSWERS))
    if participant is None or parsed is None or participant.status not in COUNTED:
        return [Toast(turn.t("button.stale"))]
    day, task_id, answer = parsed
    outcome = TASK_ANSWERS[answer]
    # A task stays open until the next hello after it (latest: checkin.latest_hello).
    latest = await latest_hello(turn, participant)
    offer = await repo.answer_task(
        turn.session, participant.id, day, task_id, outcome, turn.now, latest[0] if latest else None
    )
    if offer is None:  # nothing written: say why
        found = await repo.offer(turn.session, participant.id, day, task_id)
        if found is None:  # forged, or someone else's
            return [Toast(turn.t("button.stale"))]
        if found.outcome in (Outcome.DONE, Outcome.TOO_MUCH):
            return [Toast(turn.t("checkin.already"))]  # a second tap, here or handled elsewhere
        return [Toast(turn.t("task.passed")), SetButtons(None)]
    await count_day(turn, participant, answer_day_after(turn, participant, latest), f"task_{answer}")
    message = turn.update.callback_query.message
    markup = message.reply_markup if message else None
    if outcome == Outcome.LATER:
        # The task stays; the hello on the same message is answered now.
        return [SetButtons(views.without_rows(markup, "h:")), Send(turn.t("task.later_ack"))]
    outs: list[Out] = [SetButtons(None)]
    if outcome == Outcome.DONE:
        step_up = await _maybe_offer_step_up(turn, participant)
        if step_up:  # one question at a time: on the rare day of that offer, no "how hard was it?"
            outs.append(Send(turn.t("task.done_ack_plain")))
            outs.extend(step_up)
        else:
            outs.append(Send(turn.t("task.done_ack"), views.rating_keyboard(day, task_id)))
    else:
        outs.extend(await _too_much(turn, participant, offer, task_id))
    return outs


async def _too_much(turn: Turn, participant: Participant, offer: repo.OfferState, task_id: str) -> list[Out]:
    """Acceptance, with a button for an easier task from one level down if they want one (never a
    task in the same breath), and — if it keeps being too much — a quiet step back. Nothing here
    reads like failure; the step back is not even mentioned."""
    today = _today(turn, participant)
    if offer.level == participant.level:
        since = participant.level_since or dt.date.min
        results = [r for r in await repo.task_results(turn.session, participant.id, since) if r.level == participant.level]
        if should_step_back(results, today) and participant.level > 0:
            participant.level -= 1
            participant.level_since = today
            participant.step_up_open = False
    if offer.kind == "easier" or offer.level == 0 or await repo.easier_offered_on(turn.session, participant.id, today):
        return [Send(turn.t("task.rest"))]
    smaller = turn.services.tasks.by_level[_smaller_level(offer.level, participant)]
    if not fresh_tasks(smaller, await _offered_lately(turn, participant, today), today):
        return [Send(turn.t("task.rest"))]  # nothing smaller that was not offered lately
    return [Send(turn.t("task.rest"), views.smaller_keyboard(turn.t, offer.day, task_id))]


async def smaller_button(turn: Turn) -> list[Out]:
    """ "Something smaller" under the acceptance of a "too much": an easier task from one level
    down (never above their step now), once a day, while that task is still open (until the next
    hello, as for its own buttons)."""
    participant = turn.participant
    parts = turn.data.split(":")
    day = views.button_day(parts[1]) if len(parts) == 3 else None
    if participant is None or day is None or participant.status not in COUNTED:
        return [Toast(turn.t("button.stale"))]
    found = await repo.offer(turn.session, participant.id, day, parts[2])
    if found is None or found.outcome != Outcome.TOO_MUCH or found.kind == "easier" or not found.level:
        return [Toast(turn.t("button.stale"))]  # forged, someone else's, or not a "too much"
    latest = await latest_hello(turn, participant)
    if latest is not None and found.day < latest[0]:
        return [Toast(turn.t("task.passed")), SetButtons(None)]  # a newer hello came since
    today = _today(turn, participant)
    if await repo.easier_offered_on(turn.session, participant.id, today, lock=True):
        return [Toast(turn.t("task.smaller_given")), SetButtons(None)]  # a second tap
    easier = await offer_task(turn, participant, _smaller_level(found.level, participant), today, "easier")
    if easier is None:
        return [SetButtons(None), Send(turn.t("task.none_fresh"))]
    task_id, words = easier
    return [SetButtons(None), Send(*views.task_offer(turn.t, "task.easier", today, task_id, words, with_too_much=True))]


async def _maybe_offer_step_up(turn: Turn, participant: Participant) -> list[Out]:
    """After a task done: once in a while, if things have been steady, ask about a bigger step."""
    today = _today(turn, participant)
    if not may_offer_step_up(
        participant.level, True, today, participant.step_up_offered_on, participant.step_up_snoozed_until
    ):
        return []
    recent = await repo.steadiness(turn.session, participant.id, RULES.steady_hello_days)
    if not is_steady(recent.hello_days, recent.checkin_days, recent.results, participant.level):
        return []
    participant.step_up_offered_on = today
    participant.step_up_open = True
    return [Send(*views.step_up_offer(turn.t, participant.level))]


async def rating_button(turn: Turn) -> list[Out]:
    participant = turn.participant
    parsed = _parse(turn.data, {str(n) for n in range(11)})
    if participant is None or parsed is None:
        return [Toast(turn.t("button.stale"))]
    day, task_id, rating = parsed
    if await repo.rate_task(turn.session, participant.id, day, task_id, int(rating)):
        return [Edit(turn.t("task.rated"))]
    found = await repo.offer(turn.session, participant.id, day, task_id)  # nothing written: say why
    if found is None or found.outcome != Outcome.DONE:
        return [Toast(turn.t("button.stale"))]
    return [Toast(turn.t("checkin.already"))]


async def step_up_button(turn: Turn) -> list[Out]:
    """ "Yes", "Not yet", "Ask me in a few weeks". Only "Yes" ever moves the level up."""
    participant = turn.participant
    parts = turn.data.split(":")
    if (
        participant is None
        or not participant.step_up_open
        or len(parts) != 3
        or parts[1] not in ("yes", "no", "later")
        or small_number(parts[2]) != participant.level
    ):
        return [Toast(turn.t("button.stale"))]
    answer = parts[1]
    participant.step_up_open = False
    today = _today(turn, participant)
    if answer == "yes":
        participant.level = min(participant.level + 1, GROUP_LEVEL)
        participant.level_since = today
        if participant.level == GROUP_LEVEL:
            participant.group_opt_in = True  # the offer for this step asked about group activities
        return [Edit(turn.t("step_up.accepted", level=views.level_label(turn.t, participant.level)))]
    if answer == "later":
        participant.step_up_snoozed_until = today + dt.timedelta(days=RULES.snooze_days)
        return [Edit(turn.t("step_up.snoozed"))]
    return [Edit(turn.t("step_up.declined"))]


async def task_command(turn: Turn) -> list[Out]:
    """/task: a small task now, at the participant's own initiative."""
    participant = turn.participant
    if participant is None or participant.status not in (Status.ACTIVE, Status.PAUSED):
        return [Send(turn.t("not_started"))]
    today = _today(turn, participant)
    task = await offer_task(turn, participant, participant.level, today, "asked")
    if task is None:  # each task at this level was offered in the last two weeks
        return [Send(turn.t("task.none_fresh"))]
    task_id, words = task
    return [Send(*views.task_offer(turn.t, "task.asked", today, task_id, words))]
