"""The policy core of the event writers: what ``EventWriter`` and ``AsyncEventWriter`` decide, without I/O.

Nothing here opens a connection, starts a thread or touches an event loop. The two shells hold the
connections, the locks and the waiting (``pgchallenge.writer``: a thread per lane; ``pgchallenge.awriter``:
a task per lane) and ask this module every question, so each rule is written once:

- partitioning: ``partition_of`` sends a user's events to one of the writer's ``connections`` lanes (one
  flusher and one connection each), which keeps a user's events in submission order;
- batching: a ``Lane`` queues its events and says when the next batch is due (full, the flush interval
  passed, a flush or close asked for it) and which events it holds;
- source positions: ``SourcePositions`` refuses a position not above the previous submitted one;
- delivery: ``deliver`` turns a batch into a plan of steps the shell carries out (``Send`` a call,
  ``Backoff`` before a retry). A transient failure is retried (``retry_delay``); a batch the server rejects
  for an event's content is split in halves until the culprit is alone; every future gets its outcome or
  its error, and the counters are kept;
- counters: ``Counters``, read as ``WriterStats``;
- options: ``WriterSettings``, the base of both writers, checks them and holds what the two share.
"""

from __future__ import annotations

import contextlib
import random
import zlib
from collections import deque
from collections.abc import Generator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import psycopg
import psycopg.errors

from pgchallenge._event_rules import MAX_BATCH_EVENTS, check_source, position_of, prepare
from pgchallenge.errors import BufferFull, InvalidBatch, InvalidEvent, WriterClosed
from pgchallenge.models import Event, EventOutcome, EventsResult, event_outcomes

__all__ = [
    "Backoff",
    "BatchLimits",
    "Counters",
    "Lane",
    "OutcomeFuture",
    "Pending",
    "Plan",
    "Reply",
    "RetryLimits",
    "Send",
    "Sent",
    "SourcePositions",
    "Step",
    "WriterSettings",
    "WriterStats",
    "backoff",
    "check_options",
    "connection_count",
    "deliver",
    "is_event_fault",
    "is_transient",
    "partition_of",
    "retry_delay",
]


# -- partitioning -----------------------------------------------------------------------------------------


def partition_of(user_id: str, partitions: int) -> int:
    """A user's partition: stable across processes and runs (CRC-32 of the UTF-8 id), unlike ``hash``.

    The writers send each partition's events over one lane (one connection, one flusher)."""
    return zlib.crc32(user_id.encode("utf-8")) % partitions


# -- options ----------------------------------------------------------------------------------------------


def connection_count(connections: int | None, source: str | None) -> int:
    """2 by default; exactly 1 with a source, whose events must be applied in one order."""
    if source is None:
        return 2 if connections is None else connections
    if connections not in (None, 1):
        raise ValueError(
            f"a writer with a source sends in position order over one connection: connections must be 1,"
            f" got {connections}"
        )
    return 1


def check_options(
    connections: int, batch_size: int, flush_interval: float, max_pending: int, max_attempts: int
) -> None:
    if connections < 1:
        raise ValueError(f"connections must be positive, got {connections}")
    if not 1 <= batch_size <= MAX_BATCH_EVENTS:
        raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_EVENTS}, got {batch_size}")
    if flush_interval <= 0:
        raise ValueError(f"flush_interval must be positive, got {flush_interval}")
    if max_pending < 1:
        raise ValueError(f"max_pending must be positive, got {max_pending}")
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be positive, got {max_attempts}")


class BatchLimits(Protocol):
    """What a ``Lane`` reads at each decision (a writer: its attributes of these names)."""

    @property
    def batch_size(self) -> int: ...

    @property
    def flush_interval(self) -> float: ...


class RetryLimits(Protocol):
    """What ``deliver`` reads at each failure (a writer: its attributes of these names)."""

    @property
    def max_attempts(self) -> int: ...

    @property
    def backoff_base(self) -> float: ...

    @property
    def backoff_cap(self) -> float: ...


# -- counters ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WriterStats:
    submitted: int = 0
    committed: int = 0
    duplicate: int = 0
    failed: int = 0
    flushes: int = 0
    retries: int = 0


class Counters:
    """A writer's counters. ``lock`` guards them when several threads add (the threaded writer's)."""

    def __init__(self, lock: AbstractContextManager[Any] | None = None) -> None:
        self._lock: AbstractContextManager[Any] = contextlib.nullcontext() if lock is None else lock
        self.submitted = 0
        self.committed = 0
        self.duplicate = 0
        self.failed = 0
        self.flushes = 0
        self.retries = 0
        # Wall time of each successful record_events call (seconds), for latency reports.
        self.flush_seconds: deque[float] = deque(maxlen=100_000)

    def add(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def snapshot(self) -> WriterStats:
        with self._lock:
            return WriterStats(
                self.submitted, self.committed, self.duplicate, self.failed, self.flushes, self.retries
            )


# -- source positions and batching ------------------------------------------------------------------------


class SourcePositions:
    """The last position submitted to a writer with a source: each event must go past it.

    Checked once before ``submit`` waits for room (to fail fast) and again, authoritatively, when the
    event is queued (``Lane.put``, under the lock that also queues it in the threaded writer), so that
    the queue is in position order whatever submitters race.
    """

    def __init__(self) -> None:
        self.last: int | None = None

    def check(self, position: int | None) -> None:
        if position is not None and self.last is not None and position <= self.last:
            raise InvalidEvent(
                f"position must be greater than the previous submitted event's ({self.last}), got {position}"
            )

    def take(self, position: int | None) -> None:
        self.check(position)
        if position is not None:
            self.last = position


T = TypeVar("T")


class Lane(Generic[T]):
    """The batching state of one lane: its queued events in submission order, the batch in flight, and
    when the next batch is due. Times are the caller's clock (``time.monotonic()``).

    Not synchronised: the threaded writer calls it under the lane's lock, the asyncio writer from its
    one loop. A flusher asks ``due_in``: None (nothing queued: wait to be woken, or stop when
    ``stopping``), a positive delay (wait that long, or until woken), or 0 (``take`` the batch now).
    """

    def __init__(self, limits: BatchLimits) -> None:
        self.limits = limits
        self.queue: deque[T] = deque()
        self.positions = SourcePositions()
        self.stopping = False
        self.flush_requested = False
        self.in_flight = 0
        self.oldest_at = 0.0

    def put(self, item: T, position: int | None, now: float) -> bool:
        """Queue an item; InvalidEvent (nothing queued) when its position is not past the last one.
        True when the flusher must be woken: the first item starts the flush interval, or a batch is full."""
        self.positions.take(position)
        if not self.queue:
            self.oldest_at = now
        self.queue.append(item)
        return len(self.queue) == 1 or len(self.queue) >= self.limits.batch_size

    def due_in(self, now: float) -> float | None:
        """Seconds until the next batch is due: 0.0 for now, None when nothing is queued."""
        if not self.queue:
            self.flush_requested = False  # served: everything asked for has been taken
            return None
        if len(self.queue) >= self.limits.batch_size or self.stopping or self.flush_requested:
            return 0.0
        due = self.oldest_at + self.limits.flush_interval
        return 0.0 if now >= due else due - now

    def take(self, now: float) -> list[T]:
        """The next batch (at most ``batch_size`` items, oldest first), now in flight until ``sent()``."""
        count = min(len(self.queue), self.limits.batch_size)
        batch = [self.queue.popleft() for _ in range(count)]
        self.in_flight = count
        self.oldest_at = now  # the rest, if any, waits a flush interval from now
        return batch

    def sent(self) -> None:
        """The batch in flight is resolved (every future has its outcome or error)."""
        self.in_flight = 0

    def stop(self) -> None:
        """Close: the flusher sends what is queued, then stops."""
        self.stopping = True

    def request_flush(self) -> None:
        """Send what is queued now, without waiting for the flush interval."""
        self.flush_requested = True

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing in flight."""
        return not self.queue and not self.in_flight


# -- retries ----------------------------------------------------------------------------------------------


def is_transient(error: BaseException) -> bool:
    """Worth a retry on a fresh connection: lost or terminated connections, serialization failures and
    deadlocks (all psycopg ``OperationalError`` subclasses). ``SourceFenced`` is not: the partition
    belongs to a newer consumer, and retrying would fail the same way."""
    return isinstance(error, psycopg.OperationalError)


def is_event_fault(error: BaseException) -> bool:
    """The server rejected the batch for the content of some event in it: find it by bisection."""
    return isinstance(error, (InvalidBatch, psycopg.errors.DataError))


def backoff(attempt: int, base: float, cap: float) -> float:
    """Full-jitter exponential backoff before retry number ``attempt`` (1-based)."""
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


def retry_delay(limits: RetryLimits, attempt: int, error: BaseException) -> float | None:
    """Send number ``attempt`` (1-based) failed with ``error``: seconds to wait before sending again, or
    None to give up (the error is not transient, or that was the last of ``max_attempts``)."""
    if not is_transient(error) or attempt >= limits.max_attempts:
        return None
    return backoff(attempt, limits.backoff_base, limits.backoff_cap)


# -- delivery ---------------------------------------------------------------------------------------------


class OutcomeFuture(Protocol):
    """An event's future: a ``concurrent.futures.Future`` or an ``asyncio.Future`` of ``EventOutcome``."""

    def done(self) -> bool: ...

    def set_result(self, result: EventOutcome, /) -> None: ...

    def set_exception(self, exception: BaseException, /) -> None: ...


F = TypeVar("F", bound=OutcomeFuture)


@dataclass(slots=True)
class Pending(Generic[F]):
    """A submitted event (its checked JSON object) and the future it resolves."""

    event: dict[str, Any]
    future: F


@dataclass(frozen=True, slots=True)
class Send:
    """Step: call ``record_events`` with ``events`` on the lane's connection (opened if there is none)
    and reply with ``Sent``, or with the exception the call (or connecting) raised."""

    events: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Step: the send failed with a transient ``error``. Drop the connection, wait ``seconds``, reply None;
    ``attempt`` is the number of the send that follows."""

    error: Exception
    attempt: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Sent:
    """Reply to ``Send``: the call's result and its wall time (seconds)."""

    result: EventsResult
    seconds: float


Step = Send | Backoff
Reply = Sent | Exception | None
Plan = Generator[Step, Reply, None]


def deliver(batch: Sequence[Pending[F]], limits: RetryLimits, counters: Counters) -> Plan:
    """Send one batch and resolve every future in it, as a plan the shell runs (``plan.send(reply)`` until
    ``StopIteration``): retried on transient errors, bisected when the server rejects an event in it."""
    events = [pending.event for pending in batch]
    try:
        result = yield from _send(events, limits, counters)
        # Indexes in the result are relative to this (sub-)batch: the events just sent.
        outcomes = event_outcomes(events, result)
    except Exception as error:
        if is_event_fault(error) and len(batch) > 1:
            middle = len(batch) // 2
            yield from deliver(batch[:middle], limits, counters)
            yield from deliver(batch[middle:], limits, counters)
            return
        counters.add(failed=len(batch))
        for pending in batch:
            if not pending.future.done():
                pending.future.set_exception(error)
        return
    counters.add(committed=len(batch), duplicate=result.duplicate_events)
    for pending, outcome in zip(batch, outcomes, strict=True):
        if not pending.future.done():
            pending.future.set_result(outcome)


def _send(
    events: list[dict[str, Any]], limits: RetryLimits, counters: Counters
) -> Generator[Step, Reply, EventsResult]:
    """One call, retried while it fails transiently and attempts remain; raises its last error."""
    attempt = 0
    while True:
        attempt += 1
        reply = yield Send(events)
        if isinstance(reply, Sent):
            counters.flush_seconds.append(reply.seconds)
            counters.add(flushes=1)
            return reply.result
        if not isinstance(reply, Exception):
            raise TypeError(f"a Send step is answered with Sent or an exception, got {reply!r}")
        delay = retry_delay(limits, attempt, reply)
        if delay is None:
            raise reply
        counters.add(retries=1)
        yield Backoff(reply, attempt + 1, delay)


# -- what both writers share ------------------------------------------------------------------------------


class WriterSettings:
    """The base of ``EventWriter`` and ``AsyncEventWriter``: their checked options, counters and source
    state, and the checks ``submit`` makes before it waits for room."""

    def __init__(
        self,
        *,
        connections: int | None,
        batch_size: int,
        flush_interval: float,
        max_pending: int,
        submit_timeout: float | None,
        max_attempts: int,
        backoff_base: float,
        backoff_cap: float,
        source: str | None,
        source_partition: str,
        epoch: int | None,
        counters_lock: AbstractContextManager[Any] | None = None,
    ) -> None:
        check_source(source, source_partition, epoch)
        count = connection_count(connections, source)
        check_options(count, batch_size, flush_interval, max_pending, max_attempts)
        self.connections = count
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self.submit_timeout = submit_timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.source = source
        self.source_partition = source_partition
        self._epoch = epoch
        self._resume_position: int | None = None
        self._counters = Counters(counters_lock)
        self._closed = False

    @property
    def epoch(self) -> int | None:
        """The epoch the writer sends with its source (acquired or given); None without a source (and,
        for an ``AsyncEventWriter``, before ``start()`` acquired one)."""
        return self._epoch

    @property
    def stats(self) -> WriterStats:
        return self._counters.snapshot()

    @property
    def flush_seconds(self) -> list[float]:
        """Duration of each successful ``record_events`` call so far (the last 100,000), in seconds."""
        return list(self._counters.flush_seconds)

    def _admit(self, event: Event | Mapping[str, Any]) -> tuple[dict[str, Any], int | None]:
        """The event's checked JSON object and source position; InvalidEvent, or WriterClosed."""
        sourced = self.source is not None
        document = prepare(event, sourced)
        position = position_of(document, sourced)
        if self._closed:
            raise WriterClosed("the event writer is closed")
        return document, position

    def _lane_of(self, document: Mapping[str, Any]) -> int:
        return partition_of(document["user_id"], self.connections)

    def _buffer_full(self, wait: float | None) -> BufferFull:
        return BufferFull(f"{self.max_pending} events pending; no room freed within {wait} s")
