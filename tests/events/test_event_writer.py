"""EventWriter / AsyncEventWriter against a real server: commit-then-resolve, order, retries, isolation."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from pgchallenge import (
    AsyncEventWriter,
    BufferFull,
    Client,
    Event,
    EventsResult,
    EventWriter,
    InvalidBatch,
    InvalidEvent,
    WriterClosed,
)
from pgchallenge.writer import check_event, partition_of

if TYPE_CHECKING:
    from tests.events.eventhelpers import init, login, progresses, stat
    from tests.serverclock import ServerClock, iso
else:
    from eventhelpers import init, login, progresses, stat
    from serverclock import ServerClock, iso

Conn = psycopg.Connection[Any]
Connect = Callable[..., Conn]


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll an observable condition (not a sleep standing in for synchronisation)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


def test_futures_resolve_after_commit_and_counters_add_up(events_db: Conn, db_url: str) -> None:
    users = [f"u{n}" for n in range(10)]
    init(events_db, *users)
    with EventWriter(db_url, connections=2, batch_size=50, flush_interval=0.01) as writer:
        futures = [writer.submit(stat(f"e{n}", "kills", users[n % 10], inc=1)) for n in range(200)]
        results = [future.result(timeout=30) for future in futures]
        # A resolved future means committed: another connection already sees the event.
        assert all(isinstance(result, EventsResult) for result in results)
        assert progresses(events_db, "u3")["kills-inc"] == 20
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
            assert future.result(timeout=30).duplicate_events == 5
    assert writer.stats.duplicate == 5 and writer.stats.committed == 5
    assert progresses(events_db)["login-inc"] == 5


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
    assert (writer.stats.committed, writer.stats.failed) == (7, 1)
    assert progresses(events_db)["kills-inc"] == 7


def test_the_buffer_is_bounded(events_db: Conn, db_url: str) -> None:
    init(events_db, "u1")
    gate = threading.Event()

    def gated_connection() -> Conn:
        gate.wait(30)  # the flusher cannot connect, so nothing leaves the buffer
        return psycopg.connect(db_url, autocommit=True)

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
        result = future.result(timeout=30)
    assert result.duplicate_events == 0 and result.applied >= 1
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
        gate = asyncio.Event()

        async def gated_connection() -> psycopg.AsyncConnection[Any]:
            await gate.wait()
            return await psycopg.AsyncConnection.connect(db_url, autocommit=True)

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
