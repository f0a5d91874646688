"""Group activities: which messages an answer brings, and when. Plain values in, plain values out.

An invitation goes once to each participant at or above the activity's lowest step who opted in to
group activities. "I'll come" and "Maybe" get a reminder the day before and two hours before;
afterwards everyone who said they'd come or might gets a gentle "how was it?", and those who asked
to be told how it went get a short word. Nothing is ever sent about who did not come.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum


class Answer(StrEnum):
    COME = "come"
    MAYBE = "maybe"
    TELL = "tell"  # not coming; "just tell me how it went"


class NoticeKind(StrEnum):
    INVITE = "invite"
    REMIND_DAY = "remind_day"
    REMIND_SOON = "remind_soon"
    FOLLOW_UP = "follow_up"  # "how was it?" to those who said they'd come or might
    HOW_IT_WENT = "how_it_went"  # to those who asked to be told
    CHANGED = "changed"
    CANCELLED = "cancelled"
    CHEER = "cheer"  # a kind word a participant asked for, from a volunteer
    KIND_WORD = "kind_word"  # the bot's own, when no volunteer answered in time


class HowWasIt(StrEnum):
    GOOD = "good"
    HARD = "hard"
    SKIPPED = "skipped"  # "I didn't go this time": fine, no consequence

    @property
    def counts_as_step(self) -> bool:
        return self is not HowWasIt.SKIPPED


REMIND_DAY_BEFORE = dt.timedelta(hours=24)
REMIND_SOON_BEFORE = dt.timedelta(hours=2)
FOLLOW_UP_AFTER = dt.timedelta(hours=3)
# An invitation waits for the participant's next hello, unless that is too close to the day.
INVITE_LEAD = dt.timedelta(hours=26)
# An invitation that may not go yet during a quiet spell (core.backoff.may_invite) is looked at
# again a day later, at the same time of day (usually that of a hello, inside their window) ...
INVITE_QUIET_HOLD = dt.timedelta(days=1)
# ... and one that waits for another worker's hello to be sent, a minute later.
INVITE_BUSY_HOLD = dt.timedelta(minutes=1)

ACTIVITY_NOTICES = (NoticeKind.REMIND_DAY, NoticeKind.REMIND_SOON, NoticeKind.FOLLOW_UP, NoticeKind.HOW_IT_WENT)


def notices_for(answer: Answer, starts_at: dt.datetime, now: dt.datetime) -> list[tuple[NoticeKind, dt.datetime]]:
    """The messages an answer brings: (kind, when), only those still in the future."""
    if answer is Answer.TELL:
        planned = [(NoticeKind.HOW_IT_WENT, starts_at + FOLLOW_UP_AFTER)]
    else:
        planned = [
            (NoticeKind.REMIND_DAY, starts_at - REMIND_DAY_BEFORE),
            (NoticeKind.REMIND_SOON, starts_at - REMIND_SOON_BEFORE),
            (NoticeKind.FOLLOW_UP, starts_at + FOLLOW_UP_AFTER),
        ]
    return [(kind, at) for kind, at in planned if at > now]


def invite_at(next_hello_at: dt.datetime | None, starts_at: dt.datetime, now: dt.datetime) -> dt.datetime:
    """With the next hello (at a time of day the person chose), or now if that comes too late."""
    if next_hello_at is not None and now <= next_hello_at <= starts_at - INVITE_LEAD:
        return next_hello_at
    return now


def has_room(coming: int, capacity: int) -> bool:
    return coming < capacity
