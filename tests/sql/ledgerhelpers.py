"""Helpers for the audit ledger tests (tests/sql/test_ledger_*.py): the ledger's config, ``LedgerApi``, the
expected-row builder ``change`` and the chain invariant ``assert_chains``.

The chain invariant: for every (user, goal), the ledger rows in change_id order start at the row's creation,
each row's "before" is the previous row's "after", and the last "after" is the progress row as it is now (or
gone, after an expiry). ``run_workload`` runs every writer at least once, so a test can check the invariant
(or the switch, or the partitions) over all of them.

Time is never waited for: rotation is driven by explicit occurred_at values in later periods, a period that
is over is simulated by moving period_start back, an expiry by moving expires_at back, and old ledger rows
and partitions are created directly (test setup only). Every instant comes from the server's clock
(``server_clock``; ``wk``, a ``Week`` after any the test runs in), never from this process's. The fixtures
``la`` (LedgerApi over LEDGER_CONFIG) and ``wk`` live in tests/sql/conftest.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

from psycopg.types.json import Jsonb

from tests.serverclock import DAY, HOUR, iso
from tests.sql.claimhelpers import QuestApi
from tests.sql.sqlhelpers import OMIT, Omit, Row, challenge, goal, outcome_of, rotation

Key = tuple[str, str]
Before = tuple[int, str] | None

OPERATIONS = frozenset({"assign", "unassign", "increment", "set", "rotate", "claim", "expire"})
EXPLAIN_COLUMNS = [
    "change_id",
    "recorded_at",
    "txid",
    "operation",
    "event_ids",
    "progress_before",
    "progress_after",
    "status_before",
    "status_after",
    "rotated",
    "period_start",
    "occurred_at",
]
# The columns a test states for each change (change_id, recorded_at and txid are checked separately).
CHANGE_COLUMNS = (
    "operation",
    "progress_before",
    "progress_after",
    "status_before",
    "status_after",
    "event_ids",
    "rotated",
    "period_start",
    "occurred_at",
)


# Stat codes keep the routes apart: a "kills" event reaches kills and weekly, "gems" only carry, "wins" only
# daily-wins, "side" the side challenge, "level" and "wlevel" the absolute goals, a login only logins.
MAIN_GOALS = [
    goal("kills", target=10, stat="kills"),
    goal("logins", target=7, stat="login", source="login", daily=True),
    goal("level", type="absolute", target=20, stat="level"),
    goal("weekly", target=5, stat="kills", rotation=rotation("weekly")),
    goal("carry", target=5, stat="gems", rotation=rotation("weekly", reset=False)),
    goal("daily-wins", target=2, stat="wins", rotation=rotation("daily", reselect=True)),
    goal(
        "weekly-level", type="absolute", target=10, stat="wlevel", default=False, rotation=rotation("weekly")
    ),
]
SIDE_GOALS = [
    goal("side-a", target=3, stat="side"),
    goal("side-b", target=3, stat="side", default=False),
    goal("side-c", target=3, stat="side", default=False),
]
LEDGER_CONFIG: dict[str, Any] = {"challenges": [challenge("main", MAIN_GOALS), challenge("side", SIDE_GOALS)]}
DEFAULT_GOALS = ["carry", "daily-wins", "kills", "level", "logins", "side-a", "weekly"]

LONG = "x" * 101


@dataclass(frozen=True)
class Week:
    """Explicit event times in a week after any the test runs in: the goals without periods do not care, the
    goals with periods move (rotate) into the period of the first such write."""

    start: datetime  # Monday 00:00 UTC

    def at(self, days: float, hours: float = 10) -> str:
        return iso(self.start + days * DAY + hours * HOUR)

    @property
    def mon(self) -> str:
        return self.at(0)

    @property
    def tue(self) -> str:
        return self.at(1)

    @property
    def wed(self) -> str:
        return self.at(2)

    @property
    def next_tue(self) -> str:
        """Tuesday of the week after."""
        return self.at(8)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class LedgerApi(QuestApi):
    """QuestApi plus the ledger's functions, record_events and raw reads of the ledger."""

    def ledger(self, user_id: str | None = None, goal_id: str | None = None, after: int = 0) -> list[Row]:
        """Ledger rows (optionally of one player / one row, and newer than change_id ``after``), in order."""
        return self.rows(
            "SELECT * FROM challenge.ledger"
            " WHERE (%(user)s::text IS NULL OR user_id = %(user)s)"
            " AND (%(goal)s::text IS NULL OR goal_id = %(goal)s)"
            " AND change_id > %(after)s ORDER BY change_id",
            {"user": user_id, "goal": goal_id, "after": after},
        )

    def mark(self) -> int:
        """The newest change_id so far (0 when the ledger is empty): rows after it belong to later calls."""
        newest: int = self.scalar("SELECT coalesce(max(change_id), 0) FROM challenge.ledger")
        return newest

    def ledger_count(self) -> int:
        count: int = self.scalar("SELECT count(*) FROM challenge.ledger")
        return count

    def explain(self, user_id: str | None, goal_id: str | None) -> list[Row]:
        return self.rows("SELECT * FROM challenge.explain_progress(%s::text, %s::text)", [user_id, goal_id])

    def record(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = self.scalar("SELECT challenge.record_events(%s::jsonb)", [Jsonb(events)])
        return result

    def create_partitions(self, days_ahead: int | Omit | None = OMIT) -> int:
        if days_ahead is OMIT:
            created: int = self.scalar("SELECT challenge.create_ledger_partitions()")
        else:
            created = self.scalar("SELECT challenge.create_ledger_partitions(%s::integer)", [days_ahead])
        return created

    def prune(self, older_than: timedelta | Omit | None = OMIT, batch_size: int | Omit | None = OMIT) -> int:
        return self.maintenance_call("prune_ledger", "older_than", older_than, batch_size)

    def partitions(self) -> list[str]:
        """The ledger's partitions, by name."""
        return [
            r["relname"]
            for r in self.rows(
                "SELECT c.relname FROM pg_catalog.pg_inherits AS i JOIN pg_catalog.pg_class AS c"
                " ON c.oid = i.inhrelid WHERE i.inhparent = 'challenge.ledger'::regclass ORDER BY c.relname"
            )
        ]

    def today(self) -> date:
        """Today's UTC date, as the partition functions see it."""
        today: date = self.scalar("SELECT (clock_timestamp() AT TIME ZONE 'UTC')::date")
        return today

    def period_start(self, schedule: str) -> datetime:
        """Start of the schedule's current period."""
        start: datetime = self.scalar("SELECT challenge._period_start(%s, now())", [schedule])
        return start

    def let_period_pass(self, user_id: str, goal_id: str, by: timedelta = 7 * DAY) -> None:
        """Time passing, simulated: the row now belongs to a period that ended (private table, test setup)."""
        cur = self.conn.execute(
            "UPDATE challenge.progress SET period_start = period_start - %s::interval,"
            " expires_at = expires_at - %s::interval WHERE user_id = %s AND goal_id = %s",
            [by, by, user_id, goal_id],
        )
        assert cur.rowcount == 1

    def dump(self) -> dict[str, list[Row]]:
        """Every row of every table, the ledger and its partition list included: for "nothing changed"."""
        tables = self.table_rows()
        tables["ledger"] = self.rows(
            "SELECT tableoid::regclass::text AS part, * FROM challenge.ledger ORDER BY change_id"
        )
        tables["partitions"] = [{"name": name} for name in self.partitions()]
        return tables


def change(
    operation: str,
    before: Before,
    after: Before,
    *,
    event_ids: list[str] | None = None,
    rotated: bool = False,
    period_start: datetime | None = None,
    occurred_at: datetime | None = None,
) -> dict[str, Any]:
    """One expected ledger row; before/after are (progress, status), None for "no row"."""
    return {
        "operation": operation,
        "progress_before": None if before is None else before[0],
        "progress_after": None if after is None else after[0],
        "status_before": None if before is None else before[1],
        "status_after": None if after is None else after[1],
        "event_ids": event_ids,
        "rotated": rotated,
        "period_start": period_start,
        "occurred_at": occurred_at,
    }


def changes(api: LedgerApi, user_id: str, goal_id: str, after: int = 0) -> list[dict[str, Any]]:
    """The row's ledger rows (newer than ``after``), reduced to the columns a test states."""
    return [{c: r[c] for c in CHANGE_COLUMNS} for r in api.ledger(user_id, goal_id, after)]


# --- the chain invariant ------------------------------------------------------------------------------------


def assert_change_shape(row: Row) -> None:
    """What every single ledger row must look like, whatever its neighbours."""
    op = row["operation"]
    where = f"change {row['change_id']} ({row['user_id']}, {row['goal_id']}, {op})"
    assert op in OPERATIONS, where
    assert (row["progress_before"] is None) == (row["status_before"] is None), where
    assert (row["progress_after"] is None) == (row["status_after"] is None), where
    # Only an assignment creates a row; only an expiry deletes one.
    assert row["progress_before"] is not None or op in ("assign", "unassign"), where
    assert (row["progress_after"] is None) == (op == "expire"), where
    if op in ("assign", "unassign", "claim") and row["progress_before"] is not None:
        assert row["progress_after"] == row["progress_before"], where
    if op in ("assign", "unassign") and row["status_before"] is not None:
        assert row["status_after"] == row["status_before"], where
    if op == "claim":
        assert (row["status_before"], row["status_after"]) == ("completed", "claimed"), where
    if op == "rotate":
        assert row["rotated"] is True, where
    if op in ("assign", "unassign", "expire"):
        assert row["rotated"] is False, where
    if op == "increment" and not row["rotated"]:
        assert row["progress_after"] > row["progress_before"], where
    # Only writes carry items: their newest occurred_at, and event ids when the items had any.
    if op in ("increment", "set"):
        assert row["occurred_at"] is not None, where
        assert row["event_ids"] is None or len(row["event_ids"]) > 0, where
    else:
        assert (row["occurred_at"], row["event_ids"]) == (None, None), where


def assert_chains(api: LedgerApi, *, from_creation: bool = True) -> dict[Key, list[Row]]:
    """Assert the chain invariant over the whole ledger and return the history of each (user, goal).

    With ``from_creation`` every progress row must have a history that starts with its creation (the ledger
    was on for the whole test); without it (the ledger was off for a while) a chain may start mid-history.
    """
    history: dict[Key, list[Row]] = defaultdict(list)
    change_ids: list[int] = []
    for row in api.rows("SELECT * FROM challenge.ledger ORDER BY change_id"):
        history[(row["user_id"], row["goal_id"])].append(row)
        change_ids.append(row["change_id"])
        assert_change_shape(row)
    assert len(change_ids) == len(set(change_ids)), "change_id is not unique"
    current = {(r["user_id"], r["goal_id"]): r for r in api.rows("SELECT * FROM challenge.progress")}
    if from_creation:
        missing = sorted(set(current) - set(history))
        assert not missing, f"progress rows without any ledger history: {missing}"
    for key, chain in history.items():
        if from_creation:
            first = chain[0]
            assert (first["progress_before"], first["status_before"]) == (None, None), (key, first)
        for previous, row in pairwise(chain):
            assert (row["progress_before"], row["status_before"]) == (
                previous["progress_after"],
                previous["status_after"],
            ), f"{key}: change {row['change_id']} does not start where change {previous['change_id']} ended"
        last = chain[-1]
        now = current.get(key)
        if now is None:
            assert last["operation"] == "expire", (
                f"{key}: row gone, but its last change is {last['operation']}"
            )
        else:
            assert (last["progress_after"], last["status_after"], last["period_start"]) == (
                now["progress"],
                now["status"],
                now["period_start"],
            ), f"{key}: the last change does not end in the row's current state"
    return dict(history)


def operations(history: Mapping[Key, list[Row]], key: Key) -> list[str]:
    return [row["operation"] for row in history.get(key, [])]


def run_workload(api: LedgerApi, wk: Week, p: str = "") -> None:
    """Every writer once or more, on players ``{p}u1`` and ``{p}u2`` (ids prefixed, so it can run twice)."""
    u1, u2 = f"{p}u1", f"{p}u2"
    api.init(u1)
    api.init(u2)
    # set_goal_active: create, deactivate, no-op, reactivate; and a row created inactive.
    api.set_active(u1, "side-b", True)
    api.set_active(u1, "side-b", False)
    api.set_active(u1, "side-b", False)
    api.set_active(u1, "side-b", True)
    api.set_active(u2, "side-c", False)
    # select_goals with replace: side-a and side-b dropped, side-c created (listed twice).
    api.select(u1, "side", ["side-c", "side-c"], replace=True)
    # random selection for u2: the pool is side-b (new) and side-c (inactive), both picked.
    assert {r["goal_id"] for r in api.random_select(u2, "side", 2, seed="s")} == {"side-b", "side-c"}
    # Single increments, without and with an event id, and a duplicate.
    assert api.inc(u1, "kills", 2, occurred_at=wk.mon)["outcome"] == "applied"
    assert api.inc(u1, "kills", 1, f"{p}e-1", occurred_at=wk.tue)["outcome"] == "applied"
    assert api.inc(u1, "kills", 1, f"{p}e-1", occurred_at=wk.tue)["outcome"] == "duplicate_event"
    # A batch with duplicate keys, event ids, a duplicate event and two players.
    result = api.inc_batch(
        [
            {"user_id": u1, "goal_id": "kills", "delta": 1, "event_id": f"{p}b-1", "occurred_at": wk.tue},
            {"user_id": u2, "goal_id": "kills", "delta": 4, "event_id": f"{p}b-2", "occurred_at": wk.tue},
            {"user_id": u1, "goal_id": "kills", "delta": 2, "event_id": f"{p}b-3", "occurred_at": wk.wed},
            {"user_id": u1, "goal_id": "kills", "delta": 9, "event_id": f"{p}e-1", "occurred_at": wk.wed},
            {"user_id": u1, "goal_id": "side-c", "delta": 1, "occurred_at": wk.wed},
        ]
    )
    assert (result["applied"], result["skipped"]["duplicate_event"]) == (4, 1)
    # Absolute values, one of them stale within the batch, one stale against the row.
    result = api.set_batch(
        [
            {"user_id": u1, "goal_id": "level", "value": 5, "event_id": f"{p}s-1", "occurred_at": wk.mon},
            {"user_id": u1, "goal_id": "level", "value": 9, "event_id": f"{p}s-2", "occurred_at": wk.wed},
            {"user_id": u1, "goal_id": "level", "value": 7, "event_id": f"{p}s-3", "occurred_at": wk.tue},
        ]
    )
    assert (result["applied"], result["skipped"]["stale_event"]) == (2, 1)
    older = api.set_batch([{"user_id": u1, "goal_id": "level", "value": 3, "occurred_at": wk.mon}])
    assert outcome_of(older) == "stale_event"
    # Raw events: logins (the daily-once goal) and statistics routed to several goals, and a value.
    result = api.record(
        [
            {"event_id": f"{p}r-1", "user_id": u1, "kind": "login", "occurred_at": wk.mon},
            {"event_id": f"{p}r-2", "user_id": u1, "kind": "login", "occurred_at": wk.mon},
            {
                "event_id": f"{p}r-3",
                "user_id": u2,
                "kind": "statistic",
                "stat_code": "kills",
                "inc": 2,
                "occurred_at": wk.wed,
            },
            {
                "event_id": f"{p}r-4",
                "user_id": u1,
                "kind": "statistic",
                "stat_code": "level",
                "value": 12,
                "occurred_at": wk.wed,
            },
            {"event_id": f"{p}r-5", "user_id": u2, "kind": "statistic", "stat_code": "gems", "inc": 4},
        ]
    )
    assert result["applied"] == 5, result
    # Completion and claim.
    assert api.inc(u1, "kills", 10, occurred_at=wk.wed)["status"] == "completed"
    assert api.claim(u1, "kills", f"{p}c-1")["replayed"] is False
    assert api.inc(u1, "kills", 1, occurred_at=wk.wed)["outcome"] == "claimed"
    # Rotation resets by writes in later periods: weekly (single, then batch) and daily-wins.
    assert api.inc(u1, "weekly", 3, occurred_at=wk.mon)["progress"] == 3
    next_week = api.inc_batch([{"user_id": u1, "goal_id": "weekly", "delta": 2, "occurred_at": wk.next_tue}])
    assert next_week["applied"] == 1
    assert api.inc(u2, "daily-wins", 2, occurred_at=wk.mon)["status"] == "completed"
    assert api.inc(u2, "daily-wins", 1, occurred_at=wk.tue)["progress"] == 1
    # A row left in a period that is over: the next assignment call rotates it ('rotate'), and a claim of a
    # carried-over goal moves it too.
    api.let_period_pass(u2, "carry")
    api.set_active(u2, "carry", True)
    api.inc(u1, "carry", 5)
    api.let_period_pass(u1, "carry")
    api.claim(u1, "carry", f"{p}c-2")
    # An expired row goes.
    api.set_expires_at(u2, "side-c", 3 * DAY)
    assert api.delete_expired(DAY) == 1


# --- the switch and the day partitions ----------------------------------------------------------------------


def set_ledger(la: LedgerApi, enabled: bool) -> None:
    assert la.scalar("SELECT challenge.set_ledger(%s)", [enabled]) is enabled


def day_name(day: date) -> str:
    return f"ledger_{day:%Y%m%d}"


def insert_old_row(api: LedgerApi, user_id: str, recorded_at: datetime) -> None:
    """A ledger row recorded in the past (setup only: no function writes one; it has no progress row)."""
    api.conn.execute(
        "INSERT INTO challenge.ledger (recorded_at, user_id, goal_id, operation, progress_after,"
        " status_after) VALUES (%s, %s, 'kills', 'assign', 0, 'not_started')",
        [recorded_at, user_id],
    )


def create_day_partition(api: LedgerApi, day: date) -> None:
    """A partition for a past day, as create_ledger_partitions would have made it then (setup only)."""
    api.conn.execute(
        f"CREATE TABLE challenge.{day_name(day)} PARTITION OF challenge.ledger"
        f" FOR VALUES FROM ('{day} 00:00:00+00') TO ('{day + DAY} 00:00:00+00')"
    )


def part_of(api: LedgerApi) -> dict[int, str]:
    """change_id -> the partition the row is stored in."""
    return {
        r["change_id"]: r["part"]
        for r in api.rows("SELECT change_id, tableoid::regclass::text AS part FROM challenge.ledger")
    }
