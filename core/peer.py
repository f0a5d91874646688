"""The peer team's rules: anonymized cards, cheer limits, the kind-word fallback, and the small-count
mask of the coordinators' figures. Plain values in, plain values out.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Set
from dataclasses import dataclass
from enum import StrEnum

from core.streaks import progress

CHEERS_PER_VOLUNTEER_A_DAY = 10  # and one a participant a day from everyone (a unique key holds it)
MAX_CHEER_LENGTH = 200
PHRASES = 6  # prepared cheers, "cheer.phrase.1" ... in both catalogues
THANKS = 3  # anonymous thank-you phrases, "thanks.phrase.1" ...
FALLBACKS = 4  # the bot's own kind words, "kindword.fallback.1" ...
KIND_WORD_WAIT = dt.timedelta(hours=12)  # then the bot sends a gentle word itself
CARDS_PER_PAGE = 5
CODE_DAYS = 7  # how long a volunteer code stays valid
SMALLEST_SHOWN = 5  # coordinators' figures: any count below this is shown as "<5"
QUIET_AFTER = 3  # a participant "went quiet" after this many unanswered hellos in a row

# Codes are read aloud or typed: no 0/O or 1/I/L to confuse.
_CODE_LETTERS = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


class LastSeen(StrEnum):
    TODAY = "today"
    WEEK = "week"
    EARLIER = "earlier"


@dataclass(frozen=True)
class Card:
    """One anonymized card on the peer board: nothing that narrows a person down."""

    alias: str
    level: int
    streak: int
    days_last_7: int
    last_seen: LastSeen
    cheers_on: bool
    asked_kind_word: bool


def last_seen(last_day: dt.date | None, today: dt.date) -> LastSeen:
    """When they last showed up, in coarse buckets only."""
    if last_day is not None and last_day >= today:
        return LastSeen.TODAY
    if last_day is not None and last_day > today - dt.timedelta(days=7):
        return LastSeen.WEEK
    return LastSeen.EARLIER


def card(
    alias: str,
    level: int,
    cheers_on: bool,
    asked_kind_word: bool,
    checkins: Set[dt.date],
    hellos: Set[dt.date],
    today: dt.date,
) -> Card:
    shown = progress(checkins, hellos, today)  # the same forgiving numbers the person sees
    return Card(
        alias=alias,
        level=level,
        streak=shown.current_streak,
        days_last_7=shown.last_7,
        last_seen=last_seen(max((day for day in checkins if day <= today), default=None), today),
        cheers_on=cheers_on,
        asked_kind_word=asked_kind_word,
    )


def may_cheer(sent_today_by_volunteer: int, participant_cheered_today: bool) -> bool:
    """At most ten cheers a volunteer a day, and one a participant a day from everyone together."""
    return sent_today_by_volunteer < CHEERS_PER_VOLUNTEER_A_DAY and not participant_cheered_today


def new_code() -> str:
    """A single-use volunteer code like "K7MQ-2XDP": 31^8 ≈ 8.5e11 possibilities."""
    letters = "".join(secrets.choice(_CODE_LETTERS) for _ in range(8))
    return f"{letters[:4]}-{letters[4:]}"


def normalise_code(text: str) -> str:
    """What a person typed, forgiving case, spaces and a missing dash."""
    letters = "".join(ch for ch in text.upper() if ch.isalnum())
    return f"{letters[:4]}-{letters[4:]}" if len(letters) == 8 else letters


def shown_count(n: int) -> str:
    """A count as coordinators see it: below five it could point at a person, so "<5"."""
    return f"<{SMALLEST_SHOWN}" if n < SMALLEST_SHOWN else str(n)
