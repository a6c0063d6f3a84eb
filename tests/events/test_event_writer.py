"""EventWriter / AsyncEventWriter against a real server: commit-then-resolve, per-event outcomes, order,
retries, isolation, and writers by source position (resume, fencing)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import pytest
from pgchallenge import (
    AsyncEventWriter,
    BufferFull,
    Client,
    Event,
    EventOutcome,
    EventsResult,
    EventWriter,
    GoalOutcome,
    InvalidBatch,
    InvalidEvent,
    SourceFenced,
    WriterClosed,
)
from pgchallenge.writer import check_event, partition_of

from tests.events.eventhelpers import init, login, progresses, stat
from tests.serverclock import ServerClock, iso

Conn = psycopg.Connection[Any]
Connect = Callable[..., Conn]


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll an observable condition (not a sleep standing in for synchronisation)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


def gated_connection_factory(db_url: str) -> tuple[threading.Event, Callable[[], Conn]]:
    """A connection factory that waits for the gate: until ``gate.set()`` the flusher cannot connect, so
    nothing leaves the buffer."""
    gate = threading.Event()

    def gated_connection() -> Conn:
        gate.wait(30)
        return psycopg.connect(db_url, autocommit=True)

    return gate, gated_connection


def async_gated_connection_factory(
    db_url: str,
) -> tuple[asyncio.Event, Callable[[], Awaitable[psycopg.AsyncConnection[Any]]]]:
    """The asyncio twin of ``gated_connection_factory`` (create it inside the running loop)."""
    gate = asyncio.Event()

    async def gated_connection() -> psycopg.AsyncConnection[Any]:
        await gate.wait()
        return await psycopg.AsyncConnection.connect(db_url, autocommit=True)

    return gate, gated_connection


def test_futures_resolve_after_commit_and_counters_add_up(events_db: Conn, db_url: str) -> None:
    users = [f"u{n}" for n in range(10)]
    init(events_db, *users)
    with EventWriter(db_url, connections=2, batch_size=50, flush_interval=0.01) as writer:
        futures = [writer.submit(stat(f"e{n}", "kills", users[n % 10], inc=1)) for n in range(200)]
        outcomes = [future.result(timeout=30) for future in futures]
        # A resolved future means committed: another connection already sees the event.
        assert progresses(events_db, "u3")["kills-inc"] == 20
        # Each future holds its own event's outcome, whichever batch carried it.
        assert [outcome.event_id for outcome in outcomes] == [f"e{n}" for n in range(200)]
        assert all(isinstance(outcome, EventOutcome) and not outcome.duplicate for outcome in outcomes)
        for outcome in outcomes:
            # kills-daily counts once a day; kills-abs wants a value; kills-extra is not assigned.
            applied = {goal.goal_id for goal in outcome.goals if goal.applied}
            assert applied == {"kills-inc", "kills-dtype"} or applied == {
                "kills-inc",
                "kills-dtype",
                "kills-daily",
            }
    stats = writer.stats
    assert (stats.submitted, stats.committed, stats.duplicate, stats.failed) == (200, 200, 0, 0)
    assert stats.flushes >= 4


def test_redelivered_events_are_counted_as_duplicates(
    events_db: Conn, db_url: str, server_clock: ServerClock
) -> None:
    init(events_db, "u1")
    events = [login(f"e{n}", occurred_at=iso(server_clock.now)) for n in range(5)]
    with EventWriter(db_url, connections=1, flush_interval=0.01) as writer:
        for event in events:
            writer.submit(event)
    with EventWriter(db_url, connections=1, flush_interval=0.01) as writer:
        for future in [writer.submit(event) for event in events]:
            outcome = future.result(timeout=30)
            assert outcome.duplicate and outcome.goals == () and outcome.applied == 0
    assert writer.stats.duplicate == 5 and writer.stats.committed == 5
    assert progresses(events_db)["login-inc"] == 5


def test_two_events_of_one_batch_get_their_own_outcomes(events_db: Conn, db_url: str) -> None:
    init(events_db, "u1")
    with EventWriter(db_url, connections=1) as writer:
        writer.submit(login("seen")).result(timeout=30)
    with EventWriter(db_url, connections=1, batch_size=100, flush_interval=3600) as writer:
        level = writer.submit(stat("lvl", "level", value=20))
        again = writer.submit(login("seen"))
        nothing = writer.submit(stat("none", "no-such-stat"))
        kills = writer.submit(stat("k", "kills"))
        assert writer.flush(timeout=30)
        assert writer.stats.flushes == 1  # the four events went in one batch
    assert level.result() == EventOutcome(
        "lvl",
        None,
        False,
        (GoalOutcome("level-abs", "applied", True), GoalOutcome("level-inc", "applied", False)),
    )
    assert level.result().completed_goals == ("level-abs",) and level.result().applied == 2
    assert again.result() == EventOutcome("seen", None, True, ())
    assert nothing.result() == EventOutcome("none", None, False, ())
    assert {goal.goal_id: goal.outcome for goal in kills.result().goals} == {
        "kills-abs": "type_mismatch",  # no value for the absolute goal
        "kills-daily": "applied",
        "kills-dtype": "applied",
        "kills-extra": "not_assigned",
        "kills-inc": "applied",
    }
    assert writer.stats.duplicate == 1


def test_each_users_events_are_applied_in_submission_order(events_db: Conn, db_url: str) -> None:
    # Absolute values without occurred_at take the flush's now(): applied out of order, an earlier
    # (smaller) value would land last and win.
    init(events_db, "u1", "u2")
    with EventWriter(db_url, connections=2, batch_size=3, flush_interval=0.001) as writer:
        for n in range(1, 31):
            writer.submit(stat(f"a{n}", "level", "u1", value=n))
            writer.submit(stat(f"b{n}", "level", "u2", value=100 + n))
    assert progresses(events_db, "u1")["level-abs"] == 30
    assert progresses(events_db, "u2")["level-abs"] == 130


def test_close_flushes_everything(events_db: Conn, db_url: str) -> None:
    init(events_db, "u1")
    writer = EventWriter(db_url, batch_size=10_000, flush_interval=3600)
    futures = [writer.submit(stat(f"e{n}", "kills")) for n in range(10)]
    assert not any(future.done() for future in futures)
    writer.close()
    assert all(future.done() and future.exception() is None for future in futures)
    assert progresses(events_db)["kills-inc"] == 10
    with pytest.raises(WriterClosed):
        writer.submit(stat("late", "kills"))


def test_flush_waits_for_the_buffer(events_db: Conn, db_url: str) -> None:
    init(events_db, "u1")
    with EventWriter(db_url, batch_size=10_000, flush_interval=3600) as writer:
        future = writer.submit(login("e1"))
        assert writer.flush(timeout=30)
        assert future.done() and progresses(events_db)["login-inc"] == 1


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(login("e1", value=3), id="login-with-value"),
        pytest.param({"event_id": "e1", "user_id": "u1", "kind": "stat"}, id="bad-kind"),
        pytest.param({"user_id": "u1", "kind": "login"}, id="no-event-id"),
        pytest.param(stat("e1", "kills", inc=0), id="zero-inc"),
        pytest.param(login("e1", occurred_at="2026-11-27T10:00:00"), id="zone-less"),  # invalid-date: no zone
        pytest.param({**login("e1"), "goal_id": "x"}, id="unknown-key"),
    ],
)
def test_a_malformed_event_is_refused_at_submit(db_url: str, bad: dict[str, Any]) -> None:
    with EventWriter(db_url) as writer:
        with pytest.raises(InvalidEvent):
            writer.submit(bad)
        assert writer.stats.submitted == 0


def test_client_side_checks_agree_with_the_sql(events_db: Conn) -> None:
    # A sample of good and bad events: check_event and record_events must give the same verdict (no player
    # is initialised: only the form is judged, never the date).
    samples: list[dict[str, Any]] = [
        login("g1"),
        stat("g2", "kills", value=3.0, inc=2),
        login("g3", occurred_at="2026-11-27T10:00:00+05:30"),  # pure: a valid form
        login("g4", occurred_at="2026-11-27 10:00:00-08"),  # pure: a valid form
        login("b1", stat_code="kills"),
        stat("b2", "kills", value=True),
        stat("b3", "", inc=1),
        login("b4", occurred_at="2026-11-27T10:00:00"),  # invalid-date: no zone
        {"event_id": "b5", "user_id": "", "kind": "login"},
    ]
    for event in samples:
        client_ok = check_event(event) is None
        try:
            Client(events_db).record_events([event])
            server_ok = True
        except InvalidBatch:
            server_ok = False
        assert client_ok == server_ok, event


def test_a_server_rejected_event_fails_only_its_own_future(events_db: Conn, db_url: str) -> None:
    # An impossible date passes the client-side checks; the server rejects the batch; the writer
    # bisects it down to the culprit and commits the rest.
    init(events_db, "u1")
    events = [stat(f"e{n}", "kills") for n in range(8)]
    events[5] = stat("e5", "kills", occurred_at="2026-02-30T10:00:00Z")  # invalid-date: no such day
    with EventWriter(db_url, batch_size=100, flush_interval=3600) as writer:
        futures = [writer.submit(event) for event in events]
        writer.flush(timeout=30)
    error = futures[5].exception()
    assert isinstance(error, InvalidBatch)
    assert all(future.exception() is None for n, future in enumerate(futures) if n != 5)
    # The sub-batches' outcomes reach the right futures (indexes are relative to each call).
    for n, future in enumerate(futures):
        if n != 5:
            outcome = future.result()
            assert outcome.event_id == f"e{n}" and "kills-inc" in {
                g.goal_id for g in outcome.goals if g.applied
            }
    assert (writer.stats.committed, writer.stats.failed) == (7, 1)
    assert progresses(events_db)["kills-inc"] == 7


def test_the_buffer_is_bounded(events_db: Conn, db_url: str) -> None:
    init(events_db, "u1")
    gate, gated_connection = gated_connection_factory(db_url)

    writer = EventWriter(
        connection_factory=gated_connection, connections=1, batch_size=1, flush_interval=0.001, max_pending=3
    )
    try:
        futures = [writer.submit(login(f"e{n}")) for n in range(3)]
        with pytest.raises(BufferFull):
            writer.submit(login("e3"), timeout=0.05)
        assert writer.stats.submitted == 3
        gate.set()
        for future in futures:
            future.result(timeout=30)
        # Room again: the next submit is taken.
        writer.submit(login("e3"), timeout=30).result(timeout=30)
    finally:
        gate.set()
        writer.close()
    assert progresses(events_db)["login-inc"] == 4


def test_a_connection_dropped_mid_flush_is_retried_once_and_only_once(
    events_db: Conn, db_url: str, connect: Connect
) -> None:
    init(events_db, "u1")
    observer = connect()
    blocker = connect(autocommit=False)
    # Hold the row lock, so the writer's first flush is caught in the middle of record_events.
    blocker.execute(
        "SELECT 1 FROM challenge.progress WHERE user_id = 'u1' AND goal_id = 'kills-inc' FOR UPDATE"
    )
    opened: list[Conn] = []

    def tracked_connection() -> Conn:
        conn = psycopg.connect(db_url, autocommit=True)
        opened.append(conn)
        return conn

    def blocked(pid: int) -> bool:
        row = observer.execute(
            "SELECT wait_event_type FROM pg_catalog.pg_stat_activity WHERE pid = %s", [pid]
        ).fetchone()
        return row is not None and row[0] == "Lock"

    with EventWriter(
        connection_factory=tracked_connection, connections=1, flush_interval=0.001, backoff_base=0.01
    ) as writer:
        future = writer.submit(stat("e1", "kills", inc=5))
        wait_for(lambda: bool(opened) and blocked(opened[0].info.backend_pid))
        observer.execute("SELECT pg_terminate_backend(%s)", [opened[0].info.backend_pid])
        # The retry runs on a fresh connection and waits for the same lock; let it through.
        wait_for(lambda: len(opened) == 2)
        blocker.rollback()
        outcome = future.result(timeout=30)
    assert not outcome.duplicate and outcome.applied >= 1
    assert writer.stats.retries >= 1 and writer.stats.committed == 1
    assert progresses(events_db)["kills-inc"] == 5
    row = observer.execute("SELECT count(*) FROM challenge.processed_events WHERE event_id = 'e1'").fetchone()
    assert row == (1,)


def test_partitions_are_stable_and_spread_users() -> None:
    assert partition_of("player-1", 4) == partition_of("player-1", 4)
    assert len({partition_of(f"player-{n}", 4) for n in range(100)}) == 4


def test_options_are_checked(db_url: str) -> None:
    with pytest.raises(ValueError):
        EventWriter(db_url, connections=0)
    with pytest.raises(ValueError):
        EventWriter(db_url, batch_size=50_001)
    with pytest.raises(ValueError):
        EventWriter(db_url, flush_interval=0)
    with pytest.raises(ValueError):
        EventWriter(db_url, max_pending=0)


def test_event_dataclass_is_accepted(events_db: Conn, db_url: str) -> None:
    init(events_db, "u1")
    with EventWriter(db_url) as writer:
        writer.submit(Event("e1", "u1", "statistic", stat_code="level", value=9)).result(timeout=30)
    assert progresses(events_db)["level-abs"] == 9


# -- asyncio ------------------------------------------------------------------------------------------


def test_async_writer_commits_in_order_and_isolates_a_bad_event(events_db: Conn, db_url: str) -> None:
    init(events_db, "u1", "u2")

    async def main() -> AsyncEventWriter:
        async with AsyncEventWriter(db_url, connections=2, batch_size=4, flush_interval=0.005) as writer:
            futures = []
            for n in range(1, 21):
                futures.append(await writer.submit(stat(f"a{n}", "level", "u1", value=n)))
                futures.append(await writer.submit(stat(f"k{n}", "kills", "u2")))
            bad = await writer.submit(
                stat("bad", "kills", "u2", occurred_at="2026-02-30T10:00:00Z")  # invalid-date: no such day
            )
            with pytest.raises(InvalidEvent):
                await writer.submit(login("bad2", value=1))
            await asyncio.gather(*futures)
            with pytest.raises(InvalidBatch):
                await bad
        return writer

    writer = asyncio.run(main())
    assert (writer.stats.submitted, writer.stats.committed, writer.stats.failed) == (41, 40, 1)
    assert progresses(events_db, "u1")["level-abs"] == 20
    assert progresses(events_db, "u2")["kills-inc"] == 20


def test_async_writer_bounded_buffer(events_db: Conn, db_url: str) -> None:
    init(events_db, "u1")

    async def main() -> None:
        gate, gated_connection = async_gated_connection_factory(db_url)

        writer = AsyncEventWriter(
            connection_factory=gated_connection, connections=1, batch_size=1, max_pending=2
        )
        futures = [await writer.submit(login(f"e{n}")) for n in range(2)]
        with pytest.raises(BufferFull):
            await writer.submit(login("e2"), timeout=0.05)
        gate.set()
        await asyncio.gather(*futures)
        await writer.aclose()

    asyncio.run(main())
    assert progresses(events_db)["login-inc"] == 2


def test_async_writer_flush_waits_for_the_buffer(events_db: Conn, db_url: str) -> None:
    init(events_db, "u1")

    async def main() -> None:
        async with AsyncEventWriter(db_url, batch_size=10_000, flush_interval=3600) as writer:
            assert await writer.flush(timeout=30)  # nothing buffered: at once
            futures = [await writer.submit(login(f"e{n}")) for n in range(3)]
            assert not any(future.done() for future in futures)
            assert await writer.flush(timeout=30)
            assert all(future.done() and future.exception() is None for future in futures)
            # Committed when flush returns: another connection sees the events.
            assert progresses(events_db)["login-inc"] == 3
            assert writer.stats.flushes == 1

    asyncio.run(main())


def test_async_writer_flush_reports_a_timeout(events_db: Conn, db_url: str) -> None:
    init(events_db, "u1")

    async def main() -> None:
        gate, gated_connection = async_gated_connection_factory(db_url)

        async with AsyncEventWriter(
            connection_factory=gated_connection, connections=1, flush_interval=3600
        ) as writer:
            future = await writer.submit(login("e1"))
            assert not await writer.flush(timeout=0.05)
            assert not future.done()
            gate.set()
            assert await writer.flush()
            assert (await future).applied >= 1

    asyncio.run(main())
    assert progresses(events_db)["login-inc"] == 1


def test_async_writer_close_flushes_everything(events_db: Conn, db_url: str) -> None:
    init(events_db, "u1")

    async def main() -> None:
        writer = AsyncEventWriter(db_url, batch_size=10_000, flush_interval=3600)
        futures = [await writer.submit(stat(f"e{n}", "kills")) for n in range(10)]
        assert not any(future.done() for future in futures)
        await writer.close()
        assert all(future.done() and future.exception() is None for future in futures)
        assert progresses(events_db)["kills-inc"] == 10
        with pytest.raises(WriterClosed):
            await writer.submit(stat("late", "kills"))
        await writer.close()  # again: nothing left to do

    asyncio.run(main())


def test_async_writer_close_with_a_timeout_lets_the_flushers_finish(events_db: Conn, db_url: str) -> None:
    init(events_db, "u1")

    async def main() -> None:
        gate, gated_connection = async_gated_connection_factory(db_url)

        writer = AsyncEventWriter(connection_factory=gated_connection, connections=1, flush_interval=3600)
        future = await writer.submit(login("e1"))
        started = time.monotonic()
        await writer.close(timeout=0.05)  # returns, like EventWriter.close(timeout), when time runs out
        assert time.monotonic() - started < 10 and not future.done()
        with pytest.raises(WriterClosed):
            await writer.submit(login("e2"))
        # The flusher goes on in the background and commits what was buffered.
        gate.set()
        assert not (await future).duplicate
        await writer.close(timeout=30)

    asyncio.run(main())
    assert progresses(events_db)["login-inc"] == 1


def test_close_with_a_timeout_lets_the_flushers_finish(events_db: Conn, db_url: str) -> None:
    init(events_db, "u1")
    gate, gated_connection = gated_connection_factory(db_url)

    writer = EventWriter(connection_factory=gated_connection, connections=1, flush_interval=3600)
    try:
        future = writer.submit(login("e1"))
        assert not writer.flush(timeout=0.05)
        writer.close(timeout=0.05)
        assert not future.done()
        with pytest.raises(WriterClosed):
            writer.submit(login("e2"))
        gate.set()
        assert not future.result(timeout=30).duplicate
    finally:
        gate.set()
        writer.close()
    assert progresses(events_db)["login-inc"] == 1


# -- by source position -------------------------------------------------------------------------------


def positioned(position: int, user_id: str = "u1", **extra: Any) -> dict[str, Any]:
    """A kills statistic at a source position, without an event id (a source's events need none)."""
    return {"user_id": user_id, "kind": "statistic", "stat_code": "kills", "position": position, **extra}


def test_a_source_writer_applies_by_position_and_tells_where_to_resume(events_db: Conn, db_url: str) -> None:
    init(events_db, "u1", "u2")
    with EventWriter(
        db_url, source="game", source_partition="3", batch_size=100, flush_interval=3600
    ) as first:
        assert (first.connections, first.epoch, first.resume_position) == (1, 1, None)
        futures = [
            first.submit(positioned(1)),
            first.submit(positioned(2, "u2")),
            # An impossible date passes the client-side checks: bisection isolates it, by position too.
            first.submit(positioned(3, occurred_at="2026-02-30T10:00:00Z")),  # invalid-date: no such day
            first.submit(positioned(5, event_id="labelled")),
        ]
        assert first.flush(timeout=30)
    assert isinstance(futures[2].exception(), InvalidBatch)
    outcomes = [futures[n].result() for n in (0, 1, 3)]
    assert [(o.position, o.event_id, o.duplicate) for o in outcomes] == [
        (1, None, False),
        (2, None, False),
        (5, "labelled", False),
    ]
    assert all("kills-inc" in {g.goal_id for g in o.goals if g.applied} for o in outcomes)

    # A restarted consumer learns where the partition is, and a redelivery at or below it is a duplicate.
    with EventWriter(db_url, source="game", source_partition="3") as second:
        assert (second.epoch, second.resume_position) == (2, 5)
        replayed = second.submit(positioned(5))
        fresh = second.submit(positioned(6))
        assert replayed.result(timeout=30) == EventOutcome(None, 5, True, ())
        assert not fresh.result(timeout=30).duplicate
    assert (second.stats.committed, second.stats.duplicate) == (2, 1)
    assert progresses(events_db)["kills-inc"] == 3 and progresses(events_db, "u2")["kills-inc"] == 1


def test_source_positions_are_checked_at_submit(events_db: Conn, db_url: str) -> None:
    init(events_db, "u1")
    with EventWriter(db_url, source="game") as writer:
        writer.submit(positioned(3)).result(timeout=30)
        for bad in (positioned(3), positioned(2), stat("e1", "kills"), positioned(-1), positioned(2**63)):
            with pytest.raises(InvalidEvent, match="position"):
                writer.submit(bad)
        assert writer.stats.submitted == 1
        writer.submit(positioned(4)).result(timeout=30)  # the refused ones left no trace
    with EventWriter(db_url) as writer, pytest.raises(InvalidEvent, match="unknown key"):
        writer.submit({**stat("e1", "kills"), "position": 1})


def test_source_options_are_checked(db_url: str) -> None:
    with pytest.raises(ValueError, match="one connection"):
        EventWriter(db_url, source="game", connections=2)
    with pytest.raises(ValueError, match="source"):
        EventWriter(db_url, source_partition="3")
    with pytest.raises(ValueError, match="source"):
        EventWriter(db_url, source="")
    with pytest.raises(ValueError, match="epoch"):
        EventWriter(db_url, source="game", epoch=-1)


def test_check_event_by_source_agrees_with_the_sql(events_db: Conn) -> None:
    samples: list[dict[str, Any]] = [
        positioned(0),
        positioned(2**63 - 1, event_id="e1"),
        {**positioned(4), "position": 4.0},
        {**positioned(4), "event_id": None},
        positioned(-1),
        positioned(2**63),
        {**positioned(4), "position": "4"},
        {**positioned(4), "position": True},
        {**positioned(4), "event_id": ""},
        stat("e1", "kills"),
    ]
    for event in samples:
        client_ok = check_event(event, sourced=True) is None
        try:
            Client(events_db).record_events([event], source="check", epoch=0)
            server_ok = True
        except InvalidBatch:
            server_ok = False
        assert client_ok == server_ok, event


def test_a_second_writer_on_the_partition_fences_the_first(events_db: Conn, db_url: str) -> None:
    init(events_db, "u1")
    with EventWriter(db_url, source="game", source_partition="7", flush_interval=0.001) as first:
        first.submit(positioned(1)).result(timeout=30)
        with EventWriter(db_url, source="game", source_partition="7") as second:
            assert (second.epoch, second.resume_position) == (2, 1)
            error = first.submit(positioned(2)).exception(timeout=30)
            assert isinstance(error, SourceFenced)
            # Fenced is not transient: the batch failed at once, without a retry, and applied nothing.
            assert (first.stats.failed, first.stats.retries) == (1, 0)
            assert not second.submit(positioned(2)).result(timeout=30).duplicate
    assert progresses(events_db)["kills-inc"] == 2


def test_a_source_writer_with_an_epoch_of_its_own_acquires_nothing(events_db: Conn, db_url: str) -> None:
    init(events_db, "u1")
    with EventWriter(db_url, source="game", epoch=7) as writer:
        assert (writer.epoch, writer.resume_position) == (7, None)
        writer.submit(positioned(1)).result(timeout=30)
    with EventWriter(db_url, source="game") as writer:
        assert (writer.epoch, writer.resume_position) == (8, 1)


@pytest.mark.parametrize("sourced", [False, True], ids=["by-event-id", "by-position"])
def test_a_lost_answer_after_a_commit_is_retried_as_a_duplicate(
    events_db: Conn, db_url: str, monkeypatch: pytest.MonkeyPatch, sourced: bool
) -> None:
    # The commit happens, then the connection "drops" before the answer arrives: the writer cannot know,
    # retries, and the retry finds the batch recorded (and changes nothing).
    init(events_db, "u1")
    real = Client.record_events
    calls: list[int] = []

    def commit_then_lose_the_answer(self: Client, events: Any, **options: Any) -> EventsResult:
        result = real(self, events, **options)
        calls.append(len(calls))
        if len(calls) == 1:
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return result

    monkeypatch.setattr(Client, "record_events", commit_then_lose_the_answer)
    event = positioned(1) if sourced else stat("e1", "kills")
    with EventWriter(db_url, source="game" if sourced else None, backoff_base=0.001) as writer:
        outcome = writer.submit(event).result(timeout=30)
    # The retry reports what the database holds: recorded before (by this very writer's first call).
    assert outcome.duplicate and len(calls) == 2
    assert (writer.stats.retries, writer.stats.committed, writer.stats.duplicate) == (1, 1, 1)
    assert progresses(events_db)["kills-inc"] == 1


def test_async_source_writer_resumes_and_is_fenced(events_db: Conn, db_url: str) -> None:
    init(events_db, "u1")

    async def main() -> None:
        first = AsyncEventWriter(db_url, source="game", source_partition="a", flush_interval=0.001)
        with pytest.raises(RuntimeError):
            first.resume_position  # noqa: B018 - acquired by start()
        async with first:
            assert (first.epoch, first.resume_position) == (1, None)
            outcome = await (await first.submit(positioned(10)))
            assert (outcome.position, outcome.duplicate) == (10, False)
            with pytest.raises(InvalidEvent, match="position"):
                await first.submit(positioned(10))
            async with AsyncEventWriter(db_url, source="game", source_partition="a") as second:
                assert (second.epoch, second.resume_position) == (2, 10)
                with pytest.raises(SourceFenced):
                    await (await first.submit(positioned(11)))
                replayed = await (await second.submit(positioned(10)))
                fresh = await (await second.submit(positioned(11)))
                assert replayed.duplicate and not fresh.duplicate
            assert (first.stats.failed, first.stats.retries) == (1, 0)

    asyncio.run(main())
    assert progresses(events_db)["kills-inc"] == 2
