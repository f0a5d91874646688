"""Aliases: how a participant is named to coordinators (and later the peer team).

Random words, chosen once and stored — never derived from an id, a name or anything else, so an
alias says nothing about the person behind it.
"""

from __future__ import annotations

import random

QUALITIES = (
    "quiet", "gentle", "calm", "soft", "bright", "warm", "still", "early", "late", "slow",
    "clear", "kind", "light", "green", "blue", "silver", "misty", "sunny", "windy", "steady",
)
THINGS = (
    "fern", "maple", "cedar", "moss", "pebble", "river", "cloud", "meadow", "willow", "lantern",
    "harbor", "orchard", "sparrow", "heron", "tide", "ember", "acorn", "brook", "hill", "leaf",
)


def make_alias(rng: random.Random) -> str:
    """For example "quiet-fern-42": 20 × 20 × 90 = 36,000 combinations; callers retry on a clash."""
    return f"{rng.choice(QUALITIES)}-{rng.choice(THINGS)}-{rng.randint(10, 99)}"
