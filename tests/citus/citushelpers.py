"""Helpers for the cluster suite: the coordinator's URL, the skip marks, raw SQL calls that record which
public function they call, normalising results that legitimately differ between servers, and threads.

The suite runs against the Citus coordinator named by ``PGCHALLENGE_CITUS_URL`` (see docs/citus.md); without
it every test skips (``CLUSTER``, the marks each module sets as ``pytestmark``). The database is shared by
every run: player ids, claim ids, event ids and source names carry a per-run prefix (``Cluster.run``), so
reruns on the same database never collide, and counts are read as differences or over the run's rows.

Time is the server's: every instant is compared with a ``ServerClock`` read from the server that wrote it
(tests/serverclock.py), never with this process's clock.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from typing import Any, Final

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg.sql import SQL, Composed
from psycopg.types.json import Jsonb

from tests.serverclock import ServerClock
from tests.threads import errors_of as errors_of
from tests.threads import run_together

CITUS_URL_ENV: Final = "PGCHALLENGE_CITUS_URL"
SKIP_REASON: Final = (
    f"{CITUS_URL_ENV} is not set: no Citus coordinator to run the cluster suite against (see docs/citus.md)"
)

# Every module of the suite: ``pytestmark = CLUSTER``.
CLUSTER: Final = [
    pytest.mark.citus,
    pytest.mark.skipif(not os.environ.get(CITUS_URL_ENV), reason=SKIP_REASON),
]

Row = dict[str, Any]
Statement = str | SQL | Composed

# The public API: what the coverage test compares the calls made on the cluster with.
PUBLIC_FUNCTIONS_SQL: Final = """
    SELECT DISTINCT p.proname
    FROM pg_catalog.pg_proc AS p
    WHERE p.pronamespace = 'challenge'::regnamespace AND p.proname !~ '^_'
    ORDER BY 1
"""
# A call: challenge.name( ..., but not a table's column list (INSERT INTO challenge.ledger (...)).
_CALLED = re.compile(r"(?<!INTO )(?<!TABLE )\bchallenge\.([a-z][a-z0-9_]*)\s*\(", re.IGNORECASE)


def citus_url() -> str | None:
    return os.environ.get(CITUS_URL_ENV) or None


def example_config() -> dict[str, Any]:
    """The example catalog shipped with the package (client/pgchallenge/examples/challenges.json)."""
    text = resources.files("pgchallenge").joinpath("examples/challenges.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


class CallLog:
    """The public functions called on the cluster so far in this session (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: set[str] = set()

    def note(self, sql: str) -> None:
        names = {name for name in _CALLED.findall(sql) if not name.startswith("_")}
        with self._lock:
            self._names |= names

    @property
    def names(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._names)


@dataclass(frozen=True)
class Failure:
    """A call that raised: its SQLSTATE and messages, compared like a result in the parity scenario."""

    sqlstate: str | None
    message: str | None
    detail: str | None

    @classmethod
    def of(cls, error: psycopg.Error) -> Failure:
        return cls(error.sqlstate, error.diag.message_primary, error.diag.message_detail)


class Api:
    """One method per public function, each one raw SQL statement on one connection.

    With a ``CallLog`` (the cluster's), every statement's ``challenge.<name>(`` calls are recorded before
    it runs, so a call that fails still counts as exercised (and its own test reports the failure).
    """

    def __init__(self, conn: psycopg.Connection[Any], log: CallLog | None = None) -> None:
        self.conn = conn
        self.log = log

    # --- raw statements ------------------------------------------------------------------------------
    def _note(self, query: Statement) -> None:
        if self.log is not None:
            self.log.note(query if isinstance(query, str) else query.as_string(self.conn))

    def rows(self, sql: Statement, params: Sequence[Any] | Mapping[str, Any] | None = None) -> list[Row]:
        self._note(sql)
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def execute(self, sql: Statement, params: Sequence[Any] | Mapping[str, Any] | None = None) -> int:
        """A statement that returns no rows (setup: moving dates into the past); returns its row count."""
        self._note(sql)
        return self.conn.execute(sql, params).rowcount

    def row(self, sql: Statement, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Row:
        result = self.rows(sql, params)
        assert len(result) == 1, result
        return result[0]

    def scalar(self, sql: Statement, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Any:
        return next(iter(self.row(sql, params).values()))

    def now(self) -> datetime:
        value: datetime = self.scalar("SELECT now()")
        return value

    # --- catalog and switches ------------------------------------------------------------------------
    def load(self, document: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.scalar("SELECT challenge.load_config(%s::jsonb)", [Jsonb(document)])
        return result

    def set_ledger(self, enabled: bool) -> bool:
        result: bool = self.scalar("SELECT challenge.set_ledger(%s::boolean)", [enabled])
        return result

    def rotation(self, challenge_id: str) -> list[Row]:
        return self.rows("SELECT * FROM challenge.get_rotation_status(%s::text)", [challenge_id])

    def status(self) -> list[Row]:
        return self.rows("SELECT * FROM challenge.status()")

    # --- assignment ----------------------------------------------------------------------------------
    def init(self, user_id: str) -> list[Row]:
        return self.rows("SELECT * FROM challenge.initialize_player(%s::text)", [user_id])

    def set_active(self, user_id: str, goal_id: str, active: bool) -> Row:
        return self.row(
            "SELECT * FROM challenge.set_goal_active(%s::text, %s::text, %s::boolean)",
            [user_id, goal_id, active],
        )

    def select(
        self, user_id: str, challenge_id: str, goal_ids: list[str], replace: bool = False
    ) -> list[Row]:
        return self.rows(
            "SELECT * FROM challenge.select_goals(%s::text, %s::text, %s::text[], %s::boolean)",
            [user_id, challenge_id, goal_ids, replace],
        )

    def random_select(self, user_id: str, challenge_id: str, count: int, seed: str) -> list[Row]:
        return self.rows(
            "SELECT * FROM challenge.random_select_goals(p_user_id => %s::text, p_challenge_id => %s::text,"
            " p_count => %s::integer, p_seed => %s::text)",
            [user_id, challenge_id, count, seed],
        )

    # --- reads ---------------------------------------------------------------------------------------
    def get(self, user_id: str, goal_id: str) -> Row:
        return self.row("SELECT * FROM challenge.get_progress(%s::text, %s::text)", [user_id, goal_id])

    def user_progress(
        self, user_id: str, active_only: bool = False, challenge_id: str | None = None
    ) -> list[Row]:
        return self.rows(
            "SELECT * FROM challenge.get_user_progress(%s::text, %s::boolean, %s::text)",
            [user_id, active_only, challenge_id],
        )

    def explain(self, user_id: str, goal_id: str) -> list[Row]:
        return self.rows("SELECT * FROM challenge.explain_progress(%s::text, %s::text)", [user_id, goal_id])

    # --- writes --------------------------------------------------------------------------------------
    def inc(self, user_id: str, goal_id: str, delta: int = 1, event_id: str | None = None) -> Row:
        return self.row(
            "SELECT * FROM challenge.increment_progress(%s::text, %s::text, %s::integer, %s::text)",
            [user_id, goal_id, delta, event_id],
        )

    def inc_batch(self, items: Sequence[Mapping[str, Any]], detail: bool = False) -> dict[str, Any]:
        result: dict[str, Any] = self.scalar(
            "SELECT challenge.increment_progress_batch(%s::jsonb, %s::boolean)", [Jsonb(items), detail]
        )
        return result

    def set_batch(self, items: Sequence[Mapping[str, Any]], detail: bool = False) -> dict[str, Any]:
        result: dict[str, Any] = self.scalar(
            "SELECT challenge.set_progress_batch(%s::jsonb, %s::boolean)", [Jsonb(items), detail]
        )
        return result

    def record(
        self,
        events: Sequence[Mapping[str, Any]],
        detail: bool = False,
        source: str | None = None,
        partition: str = "",
        epoch: int = 0,
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.scalar(
            "SELECT challenge.record_events(%s::jsonb, %s::boolean, %s::text, %s::text, %s::bigint)",
            [Jsonb(events), detail, source, partition, epoch],
        )
        return result

    def acquire(self, source: str, partition: str = "") -> Row:
        return self.row("SELECT * FROM challenge.acquire_source(%s::text, %s::text)", [source, partition])

    # --- claims and the outbox -----------------------------------------------------------------------
    def claim(self, user_id: str, goal_id: str, claim_id: str) -> Row:
        return self.row(
            "SELECT * FROM challenge.claim_goal(%s::text, %s::text, %s::text)", [user_id, goal_id, claim_id]
        )

    def lease(self, worker: str, limit: int, lease: timedelta = timedelta(minutes=1)) -> list[Row]:
        return self.rows(
            "SELECT * FROM challenge.lease_reward_grants(%s::text, %s::integer, %s::interval)",
            [worker, limit, lease],
        )

    def finish(self, user_id: str, claim_id: str, granted: bool, error: str | None = None) -> Row:
        return self.row(
            "SELECT * FROM challenge.finish_reward_grant(%s::text, %s::text, %s::boolean, %s::text)",
            [user_id, claim_id, granted, error],
        )

    # --- maintenance ---------------------------------------------------------------------------------
    def delete_user(self, user_id: str) -> int:
        deleted: int = self.scalar("SELECT challenge.delete_user_data(%s::text)", [user_id])
        return deleted

    def delete_expired(self, retention: timedelta, batch_size: int) -> int:
        deleted: int = self.scalar(
            "SELECT challenge.delete_expired_progress(%s::interval, %s::integer)", [retention, batch_size]
        )
        return deleted

    def prune_events(self, older_than: timedelta, batch_size: int) -> int:
        pruned: int = self.scalar(
            "SELECT challenge.prune_processed_events(%s::interval, %s::integer)", [older_than, batch_size]
        )
        return pruned

    def prune_ledger(self, older_than: timedelta, batch_size: int) -> int:
        pruned: int = self.scalar(
            "SELECT challenge.prune_ledger(%s::interval, %s::integer)", [older_than, batch_size]
        )
        return pruned

    def create_partitions(self, days_ahead: int) -> int:
        created: int = self.scalar("SELECT challenge.create_ledger_partitions(%s::integer)", [days_ahead])
        return created


@dataclass
class Cluster:
    """The prepared coordinator: its URL, a main autocommit connection, the calls made on it so far and
    this run's id prefix."""

    url: str
    conn: psycopg.Connection[Any]
    log: CallLog
    run: str

    def api(self, conn: psycopg.Connection[Any] | None = None) -> Api:
        """An Api over the main connection (or ``conn``) that records its calls in the session's log."""
        return Api(conn if conn is not None else self.conn, self.log)

    def ids(self, kind: str, count: int) -> list[str]:
        """``count`` ids unique to this run: ``<run>-<kind>-00``..."""
        return [f"{self.run}-{kind}-{i:02d}" for i in range(count)]

    def close(self) -> None:
        self.conn.close()


def attempt(call: Callable[[], Any]) -> Any:
    """The call's result, or the Failure it raised (the connection is in autocommit: nothing to undo)."""
    try:
        return call()
    except psycopg.Error as error:
        return Failure.of(error)


def expect_error(call: Callable[[], Any], sqlstate: str) -> psycopg.Error:
    """Run the call, which must raise SQLSTATE ``sqlstate``; returns the error."""
    try:
        result = call()
    except psycopg.Error as error:
        assert error.sqlstate == sqlstate, f"expected SQLSTATE {sqlstate}, got {error.sqlstate}: {error}"
        return error
    raise AssertionError(f"expected SQLSTATE {sqlstate}, the call returned {result!r}")


# --- normalising what legitimately differs between two servers --------------------------------------------

# Generated by the server (a sequence, the transaction id): they differ between servers and between the
# coordinator and the workers of one cluster.
GENERATED_KEYS: Final = frozenset({"change_id", "txid", "row_version", "version"})


@dataclass(frozen=True)
class Window:
    """The server's clock read before and after a scenario: instants are named relative to it."""

    start: ServerClock
    end: ServerClock

    def name(self, at: datetime) -> str:
        boundaries = {
            "today": self.start.today,
            "tomorrow": self.start.tomorrow,
            "week_start": self.start.week_start,
            "next_week": self.start.next_week,
            "month_start": self.start.month_start,
            "next_month": self.start.next_month,
        }
        for label, boundary in boundaries.items():
            if at == boundary:
                return label
        if at < self.start.now:
            return "before"
        if at <= self.end.now:
            return "during"
        return "after"


# An instant as PostgreSQL prints a timestamptz into a message: 2026-12-02 06:25:33.235166+00.
_INSTANT_TEXT = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?[+-]\d{2}(?::\d{2})?")


def _instants_named(text: str | None, window: Window) -> str | None:
    """A message with every printed instant replaced by its name relative to the server's clock."""
    if text is None:
        return None

    def name(match: re.Match[str]) -> str:
        printed = match.group(0)
        if re.search(r"[+-]\d{2}$", printed):
            printed += ":00"
        return f"<{window.name(datetime.fromisoformat(printed))}>"

    return _INSTANT_TEXT.sub(name, text)


def normalise(value: Any, window: Window) -> Any:
    """A result with each instant named relative to the server's clock (Window.name), in messages too, and
    each generated id dropped; everything else as it is (order included: the functions promise theirs)."""
    if isinstance(value, datetime):
        return f"<{window.name(value)}>"
    if isinstance(value, Failure):
        return Failure(
            value.sqlstate, _instants_named(value.message, window), _instants_named(value.detail, window)
        )
    if isinstance(value, Mapping):
        return {k: normalise(v, window) for k, v in value.items() if k not in GENERATED_KEYS}
    if isinstance(value, list | tuple):
        return [normalise(v, window) for v in value]
    return value


@dataclass
class Steps:
    """A scenario's record: (label, result) in order, results normalised once the scenario is over."""

    items: list[tuple[str, Any]] = field(default_factory=list)

    def add(self, label: str, result: Any) -> Any:
        self.items.append((label, result))
        return result

    def normalised(self, window: Window) -> list[tuple[str, Any]]:
        return [(label, normalise(result, window)) for label, result in self.items]


def differences(left: Sequence[tuple[str, Any]], right: Sequence[tuple[str, Any]]) -> list[str]:
    """Every step whose results differ, as readable lines (left = cluster, right = plain PostgreSQL)."""
    assert [label for label, _ in left] == [label for label, _ in right]
    lines = []
    for (label, a), (_, b) in zip(left, right, strict=True):
        if a != b:
            lines.append(f"{label}:\n    cluster: {a!r}\n    plain:   {b!r}")
    return lines


# --- threads -----------------------------------------------------------------------------------------------


def run_threads(count: int, work: Callable[[int], Any], timeout: float = 60.0) -> list[Any]:
    """Run work(i) for i in range(count) on threads released together by a barrier; each returns its
    result or the exception it raised (the caller asserts on both: ``errors_of``)."""
    return run_together(count, work, timeout=timeout, barrier=True)
