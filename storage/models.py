"""Typed SQLAlchemy models. Every time is stored in UTC (see :class:`storage.types.UTCDateTime`)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, Date, ForeignKey, Index, MetaData, String, Text, UniqueConstraint, false, true
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.types import UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Status(enum.StrEnum):
    NEW = "new"  # wrote to the bot, no consent yet: only the chat id is stored
    ONBOARDING = "onboarding"  # consented, choosing settings
    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"


class Participant(Base):
    __tablename__ = "participants"
    # Who may be invited to a group activity (asked every tick while one is upcoming): usually a
    # few among many, so the index keeps that question from reading every participant.
    __table_args__ = (Index("ix_participants_group_opt_in_level", "group_opt_in", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    status: Mapped[str] = mapped_column(String(16), default=Status.NEW)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    consent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    language: Mapped[str | None] = mapped_column(String(8))
    timezone: Mapped[str | None] = mapped_column(String(64))
    window: Mapped[str | None] = mapped_column(String(16))
    rhythm: Mapped[str | None] = mapped_column(String(20))
    # How coordinators (and later the peer team) know this person: random words, never derived.
    alias: Mapped[str | None] = mapped_column(String(40), unique=True)
    # Consent, asked in onboarding: a coordinator may be alerted when a message suggests a crisis.
    crisis_alerts: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Warm notes from family: None until the first note arrives and the participant is asked.
    notes_allowed: Mapped[bool | None]
    # What free text is expected next (for example a typed time zone); None means ordinary text.
    awaiting: Mapped[str | None] = mapped_column(String(32))
    paused_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    blocked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The schedule: the next hello's moment and hello-day. One tick claims the due rows.
    next_hello_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    last_hello_day: Mapped[dt.date | None] = mapped_column(Date)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(36))
    # Failed sends in a row (network, Telegram): the retry waits longer each time.
    send_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    # The quiet spell, the pressure budget's input: hellos sent since the last reply of any kind,
    # and the hello-day of the first of them.
    unanswered: Mapped[int] = mapped_column(default=0, server_default="0")
    quiet_since: Mapped[dt.date | None] = mapped_column(Date)
    # The ladder.
    level: Mapped[int] = mapped_column(default=0, server_default="0")
    level_since: Mapped[dt.date | None] = mapped_column(Date)
    wants_tasks: Mapped[bool] = mapped_column(default=True, server_default=true())
    group_opt_in: Mapped[bool] = mapped_column(default=False, server_default=false())
    step_up_offered_on: Mapped[dt.date | None] = mapped_column(Date)
    step_up_open: Mapped[bool] = mapped_column(default=False, server_default=false())
    step_up_snoozed_until: Mapped[dt.date | None] = mapped_column(Date)
    # The peer team: None until asked; only True puts an anonymized card on the volunteers' board.
    peer_visible: Mapped[bool | None]
    cheers_on: Mapped[bool] = mapped_column(default=True, server_default=true())
    # "I'd like a kind word": when they asked (cleared once a word reached them).
    kind_word_asked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Hello(Base):
    """A hello that was sent; its answer is the check-in for the same day."""

    __tablename__ = "hellos"
    __table_args__ = (UniqueConstraint("participant_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    day: Mapped[dt.date] = mapped_column(Date)
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    message_id: Mapped[int | None] = mapped_column(BigInteger)


class TaskOffer(Base):
    """A small task offered to a participant, and what became of it."""

    __tablename__ = "task_offers"
    __table_args__ = (UniqueConstraint("participant_id", "day", "task_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    task_id: Mapped[str] = mapped_column(String(48))
    level: Mapped[int]
    day: Mapped[dt.date] = mapped_column(Date)  # the hello-day it belongs to
    offered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16))  # with a hello, an easier one, or asked for
    outcome: Mapped[str | None] = mapped_column(String(16))
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    rating: Mapped[int | None]


class SafetyPlan(Base):
    """The participant's own words for hard moments, kept only because they wrote them down."""

    __tablename__ = "safety_plans"

    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True
    )
    warning_signs: Mapped[str | None] = mapped_column(Text)
    what_helps: Mapped[str | None] = mapped_column(Text)
    people_and_places: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class CheckIn(Base):
    """A day the participant showed up. One row per day, so a double tap counts once."""

    __tablename__ = "checkins"

    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16))



class FamilyMember(Base):
    """Someone who invites a relative (usually a parent). May also be a participant."""

    __tablename__ = "family_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    display_name: Mapped[str | None] = mapped_column(String(40))  # how their relative sees them
    language: Mapped[str] = mapped_column(String(8))
    timezone: Mapped[str] = mapped_column(String(64))
    awaiting: Mapped[str | None] = mapped_column(String(48))
    # The weekly note: a weekday (0 = Monday) and a time of day of their choosing.
    note_weekday: Mapped[int] = mapped_column(default=6, server_default="6")
    note_window: Mapped[str] = mapped_column(String(16), default="evening", server_default="evening")
    next_note_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(36))
    tips_seen: Mapped[int] = mapped_column(default=0, server_default="0")
    send_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class FamilyInvite(Base):
    """A single-use invitation link. Only a hash of its token is stored."""

    __tablename__ = "family_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_member_id: Mapped[int] = mapped_column(ForeignKey("family_members.id", ondelete="CASCADE"))
    relative_label: Mapped[str] = mapped_column(String(40))  # the family member's own word for them
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12), default="open")  # open, accepted, declined
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class FamilyLink(Base):
    """A participant and a family member, and what the participant chose to share with them."""

    __tablename__ = "family_links"
    __table_args__ = (UniqueConstraint("family_member_id", "participant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    family_member_id: Mapped[int] = mapped_column(ForeignKey("family_members.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    relative_label: Mapped[str] = mapped_column(String(40))
    share: Mapped[str] = mapped_column(String(16), default="none")  # none, checked_in, count_level
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class FamilyNote(Base):
    """A warm note waiting for the participant's next hello; deleted once delivered or declined."""

    __tablename__ = "family_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("family_links.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ProcessedUpdate(Base):
    """Update ids already taken in by webhook workers, so a retried delivery is handled once."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class Volunteer(Base):
    """A peer volunteer: known to coordinators by number only, to participants not at all."""

    __tablename__ = "volunteers"

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # What free text is expected next: a cheer for the card with this alias.
    awaiting: Mapped[str | None] = mapped_column(String(48))


class VolunteerCode(Base):
    """A single-use, expiring code a coordinator hands to a new volunteer. Only its hash is stored."""

    __tablename__ = "volunteer_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id", ondelete="SET NULL"))


class Cheer(Base):
    """A kind word from the peer team, waiting for (or carried by) the participant's next hello.

    One a participant a day from all volunteers together: the unique key makes that hold even
    when two volunteers tap at once. `day` is the deployment's local date."""

    __tablename__ = "cheers"
    __table_args__ = (UniqueConstraint("participant_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id", ondelete="SET NULL"), index=True)
    day: Mapped[dt.date] = mapped_column(Date)
    phrase: Mapped[int | None]  # a prepared phrase, shown in the participant's own language ...
    text: Mapped[str | None] = mapped_column(Text)  # ... or the volunteer's own words
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    thanked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Activity(Base):
    """A group activity. Its time is stored in UTC and shown to each person in their own zone."""

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    place: Mapped[str] = mapped_column(String(300))
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    zone: Mapped[str] = mapped_column(String(64))  # the coordinator's, in which it was entered
    capacity: Mapped[int]
    min_level: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ActivityReply(Base):
    """A participant invited to an activity, and their answer (None until they tap one)."""

    __tablename__ = "activity_replies"

    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    invited_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(String(8))
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    how_was_it: Mapped[str | None] = mapped_column(String(8))


class Notice(Base):
    """A message waiting for its moment: an invitation, a reminder, a "how was it?", a kind word.

    The tick claims due notices the way it claims hellos, sends them through the rate limiter and
    deletes each once Telegram accepted it; a notice that no longer fits (the activity was
    cancelled, the person paused) is dropped when it comes due."""

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("participant_id", "kind", "activity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), index=True)
    cheer_id: Mapped[int | None] = mapped_column(ForeignKey("cheers.id", ondelete="CASCADE"))
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(36))
    send_failures: Mapped[int] = mapped_column(default=0, server_default="0")
