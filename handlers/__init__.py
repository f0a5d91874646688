"""Telegram updates, by feature. :func:`register` wires them into an Application in a fixed order."""

from __future__ import annotations

from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from handlers import (
    activities,
    checkin,
    coordinator,
    family,
    help as help_,
    onboarding,
    pause,
    peer,
    privacy,
    progress,
    safety,
    tasks,
)
from handlers.base import Out, Turn, handler
from handlers.errors import on_error
from handlers.onboarding import AWAITING_TIMEZONE
from storage import repo

# New messages in private chats. Edits are left alone: an edited "/stop" must not stop anything.
PRIVATE = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
# Everything else a person can send (stickers, photos, voice, files...): thanked, counted, never kept.
OTHER_MESSAGES = PRIVATE & ~filters.TEXT & ~filters.StatusUpdate.ALL

# The command menu, in this order. Volunteers' and coordinators' commands are left out of it on
# purpose: /help for those roles lists them.
COMMANDS = (
    "start", "task", "progress", "settings", "pause", "resume", "stop", "kindword", "activities",
    "safetyplan", "privacy", "mydata", "forget", "family", "tips", "help",
)
COORDINATOR_COMMANDS = {
    "newcode": coordinator.newcode_command,
    "volunteers": coordinator.volunteers_command,
    "newactivity": coordinator.newactivity_command,
    "editactivity": coordinator.editactivity_command,
    "cancelactivity": coordinator.cancelactivity_command,
    "figures": coordinator.figures_command,
}


async def _plain_text(turn: Turn) -> list[Out]:
    """Words: an answer the bot asked for, a sign of crisis, or simply showing up."""
    participant = turn.participant
    awaiting = participant.awaiting if participant is not None else None
    crisis = turn.services.crisis.matches(turn.update.effective_message.text or "")
    if awaiting and awaiting.startswith(safety.AWAITING_PLAN):
        saved = await safety.plan_text(turn)  # their own plan, kept as written ...
        return await safety.crisis_reply(turn) if crisis else saved  # ... and numbers first if needed
    relayed = await safety.reach_reply_text(turn) if awaiting == safety.AWAITING_REACH_REPLY else []
    if crisis:
        return relayed + await safety.crisis_reply(turn)  # safety before anything else
    if relayed:
        return relayed
    chat_id = turn.update.effective_chat.id
    volunteer_asked, family_asked = (
        turn.prompts if turn.prompts is not None else await repo.prompts_waiting(turn.session, chat_id)
    )
    if volunteer_asked:
        return await peer.volunteer_text(turn, await repo.volunteer_by_chat(turn.session, chat_id))
    if family_asked:
        return await family.family_text(turn, await repo.family_member_by_chat(turn.session, chat_id))
    if awaiting == AWAITING_TIMEZONE:
        return await onboarding.typed_timezone(turn)
    return await checkin.text(turn)


async def _activities(turn: Turn) -> list[Out]:
    """/activities: a coordinator sees every upcoming one with its numbers; a participant, theirs."""
    outs = await coordinator.coordinator_activities(turn) if safety.is_coordinator(turn) else []
    if not outs or (turn.participant is not None and turn.participant.group_opt_in):
        outs += await activities.activities_command(turn)
    return outs


def register(application: Application) -> None:
    add = application.add_handler
    add(CommandHandler("start", handler(onboarding.start), filters=PRIVATE))
    add(CommandHandler("settings", handler(onboarding.settings_command), filters=PRIVATE))
    add(CommandHandler("progress", handler(progress.progress_command), filters=PRIVATE))
    add(CommandHandler("task", handler(tasks.task_command), filters=PRIVATE))
    add(CommandHandler("pause", handler(pause.pause_command), filters=PRIVATE))
    add(CommandHandler("resume", handler(pause.resume_command), filters=PRIVATE))
    add(CommandHandler("stop", handler(pause.stop_command), filters=PRIVATE))
    add(CommandHandler("help", handler(help_.help_command), filters=PRIVATE))
    add(CommandHandler("safetyplan", handler(safety.plan_command), filters=PRIVATE))
    add(CommandHandler("privacy", handler(privacy.privacy_command), filters=PRIVATE))
    add(CommandHandler("mydata", handler(privacy.mydata_command), filters=PRIVATE))
    add(CommandHandler("forget", handler(privacy.forget_command), filters=PRIVATE))
    add(CommandHandler("reach", handler(safety.reach_command), filters=PRIVATE))
    add(CommandHandler("family", handler(family.family_command), filters=PRIVATE))
    add(CommandHandler("tips", handler(family.tips_command), filters=PRIVATE))
    add(CommandHandler("volunteer", handler(peer.volunteer_command), filters=PRIVATE))
    add(CommandHandler("streaks", handler(peer.streaks_command), filters=PRIVATE))
    add(CommandHandler("kindword", handler(peer.kindword_command), filters=PRIVATE))
    add(CommandHandler("activities", handler(_activities), filters=PRIVATE))
    for name, command in COORDINATOR_COMMANDS.items():
        add(CommandHandler(name, handler(command), filters=PRIVATE))

    add(CallbackQueryHandler(handler(onboarding.consent), pattern=r"^c:"))
    add(CallbackQueryHandler(handler(onboarding.summary_answer), pattern=r"^s:"))
    add(CallbackQueryHandler(handler(onboarding.settings_answer), pattern=r"^set:"))
    add(CallbackQueryHandler(handler(checkin.hello_button), pattern=r"^h:"))
    add(CallbackQueryHandler(handler(checkin.sample_button), pattern=r"^sample:"))
    add(CallbackQueryHandler(handler(tasks.task_button), pattern=r"^t:"))
    add(CallbackQueryHandler(handler(tasks.rating_button), pattern=r"^r:"))
    add(CallbackQueryHandler(handler(tasks.step_up_button), pattern=r"^e:"))
    add(CallbackQueryHandler(handler(tasks.smaller_button), pattern=r"^sm:"))
    add(CallbackQueryHandler(handler(onboarding.alerts_answer), pattern=r"^ca:"))
    add(CallbackQueryHandler(handler(safety.crisis_button), pattern=r"^cr:"))
    add(CallbackQueryHandler(handler(safety.reach_reply_button), pattern=r"^rr:"))
    add(CallbackQueryHandler(handler(safety.plan_button), pattern=r"^pl:"))
    add(CallbackQueryHandler(handler(privacy.privacy_button), pattern=r"^pv:"))
    add(CallbackQueryHandler(handler(privacy.forget_button), pattern=r"^f:"))
    add(CallbackQueryHandler(handler(family.family_button), pattern=r"^fm:"))
    add(CallbackQueryHandler(handler(family.wellbeing_button), pattern=r"^fw:"))
    add(CallbackQueryHandler(handler(family.invite_answer), pattern=r"^iv:"))
    add(CallbackQueryHandler(handler(family.share_button), pattern=r"^sh:"))
    add(CallbackQueryHandler(handler(family.share_change_button), pattern=r"^sc:"))
    add(CallbackQueryHandler(handler(family.remove_button), pattern=r"^fr:"))
    add(CallbackQueryHandler(handler(family.notes_button), pattern=r"^nt:"))
    add(CallbackQueryHandler(handler(pause.pause_choice), pattern=r"^p:"))
    add(CallbackQueryHandler(handler(peer.volunteer_agree), pattern=r"^vo:"))
    add(CallbackQueryHandler(handler(peer.board_button), pattern=r"^vb:"))
    add(CallbackQueryHandler(handler(peer.cheer_button), pattern=r"^vc:"))
    add(CallbackQueryHandler(handler(peer.phrase_button), pattern=r"^vp:"))
    add(CallbackQueryHandler(handler(peer.own_words_button), pattern=r"^vw:"))
    add(CallbackQueryHandler(handler(peer.peer_answer), pattern=r"^pe:"))
    add(CallbackQueryHandler(handler(peer.thank_button), pattern=r"^ty:"))
    add(CallbackQueryHandler(handler(peer.thanks_phrase_button), pattern=r"^tq:"))
    add(CallbackQueryHandler(handler(activities.answer_button), pattern=r"^ar:"))
    add(CallbackQueryHandler(handler(activities.how_was_it_button), pattern=r"^ah:"))
    add(CallbackQueryHandler(handler(coordinator.revoke_button), pattern=r"^vx:"))
    add(CallbackQueryHandler(handler(help_.stale_button)))

    add(MessageHandler(PRIVATE & filters.COMMAND, handler(help_.unknown_command)))
    add(MessageHandler(PRIVATE & filters.TEXT, handler(_plain_text)))
    add(MessageHandler(OTHER_MESSAGES, handler(checkin.media)))

    application.add_error_handler(on_error)
