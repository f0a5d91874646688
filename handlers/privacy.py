"""Data rights: /privacy (who sees what, right now), /mydata (everything, as a file), /forget."""

from __future__ import annotations

import json

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.base import Document, Edit, Out, Send, SendTo, Toast, Turn
from handlers.family import family_panel
from storage import repo


async def _privacy_view(turn: Turn) -> tuple[str, InlineKeyboardMarkup]:
    participant = turn.participant
    assert participant is not None
    alerts = participant.crisis_alerts
    team = bool(turn.services.settings.coordinators)
    family_text, family_buttons = family_panel(turn.t, await repo.links_of_participant(turn.session, participant.id))
    state = "privacy.alerts_none" if not team else "privacy.alerts_on" if alerts else "privacy.alerts_off"
    text = turn.t("privacy.now", family=family_text, alerts=turn.t(state))
    rows = list(family_buttons.inline_keyboard if family_buttons else ())
    if team:  # the choice only means something where a support team is connected
        toggle = "pv:alerts:off" if alerts else "pv:alerts:on"
        label = turn.t("privacy.turn_alerts_off" if alerts else "privacy.turn_alerts_on")
        rows.append([InlineKeyboardButton(label, callback_data=toggle)])
    return text, InlineKeyboardMarkup(rows)


async def privacy_command(turn: Turn) -> list[Out]:
    if turn.participant is None:
        return [Send(turn.t("privacy.nothing"))]
    return [Send(*await _privacy_view(turn))]


async def privacy_button(turn: Turn) -> list[Out]:
    participant = turn.participant
    choice = turn.data.removeprefix("pv:alerts:")
    if participant is None or choice not in ("on", "off"):
        return [Toast(turn.t("button.stale"))]
    participant.crisis_alerts = choice == "on"
    return [Edit(*await _privacy_view(turn))]


async def mydata_command(turn: Turn) -> list[Out]:
    """Everything stored about the person, as a JSON file a human can read."""
    participant = turn.participant
    if participant is None:
        return [Send(turn.t("mydata.nothing"))]
    data = {
        "about": turn.t("mydata.about"),
        "exported_at": turn.now.isoformat(),
        **await repo.export(turn.session, participant.id),
    }
    content = json.dumps(data, ensure_ascii=False, indent=2, default=str).encode("utf-8")
    return [Document("komorebi-my-data.json", content, turn.t("mydata.caption"))]


async def forget_command(turn: Turn) -> list[Out]:
    if turn.participant is None:
        return [Send(turn.t("mydata.nothing"))]
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(turn.t("forget.yes"), callback_data="f:yes")],
            [InlineKeyboardButton(turn.t("forget.no"), callback_data="f:no")],
        ]
    )
    return [Send(turn.t("forget.ask"), keyboard)]


async def forget_button(turn: Turn) -> list[Out]:
    participant = turn.participant
    choice = turn.data.removeprefix("f:")
    if participant is None:
        return [Edit(turn.t("mydata.nothing"))]
    if choice == "no":
        return [Edit(turn.t("forget.kept"))]
    if choice != "yes":
        return [Toast(turn.t("button.stale"))]
    # Family members are told only that sharing ended, as when one is removed.
    ended = [
        SendTo(item.chat_id, turn.services.catalogs[item.language]("family.sharing_ended", label=item.link.relative_label))
        for item in await repo.links_of_participant(turn.session, participant.id)
    ]
    await repo.forget(turn.session, participant)
    return [Edit(turn.t("forget.done")), *ended]
