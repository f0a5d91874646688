"""The pressure budget: a participant who goes quiet hears from the bot less, never more.

A quiet spell starts with the first hello that gets no reply. After a few unanswered hellos the
rhythm slows; after a few more — or once the spell is a week old, whatever the rhythm — it settles
into one "the door is open" message a week. The first reply of any kind ends the spell and restores
the chosen rhythm. Every number lives in :data:`BUDGET`; `python -m bot simulate` checks the
promised ceilings over weeks of simulated silence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class PressureBudget:
    slow_after: int = 3  # unanswered hellos after which the rhythm slows ...
    slow_gap_days: int = 3  # ... to at most one hello every this many days
    door_after: int = 4  # unanswered hellos after which only the weekly "door is open" message goes,
    door_after_days: int = 7  # ... and also once a quiet spell is this many days old
    door_gap_days: int = 7
    # The ceilings promised for someone who never answers (messages per week of the quiet spell).
    week_1_max: int = 4
    week_2_max: int = 2
    weekly_max_after: int = 1
    # A group invitation is a message of its own: it goes only while at most this many messages are
    # unanswered (the hello it comes with), and it then counts as one more (see may_invite).
    invite_while_unanswered: int = 1


BUDGET = PressureBudget()


def in_door_phase(unanswered: int, quiet_days: int, budget: PressureBudget = BUDGET) -> bool:
    """Whether a quiet spell has settled into the weekly "the door is open" message.

    `unanswered` hellos went without a reply since the last one, over `quiet_days` days (from the
    hello-day of the first unanswered hello to the hello-day in question).
    """
    return unanswered >= budget.door_after or (unanswered > 0 and quiet_days >= budget.door_after_days)


def min_gap_days(unanswered: int, quiet_days: int, budget: PressureBudget = BUDGET) -> int:
    """The fewest hello-days from the hello just sent to the next one."""
    if in_door_phase(unanswered, quiet_days, budget):
        return budget.door_gap_days
    if unanswered >= budget.slow_after:
        return budget.slow_gap_days
    return 1


def welcomes_back(unanswered: int, budget: PressureBudget = BUDGET) -> bool:
    """Whether a reply now ends a quiet spell in which the bot had slowed down: restore the rhythm
    and say a plain welcome back."""
    return unanswered >= budget.slow_after


def may_invite(unanswered: int, budget: PressureBudget = BUDGET) -> bool:
    """Whether a group invitation may go now, or waits for the person's next reply.

    It goes only if they answered the hello before the latest one, and it counts in the quiet
    spell like a hello, so the hellos after it slow down one step sooner. Whoever goes quiet then
    gets, with it, no more than the budget: hello and invitation, a hello the next day, one three
    days later, then the weekly door. An invitation in a longer spell waits for a reply.
    """
    return unanswered <= budget.invite_while_unanswered


def budget_breaches(message_days: Iterable[int], budget: PressureBudget = BUDGET) -> list[str]:
    """Weeks in which someone who never answered got more than promised.

    `message_days` are the days on which messages arrived, one entry per message, counted from 0 at
    the first one: the weeks are the weeks of the quiet spell.
    """
    per_week = Counter(day // 7 for day in message_days)
    breaches = []
    for week, count in sorted(per_week.items()):
        ceiling = budget.week_1_max if week == 0 else budget.week_2_max if week == 1 else budget.weekly_max_after
        if count > ceiling:
            breaches.append(f"week {week + 1}: {count} messages (at most {ceiling})")
    return breaches


# When a message could not be sent for reasons that are not the person's (a network failure,
# Telegram's servers), it is tried again after a delay that doubles with each failure in a row.
RETRY_FIRST_SECONDS = 60
RETRY_MAX_SECONDS = 30 * 60


def retry_delay_seconds(failures_before: int) -> int:
    """The wait before the next try, after `failures_before` earlier failures in a row (0 for the
    first): 1, 2, 4, 8, 16 minutes, then every 30 minutes."""
    return min(RETRY_FIRST_SECONDS * 2 ** min(failures_before, 16), RETRY_MAX_SECONDS)
