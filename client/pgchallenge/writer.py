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
- ``flush(timeout)`` sends everything buffered now and waits for it; ``close(timeout)`` stops taking
  events, flushes everything buffered and waits for it (on ``AsyncEventWriter`` both are awaited).

Counters (``stats``): ``submitted``, ``committed`` (events in committed batches, duplicates included),
``duplicate`` (of those, events already recorded) and ``failed`` (futures that failed).

Errors: ``InvalidEvent`` (a ``ValueError``), ``BufferFull`` and ``WriterClosed`` (a ``RuntimeError``) derive
from ``pgchallenge.errors.PgChallengeError``, like every error the package raises on purpose.

Layout: the rules both writers follow (batching, partitioning, retries, bisection, counters, source
positions) are in ``pgchallenge._writer_policy``, which does no I/O; the event checks in
``pgchallenge._event_rules``. This module is the threaded shell around them, and re-exports everything
(``AsyncEventWriter`` included, from ``pgchallenge.awriter``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from types import TracebackType
from typing import Any

import psycopg

from pgchallenge._event_rules import _MAX_ID_LENGTH as _MAX_ID_LENGTH
from pgchallenge._event_rules import _MAX_INC as _MAX_INC
from pgchallenge._event_rules import _MAX_SOURCE_NAME as _MAX_SOURCE_NAME
from pgchallenge._event_rules import _MAX_VALUE as _MAX_VALUE
from pgchallenge._event_rules import MAX_BATCH_EVENTS as MAX_BATCH_EVENTS
from pgchallenge._event_rules import MAX_POSITION as MAX_POSITION
from pgchallenge._event_rules import TIMESTAMP_PATTERN as TIMESTAMP_PATTERN
from pgchallenge._event_rules import _is_integer as _is_integer
from pgchallenge._event_rules import check_event, check_source
from pgchallenge._writer_policy import (
    Backoff,
    Lane,
    Pending,
    Reply,
    Sent,
    WriterSettings,
    WriterStats,
    deliver,
    partition_of,
)
from pgchallenge.awriter import AsyncConnectionFactory as AsyncConnectionFactory
from pgchallenge.awriter import AsyncEventWriter
from pgchallenge.client import Client
from pgchallenge.connection import connect
from pgchallenge.errors import BufferFull, InvalidEvent, WriterClosed
from pgchallenge.models import Event, EventOutcome, EventsResult

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

ConnectionFactory = Callable[[], psycopg.Connection[Any]]


class EventWriter(WriterSettings):
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
        super().__init__(
            connections=connections,
            batch_size=batch_size,
            flush_interval=flush_interval,
            max_pending=max_pending,
            submit_timeout=submit_timeout,
            max_attempts=max_attempts,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            source=source,
            source_partition=source_partition,
            epoch=epoch,
            counters_lock=threading.Lock(),
        )
        self._factory: ConnectionFactory = connection_factory or (
            lambda: connect(database_url, autocommit=True)
        )
        self._space = threading.BoundedSemaphore(max_pending)
        self._close_lock = threading.Lock()
        self._senders = [_LaneSender(self, index) for index in range(self.connections)]
        if source is not None and epoch is None:
            self._acquire(source)
        for sender in self._senders:
            sender.thread.start()

    # -- public API ---------------------------------------------------------------------------------

    def submit(self, event: Event | Mapping[str, Any], timeout: float | None = None) -> Future[EventOutcome]:
        """Buffer one event; the future resolves with the event's own outcome once its batch committed.

        Raises ``InvalidEvent`` for a malformed event (nothing is buffered; with a source, also for a
        position not above the previous submitted one), ``BufferFull`` when no room frees up within
        ``timeout`` seconds (default: the writer's ``submit_timeout``; None waits for ever), and
        ``WriterClosed`` after ``close()``.
        """
        document, position = self._admit(event)
        sender = self._senders[self._lane_of(document)]
        sender.check_position(position)
        wait = self.submit_timeout if timeout is None else timeout
        if not self._space.acquire(timeout=wait):
            raise self._buffer_full(wait)
        future: Future[EventOutcome] = Future()
        # Running from the start: a caller cannot cancel an event the writer may already be sending.
        future.set_running_or_notify_cancel()
        try:
            taken = sender.put(Pending(document, future), position)
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
    def resume_position(self) -> int | None:
        """The position the writer's source partition had reached when the writer acquired it: restart
        consuming after it. None when nothing was applied yet, and when the writer acquired nothing (no
        source, or an ``epoch`` of the caller's)."""
        return self._resume_position

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything buffered now and wait until it is resolved; False if ``timeout`` ran out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        return all(sender.drain(deadline) for sender in self._senders)

    def close(self, timeout: float | None = None) -> None:
        """Stop accepting events, flush everything buffered, wait for it, and close the connections."""
        with self._close_lock:
            self._closed = True
        for sender in self._senders:
            sender.stop()
        deadline = None if timeout is None else time.monotonic() + timeout
        for sender in self._senders:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            sender.thread.join(remaining)

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
        """Take the source partition over on the (only) lane's connection, which its flusher keeps."""
        sender = self._senders[0]
        try:
            acquired = Client(sender.connection()).acquire_source(source, self.source_partition)
        except BaseException:
            sender.discard_connection()
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


class _LaneSender:
    """One lane of an ``EventWriter``: its flusher thread and connection around its ``Lane`` (the queue
    of the users ``partition_of`` sends it, and the batching state), guarded by one condition."""

    def __init__(self, writer: EventWriter, index: int) -> None:
        self.writer = writer
        self.index = index
        self.lane: Lane[Pending[Future[EventOutcome]]] = Lane(writer)
        self.cond = threading.Condition()
        self.conn: psycopg.Connection[Any] | None = None
        self.thread = threading.Thread(target=self.run, name=f"pgchallenge-writer-{index}", daemon=True)

    def check_position(self, position: int | None) -> None:
        with self.cond:
            self.lane.positions.check(position)

    def put(self, pending: Pending[Future[EventOutcome]], position: int | None = None) -> bool:
        """Queue the event; False when stopping. InvalidEvent when its position is not past the last."""
        with self.cond:
            if self.lane.stopping:
                return False
            if self.lane.put(pending, position, time.monotonic()):
                self.cond.notify()
            return True

    def stop(self) -> None:
        with self.cond:
            self.lane.stop()
            self.cond.notify_all()

    def drain(self, deadline: float | None) -> bool:
        with self.cond:
            self.lane.request_flush()
            self.cond.notify_all()
            while not self.lane.idle:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self.cond.wait(remaining)
            return True

    def next_batch(self) -> list[Pending[Future[EventOutcome]]] | None:
        """Wait for a full batch, the flush interval, a flush request or close; None when done."""
        with self.cond:
            while True:
                wait = self.lane.due_in(time.monotonic())
                if wait is None:
                    if self.lane.stopping:
                        return None
                    self.cond.wait()
                elif wait > 0:
                    self.cond.wait(wait)
                else:
                    return self.lane.take(time.monotonic())

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
                        self.lane.sent()
                        self.cond.notify_all()
        finally:
            if self.conn is not None:
                self.conn.close()

    def deliver(self, batch: list[Pending[Future[EventOutcome]]]) -> None:
        """Carry out the policy's plan for one batch: its calls, and the backoff between retries."""
        plan = deliver(batch, self.writer, self.writer._counters)
        reply: Reply = None
        while True:
            try:
                step = plan.send(reply)
            except StopIteration:
                return
            if isinstance(step, Backoff):
                log.warning("partition %s: %s; retrying (attempt %s)", self.index, step.error, step.attempt)
                self.discard_connection()
                time.sleep(step.seconds)
                reply = None
            else:
                reply = self.send(step.events)

    def send(self, events: list[dict[str, Any]]) -> Sent | Exception:
        """One ``record_events`` call: its result and duration, or what it raised."""
        try:
            client = Client(self.connection())
            started = time.perf_counter()
            result = self.writer._record(client, events)
            return Sent(result, time.perf_counter() - started)
        except Exception as error:
            return error

    def connection(self) -> psycopg.Connection[Any]:
        """The lane's connection, opened (in autocommit mode) if there is none or it was lost."""
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
