"""Families: a safe door in for the relative, and coaching for the family — never a channel for
pressure. The participant decides, per family member, what is shared, and can end it any time.

A family member sees only what :func:`storage.repo.family_views` can return: their own word for
their relative, the share level, and (if shared) this week's count and step.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.helpers import create_deep_linked_url

from bot.i18n import Translator, guess_language
from core.schedule import Window, plan_weekly
from core.textfilter import check_note
from handlers import views
from handlers.base import Edit, Out, Send, SendTo, SetButtons, Toast, Turn, small_number
from handlers.checkin import COUNTED, answer_day, count_day
from storage import repo
from storage.models import FamilyInvite, FamilyLink, FamilyMember, Participant, Status

# Notes shown at once (the rest wait for the next hello); the tick uses the same number.
NOTES_PER_HELLO = 3
INVITE_PREFIX = "f_"
INVITE_DAYS = 14
SHARES = ("none", "checked_in", "count_level")
AWAITING_NAME = "family:name"
AWAITING_LABEL = "family:label"
AWAITING_NOTE = "family:note:"
MAX_NAME = 40
TIPS = 12  # family.tip.1 … family.tip.12 in the catalogues


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _family_t(turn: Turn, member: FamilyMember) -> Translator:
    return turn.services.catalogs[member.language]


# --- the family member's side --------------------------------------------------------------------


async def _member(turn: Turn, create: bool) -> FamilyMember | None:
    chat_id = turn.update.effective_chat.id
    member = await repo.family_member_by_chat(turn.session, chat_id)
    if member is None and create:
        user = turn.update.effective_user
        participant = turn.participant
        member = FamilyMember(
            chat_id=chat_id,
            language=(participant.language if participant and participant.language else None)
            or guess_language(user.language_code if user else None, turn.services.settings.default_language),
            timezone=(participant.timezone if participant and participant.timezone else None)
            or turn.services.settings.default_timezone,
            created_at=turn.now,
        )
        await repo.add(turn.session, member)
    return member


def _menu(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [_button(t("family.menu.invite"), "fm:invite"), _button(t("family.menu.status"), "fm:status")],
            [_button(t("family.menu.note"), "fm:note"), _button(t("family.menu.time"), "fm:time")],
            [_button(t("family.menu.tip"), "fm:tip")],
        ]
    )


async def family_command(turn: Turn) -> list[Out]:
    member = await _member(turn, create=True)
    t = _family_t(turn, member)
    if member.display_name is None:
        member.awaiting = AWAITING_NAME
        return [Send(t("family.intro"))]
    member.awaiting = None
    if member.next_note_at is None:  # first time round, or back after blocking the bot
        member.next_note_at = _next_weekly(turn, member)
    return [Send(t("family.menu"), _menu(t))]


def _next_weekly(turn: Turn, member: FamilyMember) -> dt.datetime:
    zone = ZoneInfo(member.timezone)
    return plan_weekly(turn.now, zone, Window(member.note_window), member.note_weekday, turn.services.rng).at


async def _new_invite(turn: Turn, member: FamilyMember, label: str) -> list[Out]:
    t = _family_t(turn, member)
    token = secrets.token_urlsafe(24)
    await repo.add(
        turn.session,
        FamilyInvite(
            family_member_id=member.id,
            relative_label=label,
            token_hash=token_hash(token),
            created_at=turn.now,
            expires_at=turn.now + dt.timedelta(days=INVITE_DAYS),
        )
    )
    url = create_deep_linked_url(turn.update.get_bot().username, INVITE_PREFIX + token)
    return [Send(t("family.invite", label=label, link=url, days=INVITE_DAYS)), Send(t("family.menu"), _menu(t))]


async def family_text(turn: Turn, member: FamilyMember) -> list[Out]:
    """Words a family member was asked for: the name they go by, whom an invite is for, a note."""
    t = _family_t(turn, member)
    words = (turn.update.effective_message.text or "").strip()
    awaiting = member.awaiting or ""
    if awaiting in (AWAITING_NAME, AWAITING_LABEL):
        if not words or len(words) > MAX_NAME or check_note(words) is not None:
            return [Send(t("family.name_again"))]
        if awaiting == AWAITING_NAME:
            member.display_name = words
            member.awaiting = AWAITING_LABEL
            member.next_note_at = _next_weekly(turn, member)
            return [Send(t("family.ask_label"))]
        member.awaiting = None
        return await _new_invite(turn, member, words)
    link_id = int(awaiting.removeprefix(AWAITING_NOTE))
    link = await repo.family_link(turn.session, link_id)
    member.awaiting = None
    if link is None or link.family_member_id != member.id:
        return [Send(t("family.note_no_link"))]
    refusal = check_note(words)
    if refusal is not None:
        member.awaiting = awaiting  # let them write it again
        return [Send(t(f"note.refused.{refusal}"))]
    participant = await repo.participant(turn.session, link.participant_id)
    if participant is not None and participant.notes_allowed is False:
        return [Send(t("family.notes_off", label=link.relative_label))]
    await repo.add_note(turn.session, link.id, words, turn.now)
    return [Send(t("family.note_saved", label=link.relative_label))]


async def family_button(turn: Turn) -> list[Out]:
    member = await _member(turn, create=False)
    if member is None or member.display_name is None:
        return [Toast(turn.t("button.stale"))]
    t = _family_t(turn, member)
    parts = turn.data.split(":")
    action = parts[1] if len(parts) > 1 else ""
    if action == "invite":
        member.awaiting = AWAITING_LABEL
        return [Send(t("family.ask_label"))]
    if action == "status":
        return [Send(await _status(turn, member, t))]
    if action == "note" and len(parts) == 2:
        links = await repo.links_of_family_member(turn.session, member.id)
        if not links:
            return [Send(t("family.note_no_link"))]
        buttons = [[_button(link.relative_label, f"fm:note:{link.id}")] for link in links]
        return [Send(t("family.note_whom"), InlineKeyboardMarkup(buttons))]
    if action == "note" and len(parts) == 3 and small_number(parts[2]) is not None:
        link = await repo.family_link(turn.session, small_number(parts[2]))
        if link is None or link.family_member_id != member.id:
            return [Toast(t("button.stale"))]
        member.awaiting = AWAITING_NOTE + str(link.id)
        return [Edit(t("family.note_write", label=link.relative_label))]
    if action == "time" and len(parts) == 2:
        buttons = [[_button(t(f"weekday.{d}"), f"fm:time:{d}")] for d in range(7)]
        return [Send(t("family.time_day"), InlineKeyboardMarkup(buttons))]
    if action == "tz" and len(parts) == 3 and parts[2] in views.COMMON_ZONES:
        member.timezone = parts[2]
        member.next_note_at = _next_weekly(turn, member)
        return [Edit(t("family.time_set", weekday=t(f"weekday.{member.note_weekday}"), window=views.window_label(t, Window(member.note_window)), zone=member.timezone))]
    if action == "time" and len(parts) == 3 and small_number(parts[2]) in range(7):
        member.note_weekday = small_number(parts[2])
        buttons = [[_button(views.window_label(t, w), f"fm:win:{w}")] for w in Window]
        return [Edit(t("family.time_window"), InlineKeyboardMarkup(buttons))]
    if action == "win" and len(parts) == 3 and parts[2] in {w.value for w in Window}:
        member.note_window = parts[2]
        member.next_note_at = _next_weekly(turn, member)
        # Last, the zone those hours are in (the deployment's, unless they live elsewhere).
        zones = [_button(zone, f"fm:tz:{zone}") for zone in views.COMMON_ZONES]
        keyboard = InlineKeyboardMarkup([zones[i : i + 2] for i in range(0, len(zones), 2)])
        text = t("family.time_set", weekday=t(f"weekday.{member.note_weekday}"), window=views.window_label(t, Window(member.note_window)), zone=member.timezone)
        return [Edit(text + "\n\n" + t("family.time_zone"), keyboard)]
    if action == "tip":
        member.tips_seen += 1
        return [Send(t(f"family.tip.{(member.tips_seen - 1) % TIPS + 1}"))]
    return [Toast(t("button.stale"))]


async def _status(turn: Turn, member: FamilyMember, t: Translator) -> str:
    """Each invitation: accepted, or not accepted (yet) — never "declined" or "not now"."""
    invites = await repo.invites_of(turn.session, member.id)
    if not invites:
        return t("family.status_none")
    lines = [
        t("family.status_line", label=i.relative_label, state=t("family.state_accepted" if i.status == "accepted" else "family.state_not_yet"))
        for i in invites
    ]
    return t("family.status", lines="\n".join(lines))


async def tips_command(turn: Turn) -> list[Out]:
    member = await _member(turn, create=True)
    t = _family_t(turn, member)
    member.tips_seen += 1
    return [Send(t(f"family.tip.{(member.tips_seen - 1) % TIPS + 1}"))]


async def wellbeing_button(turn: Turn) -> list[Out]:
    """The weekly one-tap check on how the family member is doing themselves."""
    member = await _member(turn, create=False)
    answer = turn.data.removeprefix("fw:")
    if member is None or answer not in ("ok", "soso", "hard"):
        return [Toast(turn.t("button.stale"))]
    t = _family_t(turn, member)
    if answer == "hard":
        return [SetButtons(None), Send(t("family.wellbeing.hard", lines=turn.services.helplines[t.language]))]
    return [SetButtons(None), Send(t(f"family.wellbeing.{answer}"))]


# --- the invited relative's side ------------------------------------------------------------------


AWAITING_INVITE = "invite:"
USABLE = ("open", "later")  # "later": the relative said "Not now"; the link still works


def _usable(invite: FamilyInvite | None, now: dt.datetime) -> FamilyInvite | None:
    return invite if invite is not None and invite.status in USABLE and invite.expires_at > now else None


async def _open_invite(turn: Turn, token: str) -> FamilyInvite | None:
    return _usable(await repo.invite_by_hash(turn.session, token_hash(token)), turn.now)


def _not_accepted(turn: Turn, member: FamilyMember, invite: FamilyInvite, status: str) -> list[Out]:
    """Move the invitation to `status`; tell the family member "not accepted (yet)" only when its
    state really changed (a double tap tells them once), and in the same words for every kind."""
    if invite.status == status:
        return []
    invite.status = status
    invite.decided_at = turn.now
    return [SendTo(member.chat_id, _family_t(turn, member)("family.not_accepted", label=invite.relative_label))]


async def invite_start(turn: Turn, token: str) -> list[Out]:
    """/start f_TOKEN: who invited them, what it means, Accept / Not now / No. Nothing is stored."""
    invite = await _open_invite(turn, token)
    if invite is None:
        return [Send(turn.t("invite.unusable"))]
    member = await repo.family_member(turn.session, invite.family_member_id)
    if member.chat_id == turn.update.effective_chat.id:
        return [Send(turn.t("invite.own"))]
    keyboard = InlineKeyboardMarkup(
        [
            [_button(turn.t("invite.accept"), f"iv:{token}:yes")],
            [_button(turn.t("invite.later"), f"iv:{token}:later"), _button(turn.t("invite.no"), f"iv:{token}:no")],
        ]
    )
    return [Send(turn.t("invite.open", name=member.display_name), keyboard)]


async def invite_answer(turn: Turn) -> list[Out]:
    parts = turn.data.split(":")
    if len(parts) != 3 or parts[2] not in ("yes", "later", "no"):
        return [Toast(turn.t("button.stale"))]
    invite = await _open_invite(turn, parts[1])
    if invite is None:
        return [Edit(turn.t("invite.unusable"))]
    member = await repo.family_member(turn.session, invite.family_member_id)
    if member.chat_id == turn.update.effective_chat.id:
        return [Toast(turn.t("invite.own"))]
    if parts[2] == "later":
        return [Edit(turn.t("invite.later_ack")), *_not_accepted(turn, member, invite, "later")]
    if parts[2] == "no":
        return [Edit(turn.t("invite.no_ack")), *_not_accepted(turn, member, invite, "declined")]
    participant = turn.participant
    if participant is None or participant.status == Status.NEW:
        # Someone new to Komorebi: the usual consent comes first, and the link only after it.
        participant = participant or await repo.get_or_create_participant(turn.session, turn.update.effective_chat.id, turn.now)
        participant.awaiting = AWAITING_INVITE + str(invite.id)
        return [Edit(turn.t("invite.consent_first", name=member.display_name)), Send(*views.welcome(turn.t))]
    return await complete_invite(turn, participant, invite)


async def pending_invite(turn: Turn, participant: Participant) -> FamilyInvite | None:
    """The invitation a new participant accepted before giving consent, if it can still be used."""
    awaiting = participant.awaiting or ""
    number = small_number(awaiting.removeprefix(AWAITING_INVITE)) if awaiting.startswith(AWAITING_INVITE) else None
    return _usable(await repo.family_invite(turn.session, number), turn.now) if number is not None else None


async def complete_invite(turn: Turn, participant: Participant, invite: FamilyInvite) -> list[Out]:
    """Link the participant and the family member (sharing nothing yet) and ask what to share."""
    member = await repo.family_member(turn.session, invite.family_member_id)
    participant.awaiting = None
    invite.status = "accepted"
    invite.decided_at = turn.now
    link = await repo.link(turn.session, member.id, participant.id)
    if link is None:
        link = FamilyLink(family_member_id=member.id, participant_id=participant.id, relative_label=invite.relative_label, created_at=turn.now)
        await repo.add(turn.session, link)
    return [
        Send(turn.t("invite.accepted", name=member.display_name) + "\n\n" + turn.t("share.ask", name=member.display_name), share_keyboard(turn.t, link.id)),
        SendTo(member.chat_id, _family_t(turn, member)("family.accepted", label=invite.relative_label)),
    ]


async def decline_pending_invite(turn: Turn, participant: Participant) -> list[Out]:
    """Consent was not given after accepting: nothing is linked, the family hears "not (yet)"."""
    invite = await pending_invite(turn, participant)
    participant.awaiting = None
    if invite is None:
        return []
    member = await repo.family_member(turn.session, invite.family_member_id)
    return _not_accepted(turn, member, invite, "later")


def share_keyboard(t: Translator, link_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[_button(t(f"share.{share}"), f"sh:{link_id}:{share}")] for share in SHARES])


async def _tapped_link(turn: Turn, parts: int) -> tuple[FamilyLink, FamilyMember, list[str]] | None:
    """The family link a button names — if it is the tapping person's own — with its family member
    and the button's parts; None for a forged, foreign or malformed button."""
    data = turn.data.split(":")
    number = small_number(data[1]) if len(data) == parts else None
    if turn.participant is None or number is None:
        return None
    link = await repo.family_link(turn.session, number)
    if link is None or link.participant_id != turn.participant.id:
        return None
    return link, await repo.family_member(turn.session, link.family_member_id), data


async def share_button(turn: Turn) -> list[Out]:
    tapped = await _tapped_link(turn, parts=3)
    if tapped is None or tapped[2][2] not in SHARES:
        return [Toast(turn.t("button.stale"))]
    link, member, data = tapped
    link.share = data[2]
    return [Edit(turn.t("share.set", name=member.display_name, share=turn.t(f"share.{link.share}")))]


async def share_change_button(turn: Turn) -> list[Out]:
    tapped = await _tapped_link(turn, parts=2)
    if tapped is None:
        return [Toast(turn.t("button.stale"))]
    link, member, _ = tapped
    return [Send(turn.t("share.ask", name=member.display_name), share_keyboard(turn.t, link.id))]


async def remove_button(turn: Turn) -> list[Out]:
    """End sharing with a family member; they are told only that sharing ended."""
    tapped = await _tapped_link(turn, parts=2)
    if tapped is None:
        return [Toast(turn.t("button.stale"))]
    link, member, _ = tapped
    await repo.remove(turn.session, link)
    return [
        Send(turn.t("share.removed", name=member.display_name)),
        SendTo(member.chat_id, _family_t(turn, member)("family.sharing_ended", label=link.relative_label)),
    ]


async def notes_button(turn: Turn) -> list[Out]:
    """Yes or no to notes from family, asked when the first one waits."""
    participant = turn.participant
    answer = turn.data.removeprefix("nt:")
    if participant is None or answer not in ("yes", "no"):
        return [Toast(turn.t("button.stale"))]
    notes = (await repo.pending_notes(turn.session, [participant.id])).get(participant.id, [])
    # The question sat on a hello: only its own buttons go, and answering it is showing up.
    message = turn.update.callback_query.message
    keep = SetButtons(views.without_rows(message.reply_markup if message else None, "nt:"))
    if participant.status in COUNTED:
        await count_day(turn, participant, await answer_day(turn, participant), "notes")
    if answer == "yes":
        await repo.delete_notes(turn.session, [note.note_id for note in notes[:NOTES_PER_HELLO]])
        participant.notes_allowed = True
        shown = [turn.t("notes.line", name=note.from_name, text=note.text) for note in notes[:NOTES_PER_HELLO]]
        return [keep, Send("\n\n".join(shown) if shown else turn.t("notes.on"))]
    await repo.delete_notes(turn.session, [note.note_id for note in notes])
    participant.notes_allowed = False
    refused = [
        SendTo(note.family_chat_id, turn.services.catalogs[note.family_language]("family.notes_off", label=note.relative_label))
        for note in notes
    ]
    return [keep, Send(turn.t("notes.off")), *refused]


def family_panel(t: Translator, links: list[repo.ParticipantLink]) -> tuple[str, InlineKeyboardMarkup | None]:
    """For /privacy: each family member, what they see, and buttons to change or end it."""
    if not links:
        return t("privacy.family_none"), None
    lines = [t("privacy.family_line", name=item.name, share=t(f"share.{item.link.share}")) for item in links]
    rows = []
    for item in links:
        rows.append([_button(t("privacy.family_change", name=item.name), f"sc:{item.link.id}")])
        rows.append([_button(t("privacy.family_remove", name=item.name), f"fr:{item.link.id}")])
    return "\n".join(lines), InlineKeyboardMarkup(rows)
