"""/help, and kind answers to whatever the bot does not understand."""

from __future__ import annotations

from handlers.base import Out, Send, Toast, Turn


async def help_command(turn: Turn) -> list[Out]:
    return [Send(turn.t("help"))]


async def unknown_command(turn: Turn) -> list[Out]:
    return [Send(turn.t("command.unknown"))]


async def stale_button(turn: Turn) -> list[Out]:
    """Any callback no other handler took: an old, foreign or forged button. It changes nothing."""
    return [Toast(turn.t("button.stale"))]
