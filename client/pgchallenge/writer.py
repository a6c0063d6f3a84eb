"""Durable event ingestion: buffer game events and flush them through ``record_events``.

``EventWriter`` (threads) and ``AsyncEventWriter`` (asyncio) sit between a game platform's event stream
and the database. ``submit(event)`` buffers an event and returns a future; a flusher sends the buffer to
``challenge.record_events`` every ``flush_interval`` seconds or ``batch_size`` events, whichever comes
first, and resolves each event's future only after the batch holding it has committed. Acknowledge an
event upstream (commit the Kafka offset, answer the gRPC call) only when its future is done: a crash then
loses nothing that was acknowledged, and the redelivered events are recognised as duplicates.

    with EventWriter("postgresql://app@db/game", connections=2) as writer:
        future = writer.submit({"event_id": "e-1", "user_id": "u1", "kind": "login"})
        outcome = future.result()    # committed: safe to acknowledge
        outcome.duplicate, outcome.applied, outcome.completed_goals

Each future resolves with its own event's ``EventOutcome``: whether the event was a duplicate, and the
outcome on every goal it reached (``GoalOutcome``: applied, inactive, not_assigned...; completed or not).
The writer asks ``record_events`` for per-event detail (``p_detail``) and hands each event its entries.

Two ways to be exactly once:

- By event id (the default): every event carries an ``event_id``, unique within its player; the database
  remembers ``(user_id, event_id)`` and skips an event seen before.
- By source position, for an ordered source (a Kafka partition, a log, a file read in order):
  ``EventWriter(url, source="game-events", source_partition="3")``. Every event then carries an integer
  ``"position"`` greater than the previous submitted event's (else ``InvalidEvent``; gaps are fine) and
  ``event_id`` is optional. The database keeps one watermark per (source, partition), advanced in the
  transaction of each batch: events at or below it are duplicates. The writer sends in submission order
  over one connection (``connections`` must be 1, its default there). With ``epoch=None`` the writer takes
  the partition over when it starts (``challenge.acquire_source``: a new epoch, which fences off any older
  consumer of the partition) and ``resume_position`` tells where to restart consuming (the highest
  position applied, None if none). Pass ``epoch`` yourself to use an epoch of your own (a Kafka consumer
  group generation, say): nothing is acquired, and ``resume_position`` stays None. A writer whose
  partition was taken over by a newer epoch gets ``SourceFenced`` on each later batch: those futures fail
  (nothing was applied, no retry) and the consumer should stop.

Guarantees:

- Per-user order: the user id's stable hash picks one of ``connections`` partitions; each partition has
  one flusher and one connection, and sends its batches one after the other, so a user's events are
  applied in the order submitted (with a source, all events are, in position order).
- Bounded memory: at most ``max_pending`` events are buffered or in flight; ``submit`` then blocks up to
  ``submit_timeout`` seconds and raises ``BufferFull``. It never drops an event.
- Transient failures (connection loss, a terminated backend, serialization failure, deadlock: psycopg's
  ``OperationalError`` family) are retried with exponential backoff on a fresh connection, up to
  ``max_attempts`` sends. The backoff is capped low (0.5 s) so that the writer resumes within about half a
  second of the server accepting connections again; 240 attempts ride out about a minute of outage.
  Retrying is safe because the event ids (or the source watermark) make ``record_events`` idempotent: if
  a lost answer hid a commit, the retry reports the events as duplicates and changes nothing (so such an
  event's outcome says ``duplicate``, although this writer applied it).
- A bad event fails only its own future. Events are checked against ``record_events``' rules before they
  are buffered (``InvalidEvent``), and if the server still rejects a batch as malformed (CH002, or a data
  error such as an impossible date) the batch is split in halves until the culprit is alone, so one
  poison event never blocks its partition. Each sub-batch is its own call, and its events get their
  outcomes from it.
- ``close()`` flushes everything buffered and waits for it.

Counters (``stats``): ``submitted``, ``committed`` (events in committed batches, duplicates included),
``duplicate`` (of those, events already recorded) and ``failed`` (futures that failed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final

import psycopg
import psycopg.errors

from pgchallenge.aclient import AsyncClient
from pgchallenge.client import Client
from pgchallenge.connection import async_connect, connect
from pgchallenge.errors import InvalidBatch
from pgchallenge.models import Event, EventOutcome, EventsResult, event_json, event_outcomes

__all__ = [
    "AsyncEventWriter",
    "BufferFull",
    "EventWriter",
    "InvalidEvent",
    "WriterClosed",
    "WriterStats",
    "check_event",
    "check_source",
    "partition_of",
]

log = logging.getLogger("pgchallenge.writer")

MAX_BATCH_EVENTS: Final = 50_000
"""The most events ``record_events`` accepts in one call."""

MAX_POSITION: Final = 9_223_372_036_854_775_807
"""The highest source position (PostgreSQL's bigint)."""

_ALLOWED_KEYS: Final = frozenset({"event_id", "user_id", "kind", "stat_code", "value", "inc", "occurred_at"})
_SOURCED_KEYS: Final = _ALLOWED_KEYS | {"position"}
# The SQL's limits (challenge._limits(); a test compares them).
_MAX_ID_LENGTH: Final = 100
_MAX_VALUE: Final = 2_147_483_647
_MAX_INC: Final = 1_000_000
_MAX_SOURCE_NAME: Final = 200


class BufferFull(Exception):
    """``submit`` found the writer's buffer full for longer than its timeout; the event was not taken."""


class WriterClosed(RuntimeError):
    """``submit`` after ``close()``."""


class InvalidEvent(ValueError):
    """The event breaks a rule of ``record_events`` (checked before buffering, so it never reaches SQL)."""


@dataclass(frozen=True, slots=True)
class WriterStats:
    submitted: int = 0
    committed: int = 0
    duplicate: int = 0
    failed: int = 0
    flushes: int = 0
    retries: int = 0


def partition_of(user_id: str, partitions: int) -> int:
    """A user's partition: stable across processes and runs (CRC-32 of the UTF-8 id), unlike ``hash``."""
    return zlib.crc32(user_id.encode("utf-8")) % partitions


def _is_integer(value: object, low: int, high: int) -> bool:
    # JSON 3.0 is an integer for the SQL, Python's True is not a number for it. An int is compared as is:
    # float() of a huge one would overflow (or round a large position).
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, float) and not value.is_integer():
        return False
    return low <= value <= high


# The timestamps record_events accepts: the same text as the SQL's challenge._timestamp_pattern() (a test
# compares the two), which documents the forms. [0-9], not \d, so that it means the same in both.
TIMESTAMP_PATTERN: Final = (
    "(?:19[0-9]{2}|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
    "-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9]"
    "(?::(?:[0-5][0-9]|60)(?:\\.[0-9]{1,9})?)?"
    "(?:[Zz]|[+-](?:(?:0[0-9]|1[0-3])(?::?[0-5][0-9])?|14(?::?00)?))"
)
_TIMESTAMP: Final = re.compile(TIMESTAMP_PATTERN)
_TIMESTAMP_FORMS: Final = (
    "(YYYY-MM-DDThh:mm[:ss[.fraction]] then Z or +hh:mm up to 14:00, years 1900 to 9998)"
)


def _bad_timestamp(text: str) -> bool:
    """Not of the SQL's form. A day its month does not have passes here: only the server's cast knows."""
    return _TIMESTAMP.fullmatch(text) is None


def check_event(event: Mapping[str, Any], *, sourced: bool = False) -> str | None:
    """What is wrong with an event, in ``record_events``' words, or None if it looks well-formed.

    The same rules as the SQL (``_check_events``), applied in Python so that a malformed event fails at
    ``submit`` instead of costing a batch. A value the SQL alone can judge (an impossible date such as
    ``2026-02-30T00:00:00Z``) passes here; the writer isolates such an event after the server rejects it.
    ``sourced``: the rules of a call by source position, where ``position`` is required and ``event_id``
    optional (without it, ``position`` is an unknown key). That positions increase is the caller's to
    check: it spans events.
    """

    def string(key: str) -> bool:
        value = event.get(key)
        return isinstance(value, str) and 1 <= len(value) <= _MAX_ID_LENGTH

    if (not sourced or event.get("event_id") is not None) and not string("event_id"):
        return "event_id must be a string of 1 to 100 characters"
    if sourced and not _is_integer(event.get("position"), 0, MAX_POSITION):
        got = "nothing" if event.get("position") is None else repr(event["position"])
        return f"position must be an integer between 0 and {MAX_POSITION}, got {got}"
    if not string("user_id"):
        return "user_id must be a string of 1 to 100 characters"
    allowed = _SOURCED_KEYS if sourced else _ALLOWED_KEYS
    unknown = sorted(set(event) - allowed)
    if unknown:
        return f"unknown key(s) {', '.join(unknown)}; allowed keys are {', '.join(sorted(allowed))}"
    kind = event.get("kind")
    if kind not in ("login", "statistic"):
        return f'kind must be "login" or "statistic", got {kind!r}'
    present = {key for key, value in event.items() if value is not None}
    if kind == "login" and present & {"stat_code", "value", "inc"}:
        return "a login event carries no stat_code, value or inc"
    if kind == "statistic" and not string("stat_code"):
        return "stat_code must be a string of 1 to 100 characters for a statistic event"
    if "value" in present and not _is_integer(event["value"], 0, _MAX_VALUE):
        return f"value must be an integer between 0 and {_MAX_VALUE}, got {event['value']!r}"
    if "inc" in present and not _is_integer(event["inc"], 1, _MAX_INC):
        return f"inc must be an integer between 1 and {_MAX_INC}, got {event['inc']!r}"
    occurred_at = event.get("occurred_at")
    if occurred_at is not None and (not isinstance(occurred_at, str) or _bad_timestamp(occurred_at)):
        return (
            "occurred_at must be an ISO 8601 timestamp with a UTC offset or Z "
            f"{_TIMESTAMP_FORMS}, got {occurred_at!r}"
        )
    return None


def _prepare(event: Event | Mapping[str, Any], sourced: bool) -> dict[str, Any]:
    """The event's JSON object, or InvalidEvent."""
    if not isinstance(event, (Event, Mapping)):
        raise InvalidEvent(f"an event must be a mapping or a pgchallenge.Event, got {type(event).__name__}")
    try:
        document = event_json(event)
    except ValueError as exc:  # a naive datetime
        raise InvalidEvent(str(exc)) from exc
    problem = check_event(document, sourced=sourced)
    if problem is not None:
        raise InvalidEvent(problem)
    return document


def _position_of(document: Mapping[str, Any], sourced: bool) -> int | None:
    """The source position of a checked event (None without a source)."""
    return int(document["position"]) if sourced else None


class _Positions:
    """The last position submitted to a writer with a source: each event must go past it.

    Checked once before ``submit`` waits for room (to fail fast) and again, authoritatively, under the
    lock that also queues the event, so that the queue is in position order whatever threads race.
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


def _is_transient(error: BaseException) -> bool:
    """Worth a retry on a fresh connection: lost or terminated connections, serialization failures and
    deadlocks (all psycopg ``OperationalError`` subclasses). ``SourceFenced`` is not: the partition
    belongs to a newer consumer, and retrying would fail the same way."""
    return isinstance(error, psycopg.OperationalError)


def _is_event_fault(error: BaseException) -> bool:
    """The server rejected the batch for the content of some event in it: find it by bisection."""
    return isinstance(error, (InvalidBatch, psycopg.errors.DataError))


def _backoff(attempt: int, base: float, cap: float) -> float:
    """Full-jitter exponential backoff before retry number ``attempt`` (1-based)."""
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


class _Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
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


@dataclass(slots=True)
class _Pending:
    event: dict[str, Any]
    future: Future[EventOutcome]


def _check_options(
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


def _connection_count(connections: int | None, source: str | None) -> int:
    """2 by default; exactly 1 with a source, whose events must be applied in one order."""
    if source is None:
        return 2 if connections is None else connections
    if connections not in (None, 1):
        raise ValueError(
            f"a writer with a source sends in position order over one connection: connections must be 1,"
            f" got {connections}"
        )
    return 1


def check_source(source: str | None, partition: str, epoch: int | None) -> None:
    """The SQL's rules for a source (CH003), checked when the writer is made rather than at each batch."""
    if source is None:
        if partition or epoch is not None:
            raise ValueError("source_partition and epoch are for a writer with a source")
        return
    if not 1 <= len(source) <= _MAX_SOURCE_NAME:
        raise ValueError(f"source must be a string of 1 to {_MAX_SOURCE_NAME} characters, got {source!r}")
    if len(partition) > _MAX_SOURCE_NAME:
        raise ValueError(f"the partition must be at most {_MAX_SOURCE_NAME} characters")
    if epoch is not None and not _is_integer(epoch, 0, MAX_POSITION):
        raise ValueError(f"epoch must be a non-negative integer, got {epoch!r}")


ConnectionFactory = Callable[[], psycopg.Connection[Any]]
AsyncConnectionFactory = Callable[[], Any]  # returns an awaitable of psycopg.AsyncConnection


class EventWriter:
    """Buffers events and flushes them through ``record_events`` over ``connections`` connections.

    The writer opens its own connections, to ``database_url`` (resolved like ``pgchallenge.connect``) or
    from ``connection_factory``, and puts them in autocommit mode: each flush is one transaction.
    ``connections`` defaults to 2, and to 1 with a ``source`` (which refuses more).

    With ``source`` (and ``source_partition``, default ``''``), events are recorded by source position
    (see the module's documentation). With ``epoch=None`` the constructor takes the partition over
    (``acquire_source``, on the writer's connection) before it returns, so a database it cannot reach
    raises here; ``resume_position`` then holds the position to restart consuming after.
    """

    def __init__(
        self,
        database_url: str | None = None,
        *,
        connection_factory: ConnectionFactory | None = None,
        connections: int | None = None,
        batch_size: int = 1000,
        flush_interval: float = 0.1,
        max_pending: int = 100_000,
        submit_timeout: float | None = 5.0,
        max_attempts: int = 240,
        backoff_base: float = 0.05,
        backoff_cap: float = 0.5,
        source: str | None = None,
        source_partition: str = "",
        epoch: int | None = None,
    ) -> None:
        check_source(source, source_partition, epoch)
        count = _connection_count(connections, source)
        _check_options(count, batch_size, flush_interval, max_pending, max_attempts)
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
        self._factory: ConnectionFactory = connection_factory or (
            lambda: connect(database_url, autocommit=True)
        )
        self._counters = _Counters()
        self._space = threading.BoundedSemaphore(max_pending)
        self._closed = False
        self._close_lock = threading.Lock()
        self._partitions = [_Partition(self, index) for index in range(count)]
        if source is not None and epoch is None:
            self._acquire(source)
        for partition in self._partitions:
            partition.thread.start()

    # -- public API ---------------------------------------------------------------------------------

    def submit(self, event: Event | Mapping[str, Any], timeout: float | None = None) -> Future[EventOutcome]:
        """Buffer one event; the future resolves with the event's own outcome once its batch committed.

        Raises ``InvalidEvent`` for a malformed event (nothing is buffered; with a source, also for a
        position not above the previous submitted one), ``BufferFull`` when no room frees up within
        ``timeout`` seconds (default: the writer's ``submit_timeout``; None waits for ever), and
        ``WriterClosed`` after ``close()``.
        """
        document = _prepare(event, self.source is not None)
        position = _position_of(document, self.source is not None)
        if self._closed:
            raise WriterClosed("the event writer is closed")
        partition = self._partitions[partition_of(document["user_id"], self.connections)]
        partition.check_position(position)
        wait = self.submit_timeout if timeout is None else timeout
        if not self._space.acquire(timeout=wait):
            raise BufferFull(f"{self.max_pending} events pending; no room freed within {wait} s")
        future: Future[EventOutcome] = Future()
        # Running from the start: a caller cannot cancel an event the writer may already be sending.
        future.set_running_or_notify_cancel()
        try:
            taken = partition.put(_Pending(document, future), position)
        except InvalidEvent:
            self._space.release()
            raise
        if not taken:
            # close() won the race after our check: hand the slot back.
            self._space.release()
            raise WriterClosed("the event writer is closed")
        future.add_done_callback(lambda _: self._space.release())
        self._counters.add(submitted=1)
        return future

    @property
    def epoch(self) -> int | None:
        """The epoch the writer sends with its source (acquired or given); None without a source."""
        return self._epoch

    @property
    def resume_position(self) -> int | None:
        """The position the writer's source partition had reached when the writer acquired it: restart
        consuming after it. None when nothing was applied yet, and when the writer acquired nothing (no
        source, or an ``epoch`` of the caller's)."""
        return self._resume_position

    @property
    def stats(self) -> WriterStats:
        return self._counters.snapshot()

    @property
    def flush_seconds(self) -> list[float]:
        """Duration of each successful ``record_events`` call so far (the last 100,000), in seconds."""
        return list(self._counters.flush_seconds)

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything buffered now and wait until it is resolved; False if ``timeout`` ran out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        return all(partition.drain(deadline) for partition in self._partitions)

    def close(self, timeout: float | None = None) -> None:
        """Stop accepting events, flush everything buffered, wait for it, and close the connections."""
        with self._close_lock:
            self._closed = True
        for partition in self._partitions:
            partition.stop()
        deadline = None if timeout is None else time.monotonic() + timeout
        for partition in self._partitions:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            partition.thread.join(remaining)

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------------

    def _acquire(self, source: str) -> None:
        """Take the source partition over on the (only) partition's connection, which the flusher keeps."""
        partition = self._partitions[0]
        try:
            acquired = Client(partition.connection()).acquire_source(source, self.source_partition)
        except BaseException:
            partition.discard_connection()
            raise
        self._epoch = acquired.epoch
        self._resume_position = acquired.position

    def _record(self, client: Client, events: list[dict[str, Any]]) -> EventsResult:
        return client.record_events(
            events,
            detail=True,
            source=self.source,
            partition=self.source_partition,
            epoch=self._epoch or 0,
        )


class _Partition:
    """One flusher thread, its queue and its connection."""

    def __init__(self, writer: EventWriter, index: int) -> None:
        self.writer = writer
        self.index = index
        self.queue: deque[_Pending] = deque()
        self.cond = threading.Condition()
        self.positions = _Positions()
        self.stopping = False
        self.flush_requested = False
        self.in_flight = 0
        self.oldest_at = 0.0
        self.conn: psycopg.Connection[Any] | None = None
        self.thread = threading.Thread(target=self.run, name=f"pgchallenge-writer-{index}", daemon=True)

    def check_position(self, position: int | None) -> None:
        with self.cond:
            self.positions.check(position)

    def put(self, pending: _Pending, position: int | None = None) -> bool:
        """Queue the event; False when stopping. InvalidEvent when its position is not past the last."""
        with self.cond:
            if self.stopping:
                return False
            self.positions.take(position)
            if not self.queue:
                self.oldest_at = time.monotonic()
                self.cond.notify()
            self.queue.append(pending)
            if len(self.queue) >= self.writer.batch_size:
                self.cond.notify()
            return True

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify_all()

    def drain(self, deadline: float | None) -> bool:
        with self.cond:
            self.flush_requested = True
            self.cond.notify_all()
            while self.queue or self.in_flight:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self.cond.wait(remaining)
            return True

    def next_batch(self) -> list[_Pending] | None:
        """Wait for a full batch, the flush interval, a flush request or close; None when done."""
        writer = self.writer
        with self.cond:
            while True:
                if self.queue:
                    due = self.oldest_at + writer.flush_interval
                    if (
                        len(self.queue) >= writer.batch_size
                        or self.stopping
                        or self.flush_requested
                        or time.monotonic() >= due
                    ):
                        break
                    self.cond.wait(max(0.0, due - time.monotonic()))
                elif self.stopping:
                    return None
                else:
                    self.flush_requested = False
                    self.cond.wait()
            count = min(len(self.queue), writer.batch_size)
            batch = [self.queue.popleft() for _ in range(count)]
            self.in_flight = count
            self.oldest_at = time.monotonic()
            return batch

    def run(self) -> None:
        try:
            while True:
                batch = self.next_batch()
                if batch is None:
                    return
                try:
                    self.deliver(batch)
                finally:
                    with self.cond:
                        self.in_flight = 0
                        self.cond.notify_all()
        finally:
            if self.conn is not None:
                self.conn.close()

    def deliver(self, batch: list[_Pending]) -> None:
        """Send one batch; bisect it when the server rejects an event in it; resolve every future."""
        counters = self.writer._counters
        events = [pending.event for pending in batch]
        try:
            result = self.send(events)
            # Indexes in the result are relative to this (sub-)batch: the events just sent.
            outcomes = event_outcomes(events, result)
        except Exception as error:
            if _is_event_fault(error) and len(batch) > 1:
                middle = len(batch) // 2
                self.deliver(batch[:middle])
                self.deliver(batch[middle:])
                return
            counters.add(failed=len(batch))
            for pending in batch:
                pending.future.set_exception(error)
            return
        counters.add(committed=len(batch), duplicate=result.duplicate_events)
        for pending, outcome in zip(batch, outcomes, strict=True):
            pending.future.set_result(outcome)

    def send(self, events: list[dict[str, Any]]) -> EventsResult:
        writer = self.writer
        attempt = 0
        while True:
            attempt += 1
            try:
                client = Client(self.connection())
                started = time.perf_counter()
                result = writer._record(client, events)
                writer._counters.flush_seconds.append(time.perf_counter() - started)
                writer._counters.add(flushes=1)
                return result
            except Exception as error:
                if not _is_transient(error) or attempt >= writer.max_attempts:
                    raise
                log.warning("partition %s: %s; retrying (attempt %s)", self.index, error, attempt + 1)
                writer._counters.add(retries=1)
                self.discard_connection()
                time.sleep(_backoff(attempt, writer.backoff_base, writer.backoff_cap))

    def connection(self) -> psycopg.Connection[Any]:
        """The partition's connection, opened (in autocommit mode) if there is none or it was lost."""
        if self.conn is None or self.conn.closed:
            self.conn = self.writer._factory()
            self.conn.autocommit = True
        return self.conn

    def discard_connection(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # pragma: no cover - closing a broken connection
                log.debug("closing a broken connection failed", exc_info=True)
            self.conn = None


class AsyncEventWriter:
    """The asyncio twin of ``EventWriter``: one flusher task and one connection per partition.

    ``await writer.submit(event)`` waits for room in the buffer (``BufferFull`` after ``submit_timeout``)
    and returns an ``asyncio.Future`` that resolves with the event's ``EventOutcome`` once its batch
    committed. Create it inside a running event loop; ``await writer.aclose()`` (or ``async with``)
    flushes everything. With a ``source`` and ``epoch=None`` the partition is acquired by ``await
    writer.start()``, which ``async with`` and the first ``submit`` call; ``resume_position`` is known
    from then on.
    """

    def __init__(
        self,
        database_url: str | None = None,
        *,
        connection_factory: AsyncConnectionFactory | None = None,
        connections: int | None = None,
        batch_size: int = 1000,
        flush_interval: float = 0.1,
        max_pending: int = 100_000,
        submit_timeout: float | None = 5.0,
        max_attempts: int = 240,
        backoff_base: float = 0.05,
        backoff_cap: float = 0.5,
        source: str | None = None,
        source_partition: str = "",
        epoch: int | None = None,
    ) -> None:
        check_source(source, source_partition, epoch)
        count = _connection_count(connections, source)
        _check_options(count, batch_size, flush_interval, max_pending, max_attempts)
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
        self._started = source is None or epoch is not None
        self._start_lock = asyncio.Lock()
        self._positions = _Positions()
        self._database_url = database_url
        self._factory = connection_factory
        self._counters = _Counters()
        self._space = asyncio.Semaphore(max_pending)
        self._closed = False
        self._queues: list[deque[tuple[dict[str, Any], asyncio.Future[EventOutcome]]]] = [
            deque() for _ in range(count)
        ]
        self._wakeups = [asyncio.Event() for _ in range(count)]
        self._oldest = [0.0] * count
        self._conns: list[psycopg.AsyncConnection[Any] | None] = [None] * count
        self._tasks = [asyncio.create_task(self._run(index)) for index in range(count)]

    async def start(self) -> None:
        """Acquire the source partition (a writer with a source and no ``epoch``); otherwise, or once
        done, nothing. Raises what ``acquire_source`` raises (an unreachable database, say)."""
        if self._started:
            return
        async with self._start_lock:
            if self._started:
                return
            assert self.source is not None
            try:
                client = AsyncClient(await self._connection(0))
                acquired = await client.acquire_source(self.source, self.source_partition)
            except BaseException:
                await self._discard_connection(0)
                raise
            self._epoch = acquired.epoch
            self._resume_position = acquired.position
            self._started = True

    async def submit(
        self, event: Event | Mapping[str, Any], timeout: float | None = None
    ) -> asyncio.Future[EventOutcome]:
        """Buffer one event once there is room; the future resolves with its outcome after it committed."""
        sourced = self.source is not None
        document = _prepare(event, sourced)
        position = _position_of(document, sourced)
        if self._closed:
            raise WriterClosed("the event writer is closed")
        await self.start()
        self._positions.check(position)
        wait = self.submit_timeout if timeout is None else timeout
        try:
            await asyncio.wait_for(self._space.acquire(), wait)
        except asyncio.TimeoutError:
            raise BufferFull(f"{self.max_pending} events pending; no room freed within {wait} s") from None
        if self._closed:
            self._space.release()
            raise WriterClosed("the event writer is closed")
        try:
            # Again: another submit may have gone past this position while this one waited for room.
            self._positions.take(position)
        except InvalidEvent:
            self._space.release()
            raise
        future: asyncio.Future[EventOutcome] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda _: self._space.release())
        index = partition_of(document["user_id"], self.connections)
        queue = self._queues[index]
        if not queue:
            self._oldest[index] = time.monotonic()
        queue.append((document, future))
        if len(queue) == 1 or len(queue) >= self.batch_size:
            self._wakeups[index].set()
        self._counters.add(submitted=1)
        return future

    @property
    def epoch(self) -> int | None:
        """The epoch the writer sends with its source (acquired or given); None without a source, and
        before ``start()`` acquired one."""
        return self._epoch

    @property
    def resume_position(self) -> int | None:
        """As ``EventWriter.resume_position``; RuntimeError before ``start()`` acquired the partition."""
        if not self._started:
            raise RuntimeError("the partition is acquired by `await writer.start()` (or `async with`)")
        return self._resume_position

    @property
    def stats(self) -> WriterStats:
        return self._counters.snapshot()

    @property
    def flush_seconds(self) -> list[float]:
        return list(self._counters.flush_seconds)

    async def aclose(self) -> None:
        """Stop accepting events, flush everything buffered, wait for it, close the connections."""
        self._closed = True
        for wakeup in self._wakeups:
            wakeup.set()
        await asyncio.gather(*self._tasks)

    async def __aenter__(self) -> AsyncEventWriter:
        try:
            await self.start()
        except BaseException:
            await self.aclose()  # the flusher tasks are already running
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _run(self, index: int) -> None:
        queue = self._queues[index]
        wakeup = self._wakeups[index]
        try:
            while True:
                if not queue:
                    if self._closed:
                        return
                    wakeup.clear()
                    await wakeup.wait()
                    continue
                due = self._oldest[index] + self.flush_interval
                if len(queue) < self.batch_size and not self._closed and time.monotonic() < due:
                    wakeup.clear()
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(wakeup.wait(), max(0.0, due - time.monotonic()))
                    continue
                batch = [queue.popleft() for _ in range(min(len(queue), self.batch_size))]
                self._oldest[index] = time.monotonic()
                await self._deliver(index, batch)
        finally:
            conn = self._conns[index]
            if conn is not None:
                await conn.close()

    async def _deliver(
        self, index: int, batch: list[tuple[dict[str, Any], asyncio.Future[EventOutcome]]]
    ) -> None:
        events = [event for event, _ in batch]
        try:
            result = await self._send(index, events)
            # Indexes in the result are relative to this (sub-)batch: the events just sent.
            outcomes = event_outcomes(events, result)
        except Exception as error:
            if _is_event_fault(error) and len(batch) > 1:
                middle = len(batch) // 2
                await self._deliver(index, batch[:middle])
                await self._deliver(index, batch[middle:])
                return
            self._counters.add(failed=len(batch))
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        self._counters.add(committed=len(batch), duplicate=result.duplicate_events)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)

    async def _send(self, index: int, events: list[dict[str, Any]]) -> EventsResult:
        attempt = 0
        while True:
            attempt += 1
            try:
                client = AsyncClient(await self._connection(index))
                started = time.perf_counter()
                result = await client.record_events(
                    events,
                    detail=True,
                    source=self.source,
                    partition=self.source_partition,
                    epoch=self._epoch or 0,
                )
                self._counters.flush_seconds.append(time.perf_counter() - started)
                self._counters.add(flushes=1)
                return result
            except Exception as error:
                if not _is_transient(error) or attempt >= self.max_attempts:
                    raise
                log.warning("partition %s: %s; retrying (attempt %s)", index, error, attempt + 1)
                self._counters.add(retries=1)
                await self._discard_connection(index)
                await asyncio.sleep(_backoff(attempt, self.backoff_base, self.backoff_cap))

    async def _connection(self, index: int) -> psycopg.AsyncConnection[Any]:
        """The partition's connection, opened (in autocommit mode) if there is none or it was lost."""
        conn = self._conns[index]
        if conn is None or conn.closed:
            if self._factory is not None:
                conn = await self._factory()
            else:
                conn = await async_connect(self._database_url, autocommit=True)
            assert conn is not None
            await conn.set_autocommit(True)
            self._conns[index] = conn
        return conn

    async def _discard_connection(self, index: int) -> None:
        conn = self._conns[index]
        self._conns[index] = None
        if conn is not None:
            try:
                await conn.close()
            except Exception:  # pragma: no cover - closing a broken connection
                log.debug("closing a broken connection failed", exc_info=True)
