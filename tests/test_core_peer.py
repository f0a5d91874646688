"""The peer team's and the activities' pure rules, tested directly."""

from __future__ import annotations

import datetime as dt

from core.activities import Answer, HowWasIt, NoticeKind, has_room, invite_at, notices_for
from core.peer import LastSeen, card, last_seen, may_cheer, new_code, normalise_code, shown_count

TODAY = dt.date(2026, 3, 10)
UTC = dt.UTC


def test_last_seen_is_only_ever_a_coarse_bucket() -> None:
    assert last_seen(TODAY, TODAY) is LastSeen.TODAY
    assert last_seen(TODAY - dt.timedelta(days=1), TODAY) is LastSeen.WEEK
    assert last_seen(TODAY - dt.timedelta(days=6), TODAY) is LastSeen.WEEK
    assert last_seen(TODAY - dt.timedelta(days=7), TODAY) is LastSeen.EARLIER
    assert last_seen(None, TODAY) is LastSeen.EARLIER


def test_a_card_shows_the_same_forgiving_streak_as_progress() -> None:
    days = {TODAY - dt.timedelta(days=n) for n in (0, 1, 3, 4, 20)}
    hellos = days | {TODAY - dt.timedelta(days=2)}  # one missed day is bridged
    c = card("quiet-fern-42", 2, True, False, days, hellos, TODAY)
    # Days with no hello (rest) never break a run, so the check-in 20 days ago still counts.
    assert (c.streak, c.days_last_7, c.last_seen) == (5, 4, LastSeen.TODAY)
    # A check-in after "today" (another zone's tomorrow) is not counted yet.
    later = card("quiet-fern-42", 2, True, False, {TODAY + dt.timedelta(days=1)}, set(), TODAY)
    assert (later.days_last_7, later.last_seen) == (0, LastSeen.EARLIER)


def test_cheer_limits() -> None:
    assert may_cheer(0, False) and may_cheer(9, False)
    assert not may_cheer(10, False)  # ten a volunteer a day
    assert not may_cheer(0, True)  # one a participant a day, from everyone


def test_codes_are_forgiving_to_type_and_have_no_look_alike_letters() -> None:
    code = new_code()
    assert len(code) == 9 and code[4] == "-" and not set(code) & set("01OIL")
    assert normalise_code(code.lower().replace("-", " ")) == code
    assert normalise_code(" k7mq 2xdp ") == "K7MQ-2XDP"


def test_any_count_below_five_is_hidden() -> None:
    assert [shown_count(n) for n in (0, 1, 4, 5, 12)] == ["<5", "<5", "<5", "5", "12"]


def test_what_each_answer_brings_and_when() -> None:
    starts = dt.datetime(2026, 3, 7, 5, 0, tzinfo=UTC)
    now = starts - dt.timedelta(days=3)
    assert notices_for(Answer.COME, starts, now) == [
        (NoticeKind.REMIND_DAY, starts - dt.timedelta(hours=24)),
        (NoticeKind.REMIND_SOON, starts - dt.timedelta(hours=2)),
        (NoticeKind.FOLLOW_UP, starts + dt.timedelta(hours=3)),
    ]
    assert notices_for(Answer.MAYBE, starts, now) == notices_for(Answer.COME, starts, now)
    assert notices_for(Answer.TELL, starts, now) == [(NoticeKind.HOW_IT_WENT, starts + dt.timedelta(hours=3))]
    # Answered an hour before: the reminders that have passed are not sent late.
    assert [kind for kind, _ in notices_for(Answer.COME, starts, starts - dt.timedelta(hours=1))] == [NoticeKind.FOLLOW_UP]


def test_an_invitation_waits_for_the_next_hello_unless_that_is_too_late() -> None:
    starts = dt.datetime(2026, 3, 7, 5, 0, tzinfo=UTC)
    now = starts - dt.timedelta(days=5)
    hello = now + dt.timedelta(hours=9)
    assert invite_at(hello, starts, now) == hello
    assert invite_at(starts - dt.timedelta(hours=20), starts, now) == now  # too close to the day
    assert invite_at(None, starts, now) == now  # no hello planned (paused, quiet)


def test_capacity_and_what_counts_as_a_step() -> None:
    assert has_room(7, 8) and not has_room(8, 8)
    assert HowWasIt.GOOD.counts_as_step and HowWasIt.HARD.counts_as_step
    assert not HowWasIt.SKIPPED.counts_as_step
