"""The event writers' policy core (``pgchallenge._writer_policy``), tested directly: it does no I/O, so these
tests need no database. They drive its pure decisions (batching, partitioning, positions, retries,
bisection, counters) with explicit clocks and scripted replies; what the replies would be from a real
server is tested against one in test_event_writer.py."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import psycopg
import psycopg.errors
import pytest
from pgchallenge import (
    BufferFull,
    Event,
    EventOutcome,
    EventsResult,
    GoalOutcome,
    InvalidBatch,
    InvalidEvent,
    SourceFenced,
    WriterClosed,
)
from pgchallenge._writer_policy import (
    Backoff,
    Counters,
    Lane,
    Pending,
    Plan,
    Reply,
    Send,
    Sent,
    SourcePositions,
    Step,
    WriterSettings,
    WriterStats,
    backoff,
    check_options,
    connection_count,
    deliver,
    is_event_fault,
    is_transient,
    partition_of,
    retry_delay,
)
from pgchallenge.models import ItemOutcome, SkippedCounts


@dataclass
class Limits:
    """Batch and retry limits, as a writer exposes them (its attributes of these names)."""

    batch_size: int = 3
    flush_interval: float = 1.0
    max_attempts: int = 4
    backoff_base: float = 0.05
    backoff_cap: float = 0.5


def event(n: int, user_id: str = "u1") -> dict[str, Any]:
    return {"event_id": f"e{n}", "user_id": user_id, "kind": "login"}


def pendings(count: int) -> list[Pending[Future[EventOutcome]]]:
    return [Pending(event(n), Future()) for n in range(count)]


def answer(events: Sequence[dict[str, Any]], duplicates: frozenset[int] = frozenset()) -> Sent:
    """What record_events(events, detail=True) answers when each fresh event reaches goal "g"."""
    items = tuple(
        ItemOutcome(n, e["event_id"], None, "duplicate_event", False)
        if n in duplicates
        else ItemOutcome(n, e["event_id"], "g", "applied", False)
        for n, e in enumerate(events)
    )
    result = EventsResult(
        events=len(events),
        duplicate_events=len(duplicates),
        applied=len(events) - len(duplicates),
        completed=(),
        skipped=SkippedCounts(),
        items=items,
    )
    return Sent(result, 0.25)


def run(plan: Plan, respond: Callable[[Send], Reply]) -> list[Step]:
    """Carry out a plan as a shell does, answering each Send with ``respond``; the steps it took."""
    steps: list[Step] = []
    reply: Reply = None
    while True:
        try:
            step = plan.send(reply)
        except StopIteration:
            return steps
        steps.append(step)
        reply = respond(step) if isinstance(step, Send) else None


def ids(step: Step) -> list[str]:
    assert isinstance(step, Send)
    return [e["event_id"] for e in step.events]


def lost() -> psycopg.OperationalError:
    return psycopg.OperationalError("server closed the connection unexpectedly")


def rejected() -> InvalidBatch:
    return InvalidBatch(psycopg.errors.RaiseException("invalid event"))


# -- partitioning and options -------------------------------------------------------------------------


def test_partition_of_is_the_crc32_of_the_utf8_id() -> None:
    # Stable across processes and runs (unlike hash()): these values must never change, or a restarted
    # writer would send a player's events on another lane than an older one still draining.
    assert [partition_of(user, 4) for user in ("player-1", "player-2", "joueur-é")] == [3, 1, 0]
    assert partition_of("player-1", 1) == 0
    assert {partition_of(f"player-{n}", 8) for n in range(1000)} == set(range(8))


def test_connection_count_and_options() -> None:
    assert connection_count(None, None) == 2
    assert connection_count(5, None) == 5
    assert connection_count(None, "game") == connection_count(1, "game") == 1
    with pytest.raises(ValueError, match="one connection"):
        connection_count(2, "game")
    check_options(1, 50_000, 0.001, 1, 1)
    for bad in [(0, 1, 1.0, 1, 1), (1, 0, 1.0, 1, 1), (1, 50_001, 1.0, 1, 1), (1, 1, 0.0, 1, 1)]:
        with pytest.raises(ValueError):
            check_options(*bad)
    with pytest.raises(ValueError, match="max_pending"):
        check_options(1, 1, 1.0, 0, 1)
    with pytest.raises(ValueError, match="max_attempts"):
        check_options(1, 1, 1.0, 1, 0)


# -- source positions ---------------------------------------------------------------------------------


def test_positions_must_increase_and_a_refused_one_leaves_no_trace() -> None:
    positions = SourcePositions()
    positions.take(None)  # no source: nothing to check
    positions.take(3)
    positions.take(7)  # gaps are fine
    for bad in (7, 5):
        with pytest.raises(InvalidEvent, match=r"previous submitted event's \(7\), got"):
            positions.check(bad)
        with pytest.raises(InvalidEvent):
            positions.take(bad)
    assert positions.last == 7
    positions.take(8)
    assert positions.last == 8


# -- batching -----------------------------------------------------------------------------------------


def test_a_lane_is_due_after_the_flush_interval_from_its_oldest_event() -> None:
    lane: Lane[str] = Lane(Limits(batch_size=3, flush_interval=1.0))
    assert lane.due_in(100.0) is None and lane.idle
    assert lane.put("a", None, 100.0)  # the first event wakes the flusher: the interval starts
    assert not lane.put("b", None, 100.4)
    assert lane.due_in(100.5) == pytest.approx(0.5)
    assert lane.due_in(101.0) == 0.0 and lane.due_in(150.0) == 0.0
    assert lane.take(101.0) == ["a", "b"]
    assert (lane.in_flight, lane.idle, lane.due_in(101.0)) == (2, False, None)
    lane.sent()
    assert lane.idle


def test_a_full_batch_is_due_at_once_and_takes_at_most_batch_size() -> None:
    lane: Lane[int] = Lane(Limits(batch_size=3, flush_interval=60.0))
    wakes = [lane.put(n, None, 0.0) for n in range(7)]
    # Woken by the first event and by every put that leaves a full batch queued.
    assert wakes == [True, False, True, True, True, True, True]
    assert lane.due_in(0.0) == 0.0
    assert lane.take(5.0) == [0, 1, 2]
    assert lane.take(5.0) == [3, 4, 5]
    # One left, below a batch: it waits a flush interval from the last take.
    assert lane.due_in(6.0) == pytest.approx(59.0)
    assert lane.take(7.0) == [6] and lane.in_flight == 1


def test_the_lane_reads_its_limits_at_each_decision() -> None:
    limits = Limits(batch_size=10, flush_interval=60.0)
    lane: Lane[int] = Lane(limits)
    lane.put(1, None, 0.0)
    lane.put(2, None, 0.0)
    assert lane.due_in(1.0) == pytest.approx(59.0)
    limits.batch_size = 2  # a writer's attributes may be changed after it was made
    assert lane.due_in(1.0) == 0.0


def test_close_and_flush_make_a_partial_batch_due_now() -> None:
    lane: Lane[int] = Lane(Limits(batch_size=100, flush_interval=3600.0))
    lane.put(1, None, 0.0)
    lane.request_flush()
    assert lane.due_in(0.0) == 0.0
    assert lane.take(0.0) == [1]
    # Served once the queue is empty: a later event waits its interval again.
    assert lane.due_in(0.0) is None and not lane.flush_requested
    lane.sent()
    lane.put(2, None, 1.0)
    assert lane.due_in(1.0) == pytest.approx(3600.0)
    lane.stop()
    assert lane.due_in(1.0) == 0.0 and lane.take(1.0) == [2]
    assert lane.stopping and lane.due_in(1.0) is None  # stopping and empty: the flusher is done


def test_a_lane_refuses_a_position_not_past_the_last_and_queues_nothing() -> None:
    lane: Lane[str] = Lane(Limits())
    lane.put("p5", 5, 0.0)
    with pytest.raises(InvalidEvent):
        lane.put("p5-again", 5, 0.0)
    assert list(lane.queue) == ["p5"]
    assert not lane.put("p6", 6, 0.0)


# -- retry classification and backoff -----------------------------------------------------------------


def test_transient_errors_are_psycopgs_operational_family() -> None:
    transient: list[Exception] = [
        lost(),
        psycopg.errors.SerializationFailure("could not serialize"),
        psycopg.errors.DeadlockDetected("deadlock"),
        psycopg.errors.AdminShutdown("terminating connection"),
    ]
    assert all(is_transient(error) and not is_event_fault(error) for error in transient)
    fenced = SourceFenced(psycopg.errors.RaiseException("fenced"))
    lasting: list[Exception] = [fenced, rejected(), psycopg.errors.DataError("bad"), ValueError("x")]
    assert not any(is_transient(error) for error in lasting)


def test_event_faults_are_invalid_batch_and_data_errors() -> None:
    assert is_event_fault(rejected())
    assert is_event_fault(psycopg.errors.DatetimeFieldOverflow("date/time field value out of range"))
    assert not is_event_fault(SourceFenced(psycopg.errors.RaiseException("fenced")))
    assert not is_event_fault(lost())


def test_backoff_is_full_jitter_capped() -> None:
    random.seed(7)
    for attempt in range(1, 12):
        ceiling = min(0.5, 0.05 * 2 ** (attempt - 1))
        delays = [backoff(attempt, 0.05, 0.5) for _ in range(200)]
        assert all(0 <= delay <= ceiling for delay in delays)
        assert max(delays) > ceiling / 2  # jittered over the whole range, not a constant
    assert backoff(30, 0.05, 0.5) <= 0.5


def test_retry_delay_gives_up_on_a_lasting_error_and_after_the_last_attempt() -> None:
    limits = Limits(max_attempts=3)
    assert retry_delay(limits, 1, rejected()) is None
    delay = retry_delay(limits, 1, lost())
    assert delay is not None and 0 <= delay <= 0.05
    assert retry_delay(limits, 2, lost()) is not None
    assert retry_delay(limits, 3, lost()) is None


# -- delivery: retries and bisection ------------------------------------------------------------------


def test_a_batch_that_commits_resolves_each_future_with_its_own_outcome() -> None:
    counters = Counters()
    batch = pendings(3)
    steps = run(deliver(batch, Limits(), counters), lambda send: answer(send.events, frozenset({1})))
    assert [ids(step) for step in steps] == [["e0", "e1", "e2"]]
    assert [pending.future.result() for pending in batch] == [
        EventOutcome("e0", None, False, (GoalOutcome("g", "applied", False),)),
        EventOutcome("e1", None, True, ()),
        EventOutcome("e2", None, False, (GoalOutcome("g", "applied", False),)),
    ]
    assert counters.snapshot() == WriterStats(committed=3, duplicate=1, flushes=1)
    assert list(counters.flush_seconds) == [0.25]


def test_a_transient_failure_is_retried_with_backoff_until_it_commits() -> None:
    counters = Counters()
    batch = pendings(2)
    replies: list[Reply] = [lost(), lost()]

    def respond(send: Send) -> Reply:
        return replies.pop(0) if replies else answer(send.events)

    steps = run(deliver(batch, Limits(max_attempts=5), counters), respond)
    assert [type(step) for step in steps] == [Send, Backoff, Send, Backoff, Send]
    backoffs = [step for step in steps if isinstance(step, Backoff)]
    assert [step.attempt for step in backoffs] == [2, 3]
    assert all(isinstance(step.error, psycopg.OperationalError) for step in backoffs)
    assert backoffs[0].seconds <= 0.05 and backoffs[1].seconds <= 0.1
    assert all(not pending.future.result().duplicate for pending in batch)
    assert counters.snapshot() == WriterStats(committed=2, flushes=1, retries=2)


def test_a_transient_failure_fails_the_batch_after_max_attempts() -> None:
    counters = Counters()
    batch = pendings(2)
    error = lost()
    steps = run(deliver(batch, Limits(max_attempts=3), counters), lambda send: error)
    assert [type(step) for step in steps] == [Send, Backoff, Send, Backoff, Send]
    assert all(pending.future.exception() is error for pending in batch)
    assert counters.snapshot() == WriterStats(failed=2, retries=2)


def test_a_lasting_error_fails_the_batch_at_once() -> None:
    counters = Counters()
    batch = pendings(4)
    fenced = SourceFenced(psycopg.errors.RaiseException("fenced"))
    steps = run(deliver(batch, Limits(), counters), lambda send: fenced)
    assert len(steps) == 1  # not retried, not bisected: no event is at fault
    assert all(pending.future.exception() is fenced for pending in batch)
    assert counters.snapshot() == WriterStats(failed=4)


def test_a_rejected_batch_is_bisected_down_to_the_culprit() -> None:
    counters = Counters()
    batch = pendings(8)
    poison = "e5"

    def respond(send: Send) -> Reply:
        if any(e["event_id"] == poison for e in send.events):
            return rejected()
        return answer(send.events)

    steps = run(deliver(batch, Limits(), counters), respond)
    assert [ids(step) for step in steps] == [
        [f"e{n}" for n in range(8)],
        ["e0", "e1", "e2", "e3"],
        ["e4", "e5", "e6", "e7"],
        ["e4", "e5"],
        ["e4"],
        ["e5"],
        ["e6", "e7"],
    ]
    assert isinstance(batch[5].future.exception(), InvalidBatch)
    # Each sub-batch's outcomes (indexes relative to its own call) reach the right futures.
    assert [pending.future.result().event_id for n, pending in enumerate(batch) if n != 5] == [
        f"e{n}" for n in range(8) if n != 5
    ]
    assert counters.snapshot() == WriterStats(committed=7, failed=1, flushes=3)


def test_bisection_and_retries_combine() -> None:
    # A sub-batch of a bisection loses its connection once: it is retried, then bisection goes on.
    counters = Counters()
    batch = pendings(2)
    replies: list[Reply] = [rejected(), lost()]

    def respond(send: Send) -> Reply:
        if replies:
            return replies.pop(0)
        return rejected() if ids(send) == ["e1"] else answer(send.events)

    steps = run(deliver(batch, Limits(), counters), respond)
    assert [ids(step) if isinstance(step, Send) else "backoff" for step in steps] == [
        ["e0", "e1"],
        ["e0"],
        "backoff",
        ["e0"],
        ["e1"],
    ]
    assert batch[0].future.result().event_id == "e0"
    assert isinstance(batch[1].future.exception(), InvalidBatch)
    assert counters.snapshot() == WriterStats(committed=1, failed=1, flushes=1, retries=1)


def test_a_single_rejected_event_fails_alone() -> None:
    counters = Counters()
    batch = pendings(1)
    steps = run(deliver(batch, Limits(), counters), lambda send: rejected())
    assert len(steps) == 1 and isinstance(batch[0].future.exception(), InvalidBatch)


def test_a_future_already_done_is_left_alone() -> None:
    # An asyncio caller may cancel its future; the others of the batch still get their outcomes.
    loop = asyncio.new_event_loop()
    try:
        futures: list[asyncio.Future[EventOutcome]] = [loop.create_future() for _ in range(2)]
        futures[0].cancel()
        batch = [Pending(event(n), future) for n, future in enumerate(futures)]
        run(deliver(batch, Limits(), Counters()), lambda send: answer(send.events))
        assert futures[0].cancelled() and futures[1].result().event_id == "e1"
    finally:
        loop.close()


def test_a_send_answered_with_neither_a_result_nor_an_exception_fails_its_batch() -> None:
    # A shell's mistake, made visible on the futures instead of stopping the flusher.
    counters = Counters()
    batch = pendings(2)
    steps = run(deliver(batch, Limits(), counters), lambda send: None)
    assert len(steps) == 1
    assert all(isinstance(pending.future.exception(), TypeError) for pending in batch)
    assert counters.snapshot() == WriterStats(failed=2)


# -- counters and settings ----------------------------------------------------------------------------


def test_counters_add_and_snapshot() -> None:
    counters = Counters()
    counters.add(submitted=3)
    counters.add(committed=2, duplicate=1)
    counters.add(submitted=1, failed=1)
    assert counters.snapshot() == WriterStats(submitted=4, committed=2, duplicate=1, failed=1)


def settings(**options: Any) -> WriterSettings:
    defaults: dict[str, Any] = {
        "connections": None,
        "batch_size": 1000,
        "flush_interval": 0.1,
        "max_pending": 10,
        "submit_timeout": 5.0,
        "max_attempts": 240,
        "backoff_base": 0.05,
        "backoff_cap": 0.5,
        "source": None,
        "source_partition": "",
        "epoch": None,
    }
    return WriterSettings(**{**defaults, **options})


def test_settings_check_what_submit_takes_before_waiting_for_room() -> None:
    plain = settings()
    assert (plain.connections, plain.epoch, plain.stats, plain.flush_seconds) == (2, None, WriterStats(), [])
    document, position = plain._admit(Event("e1", "player-1", "login"))
    assert document == {"event_id": "e1", "user_id": "player-1", "kind": "login"} and position is None
    assert plain._lane_of(document) == partition_of("player-1", 2)
    with pytest.raises(InvalidEvent, match="unknown key"):
        plain._admit({**event(1), "position": 3})
    sourced = settings(source="game", epoch=4)
    assert (sourced.connections, sourced.epoch) == (1, 4)
    assert sourced._admit({"user_id": "u1", "kind": "login", "position": 9})[1] == 9
    plain._closed = True
    with pytest.raises(WriterClosed):
        plain._admit(event(2))
    with pytest.raises(InvalidEvent):  # a malformed event is refused as such, closed or not
        plain._admit({"kind": "login"})
    full = plain._buffer_full(0.5)
    assert isinstance(full, BufferFull) and str(full) == "10 events pending; no room freed within 0.5 s"


def test_settings_refuse_bad_options() -> None:
    with pytest.raises(ValueError, match="source"):
        settings(source_partition="3")
    with pytest.raises(ValueError, match="one connection"):
        settings(source="game", connections=2)
    with pytest.raises(ValueError, match="batch_size"):
        settings(batch_size=0)
