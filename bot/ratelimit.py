"""Outgoing request pacing that never loses a message to flood control.

PTB's ``AIORateLimiter()`` with its defaults lets 30 messages go out in a burst and, once
Telegram answers 429 ("Too Many Requests: retry after N"), it only retries if asked to;
a lost reply to a withdrawn user is exactly what this bot must not do. This limiter:

* paces every request aimed at a chat through one smooth limiter at ``overall_rate`` per
  second (its bucket holds one and a half messages, so there is never a burst, and a timer
  that fires late is made up by the next message), staying under Telegram's 30/s in every
  second;
* gives each next slot to a reply before any scheduled bulk message
  (``rate_limit_args={"bulk": True}``) that waits, so a reply to a person never queues behind
  a fan-out of hellos, and the hellos still use every slot the replies leave;
* spaces new messages to one chat (``send…`` methods, not bulk) at least ``chat_interval``
  seconds apart, so a reply in two messages never meets Telegram's per-chat limit — whose 429
  would pause everyone (a bulk send goes to each chat once per tick, so it needs no spacing);
* on ``RetryAfter`` pauses *all* requests until Telegram's retry moment and then retries,
  up to ``max_retries`` times;
* never retries anything else: a ``TimedOut`` send may well have been delivered, and a
  blind resend would show the user the message twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import itertools
import logging
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

__all__ = ["PacedRateLimiter", "retry_after_seconds"]

_LOGGER = logging.getLogger("komorebi.ratelimit")

# How far past one message the pacing buckets hold (a fraction of a message). A timer never fires
# exactly on time; with a bucket of exactly one message, each late wake-up's delay was lost for
# good (about 1 ms in 34, 3% of the pace, measured in bench/limits.py). Half a message of room lets
# the next request make that up. It cannot add up to a burst: in any second, a bucket of 1.5
# draining at 29/s lets through at most 1.5 + 29 messages, so still at most 30.
_SLACK = 0.5

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]


def retry_after_seconds(error: RetryAfter) -> float:
    """The wait a :class:`~telegram.error.RetryAfter` asks for, in seconds.

    PTB 22.x deprecates reading ``retry_after`` as an int (it warns on access and will
    become a :class:`datetime.timedelta`); this reads it quietly and accepts both.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = error.retry_after
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return float(value)


class _Turns:
    """Whose turn it is to wait for the next slot: one request at a time. The turn goes to the
    request waiting longest among those that are not bulk, and only when none waits, to the bulk
    request waiting longest. (aiolimiter alone would let a newcomer take a freed slot before
    those already waiting.)"""

    def __init__(self) -> None:
        self._busy = False
        self._waiting: list[tuple[bool, int, asyncio.Future[None]]] = []  # (bulk, arrival, future)
        self._arrivals = itertools.count()

    async def take(self, *, bulk: bool) -> None:
        """Wait for the turn; :meth:`give_back` must follow (a cancelled wait takes nothing)."""
        if self._busy:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiting, (bulk, next(self._arrivals), future))
            try:
                await future
            except asyncio.CancelledError:
                if future.done() and not future.cancelled():
                    self._pass_on()  # the turn came just as this request was cancelled
                raise
        self._busy = True

    def give_back(self) -> None:
        self._pass_on()

    def _pass_on(self) -> None:
        while self._waiting:
            future = heapq.heappop(self._waiting)[2]
            if not future.done():  # not cancelled while waiting
                future.set_result(None)
                return
        self._busy = False


class PacedRateLimiter(BaseRateLimiter[dict[str, Any]]):
    """A :class:`telegram.ext.BaseRateLimiter` with smooth pacing and flood-control retries.

    Args:
        overall_rate: Requests per second for everything sent to a chat.
        bulk_rate: An optional cap, in requests per second, for bulk sends
            (``rate_limit_args={"bulk": True}``) on top of ``overall_rate``. Without it they
            use every slot that replies leave (replies always go first).
        max_retries: How many times a request is retried after ``RetryAfter``; after that
            the ``RetryAfter`` is raised to the caller.
        sleep: Awaited with a number of seconds to wait out flood control. Tests pass a fake
            that records the durations and returns at once.

    Requests without a ``chat_id`` (``getMe``, ``answerCallbackQuery``, ...) are not paced,
    but they do wait out a flood-control pause and are retried like the others.
    ``getUpdates`` never reaches a rate limiter (PTB bypasses it).
    """

    def __init__(
        self,
        overall_rate: float = 29.0,
        bulk_rate: float | None = None,
        max_retries: int = 5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        chat_interval: float = 1.05,  # Telegram's one a second, and a little room for the network
    ) -> None:
        if overall_rate <= 0 or (bulk_rate is not None and bulk_rate <= 0):
            raise ValueError("rates must be positive")
        if max_retries < 0:
            raise ValueError("max_retries must not be negative")
        self._overall_rate = overall_rate
        self._bulk_rate = bulk_rate
        self._max_retries = max_retries
        self._sleep = sleep
        self._chat_interval = chat_interval
        # Chat id -> the loop time its next new message may go. Entries in the past are dropped
        # now and then, so this holds only the chats written to in the last second or so.
        self._chat_next: dict[object, float] = {}
        self._overall, self._bulk = self._new_limiters()
        self._turns = _Turns()
        # Flood-control pause shared by all requests: the event loop time at which sending
        # may resume, and a counter bumped by every new pause.
        self._resume_at = 0.0
        self._pause_generation = 0

    def _new_limiters(self) -> tuple[AsyncLimiter, AsyncLimiter | None]:
        # Capacity 1 + _SLACK: a request may go every 1/rate seconds, and nothing accumulates into
        # a burst while the bot is idle (at most 1.5 messages' worth).
        def limiter(rate: float) -> AsyncLimiter:
            return AsyncLimiter(1 + _SLACK, (1 + _SLACK) / rate)

        return limiter(self._overall_rate), (limiter(self._bulk_rate) if self._bulk_rate is not None else None)

    async def initialize(self) -> None:
        """Start from a clean state (limiters are bound to the running event loop)."""
        self._overall, self._bulk = self._new_limiters()
        self._turns = _Turns()
        self._chat_next = {}
        self._resume_at = 0.0
        self._pause_generation = 0

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | None,
    ) -> JSONResult:
        """Pace the request, call it, and retry it after flood control.

        Args:
            rate_limit_args: ``None``, or a dict; ``{"bulk": True}`` marks a scheduled
                bulk send that may be slowed down in favour of interactive replies.
        """
        if rate_limit_args is not None and not isinstance(rate_limit_args, dict):
            raise TypeError(
                f"rate_limit_args must be a dict such as {{'bulk': True}}, "
                f"not {type(rate_limit_args).__name__}"
            )
        bulk = bool(rate_limit_args and rate_limit_args.get("bulk"))
        paced = data.get("chat_id") is not None
        spaced = paced and not bulk and endpoint.startswith("send")
        if spaced:
            await self._space_in_chat(data["chat_id"])

        for attempt in range(self._max_retries + 1):
            await self._wait_turn(paced=paced, bulk=bulk)
            if spaced:  # the spacing counts from when it really goes, after any wait for a slot
                self._booked(data["chat_id"], asyncio.get_running_loop().time())
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                seconds = retry_after_seconds(error)
                if attempt == self._max_retries:
                    _LOGGER.warning(
                        "Flood control on %s: giving up after %d retries",
                        endpoint,
                        self._max_retries,
                    )
                    raise
                self._pause(seconds)
                _LOGGER.info(
                    "Flood control on %s: waiting %.1f s before retrying", endpoint, seconds
                )
        raise AssertionError("unreachable")  # pragma: no cover

    async def _space_in_chat(self, chat_id: object) -> None:
        """Wait until this chat may get its next new message, and book the slot after it."""
        now = asyncio.get_running_loop().time()
        if len(self._chat_next) > 1000:
            self._chat_next = {chat: at for chat, at in self._chat_next.items() if at > now}
        at = max(now, self._chat_next.get(chat_id, 0.0))
        self._booked(chat_id, at)  # held now, so a concurrent send to this chat queues behind it
        if at > now:
            await self._sleep(at - now)

    def _booked(self, chat_id: object, sent_at: float) -> None:
        self._chat_next[chat_id] = max(self._chat_next.get(chat_id, 0.0), sent_at + self._chat_interval)

    def _pause(self, seconds: float) -> None:
        """Hold every request back until ``seconds`` from now (never shortens a pause)."""
        resume_at = asyncio.get_running_loop().time() + seconds
        if resume_at > self._resume_at:
            self._resume_at = resume_at
            self._pause_generation += 1

    async def _wait_out_pause(self) -> int:
        """Wait until no flood-control pause is running; return the pause generation seen.

        After each ``sleep`` the wait ends unless a *new* pause began meanwhile; the clock
        is not re-checked, so a fake ``sleep`` that returns at once cannot make this spin.
        """
        loop = asyncio.get_running_loop()
        while True:
            generation = self._pause_generation
            delay = self._resume_at - loop.time()
            if delay > 0:
                await self._sleep(delay)
            if self._pause_generation == generation:
                return generation

    async def _wait_turn(self, *, paced: bool, bulk: bool) -> None:
        """Wait out any pause, then for a slot in the limiters that apply."""
        loop = asyncio.get_running_loop()
        while True:
            generation = self._pause_generation
            if self._resume_at > loop.time():
                generation = await self._wait_out_pause()
            if not paced:
                return
            if bulk and self._bulk is not None:
                await self._bulk.acquire()
            await self._turns.take(bulk=bulk)
            try:
                await self._overall.acquire()
            finally:
                self._turns.give_back()
            # If flood control began while we queued for a slot, queue again after it, so
            # the requests held back do not all go out at once when it ends.
            if self._pause_generation == generation:
                return
