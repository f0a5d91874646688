"""Typed SQLAlchemy models. Every time is stored in UTC (see :class:`storage.types.UTCDateTime`)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, Date, ForeignKey, MetaData, String, Text, UniqueConstraint, false, true
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
    # What free text is expected next (for example a typed time zone); None means ordinary text.
    awaiting: Mapped[str | None] = mapped_column(String(32))
    paused_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    blocked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The schedule: the next hello's moment and hello-day. One tick claims the due rows.
    next_hello_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    last_hello_day: Mapped[dt.date | None] = mapped_column(Date)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(36))
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

