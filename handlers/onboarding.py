"""/start, consent, the summary of kind defaults, and /settings (the same choices, any time)."""

from __future__ import annotations

import zoneinfo
from enum import StrEnum
from functools import cache

from bot.i18n import LANGUAGES, guess_language
from core.alias import make_alias
from core.ladder import GROUP_LEVEL, LEVELS
from core.schedule import Rhythm, Window, hello_day_for
from handlers import family, views
from handlers.base import Edit, Out, Send, Toast, Turn, small_number
from schedules.planning import activate, replan, zone_of
from storage import repo
from storage.models import Participant, Status

AWAITING_TIMEZONE = "timezone"
CONSENTED = (Status.ONBOARDING, Status.ACTIVE, Status.PAUSED, Status.STOPPED)


@cache
def _zones_by_lower_name() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def find_zone(text: str) -> str | None:
    """The IANA zone a person typed, forgiving case, spaces and surrounding blanks."""
    cleaned = text.strip().replace(" ", "_")
    return _zones_by_lower_name().get(cleaned.lower())


def _next_hello_words(turn: Turn, participant: Participant) -> str:
    zone = zone_of(participant, turn.services.settings.default_timezone)
    return views.when_text(turn.t, participant.next_hello_at, turn.now, participant, zone)


async def start(turn: Turn) -> list[Out]:
    """/start, or /start f_TOKEN from a family invitation (which stores nothing until accepted)."""
    words = (turn.update.effective_message.text or "").split()
    if len(words) > 1 and words[1].startswith(family.INVITE_PREFIX):
        return await family.invite_start(turn, words[1].removeprefix(family.INVITE_PREFIX))
    participant = turn.participant
    if participant is None:
        # A first contact: from here on the chat id is kept, and nothing else until consent.
        participant = await repo.get_or_create_participant(turn.session, turn.update.effective_chat.id, turn.now)
    if participant.status == Status.NEW:
        return [Send(*views.welcome(turn.t))]
    if participant.status == Status.ONBOARDING:
        return [Send(*views.summary(turn.t, participant))]
    if participant.status == Status.STOPPED:
        return [Send(*views.summary(turn.t, participant, key="start.returning"))]
    return [Send(turn.t("start.active", when=_next_hello_words(turn, participant))), Send(*views.settings_menu(turn.t, participant))]


async def consent(turn: Turn) -> list[Out]:
    participant = turn.participant
    if participant is None or participant.status != Status.NEW:
        # An old welcome tapped again: consent was given before, nothing to change.
        return [Toast(turn.t("button.stale"))]
    if turn.data == "c:no":
        return [Edit(turn.t("consent.declined")), *await family.decline_pending_invite(turn, participant)]
    user = turn.update.effective_user
    participant.consent_at = turn.now
    participant.status = Status.ONBOARDING
    participant.language = guess_language(
        user.language_code if user else None, turn.services.settings.default_language
    )
    participant.timezone = turn.services.settings.default_timezone
    participant.window = Window.EVENING
    participant.rhythm = Rhythm.DAILY
    participant.alias = await new_alias(turn)
    turn.use_language(participant.language)
    outs: list[Out] = [Edit(*views.summary(turn.t, participant))]
    invite = await family.pending_invite(turn, participant)
    if invite is not None:
        outs += await family.complete_invite(turn, participant, invite)
    return outs


async def new_alias(turn: Turn) -> str:
    while True:
        alias = make_alias(turn.services.rng)
        if not await repo.alias_taken(turn.session, alias):
            return alias


def _crisis_question(turn: Turn) -> list[Out]:
    """The one consent question onboarding asks beyond the summary; default no."""
    keyboard = views.one_per_row([(turn.t("onboarding.alerts_yes"), "ca:yes"), (turn.t("onboarding.alerts_no"), "ca:no")])
    return [Edit(turn.t("onboarding.alerts_ask"), keyboard)]


async def alerts_answer(turn: Turn) -> list[Out]:
    participant = turn.participant
    if participant is None or participant.status != Status.ONBOARDING or turn.data not in ("ca:yes", "ca:no"):
        return [Toast(turn.t("button.stale"))]
    participant.crisis_alerts = turn.data == "ca:yes"
    return await _finish(turn, participant)


async def _finish(turn: Turn, participant: Participant) -> list[Out]:
    first_time = participant.status == Status.ONBOARDING
    activate(participant, turn.now, turn.services.rng, turn.services.settings.default_timezone)
    outs: list[Out] = [Edit(turn.t("onboarding.done", when=_next_hello_words(turn, participant)))]
    if first_time:
        outs.append(Send(*views.sample_hello(turn.t)))
    return outs


async def summary_answer(turn: Turn) -> list[Out]:
    participant = turn.participant
    if participant is None or participant.status not in CONSENTED:
        return [Toast(turn.t("button.stale"))]
    if turn.data == "s:change":
        return [Edit(*views.settings_menu(turn.t, participant))]
    if participant.status == Status.ONBOARDING and turn.services.settings.coordinators:
        return _crisis_question(turn)
    if participant.status in (Status.ONBOARDING, Status.STOPPED):
        return await _finish(turn, participant)
    return [Edit(turn.t("settings.saved", lines=views.settings_lines(turn.t, participant)))]


async def settings_command(turn: Turn) -> list[Out]:
    participant = turn.participant
    if participant is None or participant.status not in CONSENTED:
        return [Send(turn.t("not_started"))]
    participant.awaiting = None
    return [Send(*views.settings_menu(turn.t, participant))]


def _after_change(turn: Turn, participant: Participant) -> list[Out]:
    """Back to the summary while onboarding, to the settings menu afterwards."""
    replan(participant, turn.now, turn.services.rng, turn.services.settings.default_timezone)
    if participant.status == Status.ONBOARDING:
        return [Edit(*views.summary(turn.t, participant))]
    return [Edit(*views.settings_menu(turn.t, participant))]


def _set_level(turn: Turn, participant: Participant, level: int) -> None:
    if level != participant.level:
        participant.level = level
        participant.step_up_open = False  # an offer made at another step no longer applies
        zone = zone_of(participant, turn.services.settings.default_timezone)
        participant.level_since = hello_day_for(turn.now, Window(participant.window), zone)


def _member(kind: type[StrEnum], value: str) -> bool:
    return value in {member.value for member in kind}


async def settings_answer(turn: Turn) -> list[Out]:
    participant = turn.participant
    if participant is None or participant.status not in CONSENTED:
        return [Toast(turn.t("button.stale"))]
    parts = turn.data.split(":", 2)
    what = parts[1] if len(parts) > 1 else ""
    value = parts[2] if len(parts) > 2 else None
    if what == "done":
        if participant.status == Status.ONBOARDING:
            if turn.services.settings.coordinators:
                return _crisis_question(turn)
            return await _finish(turn, participant)
        participant.awaiting = None
        return [Edit(turn.t("settings.saved", lines=views.settings_lines(turn.t, participant)))]
    if what == "family" and value is None:
        text, markup = family.family_panel(turn.t, await repo.links_of_participant(turn.session, participant.id))
        return [Send(text, markup)]
    if value is None:
        menus = {
            "lang": views.language_choice,
            "tz": views.timezone_choice,
            "win": views.window_choice,
            "rhy": views.rhythm_choice,
            "tasks": views.tasks_choice,
            "lvl": views.level_choice,
            "grp": views.group_choice,
            "peer": views.peer_choice,
        }
        if what not in menus:
            return [Toast(turn.t("button.stale"))]
        if what == "tz":
            participant.awaiting = AWAITING_TIMEZONE
        return [Edit(*menus[what](turn.t))]
    if what == "lang" and value in LANGUAGES:
        participant.language = value
        turn.use_language(value)
    elif what == "tz" and find_zone(value):
        participant.timezone = find_zone(value)
        participant.awaiting = None
    elif what == "win" and _member(Window, value):
        participant.window = value
    elif what == "rhy" and _member(Rhythm, value):
        participant.rhythm = value
    elif what == "tasks" and value in ("on", "off"):
        participant.wants_tasks = value == "on"
    elif what == "lvl" and small_number(value) in LEVELS:
        if small_number(value) == GROUP_LEVEL and not participant.group_opt_in:
            # Group activities need an opt-in of their own, asked plainly before the step is taken.
            return [Edit(*views.group_choice(turn.t, then_level=True))]
        _set_level(turn, participant, small_number(value))
    elif what == "grp" and value in ("on", "on5", "off"):
        participant.group_opt_in = value != "off"
        if value == "on5":
            _set_level(turn, participant, GROUP_LEVEL)
        elif value == "off" and participant.level == GROUP_LEVEL:
            _set_level(turn, participant, GROUP_LEVEL - 1)
    elif what == "peer" and value in ("on", "off"):
        participant.peer_visible = value == "on"
    elif what == "cheers" and value in ("on", "off"):
        participant.cheers_on = value == "on"
        if not participant.cheers_on:  # cheers waiting for them are not kept
            await repo.drop_pending_cheers(turn.session, participant.id)
    else:
        return [Toast(turn.t("button.stale"))]
    return _after_change(turn, participant)


async def typed_timezone(turn: Turn) -> list[Out]:
    """Free text while a time zone is expected."""
    participant = turn.participant
    assert participant is not None
    text = turn.update.effective_message.text or ""
    zone = find_zone(text)
    if zone is None:
        return [Send(turn.t("timezone.unknown"))]
    participant.timezone = zone
    participant.awaiting = None
    replan(participant, turn.now, turn.services.rng, turn.services.settings.default_timezone)
    menu = views.summary if participant.status == Status.ONBOARDING else views.settings_menu
    return [Send(turn.t("timezone.set", zone=zone)), Send(*menu(turn.t, participant))]

