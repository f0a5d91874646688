"""The pressure budget: a participant who goes quiet hears from the bot less, never more.

After a few unanswered hellos the rhythm slows, then settles into one "the door is open" message
a week; the first reply of any kind restores the chosen rhythm. Every number lives in
:data:`BUDGET`; the simulation (`python -m bot simulate`) checks the promised ceilings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class PressureBudget:
    slow_after: int = 3  # unanswered hellos after which the rhythm slows ...
    slow_gap_days: int = 3  # ... to at most one hello every this many days
    door_after: int = 4  # unanswered hellos after which only the weekly "door is open" message goes
    door_gap_days: int = 7
    # The ceilings promised for someone who never answers (messages per week of silence).
    week_1_max: int = 4
    week_2_max: int = 2
    weekly_max_after: int = 1


BUDGET = PressureBudget()


def min_gap_days(unanswered: int, budget: PressureBudget = BUDGET) -> int:
    """The fewest hello-days from one hello to the next, with `unanswered` hellos since the last reply."""
    if unanswered >= budget.door_after:
        return budget.door_gap_days
    if unanswered >= budget.slow_after:
        return budget.slow_gap_days
    return 1


def is_door_message(unanswered: int, budget: PressureBudget = BUDGET) -> bool:
    """Whether the next message is the weekly "the door is open" one instead of a hello."""
    return unanswered >= budget.door_after


def welcomes_back(unanswered: int, budget: PressureBudget = BUDGET) -> bool:
    """Whether a reply now ends a quiet spell (the rhythm had slowed): restore it, say welcome back."""
    return unanswered >= budget.slow_after


def budget_breaches(message_days: Iterable[int], budget: PressureBudget = BUDGET) -> list[str]:
    """Weeks in which someone who never answered got more than promised.

    `message_days` are the days on which messages arrived, one entry per message, counted from 0 at
    the first one: the weeks are the weeks of the silence.
    """
    per_week = Counter(day // 7 for day in message_days)
    breaches = []
    for week, count in sorted(per_week.items()):
        ceiling = budget.week_1_max if week == 0 else budget.week_2_max if week == 1 else budget.weekly_max_after
        if count > ceiling:
            breaches.append(f"week {week + 1}: {count} messages (at most {ceiling})")
    return breaches
