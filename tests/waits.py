"""Waiting for a backend to block on a lock: the tests' one way to order two connections.

A test holds a lock in one transaction, starts the call under test on another connection (in a thread), and
waits until that connection's backend is seen waiting on a lock (``pg_stat_activity.wait_event_type =
'Lock'``) before it commits or rolls back: ``blocked_call`` does all of it. This polls an observed state; it
never sleeps as synchronisation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

POLL_SECONDS = 0.005
T = TypeVar("T")


def waits_on_lock(observer: psycopg.Connection[Any], pid: int) -> bool:
    """Whether backend ``pid`` waits on a lock right now (seen from the ``observer`` connection)."""
    record = observer.execute(
        "SELECT wait_event_type FROM pg_catalog.pg_stat_activity WHERE pid = %s", [pid]
    ).fetchone()
    return record is not None and record[0] == "Lock"


def wait_until_blocked_or_done(
    observer: psycopg.Connection[Any], pid: int, finished: Callable[[], bool], *, timeout: float = 10.0
) -> bool:
    """Poll until backend ``pid`` waits on a lock (True) or its call ``finished()`` first (False).

    For a call that may or may not have to wait (a race the test cannot fix in advance). Raises
    AssertionError when neither happens within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if finished():
            return False
        if waits_on_lock(observer, pid):
            return True
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"backend {pid} neither waited on a lock nor finished within {timeout}s")


def blocked_call(
    call: Callable[[], T],
    *,
    observer: psycopg.Connection[Any],
    pid: int,
    release: Callable[[], None],
    timeout: float = 10.0,
) -> T:
    """Run ``call`` on a thread; once its backend ``pid`` waits on a lock, ``release`` the lock (the holder's
    ``commit`` or ``rollback``) and return what ``call`` returned.

    The call must wait: AssertionError when it finished without waiting or did not finish within ``timeout``
    of the release; an exception the call raised is raised here (after the release).
    """
    done = threading.Event()
    returned: list[T] = []
    raised: list[BaseException] = []

    def run() -> None:
        try:
            returned.append(call())
        except BaseException as exc:  # re-raised in the test's thread
            raised.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        blocked = wait_until_blocked_or_done(observer, pid, done.is_set, timeout=timeout)
    finally:
        release()
    thread.join(timeout)
    assert not thread.is_alive(), f"backend {pid}'s call did not finish once the lock was released"
    if raised:
        raise raised[0]
    assert blocked, f"backend {pid}'s call finished without waiting on a lock"
    return returned[0]
