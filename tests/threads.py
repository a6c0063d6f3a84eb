"""Running one piece of work on several threads at once, each on its own connection (the concurrency tests,
tests/concurrency and tests/citus)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any


def run_together(
    count: int, work: Callable[[int], Any], *, timeout: float = 20.0, barrier: bool = False
) -> list[Any]:
    """Run work(i) for i in range(count), each on a thread of its own; entry i of the list returned is what
    work(i) returned or the exception it raised.

    With ``barrier`` the threads start their work together (a threading.Barrier), not as they are started.
    Every thread must finish within ``timeout`` seconds (a hang on a lock fails the test).
    """
    outcomes: list[Any] = [None] * count
    start = threading.Barrier(count, timeout=timeout) if barrier else None

    def target(i: int) -> None:
        try:
            if start is not None:
                start.wait()
            outcomes[i] = work(i)
        except BaseException as exc:  # handed back to the test's thread
            outcomes[i] = exc

    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a worker thread did not finish (hung on a lock?)"
    return outcomes


def errors_of(outcomes: Iterable[Any]) -> list[BaseException]:
    return [outcome for outcome in outcomes if isinstance(outcome, BaseException)]


def run_threads(
    count: int, work: Callable[[int], Any], timeout: float = 20.0, *, barrier: bool = False
) -> list[Any]:
    """``run_together``, re-raising the first exception a thread raised; otherwise the results."""
    outcomes = run_together(count, work, timeout=timeout, barrier=barrier)
    errors = errors_of(outcomes)
    if errors:
        raise errors[0]
    return outcomes
