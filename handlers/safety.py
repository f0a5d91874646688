"""The crisis layer and the safety plan.

Words that suggest a crisis get, at once, the help lines of this deployment, a plain word that the
bot is not a crisis service, the person's own safety plan if they wrote one, and two buttons. A
coordinator is alerted only with consent (given in onboarding, or by tapping "I'd like someone to
reach out"), and the alert carries the alias and how to write back through the bot — nothing else.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from bot.i18n import Translator
from handlers import views
from handlers.base import Alert, Out, Send, SendTo, SetButtons, Toast, Turn
from handlers.checkin import COUNTED, answer_day, count_day
from handlers.onboarding import new_alias
from storage import repo
from storage.models import Participant, SafetyPlan, Status

AWAITING_PLAN = "plan:"
AWAITING_REACH_REPLY = "reach_reply"
PLAN_SECTIONS = {"signs": "warning_signs", "helps": "what_helps", "people": "people_and_places"}
MAX_PLAN_TEXT = 1000
MAX_RELAYED = 1500  # words passed between a coordinator and a participant, so they always fit a message


def is_coordinator(turn: Turn) -> bool:
    user = turn.update.effective_user
    return user is not None and user.id in turn.services.settings.coordinators


def _plan_text(t: Translator, plan: SafetyPlan | None) -> str:
    def part(name: str) -> str:
        value = getattr(plan, PLAN_SECTIONS[name]) if plan else None
        return value or t("plan.empty")

    return t("plan.view", signs=part("signs"), helps=part("helps"), people=part("people"))


def _crisis_keyboard(t: Translator) -> InlineKeyboardMarkup:
    return views.one_per_row([(t("crisis.safe"), "cr:safe"), (t("crisis.reach"), "cr:reach")])


def _alert_messages(turn: Turn, participant: Participant, key: str) -> tuple[SendTo, ...]:
    """One alert per coordinator, in the deployment's language: the alias and how to write back."""
    t = turn.services.catalogs[turn.services.settings.default_language]
    text = t(key, alias=participant.alias)
    return tuple(SendTo(chat_id, text) for chat_id in sorted(turn.services.settings.coordinators))


async def crisis_reply(turn: Turn) -> list[Out]:
    """Words that suggest a crisis: numbers first, calm and short, then the normal flow goes on."""
    participant = turn.participant
    text = turn.t("crisis.reply", lines=turn.services.helplines[turn.t.language])
    plan = await repo.safety_plan(turn.session, participant.id) if participant else None
    if plan is not None:
        text += "\n\n" + _plan_text(turn.t, plan)
    outs: list[Out] = [Send(text, _crisis_keyboard(turn.t), urgent=True)]
    if participant is not None and participant.status in COUNTED:
        await count_day(turn, participant, await answer_day(turn, participant), "text")
    if participant is not None and participant.crisis_alerts and participant.alias:
        outs += list(_alert_messages(turn, participant, "alert.match"))
    return outs


async def crisis_button(turn: Turn) -> list[Out]:
    choice = turn.data.removeprefix("cr:")
    if choice == "safe":
        return [SetButtons(None), Send(turn.t("crisis.safe_ack"))]
    if choice != "reach":
        return [Toast(turn.t("button.stale"))]
    participant = turn.participant
    if not turn.services.settings.coordinators:
        return [SetButtons(None), Send(turn.t("crisis.no_team"))]
    if participant is None:
        # Someone the bot knows nothing about (a family member, say): there is no way to name
        # them to the team without learning who they are.
        return [SetButtons(None), Send(turn.t("crisis.cannot_pass"))]
    if participant.alias is None:
        participant.alias = await new_alias(turn)
    # The tap itself is the request, and the consent, for this one alert.
    return [
        SetButtons(None),
        Alert(_alert_messages(turn, participant, "alert.asked"), turn.t("crisis.team_told"), turn.t("crisis.team_unreachable")),
    ]


# --- the coordinators' way to write back --------------------------------------------------------


async def reach_command(turn: Turn) -> list[Out]:
    """/reach ALIAS words — coordinators only; anyone else gets the unknown-command answer."""
    if not is_coordinator(turn):
        return [Send(turn.t("command.unknown"))]
    text = turn.update.effective_message.text or ""
    parts = text.split(maxsplit=2)
    if len(parts) < 3:
        return [Send(turn.t("reach.usage"))]
    target = await repo.participant_by_alias(turn.session, parts[1].strip().lower())
    if target is None:
        return [Send(turn.t("reach.unknown", alias=parts[1]))]
    if target.status in (Status.PAUSED, Status.STOPPED) or target.blocked_at is not None:
        # They asked for silence (or blocked the bot); the promise holds for the team too.
        return [Send(turn.t("reach.silent", alias=target.alias))]
    t = turn.services.catalogs[target.language or turn.services.settings.default_language]
    keyboard = views.one_per_row([(t("reach.reply"), "rr:reply")])
    words = parts[2].strip()[:MAX_RELAYED]
    message = SendTo(target.chat_id, t("reach.message", text=words), keyboard)
    return [Alert((message,), turn.t("reach.sent", alias=target.alias), turn.t("reach.not_sent", alias=target.alias))]


async def reach_reply_button(turn: Turn) -> list[Out]:
    participant = turn.participant
    if participant is None or participant.alias is None:
        return [Toast(turn.t("button.stale"))]
    participant.awaiting = AWAITING_REACH_REPLY
    return [Send(turn.t("reach.write"))]


async def reach_reply_text(turn: Turn) -> list[Out]:
    participant = turn.participant
    assert participant is not None
    participant.awaiting = None
    words = (turn.update.effective_message.text or "").strip()[:MAX_RELAYED]
    t = turn.services.catalogs[turn.services.settings.default_language]
    text = t("reach.from", alias=participant.alias, text=words)
    messages = tuple(SendTo(chat_id, text) for chat_id in sorted(turn.services.settings.coordinators))
    return [Alert(messages, turn.t("reach.passed"), turn.t("reach.not_passed"))]


# --- the safety plan ------------------------------------------------------------------------------------


def _plan_keyboard(t: Translator) -> InlineKeyboardMarkup:
    sections = [(t(f"plan.{section}"), f"pl:{section}") for section in PLAN_SECTIONS]
    return views.one_per_row([*sections, (t("plan.close"), "pl:close")])


async def plan_command(turn: Turn) -> list[Out]:
    participant = turn.participant
    if participant is None or participant.status == Status.NEW:
        return [Send(turn.t("not_started"))]
    plan = await repo.safety_plan(turn.session, participant.id)
    return [Send(turn.t("plan.intro") + "\n\n" + _plan_text(turn.t, plan), _plan_keyboard(turn.t))]


async def plan_button(turn: Turn) -> list[Out]:
    participant = turn.participant
    section = turn.data.removeprefix("pl:")
    if participant is None or participant.status == Status.NEW:
        return [Toast(turn.t("button.stale"))]
    if section == "close":
        participant.awaiting = None
        return [SetButtons(None)]
    if section not in PLAN_SECTIONS:
        return [Toast(turn.t("button.stale"))]
    participant.awaiting = AWAITING_PLAN + section
    return [Send(turn.t(f"plan.ask.{section}"))]


async def plan_text(turn: Turn) -> list[Out]:
    """The participant's words for one part of their plan. Kept as written, shown only to them."""
    participant = turn.participant
    assert participant is not None and participant.awaiting
    section = participant.awaiting.removeprefix(AWAITING_PLAN)
    participant.awaiting = None
    words = (turn.update.effective_message.text or "").strip()[:MAX_PLAN_TEXT]
    plan = await repo.safety_plan(turn.session, participant.id)
    if plan is None:
        plan = SafetyPlan(participant_id=participant.id, updated_at=turn.now)
        await repo.add(turn.session, plan)
    setattr(plan, PLAN_SECTIONS[section], words or None)
    plan.updated_at = turn.now
    return [Send(turn.t("plan.saved") + "\n\n" + _plan_text(turn.t, plan), _plan_keyboard(turn.t))]

