"""Data rights: /privacy (who sees what, right now), /mydata (everything, as a file), /forget."""

from __future__ import annotations

import json

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers import views
from handlers.base import Document, Edit, Out, Send, SendTo, Toast, Turn
from handlers.family import family_panel
from storage import repo
from storage.models import FamilyMember, Volunteer


async def _privacy_view(turn: Turn) -> tuple[str, InlineKeyboardMarkup]:
    participant = turn.participant
    assert participant is not None
    alerts = participant.crisis_alerts
    team = bool(turn.services.settings.coordinators)
    links = await repo.links_of_participant(turn.session, participant.id)
    family_text, family_buttons = family_panel(turn.t, links)
    state = "privacy.alerts_none" if not team else "privacy.alerts_on" if alerts else "privacy.alerts_off"
    notes = {True: "privacy.notes_on", False: "privacy.notes_off", None: "privacy.notes_ask"}[participant.notes_allowed]
    peer = "privacy.peer_on" if participant.peer_visible else "privacy.peer_off"
    text = turn.t("privacy.now", family=family_text, notes=turn.t(notes), alerts=turn.t(state), peer=turn.t(peer))
    rows = list(family_buttons.inline_keyboard if family_buttons else ())
    if links or participant.notes_allowed is not None:  # notes only mean something with family
        if participant.notes_allowed:
            rows.append([InlineKeyboardButton(turn.t("privacy.turn_notes_off"), callback_data="pv:notes:off")])
        else:
            rows.append([InlineKeyboardButton(turn.t("privacy.turn_notes_on"), callback_data="pv:notes:on")])
    if team:  # the choice only means something where a support team is connected
        toggle = "pv:alerts:off" if alerts else "pv:alerts:on"
        label = turn.t("privacy.turn_alerts_off" if alerts else "privacy.turn_alerts_on")
        rows.append([InlineKeyboardButton(label, callback_data=toggle)])
    if participant.peer_visible:
        rows.append([InlineKeyboardButton(turn.t("privacy.turn_peer_off"), callback_data="pv:peer:off")])
    return text, InlineKeyboardMarkup(rows)


async def privacy_command(turn: Turn) -> list[Out]:
    if turn.participant is None:
        return [Send(turn.t("privacy.nothing"))]
    return [Send(*await _privacy_view(turn))]


async def privacy_button(turn: Turn) -> list[Out]:
    participant = turn.participant
    parts = turn.data.split(":")
    if participant is None or len(parts) != 3 or parts[1] not in ("alerts", "notes", "peer") or parts[2] not in ("on", "off"):
        return [Toast(turn.t("button.stale"))]
    if parts[1] == "alerts":
        participant.crisis_alerts = parts[2] == "on"
    elif parts[1] == "peer":
        participant.peer_visible = parts[2] == "on"
    else:
        participant.notes_allowed = parts[2] == "on"
        if not participant.notes_allowed:  # notes waiting for them are not kept
            notes = (await repo.pending_notes(turn.session, [participant.id])).get(participant.id, [])
            await repo.delete_notes(turn.session, [note.note_id for note in notes])
    return [Edit(*await _privacy_view(turn))]


async def _other_roles(turn: Turn) -> tuple[FamilyMember | None, Volunteer | None]:
    """Who else this chat is to the bot, beside a participant: a family member, a volunteer."""
    chat_id = turn.update.effective_chat.id
    return await repo.family_member_by_chat(turn.session, chat_id), await repo.volunteer_by_chat(turn.session, chat_id)


async def mydata_command(turn: Turn) -> list[Out]:
    """Everything stored about the person, as a JSON file a human can read."""
    if turn.participant is None and await _other_roles(turn) == (None, None):
        return [Send(turn.t("mydata.nothing"))]
    data = {
        "about": turn.t("mydata.about"),
        "exported_at": turn.now.isoformat(),
        **await repo.export(turn.session, turn.update.effective_chat.id),
    }
    content = json.dumps(data, ensure_ascii=False, indent=2, default=str).encode("utf-8")
    return [Document("komorebi-my-data.json", content, turn.t("mydata.caption"))]


async def forget_command(turn: Turn) -> list[Out]:
    if turn.participant is None and await _other_roles(turn) == (None, None):
        return [Send(turn.t("mydata.nothing"))]
    keyboard = views.one_per_row([(turn.t("forget.yes"), "f:yes"), (turn.t("forget.no"), "f:no")])
    return [Send(turn.t("forget.ask"), keyboard)]


async def forget_button(turn: Turn) -> list[Out]:
    participant = turn.participant
    member, volunteer = await _other_roles(turn)
    choice = turn.data.removeprefix("f:")
    if participant is None and member is None and volunteer is None:
        return [Edit(turn.t("mydata.nothing"))]
    if choice == "no":
        return [Edit(turn.t("forget.kept"))]
    if choice != "yes":
        return [Toast(turn.t("button.stale"))]
    ended: list[Out] = []
    if participant is not None:
        # Family members are told only that sharing ended, as when one is removed.
        ended = [
            SendTo(item.chat_id, turn.services.catalogs[item.language]("family.sharing_ended", label=item.link.relative_label))
            for item in await repo.links_of_participant(turn.session, participant.id)
        ]
        await repo.forget(turn.session, participant)
    if member is not None:
        await repo.remove(turn.session, member)  # their invitations, links and notes go with them
    if volunteer is not None:
        await repo.remove(turn.session, volunteer)  # cheers they sent stay with their receivers, unsigned
    return [Edit(turn.t("forget.done")), *ended]
