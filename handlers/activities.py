"""Group activities for participants: the invitation's three answers, /activities, "how was it?".

Only participants who opted in to group activities, at or above an activity's lowest step, ever
see one. Counts are shown, never names; not coming has no consequence and is never mentioned.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Translator
from core.activities import ACTIVITY_NOTICES, Answer, HowWasIt, has_room, notices_for
from handlers.base import Out, Send, SetButtons, Toast, Turn, small_number
from handlers.checkin import answer_day, count_day
from schedules.planning import zone_of
from storage import repo
from storage.models import Activity, Participant, Status

SHOWN_AT_ONCE = 5


def when(t: Translator, at: dt.datetime, zone: ZoneInfo) -> str:
    local = at.astimezone(zone)
    return t(
        "activity.when",
        weekday=t(f"weekday.{local.weekday()}"),
        day=local.day,
        month_name=t(f"month.{local.month}"),
        time=f"{local:%H:%M}",
    )


def describe(t: Translator, activity: Activity, zone: ZoneInfo, coming: int) -> str:
    """Title, time in the reader's own zone, place, and how many are coming (a number, never who)."""
    return t(
        "activity.card",
        title=activity.title,
        when=when(t, activity.starts_at, zone),
        place=activity.place,
        coming=t.plural("activity.coming", coming),
    )


def answer_keyboard(t: Translator, activity_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t(f"activity.answer.{a}"), callback_data=f"ar:{activity_id}:{a}")] for a in Answer]
    )


def how_was_it_keyboard(t: Translator, activity_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t(f"activity.how.{h}"), callback_data=f"ah:{activity_id}:{h}")] for h in HowWasIt]
    )


def welcome_at(participant: Participant, activity: Activity) -> bool:
    return participant.group_opt_in and participant.level >= activity.min_level


async def activities_command(turn: Turn) -> list[Out]:
    participant = turn.participant
    if participant is None or participant.status not in (Status.ACTIVE, Status.PAUSED):
        return [Send(turn.t("not_started"))]
    if not participant.group_opt_in:
        return [Send(turn.t("activities.not_opted"))]
    upcoming = await repo.activities_for(turn.session, participant, turn.now)
    if not upcoming:
        return [Send(turn.t("activities.none"))]
    counts = await repo.answer_counts(turn.session, [a.id for a in upcoming])
    outs: list[Out] = [Send(turn.t("activities.title"))]
    for activity in upcoming[:SHOWN_AT_ONCE]:
        text = describe(turn.t, activity, zone_of(participant, turn.services.settings.default_timezone), counts[activity.id].get(Answer.COME, 0))
        outs.append(Send(text, answer_keyboard(turn.t, activity.id)))
    return outs


def _parse(data: str, prefix: str, choices: type[Answer] | type[HowWasIt]) -> tuple[int, str] | None:
    parts = data.removeprefix(prefix).split(":")
    if len(parts) != 2 or small_number(parts[0]) is None or parts[1] not in {c.value for c in choices}:
        return None
    return small_number(parts[0]), parts[1]


async def answer_button(turn: Turn) -> list[Out]:
    """ "I'll come", "Maybe", "Just tell me how it went". Capacity is respected; a change of mind is fine."""
    participant = turn.participant
    parsed = _parse(turn.data, "ar:", Answer)
    if participant is None or parsed is None or participant.status not in (Status.ACTIVE, Status.PAUSED):
        return [Toast(turn.t("button.stale"))]
    activity_id, choice = parsed
    activity = await repo.activity(turn.session, activity_id, lock=True)
    if activity is None or not welcome_at(participant, activity):
        return [Toast(turn.t("button.stale"))]
    if activity.cancelled_at is not None:
        return [SetButtons(None), Send(turn.t("activity.was_cancelled", title=activity.title))]
    if activity.starts_at <= turn.now:
        return [SetButtons(None), Send(turn.t("activity.over", title=activity.title))]
    answer = Answer(choice)
    reply = await repo.reply(turn.session, activity.id, participant.id)
    if reply is None:  # answered from /activities rather than an invitation
        await repo.add_replies(turn.session, activity.id, [participant.id], turn.now)
        reply = await repo.reply(turn.session, activity.id, participant.id)
    if reply.answer == answer:
        return [Toast(turn.t("activity.noted_already"))]
    coming = (await repo.answer_counts(turn.session, [activity.id]))[activity.id].get(Answer.COME, 0)
    if answer is Answer.COME and not has_room(coming, activity.capacity):
        return [Send(turn.t("activity.full", title=activity.title))]
    if answer is Answer.COME:
        coming += 1
    elif reply.answer == Answer.COME:
        coming -= 1
    reply.answer, reply.answered_at = answer, turn.now
    await repo.delete_notices(turn.session, participant_id=participant.id, activity_id=activity.id, kinds=ACTIVITY_NOTICES)
    planned = notices_for(answer, activity.starts_at, turn.now)
    await repo.add_notices(turn.session, [repo.notice_row(participant.id, k, at, activity_id=activity.id) for k, at in planned])
    return [Send(turn.t(f"activity.ack.{answer}", coming=turn.t.plural("activity.coming", coming)))]


async def how_was_it_button(turn: Turn) -> list[Out]:
    """The gentle "how was it?" afterwards. Going counts as that day's step; not going is fine."""
    participant = turn.participant
    parsed = _parse(turn.data, "ah:", HowWasIt)
    if participant is None or parsed is None:
        return [Toast(turn.t("button.stale"))]
    activity_id, choice = parsed
    reply = await repo.reply(turn.session, activity_id, participant.id)
    if reply is None or reply.answer not in (Answer.COME, Answer.MAYBE):
        return [Toast(turn.t("button.stale"))]
    if reply.how_was_it is not None:
        return [Toast(turn.t("activity.noted_already"))]
    how = HowWasIt(choice)
    reply.how_was_it = how
    if how.counts_as_step and participant.status in (Status.ACTIVE, Status.PAUSED):
        await count_day(turn, participant, await answer_day(turn, participant), "activity")
    return [SetButtons(None), Send(turn.t(f"activity.how_ack.{how}"))]
