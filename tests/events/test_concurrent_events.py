"""record_events under concurrency: one event id from two connections is applied once; no deadlocks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from tests.events.eventhelpers import init, login, progresses, record, stat
from tests.waits import blocked_call

Conn = psycopg.Connection[Any]
Connect = Callable[..., Conn]


def test_the_same_event_id_from_two_connections_is_applied_once(events_db: Conn, connect: Connect) -> None:
    init(events_db, "u1")
    first, second, observer = connect(autocommit=False), connect(), connect()
    event = stat("e-1", "kills", inc=4)
    assert record(first, [event])["duplicate_events"] == 0  # not committed yet
    # The second call waits on the first one's uncommitted event id and, once it committed, sees a duplicate.
    result = blocked_call(
        lambda: record(second, [event]), observer=observer, pid=second.info.backend_pid, release=first.commit
    )
    assert result["duplicate_events"] == 1 and result["applied"] == 0
    assert progresses(observer)["kills-inc"] == 4


def test_the_waiting_call_applies_the_event_when_the_first_rolls_back(
    events_db: Conn, connect: Connect
) -> None:
    init(events_db, "u1")
    first, second, observer = connect(autocommit=False), connect(), connect()
    event = stat("e-1", "kills", inc=4)
    record(first, [event])
    result = blocked_call(
        lambda: record(second, [event]),
        observer=observer,
        pid=second.info.backend_pid,
        release=first.rollback,
    )
    assert result["duplicate_events"] == 0
    assert progresses(observer)["kills-inc"] == 4


def test_overlapping_batches_in_opposite_orders_do_not_deadlock(events_db: Conn, connect: Connect) -> None:
    users = [f"u{n}" for n in range(20)]
    init(events_db, *users)
    forward = [login(f"f{n}", u) for n, u in enumerate(users)] + [
        stat(f"fk{n}", "level", u, value=n) for n, u in enumerate(users)
    ]
    backward = [login(f"b{n}", u) for n, u in enumerate(reversed(users))] + [
        stat(f"bk{n}", "kills", u) for n, u in enumerate(reversed(users))
    ]
    conns = [connect(autocommit=False) for _ in range(4)]
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            barrier.wait(10)
            for _ in range(5):
                conns[index].execute(
                    "SELECT challenge.record_events(%s::jsonb)",
                    [Jsonb(forward if index % 2 else backward)],
                )
                conns[index].commit()
        except BaseException as exc:  # re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    # Each batch's events are applied once in all: 2 distinct login events per user.
    assert progresses(events_db, "u7")["login-inc"] == 2
