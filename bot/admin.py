"""`python -m bot admin ...`: the coordinators' tools without Telegram, on the same operations as
the coordinator bot commands (handlers/coordinator.py). What it changes, the tick sends."""

from __future__ import annotations

import argparse
import sys
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.i18n import Catalogs
from core.clock import Clock, SystemClock
from handlers import coordinator
from storage.db import create_engine, migrate, session_factory


async def run_admin(settings: Settings, args: argparse.Namespace, clock: Clock | None = None) -> int:
    """Run one admin tool; prints its result and returns the exit status."""
    t = Catalogs()[args.language or settings.default_language]
    now = (clock or SystemClock()).now()
    zone = settings.default_timezone
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        async with session_factory(engine)() as session:
            try:
                text = await _tool(session, args, t, now, zone)
            except coordinator.FormError as exc:
                print(t(str(exc)), file=sys.stderr)
                return 2
            if text is None:
                print(t("admin.activity.not_found" if args.tool.startswith("activity") else "admin.volunteers.not_found"), file=sys.stderr)
                return 1
            await session.commit()
    finally:
        await engine.dispose()
    print(text)
    return 0


async def _tool(session, args: argparse.Namespace, t, now, zone: str) -> str | None:  # type: ignore[no-untyped-def]
    tool = args.tool
    if tool == "code":
        code, expires = await coordinator.issue_code(session, now)
        return t("admin.code", code=code, until=coordinator.local_date(expires, zone))
    if tool == "volunteers":
        return await coordinator.volunteers_text(session, t, now, zone)
    if tool == "revoke":
        volunteer = await coordinator.revoke(session, args.volunteer, now)
        return t("admin.volunteers.revoked_now", id=args.volunteer) if volunteer else None
    if tool == "activities":
        return await coordinator.activities_text(session, t, now)
    if tool in ("activity-add", "activity-edit"):
        form = coordinator.make_form(args.at, args.title, args.place, args.capacity, args.level)
        if tool == "activity-add":
            activity = await coordinator.create_activity(session, form, zone, now)
            return t("admin.activity.created", id=activity.id, title=activity.title)
        activity = await coordinator.edit_activity(session, args.activity, form, now)
        return t("admin.activity.edited", id=activity.id, title=activity.title) if activity else None
    if tool == "activity-cancel":
        activity = await coordinator.cancel_activity(session, args.activity, now)
        return t("admin.activity.cancelled", id=activity.id, title=activity.title) if activity else None
    today = now.astimezone(ZoneInfo(zone)).date()
    return await coordinator.figures_text(session, t, today)
