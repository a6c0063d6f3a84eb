"""Deliver claimed rewards: the consumer side of the reward-grant outbox.

``claim_goal`` never calls the game platform: it writes a pending grant in the claim's transaction and
sends ``NOTIFY pgchallenge_reward_grants``. A ``RewardWorker`` LISTENs on that channel (and polls, in case
it missed a wake-up or a retry backoff ends), leases due grants with ``lease_reward_grants``, calls your
``grant(reward)`` for each one outside any transaction, and records the result with
``finish_reward_grant``: granted, or retried later with backoff, and left ``failed`` for an operator after
the last attempt.

Exactly once is shared between the database and the platform: the outbox holds one grant per claim, and
every attempt for it carries the same idempotency key, ``reward.idempotency_key`` (the player and the claim
id). If a worker dies after the platform granted but before the result was recorded, the lease expires,
another attempt sends the same key, and the platform answers "already done" without granting again; the outbox
then records one granted row. ``grant`` must therefore pass the key to the platform, and raise on failure.

    def grant(reward: RewardGrant) -> None:
        platform.grant_entitlement(reward.user_id, reward.reward_id, reward.quantity,
                                   idempotency_key=reward.idempotency_key)

    with RewardWorker(grant) as worker:        # its own autocommit connection (pgchallenge.connect)
        worker.run(stop_event)                  # until stop_event is set
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import Any

import psycopg

from pgchallenge.client import Client
from pgchallenge.connection import connect
from pgchallenge.models import RewardGrant

__all__ = ["CHANNEL", "GrantCounts", "GrantFunction", "RewardWorker", "WorkerPass"]

CHANNEL = "pgchallenge_reward_grants"
"""The NOTIFY channel ``claim_goal`` signals on (payload: the claim id), at commit."""

GrantFunction = Callable[[RewardGrant], object]
"""Grants one reward on the game platform, sending ``reward.idempotency_key``; raises on failure."""

log = logging.getLogger("pgchallenge.worker")

# Don't start a grant whose lease ends within this margin: another worker may take it over meanwhile.
LEASE_SAFETY_MARGIN = 0.2


@dataclass(frozen=True, slots=True)
class GrantCounts:
    """How many reward grants one ``run_once`` leased, and what became of them."""

    leased: int = 0
    granted: int = 0
    retried: int = 0
    failed: int = 0
    # Leased but not attempted because the lease was about to run out (they return to the pool).
    skipped: int = 0


# The name GrantCounts had before it said what it counts; kept so that existing imports still work.
WorkerPass = GrantCounts


class RewardWorker:
    """Leases pending reward grants, calls ``grant(reward)`` for each, and records the results.

    ``connection`` must be in autocommit mode, because every lease and every result is committed at once
    (the grant call happens between two transactions, never inside one). Without it, the worker opens
    and owns its own connection to ``database_url`` (resolved like ``pgchallenge.connect``).
    """

    def __init__(
        self,
        grant: GrantFunction,
        connection: psycopg.Connection[Any] | None = None,
        *,
        database_url: str | None = None,
        worker_id: str | None = None,
        batch_size: int = 10,
        lease: timedelta = timedelta(minutes=1),
        poll_interval: float = 5.0,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if lease <= timedelta(0):
            raise ValueError(f"lease must be positive, got {lease}")
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, got {poll_interval}")
        if connection is not None and not connection.autocommit:
            raise ValueError("RewardWorker needs an autocommit connection: it commits every lease and result")
        self.grant = grant
        self.worker_id = (worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")[:100]
        self.batch_size = batch_size
        self.lease = lease
        self.poll_interval = poll_interval
        self._database_url = database_url
        self._owns_connection = connection is None
        self._conn = connection if connection is not None else connect(database_url, autocommit=True)
        self._listening = False

    @property
    def connection(self) -> psycopg.Connection[Any]:
        return self._conn

    def __enter__(self) -> RewardWorker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection if the worker opened it (a caller's connection is left open)."""
        if self._owns_connection:
            self._conn.close()

    def run_once(self) -> GrantCounts:
        """Deliver every grant that is due now, one leased batch after another, and return the counts.

        Stops when a lease returns nothing. Failed attempts are rescheduled with backoff by the database,
        so they are not due again within this pass.
        """
        client = Client(self._conn)
        totals = GrantCounts()
        while True:
            leased_at = time.monotonic()
            grants = client.lease_reward_grants(self.worker_id, self.batch_size, self.lease)
            if not grants:
                return totals
            deadline = leased_at + self.lease.total_seconds() * (1 - LEASE_SAFETY_MARGIN)
            granted = retried = failed = skipped = 0
            for reward in grants:
                if time.monotonic() > deadline:
                    # The lease is about to end: leave the rest to the next lease (ours or another
                    # worker's) rather than race it; they are still pending.
                    skipped += 1
                    continue
                result = self._deliver(client, reward)
                if result.state == "granted":
                    granted += 1
                elif result.state == "failed":
                    failed += 1
                else:
                    retried += 1
            totals = GrantCounts(
                leased=totals.leased + len(grants),
                granted=totals.granted + granted,
                retried=totals.retried + retried,
                failed=totals.failed + failed,
                skipped=totals.skipped + skipped,
            )
            if skipped:
                return totals

    def run(self, stop: threading.Event) -> None:
        """Deliver grants until ``stop`` is set: a pass, then wait for a NOTIFY or ``poll_interval``.

        A lost connection is reopened (when the worker owns it) after a short backoff; grants leased on
        it return to the pool when their lease ends.
        """
        backoff = 0.5
        while not stop.is_set():
            try:
                self._listen()
                self.run_once()
                backoff = 0.5
                self._wait(stop)
            except psycopg.OperationalError:
                if not self._owns_connection:
                    raise
                log.exception("reward worker %s lost its connection; reconnecting", self.worker_id)
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                self._reconnect()

    def _deliver(self, client: Client, reward: RewardGrant) -> RewardGrant:
        try:
            self.grant(reward)
        except Exception as exc:
            log.warning(
                "grant of claim %s (attempt %d of %d) failed: %s",
                reward.claim_id,
                reward.attempts,
                reward.max_attempts,
                exc,
            )
            error = f"{type(exc).__name__}: {exc}"
            return client.finish_reward_grant(reward.user_id, reward.claim_id, False, error)
        return client.finish_reward_grant(reward.user_id, reward.claim_id, True)

    def _listen(self) -> None:
        if not self._listening:
            self._conn.execute(f"LISTEN {CHANNEL}")
            self._listening = True

    def _wait(self, stop: threading.Event) -> None:
        """Return on a NOTIFY, when ``poll_interval`` has passed, or soon after ``stop`` is set."""
        deadline = time.monotonic() + self.poll_interval
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            # Short slices, so that a stop request is seen quickly; a NOTIFY that arrived while we were
            # busy is kept by psycopg and returned at once here.
            for _ in self._conn.notifies(timeout=min(remaining, 0.25), stop_after=1):
                return

    def _reconnect(self) -> None:
        try:
            self._conn.close()
        finally:
            self._listening = False
            try:
                self._conn = connect(self._database_url, autocommit=True)
            except psycopg.OperationalError:
                log.exception("reward worker %s could not reconnect", self.worker_id)
