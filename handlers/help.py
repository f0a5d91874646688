"""/help, and kind answers to whatever the bot does not understand."""

from __future__ import annotations

from handlers.base import Out, Send, Toast, Turn
from handlers.safety import is_coordinator
from storage import repo


async def help_command(turn: Turn) -> list[Out]:
    """Everyone's commands; volunteers and coordinators also see theirs (nobody else learns of them)."""
    parts = [turn.t("help")]
    volunteer = await repo.volunteer_by_chat(turn.session, turn.update.effective_chat.id)
    if volunteer is not None and volunteer.revoked_at is None:
        parts.append(turn.t("help.volunteer"))
    if is_coordinator(turn):
        parts.append(turn.t("help.coordinator"))
    return [Send("\n\n".join(parts))]


async def unknown_command(turn: Turn) -> list[Out]:
    return [Send(turn.t("command.unknown"))]


async def stale_button(turn: Turn) -> list[Out]:
    """Any callback no other handler took: an old, foreign or forged button. It changes nothing."""
    return [Toast(turn.t("button.stale"))]
