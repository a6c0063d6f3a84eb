"""The audit ledger (challenge.ledger): one row per change of a progress row, written by the changing call.

The central check is the chain invariant (assert_chains): for every (user, goal), the ledger rows in change_id
order start at the row's creation, each row's "before" is the previous row's "after", and the last "after" is
the progress row as it is now (or gone, after an expiry). Around it: the exact rows each writer records, the
ledger switch (set_ledger, pgchallenge.ledger), explain_progress, the day partitions and their retention,
and delete_user_data.

Time is never waited for: rotation is driven by explicit occurred_at values in later periods, a period that
is over is simulated by moving period_start back, an expiry by moving expires_at back, and old ledger rows
and partitions are created directly (test setup only). Every instant comes from the server's clock
(``server_clock``; ``wk`` is a week after any the test runs in), never from this process's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.serverclock import DAY, HOUR, ServerClock, iso
from tests.sql.claimhelpers import QuestApi
from tests.sql.sqlhelpers import OMIT, Omit, Row, assert_sqlstate, challenge, goal, outcome_of, skipped

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


def rotation(schedule: str, *, reset: bool = True, reselect: bool = False) -> dict[str, Any]:
    return {
        "enabled": True,
        "schedule": schedule,
        "onExpiry": {"resetProgress": reset, "allowReselection": reselect},
    }


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


@pytest.fixture
def wk(server_clock: ServerClock) -> Week:
    return Week(server_clock.future_week)


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


@pytest.fixture
def la(db: psycopg.Connection[Any]) -> LedgerApi:
    api = LedgerApi(db)
    api.load(LEDGER_CONFIG)
    return api


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


def test_every_operation_keeps_every_chain_intact(la: LedgerApi, wk: Week) -> None:
    """The invariant over a workload that runs every writer, plus the exact operation sequence of each row."""
    run_workload(la, wk)
    history = assert_chains(la)
    assert {row["operation"] for chain in history.values() for row in chain} == OPERATIONS
    expected = {
        ("u1", "side-b"): ["assign", "unassign", "assign", "unassign"],
        ("u1", "side-a"): ["assign", "unassign"],
        ("u1", "side-c"): ["assign", "increment"],
        ("u2", "side-b"): ["assign"],
        ("u2", "side-c"): ["unassign", "assign", "expire"],
        ("u1", "kills"): ["assign", "increment", "increment", "increment", "increment", "claim"],
        ("u2", "kills"): ["assign", "increment", "increment"],
        ("u1", "level"): ["assign", "set", "set"],
        ("u1", "logins"): ["assign", "increment"],
        ("u2", "logins"): ["assign"],
        ("u1", "weekly"): ["assign", "increment", "increment"],
        ("u2", "weekly"): ["assign", "increment"],
        ("u2", "daily-wins"): ["assign", "increment", "increment"],
        ("u2", "carry"): ["assign", "increment", "rotate"],
        ("u1", "carry"): ["assign", "increment", "claim"],
    }
    for key, ops in expected.items():
        assert operations(history, key) == ops, key
    untouched = {key for key in history if key not in expected}
    assert all(operations(history, key) == ["assign"] for key in untouched), untouched
    # Spot checks of the values the chain carries.
    assert [r["rotated"] for r in history[("u1", "weekly")]] == [False, True, True]
    assert history[("u1", "weekly")][-1]["progress_after"] == 2  # reset by the next week, then +2
    assert history[("u2", "daily-wins")][-1]["progress_before"] == 2
    assert history[("u2", "daily-wins")][-1]["progress_after"] == 1
    assert history[("u1", "carry")][-1]["rotated"] is True
    assert history[("u2", "carry")][-1]["progress_after"] == 4  # carried over, not reset


def test_chain_check_catches_a_broken_chain(la: LedgerApi, wk: Week) -> None:
    """The invariant helper itself: a progress change behind the ledger's back must fail it."""
    la.init("u1")
    la.inc("u1", "kills", 2, occurred_at=wk.mon)
    assert_chains(la)
    la.conn.execute("UPDATE challenge.progress SET progress = 3 WHERE user_id = 'u1' AND goal_id = 'kills'")
    with pytest.raises(AssertionError, match="current state"):
        assert_chains(la)


# --- exact rows, per writer ---------------------------------------------------------------------------------


def test_initialize_player_records_one_assign_per_created_row(la: LedgerApi) -> None:
    la.init("u1")
    rows = la.ledger("u1")
    assert sorted(r["goal_id"] for r in rows) == DEFAULT_GOALS
    assert len({r["txid"] for r in rows}) == 1
    week, day = la.period_start("weekly"), la.period_start("daily")
    starts = {"weekly": week, "carry": week, "daily-wins": day}
    for row in rows:
        assert {c: row[c] for c in CHANGE_COLUMNS} == change(
            "assign", None, (0, "not_started"), period_start=starts.get(row["goal_id"])
        ), row["goal_id"]
    la.init("u1")  # nothing new to create: nothing recorded
    assert la.ledger_count() == len(DEFAULT_GOALS)


def test_set_goal_active_records_real_changes_only(la: LedgerApi, wk: Week) -> None:
    la.set_active("u1", "side-b", True)  # created active
    la.set_active("u1", "side-b", True)  # no-op
    la.inc("u1", "side-b", 2, occurred_at=wk.mon)
    mark = la.mark()
    la.set_active("u1", "side-b", False)
    la.set_active("u1", "side-b", False)  # no-op
    la.set_active("u1", "side-b", True)
    la.set_active("u1", "side-c", False)  # created inactive
    assert changes(la, "u1", "side-b", mark) == [
        change("unassign", (2, "in_progress"), (2, "in_progress")),
        change("assign", (2, "in_progress"), (2, "in_progress")),
    ]
    assert changes(la, "u1", "side-c") == [change("unassign", None, (0, "not_started"))]
    assert operations(assert_chains(la), ("u1", "side-b")) == ["assign", "increment", "unassign", "assign"]


def test_select_goals_with_replace_records_unassign_then_assign(la: LedgerApi) -> None:
    la.init("u1")  # side-a active
    la.set_active("u1", "side-b", True)
    la.set_active("u1", "side-c", True)
    la.set_active("u1", "side-c", False)
    mark = la.mark()
    la.select("u1", "side", ["side-c", "side-b", "side-c"], replace=True)
    rows = la.ledger("u1", after=mark)
    assert [(r["goal_id"], r["operation"]) for r in rows] == [("side-a", "unassign"), ("side-c", "assign")]
    assert changes(la, "u1", "side-c", mark) == [change("assign", (0, "not_started"), (0, "not_started"))]
    assert len({r["txid"] for r in rows}) == 1
    mark = la.mark()
    la.select("u1", "side", ["side-b", "side-c"], replace=True)  # already exactly these: no-op
    assert la.ledger(after=mark) == []
    assert_chains(la)


def test_random_select_goals_records_the_created_rows(la: LedgerApi) -> None:
    picked = la.random_select("u2", "side", 5, seed="any")  # the whole pool: side-a, side-b, side-c
    assert [r["goal_id"] for r in picked] == ["side-a", "side-b", "side-c"]
    assert [(r["goal_id"], r["operation"], r["progress_before"]) for r in la.ledger("u2")] == [
        ("side-a", "assign", None),
        ("side-b", "assign", None),
        ("side-c", "assign", None),
    ]


def test_increment_progress_records_before_after_event_id_and_time(la: LedgerApi, wk: Week) -> None:
    la.init("u1")
    mark = la.mark()
    la.inc("u1", "kills", 3, occurred_at=wk.mon)
    la.inc("u1", "kills", 2, "e-1", occurred_at=wk.tue)
    assert la.inc("u1", "kills", 2, "e-1", occurred_at=wk.tue)["outcome"] == "duplicate_event"
    la.inc("u1", "kills", 7, "e-2", occurred_at=wk.wed)
    assert changes(la, "u1", "kills", mark) == [
        change("increment", (0, "not_started"), (3, "in_progress"), occurred_at=utc(wk.mon)),
        change(
            "increment", (3, "in_progress"), (5, "in_progress"), event_ids=["e-1"], occurred_at=utc(wk.tue)
        ),
        change(
            "increment", (5, "in_progress"), (12, "completed"), event_ids=["e-2"], occurred_at=utc(wk.wed)
        ),
    ]


def test_default_occurred_at_is_the_calls_transaction_time(la: LedgerApi) -> None:
    la.init("u1")
    mark = la.mark()
    with la.conn.transaction():
        la.inc("u1", "kills", 1)
        la.inc_batch([{"user_id": "u1", "goal_id": "side-a"}])
        now = la.now()
    assert [r["occurred_at"] for r in la.ledger("u1", after=mark)] == [now, now]


def test_batch_folds_the_items_of_one_row_into_one_change(la: LedgerApi, wk: Week) -> None:
    """Several items for one row: one ledger row, every applied item's event id in item order."""
    la.init("u1")
    la.init("u2")
    la.inc("u1", "kills", 1, "seen", occurred_at=wk.mon)
    mark = la.mark()
    result = la.inc_batch(
        [
            {"user_id": "u1", "goal_id": "kills", "delta": 2, "event_id": "z-9", "occurred_at": wk.wed},
            {"user_id": "u2", "goal_id": "kills", "delta": 1, "event_id": "a-0", "occurred_at": wk.mon},
            {"user_id": "u1", "goal_id": "kills", "delta": 1, "occurred_at": wk.mon},
            {"user_id": "u1", "goal_id": "kills", "delta": 5, "event_id": "seen", "occurred_at": wk.wed},
            {"user_id": "u1", "goal_id": "kills", "delta": 3, "event_id": "a-1", "occurred_at": wk.tue},
        ]
    )
    assert (result["applied"], result["skipped"]) == (4, skipped(duplicate_event=1))
    assert changes(la, "u1", "kills", mark) == [
        change(
            "increment",
            (1, "in_progress"),
            (7, "in_progress"),
            event_ids=["z-9", "a-1"],
            occurred_at=utc(wk.wed),
        )
    ]
    assert changes(la, "u2", "kills", mark) == [
        change(
            "increment", (0, "not_started"), (1, "in_progress"), event_ids=["a-0"], occurred_at=utc(wk.mon)
        )
    ]
    rows = la.ledger(after=mark)
    assert len(rows) == 2 and rows[0]["txid"] == rows[1]["txid"]


def test_batch_of_items_without_event_ids_records_null_event_ids(la: LedgerApi, wk: Week) -> None:
    la.init("u1")
    mark = la.mark()
    la.inc_batch([{"user_id": "u1", "goal_id": "kills", "occurred_at": wk.mon}] * 3)
    assert changes(la, "u1", "kills", mark) == [
        change("increment", (0, "not_started"), (3, "in_progress"), occurred_at=utc(wk.mon))
    ]


def test_daily_once_goal_labels_only_the_counted_item(la: LedgerApi, wk: Week) -> None:
    la.init("u1")
    mark = la.mark()
    result = la.inc_batch(
        [
            {"user_id": "u1", "goal_id": "logins", "event_id": "l-1", "occurred_at": wk.mon},
            {"user_id": "u1", "goal_id": "logins", "event_id": "l-2", "occurred_at": wk.at(0, 23)},
            {"user_id": "u1", "goal_id": "logins", "event_id": "l-3", "occurred_at": wk.tue},
        ]
    )
    assert (result["applied"], result["skipped"]["already_counted_today"]) == (2, 1)
    assert changes(la, "u1", "logins", mark) == [
        change(
            "increment",
            (0, "not_started"),
            (2, "in_progress"),
            event_ids=["l-1", "l-3"],
            occurred_at=utc(wk.tue),
        )
    ]


def test_set_batch_records_the_winning_value_and_leaves_stale_items_out(la: LedgerApi, wk: Week) -> None:
    la.init("u1")
    mark = la.mark()
    result = la.set_batch(
        [
            {"user_id": "u1", "goal_id": "level", "value": 5, "event_id": "s-1", "occurred_at": wk.mon},
            {"user_id": "u1", "goal_id": "level", "value": 9, "event_id": "s-2", "occurred_at": wk.wed},
            {"user_id": "u1", "goal_id": "level", "value": 7, "event_id": "s-3", "occurred_at": wk.tue},
        ]
    )
    assert (result["applied"], result["skipped"]["stale_event"]) == (2, 1)
    la.set_batch(
        [{"user_id": "u1", "goal_id": "level", "value": 25, "event_id": "s-4", "occurred_at": wk.next_tue}]
    )
    assert changes(la, "u1", "level", mark) == [
        change(
            "set", (0, "not_started"), (9, "in_progress"), event_ids=["s-1", "s-2"], occurred_at=utc(wk.wed)
        ),
        change("set", (9, "in_progress"), (25, "completed"), event_ids=["s-4"], occurred_at=utc(wk.next_tue)),
    ]


def _write(api: LedgerApi, how: str, goal_id: str, *, at: str, event_id: str | None = None) -> str:
    """One item through one write path; returns its outcome."""
    item: dict[str, Any] = {"user_id": "u1", "goal_id": goal_id, "occurred_at": at}
    if event_id is not None:
        item["event_id"] = event_id
    if how == "single":
        outcome: str = api.inc("u1", goal_id, 1, event_id, occurred_at=at)["outcome"]
        return outcome
    if how == "batch":
        return outcome_of(api.inc_batch([item]))
    return outcome_of(api.set_batch([{**item, "value": 4}]))


# (write path, setup, goal, outcome): each a skipped write, which must record nothing.
SKIPS = [
    ("single", "duplicate", "kills", "duplicate_event"),
    ("batch", "duplicate", "kills", "duplicate_event"),
    ("set", "duplicate", "level", "duplicate_event"),
    ("single", "inactive", "kills", "inactive"),
    ("batch", "inactive", "kills", "inactive"),
    ("set", "inactive", "level", "inactive"),
    ("single", "not-assigned", "side-b", "not_assigned"),
    ("batch", "not-assigned", "side-b", "not_assigned"),
    ("single", "claimed", "side-a", "claimed"),
    ("batch", "claimed", "side-a", "claimed"),
    ("single", "counted-today", "logins", "already_counted_today"),
    ("batch", "counted-today", "logins", "already_counted_today"),
    ("single", "stale", "weekly", "stale_event"),
    ("batch", "stale", "weekly", "stale_event"),
    ("set", "stale", "level", "stale_event"),
    ("single", "unknown", "nope", "unknown_goal"),
    ("batch", "unknown", "nope", "unknown_goal"),
    ("set", "type", "kills", "type_mismatch"),
]


@pytest.mark.parametrize(
    ("how", "setup", "goal_id", "expected"), SKIPS, ids=[f"{s[0]}-{s[1]}" for s in SKIPS]
)
def test_a_skipped_write_records_nothing(
    la: LedgerApi, wk: Week, how: str, setup: str, goal_id: str, expected: str
) -> None:
    la.init("u1")
    event_id = None
    if setup == "duplicate":
        event_id = "seen"
        assert _write(la, how, goal_id, at=wk.wed, event_id="seen") == "applied"
    elif setup == "inactive":
        la.set_active("u1", goal_id, False)
    elif setup == "claimed":
        la.inc("u1", goal_id, 3)
        la.claim("u1", goal_id, "c-1")
    elif setup == "counted-today":
        assert _write(la, how, goal_id, at=wk.wed) == "applied"
    elif setup == "stale":
        assert _write(la, how, goal_id, at=wk.next_tue) == "applied"
    before = la.dump()
    at = wk.mon if setup == "stale" else wk.wed
    assert _write(la, how, goal_id, event_id=event_id, at=at) == expected
    after = la.dump()
    assert after["ledger"] == before["ledger"]
    assert after["progress"] == before["progress"]


def test_a_write_in_a_later_period_records_the_rotation(la: LedgerApi, wk: Week) -> None:
    la.init("u1")
    mark = la.mark()
    la.inc("u1", "weekly", 3, occurred_at=wk.mon)  # out of the current week into week wk
    la.inc("u1", "weekly", 1, occurred_at=wk.wed)  # same week
    la.inc_batch([{"user_id": "u1", "goal_id": "weekly", "delta": 4, "occurred_at": wk.next_tue}])  # resets
    la.inc("u1", "weekly", 1, occurred_at=wk.at(15, 0))  # a week later still: resets again
    week1, week2, week3 = wk.start, wk.start + 7 * DAY, wk.start + 14 * DAY
    assert changes(la, "u1", "weekly", mark) == [
        change(
            "increment",
            (0, "not_started"),
            (3, "in_progress"),
            rotated=True,
            period_start=week1,
            occurred_at=utc(wk.mon),
        ),
        change(
            "increment", (3, "in_progress"), (4, "in_progress"), period_start=week1, occurred_at=utc(wk.wed)
        ),
        change(
            "increment",
            (4, "in_progress"),
            (4, "in_progress"),
            rotated=True,
            period_start=week2,
            occurred_at=utc(wk.next_tue),
        ),
        change(
            "increment",
            (4, "in_progress"),
            (1, "in_progress"),
            rotated=True,
            period_start=week3,
            occurred_at=utc(wk.at(15, 0)),
        ),
    ]
    assert_chains(la)


def test_absolute_values_in_later_periods_record_the_rotation(la: LedgerApi, wk: Week) -> None:
    la.set_active("u1", "weekly-level", True)
    mark = la.mark()
    for value, at in ((3, wk.mon), (5, wk.wed), (2, wk.next_tue)):
        assert (
            la.set_batch([{"user_id": "u1", "goal_id": "weekly-level", "value": value, "occurred_at": at}])[
                "applied"
            ]
            == 1
        )
    week1, week2 = wk.start, wk.start + 7 * DAY
    assert changes(la, "u1", "weekly-level", mark) == [
        change(
            "set",
            (0, "not_started"),
            (3, "in_progress"),
            rotated=True,
            period_start=week1,
            occurred_at=utc(wk.mon),
        ),
        change("set", (3, "in_progress"), (5, "in_progress"), period_start=week1, occurred_at=utc(wk.wed)),
        change(
            "set",
            (5, "in_progress"),
            (2, "in_progress"),
            rotated=True,
            period_start=week2,
            occurred_at=utc(wk.next_tue),
        ),
    ]
    assert_chains(la)


@pytest.mark.parametrize("how", ["single", "batch"])
def test_a_claimed_daily_goal_starts_over_with_a_rotated_increment(
    la: LedgerApi, server_clock: ServerClock, how: str
) -> None:
    la.init("u1")
    today = server_clock.now
    la.inc("u1", "daily-wins", 2, occurred_at=today)
    la.claim("u1", "daily-wins", "c-1")
    mark = la.mark()
    if how == "single":
        assert la.inc("u1", "daily-wins", 1, occurred_at=today + DAY)["outcome"] == "applied"
    else:
        item = {"user_id": "u1", "goal_id": "daily-wins", "occurred_at": (today + DAY).isoformat()}
        assert la.inc_batch([item])["applied"] == 1
    tomorrow = la.period_start("daily") + DAY
    assert changes(la, "u1", "daily-wins", mark) == [
        change(
            "increment",
            (2, "claimed"),
            (1, "in_progress"),
            rotated=True,
            period_start=tomorrow,
            occurred_at=today + DAY,
        )
    ]
    assert_chains(la)


def test_an_assignment_call_in_a_new_period_records_a_rotate_row(la: LedgerApi) -> None:
    """set_goal_active on an active row is a no-op, but the row's period is over: only 'rotate' is logged."""
    la.init("u1")
    la.inc("u1", "weekly", 3)
    la.let_period_pass("u1", "weekly")
    mark = la.mark()
    la.set_active("u1", "weekly", True)
    week = la.period_start("weekly")
    assert changes(la, "u1", "weekly", mark) == [
        change("rotate", (3, "in_progress"), (0, "not_started"), rotated=True, period_start=week)
    ]
    la.let_period_pass("u1", "weekly")
    mark = la.mark()
    la.select("u1", "main", ["weekly"])
    assert [r["operation"] for r in la.ledger("u1", after=mark)] == ["rotate"]
    assert_chains(la)


def test_deactivation_in_a_new_period_records_unassign_then_rotate(la: LedgerApi) -> None:
    la.init("u1")
    la.inc("u1", "carry", 2)
    la.let_period_pass("u1", "carry")
    mark = la.mark()
    la.set_active("u1", "carry", False)
    week = la.period_start("weekly")
    assert changes(la, "u1", "carry", mark) == [
        change("unassign", (2, "in_progress"), (2, "in_progress"), period_start=week - 7 * DAY),
        change("rotate", (2, "in_progress"), (2, "in_progress"), rotated=True, period_start=week),
    ]


def test_record_events_labels_every_goal_it_reached_with_the_event_id(la: LedgerApi, wk: Week) -> None:
    la.init("u1")
    la.init("u2")
    mark = la.mark()
    result = la.record(
        [
            {
                "event_id": "k-1",
                "user_id": "u1",
                "kind": "statistic",
                "stat_code": "kills",
                "inc": 2,
                "occurred_at": wk.mon,
            },
            {"event_id": "g-1", "user_id": "u1", "kind": "login", "occurred_at": wk.mon},
            {
                "event_id": "k-2",
                "user_id": "u2",
                "kind": "statistic",
                "stat_code": "kills",
                "occurred_at": wk.mon,
            },
            {
                "event_id": "k-3",
                "user_id": "u1",
                "kind": "statistic",
                "stat_code": "kills",
                "inc": 3,
                "occurred_at": wk.tue,
            },
            {
                "event_id": "v-1",
                "user_id": "u1",
                "kind": "statistic",
                "stat_code": "level",
                "value": 6,
                "occurred_at": wk.tue,
            },
        ]
    )
    assert (result["events"], result["applied"]) == (5, 8)
    week1 = wk.start
    assert changes(la, "u1", "kills", mark) == [
        change(
            "increment",
            (0, "not_started"),
            (5, "in_progress"),
            event_ids=["k-1", "k-3"],
            occurred_at=utc(wk.tue),
        )
    ]
    assert changes(la, "u1", "weekly", mark) == [
        change(
            "increment",
            (0, "not_started"),
            (5, "completed"),
            event_ids=["k-1", "k-3"],
            rotated=True,
            period_start=week1,
            occurred_at=utc(wk.tue),
        )
    ]
    assert changes(la, "u1", "logins", mark) == [
        change(
            "increment", (0, "not_started"), (1, "in_progress"), event_ids=["g-1"], occurred_at=utc(wk.mon)
        )
    ]
    assert changes(la, "u1", "level", mark) == [
        change("set", (0, "not_started"), (6, "in_progress"), event_ids=["v-1"], occurred_at=utc(wk.tue))
    ]
    assert changes(la, "u2", "kills", mark) == [
        change(
            "increment", (0, "not_started"), (1, "in_progress"), event_ids=["k-2"], occurred_at=utc(wk.mon)
        )
    ]
    assert [r["event_ids"] for r in la.ledger("u2", "weekly", mark)] == [["k-2"]]
    rows = la.ledger(after=mark)
    assert len(rows) == 6 and len({r["txid"] for r in rows}) == 1
    # Every (event, goal) it applied is named by exactly one ledger row.
    labels = sorted((r["user_id"], r["goal_id"], e) for r in rows for e in r["event_ids"])
    assert len(labels) == result["applied"] == len(set(labels))
    assert_chains(la)


def test_record_events_duplicates_and_unrouted_events_record_nothing(la: LedgerApi, wk: Week) -> None:
    la.init("u1")
    event = {
        "event_id": "k-1",
        "user_id": "u1",
        "kind": "statistic",
        "stat_code": "kills",
        "occurred_at": wk.mon,
    }
    la.record([event])
    before = la.dump()["ledger"]
    result = la.record(
        [
            event,
            {
                "event_id": "n-1",
                "user_id": "u1",
                "kind": "statistic",
                "stat_code": "deaths",
                "occurred_at": wk.mon,
            },
            {"event_id": "n-2", "user_id": "u9", "kind": "login", "occurred_at": wk.mon},
        ]
    )
    assert (result["duplicate_events"], result["applied"]) == (1, 0)
    assert la.dump()["ledger"] == before


def test_claim_records_the_status_change_only_once(la: LedgerApi, wk: Week) -> None:
    la.init("u1")
    la.inc("u1", "kills", 12, occurred_at=wk.mon)
    mark = la.mark()
    la.claim("u1", "kills", "c-1")
    assert changes(la, "u1", "kills", mark) == [change("claim", (12, "completed"), (12, "claimed"))]
    assert la.claim("u1", "kills", "c-1")["replayed"] is True  # a replay changes nothing
    with pytest.raises(psycopg.Error) as again:
        la.claim("u1", "kills", "c-2")
    assert_sqlstate(again.value, "CH022")
    with pytest.raises(psycopg.Error) as not_done:
        la.claim("u1", "side-a", "c-3")
    assert_sqlstate(not_done.value, "CH021")
    assert len(la.ledger(after=mark)) == 1


def test_claim_of_a_carried_over_goal_records_its_move_to_the_current_period(la: LedgerApi) -> None:
    la.init("u1")
    la.inc("u1", "carry", 6)
    la.let_period_pass("u1", "carry")
    mark = la.mark()
    la.claim("u1", "carry", "c-1")
    assert changes(la, "u1", "carry", mark) == [
        change(
            "claim", (6, "completed"), (6, "claimed"), rotated=True, period_start=la.period_start("weekly")
        )
    ]
    assert_chains(la)


def test_expiry_records_the_rows_last_state_and_nothing_after(la: LedgerApi, wk: Week) -> None:
    la.init("u1")
    la.inc("u1", "kills", 4, occurred_at=wk.mon)
    la.inc("u1", "weekly", 2)
    la.set_expires_at("u1", "kills", 8 * DAY)
    la.set_expires_at("u1", "weekly", 8 * DAY)
    mark = la.mark()
    assert la.delete_expired() == 2
    assert changes(la, "u1", "kills", mark) == [change("expire", (4, "in_progress"), None)]
    assert changes(la, "u1", "weekly", mark) == [
        change("expire", (2, "in_progress"), None, period_start=la.period_start("weekly"))
    ]
    assert la.get("u1", "kills") is None
    assert operations(assert_chains(la), ("u1", "kills")) == ["assign", "increment", "expire"]
    # A later assignment starts the row again: its history goes on from "no row".
    mark = la.mark()
    la.init("u1")
    assert changes(la, "u1", "kills", mark) == [change("assign", None, (0, "not_started"))]
    assert operations(assert_chains(la), ("u1", "kills")) == ["assign", "increment", "expire", "assign"]


def test_rows_of_one_call_share_its_transaction_id_and_time(la: LedgerApi) -> None:
    la.init("u1")
    la.init("u2")
    mark = la.mark()
    with la.conn.transaction():
        started = la.scalar("SELECT clock_timestamp()")
        la.inc_batch([{"user_id": u, "goal_id": g} for u in ("u1", "u2") for g in ("kills", "side-a")])
        la.inc("u1", "kills", 1)
        xid = la.scalar("SELECT pg_current_xact_id()::text::bigint")
        ended = la.scalar("SELECT clock_timestamp()")
    rows = la.ledger(after=mark)
    assert len(rows) == 5
    assert {r["txid"] for r in rows} == {xid}
    assert all(started <= r["recorded_at"] <= ended for r in rows)
    la.inc("u1", "kills", 1)
    assert la.ledger(after=rows[-1]["change_id"])[0]["txid"] != xid
    # Within a call, the rows come in (user, goal) order.
    assert [(r["user_id"], r["goal_id"]) for r in rows[:4]] == [
        ("u1", "kills"),
        ("u1", "side-a"),
        ("u2", "kills"),
        ("u2", "side-a"),
    ]


# --- the switch: pgchallenge.ledger -------------------------------------------------------------------------


def comparable(rows: list[Row], prefix: str) -> list[Row]:
    """Progress rows of the prefixed players, without the prefix and the columns that hold call times."""
    times = {
        "assigned_at",
        "completed_at",
        "claimed_at",
        "created_at",
        "updated_at",
        "last_value_at",
        "expires_at",
        "version",  # starts at the clock's microseconds
    }
    return [
        {**{k: v for k, v in r.items() if k not in times}, "user_id": r["user_id"][len(prefix) :]}
        for r in rows
        if r["user_id"].startswith(prefix)
    ]


def set_ledger(la: LedgerApi, enabled: bool) -> None:
    assert la.scalar("SELECT challenge.set_ledger(%s)", [enabled]) is enabled


def test_ledger_off_records_nothing_and_progress_changes_as_usual(la: LedgerApi, wk: Week) -> None:
    set_ledger(la, False)
    run_workload(la, wk, "off-")
    assert la.ledger_count() == 0
    set_ledger(la, True)
    run_workload(la, wk, "on-")
    assert la.ledger_count() > 0
    assert {r["user_id"] for r in la.ledger()} == {"on-u1", "on-u2"}
    progress = la.table_rows()["progress"]
    assert comparable(progress, "off-") == comparable(progress, "on-")
    assert len(comparable(progress, "off-")) == 17


@pytest.mark.parametrize(("value", "records"), [
    ("on", True), ("off", False), ("true", True), ("false", False),
    ("yes", True), ("no", False), ("1", True), ("0", False), ("", False), (" On ", True),
])  # fmt: skip
@pytest.mark.parametrize("switch", [True, False])
def test_the_setting_can_only_add_to_the_switch(
    la: LedgerApi, value: str, records: bool, switch: bool
) -> None:
    """An on spelling records even while the switch is off; no spelling keeps a write out of it."""
    set_ledger(la, switch)
    la.conn.execute(f"SET pgchallenge.ledger = '{value}'")
    la.init("u1")
    la.inc("u1", "kills", 2)
    assert la.must_get("u1", "kills")["progress"] == 2
    assert la.ledger_count() == (len(DEFAULT_GOALS) + 1 if records or switch else 0)


def test_the_ledger_is_on_by_default(la: LedgerApi) -> None:
    assert la.scalar("SELECT current_setting('pgchallenge.ledger', true)") in (None, "")
    assert la.scalar("SELECT count(*) FROM challenge.deployment_settings WHERE name = 'ledger'") == 0
    la.init("u1")
    assert la.ledger_count() == len(DEFAULT_GOALS)


def test_the_switch_applies_to_every_session_from_its_commit(
    la: LedgerApi, connect: Callable[..., psycopg.Connection[Any]]
) -> None:
    la.init("u1")
    other = LedgerApi(connect())
    mark = la.mark()
    with la.conn.transaction():
        set_ledger(la, False)
        other.inc("u1", "kills", 1)  # before the commit: still on
    other.inc("u1", "kills", 2)  # after: off, in a session opened before the switch
    assert [r["progress_after"] for r in la.ledger(after=mark)] == [1]
    assert other.must_get("u1", "kills")["progress"] == 3


@pytest.mark.parametrize("how", ["SET", "SET LOCAL", "ALTER ROLE"])
def test_a_session_cannot_switch_the_ledger_off_for_itself(
    la: LedgerApi, connect: Callable[..., psycopg.Connection[Any]], how: str
) -> None:
    la.init("u1")
    mark = la.mark()
    if how == "ALTER ROLE":
        role = la.scalar("SELECT current_user")
        la.conn.execute(
            f'ALTER ROLE "{role}" IN DATABASE "{la.scalar("SELECT current_database()")}"'
            " SET pgchallenge.ledger = off"
        )
        try:
            LedgerApi(connect()).inc("u1", "kills", 2)
        finally:
            la.conn.execute(
                f'ALTER ROLE "{role}" IN DATABASE "{la.scalar("SELECT current_database()")}"'
                " RESET pgchallenge.ledger"
            )
    else:
        with la.conn.transaction():
            la.conn.execute(f"{how} pgchallenge.ledger = off")
            la.inc("u1", "kills", 2)
        la.conn.execute("RESET pgchallenge.ledger")
    assert [(r["operation"], r["progress_after"]) for r in la.ledger(after=mark)] == [("increment", 2)]


def test_set_local_on_records_one_transaction_while_the_switch_is_off(la: LedgerApi) -> None:
    la.init("u1")
    set_ledger(la, False)
    mark = la.mark()
    la.inc("u1", "kills", 1)
    with la.conn.transaction():
        la.conn.execute("SET LOCAL pgchallenge.ledger = on")
        la.inc("u1", "kills", 2)
        la.inc_batch([{"user_id": "u1", "goal_id": "kills", "event_id": "e-1"}])
    la.inc("u1", "kills", 1)  # the next transaction: off again
    assert [(r["operation"], r["progress_before"], r["progress_after"]) for r in la.ledger(after=mark)] == [
        ("increment", 1, 3),
        ("increment", 3, 4),
    ]
    assert la.must_get("u1", "kills")["progress"] == 5
    # The chain shows the gaps: it no longer starts where the ledger saw the row last.
    with pytest.raises(AssertionError):
        assert_chains(la)


def test_set_ledger_refuses_null(la: LedgerApi) -> None:
    with pytest.raises(psycopg.Error) as excinfo:
        la.scalar("SELECT challenge.set_ledger(NULL)")
    assert assert_sqlstate(excinfo.value, "CH003").diag.message_primary == (
        "invalid argument: enabled must be true or false, got NULL"
    )


BAD_SETTING = "onn"

# Each write function, called on a state where it would change something.
INVALID_SETTING_CALLS: dict[str, Callable[[LedgerApi], object]] = {
    "initialize_player": lambda a: a.init("u2"),
    "set_goal_active-create": lambda a: a.set_active("u1", "side-b", True),
    "set_goal_active-deactivate": lambda a: a.set_active("u1", "kills", False),
    "select_goals": lambda a: a.select("u1", "side", ["side-c"], replace=True),
    "random_select_goals": lambda a: a.random_select("u1", "side", 1, seed="s"),
    "increment_progress": lambda a: a.inc("u1", "kills", 1, "e-new"),
    "increment_progress_batch": lambda a: a.inc_batch(
        [{"user_id": "u1", "goal_id": "kills", "event_id": "e-new"}]
    ),
    "set_progress_batch": lambda a: a.set_batch(
        [{"user_id": "u1", "goal_id": "level", "value": 3, "event_id": "e-new"}]
    ),
    "record_events": lambda a: a.record([{"event_id": "e-new", "user_id": "u1", "kind": "login"}]),
    "record_events-no-goal-reached": lambda a: a.record(
        [{"event_id": "e-new", "user_id": "u1", "kind": "statistic", "stat_code": "deaths"}]
    ),
    "claim_goal": lambda a: a.claim("u1", "level", "c-new"),
    "delete_expired_progress": lambda a: a.delete_expired(DAY),
    "rotation-by-set_goal_active": lambda a: a.set_active("u1", "weekly", True),
}


@pytest.mark.parametrize("call", sorted(INVALID_SETTING_CALLS))
def test_an_invalid_setting_raises_and_changes_nothing(la: LedgerApi, wk: Week, call: str) -> None:
    la.init("u1")
    la.set_batch([{"user_id": "u1", "goal_id": "level", "value": 20, "occurred_at": wk.mon}])  # claimable
    la.set_expires_at("u1", "side-a", 2 * DAY)  # expired
    la.inc("u1", "weekly", 2)
    la.let_period_pass("u1", "weekly")  # due for rotation
    before = la.dump()
    la.conn.execute(f"SET pgchallenge.ledger = '{BAD_SETTING}'")
    with pytest.raises(psycopg.Error) as excinfo:
        INVALID_SETTING_CALLS[call](la)
    error = assert_sqlstate(excinfo.value, "CH003")
    message = error.diag.message_primary or ""
    assert "pgchallenge.ledger" in message and BAD_SETTING in message, message
    la.conn.execute("RESET pgchallenge.ledger")
    assert la.dump() == before


# --- explain_progress ---------------------------------------------------------------------------------------


def test_explain_progress_returns_one_rows_history_in_order(la: LedgerApi, wk: Week) -> None:
    run_workload(la, wk)
    with la.conn.cursor() as cur:
        cur.execute("SELECT * FROM challenge.explain_progress('u1', 'kills')")
        assert [d.name for d in cur.description or []] == EXPLAIN_COLUMNS
    explained = la.explain("u1", "kills")
    ledger = la.ledger("u1", "kills")
    assert [r["operation"] for r in explained] == [
        "assign",
        "increment",
        "increment",
        "increment",
        "increment",
        "claim",
    ]
    assert explained == [{c: r[c] for c in EXPLAIN_COLUMNS} for r in ledger]
    assert [r["change_id"] for r in explained] == sorted(r["change_id"] for r in explained)
    assert [r["event_ids"] for r in explained] == [None, None, ["e-1"], ["b-1", "b-3"], None, None]
    assert explained[-1]["progress_after"] == la.must_get("u1", "kills")["progress"]
    # Another player's and another goal's rows stay out.
    assert len(la.explain("u2", "kills")) == 3
    assert len(la.explain("u1", "side-b")) == 4


def test_explain_progress_is_empty_without_history(la: LedgerApi) -> None:
    la.init("u1")
    assert la.explain("u1", "nope") == []
    assert la.explain("nobody", "kills") == []
    assert la.explain("u1", "side-b") == []  # a goal never assigned to u1


@pytest.mark.parametrize(
    ("user_id", "goal_id", "named"),
    [
        (None, "kills", "user_id"),
        ("u1", None, "goal_id"),
        ("", "kills", "user_id"),
        ("u1", LONG, "goal_id"),
        (LONG, "kills", "user_id"),
    ],
    ids=["null-user", "null-goal", "empty-user", "long-goal", "long-user"],
)
def test_explain_progress_rejects_bad_ids(
    la: LedgerApi, user_id: str | None, goal_id: str | None, named: str
) -> None:
    with pytest.raises(psycopg.Error) as excinfo:
        la.explain(user_id, goal_id)
    assert named in (assert_sqlstate(excinfo.value, "CH003").diag.message_primary or "")


# --- day partitions and retention ---------------------------------------------------------------------------


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


def test_create_ledger_partitions_makes_each_day_once(la: LedgerApi) -> None:
    today = la.today()
    assert la.partitions() == ["ledger_default"]
    assert la.create_partitions(3) == 4
    assert la.partitions() == sorted([*(day_name(today + n * DAY) for n in range(4)), "ledger_default"])
    assert la.create_partitions(3) == 0
    assert la.create_partitions() == 4  # the default, 7 days ahead: days 4 to 7 are new
    assert la.create_partitions(0) == 0
    assert len(la.partitions()) == 9


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "America/Los_Angeles"])
def test_partitions_are_utc_days_whatever_the_session_time_zone(la: LedgerApi, zone: str) -> None:
    la.conn.execute(f"SET TIME ZONE '{zone}'")
    assert la.create_partitions(1) == 2
    la.conn.execute("SET TIME ZONE 'UTC'")
    today = la.today()
    bounds = la.rows(
        "SELECT c.relname, pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS bound"
        " FROM pg_catalog.pg_class AS c WHERE c.relname = ANY (%s) ORDER BY c.relname",
        [[day_name(today), day_name(today + DAY)]],
    )
    assert [(b["relname"], b["bound"]) for b in bounds] == [
        (day_name(d), f"FOR VALUES FROM ('{d} 00:00:00+00') TO ('{d + DAY} 00:00:00+00')")
        for d in (today, today + DAY)
    ]


def test_rows_recorded_before_the_partition_existed_move_into_it(
    la: LedgerApi, server_clock: ServerClock, wk: Week
) -> None:
    la.init("u1")
    la.inc("u1", "kills", 3, "e-1", occurred_at=wk.mon)
    old = server_clock.now - 10 * DAY
    insert_old_row(la, "u9", old)
    before = la.dump()["ledger"]
    assert {r["part"] for r in before} == {"challenge.ledger_default"}
    la.create_partitions(1)
    after = la.dump()["ledger"]
    today_part = f"challenge.{day_name(la.today())}"
    # The same rows, value for value; today's moved out of the default partition, the old one stayed.
    assert [{**r, "part": None} for r in after] == [{**r, "part": None} for r in before]
    assert {r["user_id"]: r["part"] for r in after} == {"u1": today_part, "u9": "challenge.ledger_default"}
    assert la.scalar("SELECT count(*) FROM ONLY challenge.ledger_default") == 1
    assert [r["operation"] for r in la.explain("u1", "kills")] == ["assign", "increment"]


def test_new_rows_land_in_todays_partition(la: LedgerApi, wk: Week) -> None:
    assert la.create_partitions(2) == 3
    mark = la.mark()
    run_workload(la, wk)
    today_part = f"challenge.{day_name(la.today())}"
    parts = {part for change_id, part in part_of(la).items() if change_id > mark}
    assert parts == {today_part}
    assert la.scalar("SELECT count(*) FROM ONLY challenge.ledger_default") == 0
    assert_chains(la)


def test_prune_ledger_drops_old_day_partitions_and_old_default_rows(
    la: LedgerApi, server_clock: ServerClock
) -> None:
    today = la.today()
    long_ago = today - 200 * DAY
    create_day_partition(la, long_ago)
    insert_old_row(
        la,
        "u-old-partition",
        datetime.combine(long_ago, datetime.min.time(), timezone.utc) + timedelta(hours=5),
    )
    insert_old_row(la, "u-old-default", server_clock.now - 120 * DAY)
    insert_old_row(la, "u-recent-default", server_clock.now - 10 * DAY)
    la.create_partitions(1)
    la.init("u1")
    assert part_of(la)[la.mark()] == f"challenge.{day_name(today)}"
    kept = [r for r in la.dump()["ledger"] if not r["user_id"].startswith("u-old")]
    assert la.prune() == 2  # one partition dropped, one default row deleted (90 days by default)
    assert la.partitions() == sorted(["ledger_default", day_name(today), day_name(today + DAY)])
    assert la.dump()["ledger"] == kept
    assert la.prune() == 0


def test_prune_ledger_keeps_the_current_day_and_bounds_default_deletes(
    la: LedgerApi, server_clock: ServerClock
) -> None:
    today = la.today()
    yesterday = today - DAY
    create_day_partition(la, yesterday)
    insert_old_row(la, "u-yesterday", datetime.combine(yesterday, datetime.min.time(), timezone.utc))
    for n in range(3):
        insert_old_row(la, f"u-default-{n}", server_clock.now - (40 + n) * DAY)
    la.create_partitions(0)
    la.init("u1")
    # A zero interval: yesterday's day is over and goes; today's is not over and stays whole.
    assert la.prune(timedelta(0), 2) == 3  # the partition + 2 default rows
    assert la.partitions() == sorted(["ledger_default", day_name(today)])
    assert la.prune(timedelta(0), 2) == 1
    assert la.prune(timedelta(0), 2) == 0
    assert sorted({r["user_id"] for r in la.ledger()}) == ["u1"]
    assert la.ledger_count() == len(DEFAULT_GOALS)


@pytest.mark.parametrize(
    ("sql", "params", "named"),
    [
        ("SELECT challenge.create_ledger_partitions(%s::integer)", [-1], "days_ahead"),
        ("SELECT challenge.create_ledger_partitions(%s::integer)", [367], "days_ahead"),
        ("SELECT challenge.create_ledger_partitions(%s::integer)", [None], "days_ahead"),
        ("SELECT challenge.prune_ledger(%s::interval)", [None], "retention"),
        ("SELECT challenge.prune_ledger(%s::interval)", [timedelta(days=-1)], "retention"),
        ("SELECT challenge.prune_ledger(interval '1 day', %s::integer)", [0], "batch_size"),
        ("SELECT challenge.prune_ledger(interval '1 day', %s::integer)", [None], "batch_size"),
        ("SELECT challenge.prune_ledger(interval '1 day', %s::integer)", [100001], "batch_size"),
    ],
    ids=[
        "days--1",
        "days-367",
        "days-null",
        "older-null",
        "older-negative",
        "batch-0",
        "batch-null",
        "batch-100001",
    ],
)
def test_partition_functions_reject_bad_arguments(
    la: LedgerApi, server_clock: ServerClock, sql: str, params: list[Any], named: str
) -> None:
    create_day_partition(la, la.today() - 200 * DAY)
    insert_old_row(la, "u-old", server_clock.now - 200 * DAY)
    before = la.dump()
    with pytest.raises(psycopg.Error) as excinfo:
        la.scalar(sql, params)
    assert named in (assert_sqlstate(excinfo.value, "CH003").diag.message_primary or "")
    assert la.dump() == before


# --- delete_user_data ---------------------------------------------------------------------------------------


def test_delete_user_data_removes_only_the_players_ledger_rows_and_counts_them(
    la: LedgerApi, server_clock: ServerClock, wk: Week
) -> None:
    run_workload(la, wk)
    insert_old_row(la, "u1", server_clock.now - 30 * DAY)  # in ledger_default
    la.create_partitions(0)  # the rest of u1's history moves into today's partition
    for grant in la.lease("worker", 10):  # claims must be delivered before their player can go
        la.finish(grant["claim_id"], True)
    counts = {
        table: la.scalar(f"SELECT count(*) FROM challenge.{table} WHERE user_id = 'u1'")
        # Remembered event ids name their player since revision 0008 and are erased with it.
        for table in ("progress", "reward_grants", "ledger", "processed_events")
    }
    assert counts["ledger"] > counts["progress"] > 0 and counts["reward_grants"] == 2
    others = [r for r in la.dump()["ledger"] if r["user_id"] != "u1"]
    assert la.delete_user("u1") == sum(counts.values())
    assert la.ledger("u1") == [] and la.explain("u1", "kills") == []
    assert la.dump()["ledger"] == others
    assert la.delete_user("u1") == 0


def test_delete_user_data_deletes_the_history_of_a_player_whose_rows_expired(la: LedgerApi) -> None:
    la.set_active("u3", "side-b", True)
    la.set_expires_at("u3", "side-b", 8 * DAY)
    assert la.delete_expired() == 1
    assert [r["operation"] for r in la.ledger("u3")] == ["assign", "expire"]
    assert la.delete_user("u3") == 2  # no progress row left: the two ledger rows
    assert la.ledger_count() == 0


def test_delete_user_data_deletes_the_history_with_the_ledger_off(la: LedgerApi) -> None:
    la.init("u1")
    la.inc("u1", "kills", 2)
    set_ledger(la, False)
    assert la.delete_user("u1") == len(DEFAULT_GOALS) + len(DEFAULT_GOALS) + 1
    assert la.ledger_count() == 0


def test_delete_user_data_refused_for_a_pending_grant_keeps_the_history(la: LedgerApi) -> None:
    la.init("u1")
    la.inc("u1", "kills", 10)
    la.claim("u1", "kills", "c-1")
    before = la.dump()
    with pytest.raises(psycopg.Error) as excinfo:
        la.delete_user("u1")
    assert_sqlstate(excinfo.value, "CH026")
    assert la.dump() == before
