"""The audit ledger under concurrency: every row's history stays one exact chain.

Writers of one row are serialised by its row lock, and each records its change while holding it, so however
the calls interleave, the ledger rows of a row in change_id order must chain exactly (each "before" is the
previous "after"), add up to the row's progress, and number one per call that changed the row. Threads start
together on a threading.Barrier, each on its own real connection; the deterministic variants hold one
transaction open and wait (by polling pg_stat_activity) until the other connection is blocked on it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.concurrency.conchelpers import (
    apply_batch_plans,
    backend_pid,
    inc,
    inc_batch,
    set_batch,
)
from tests.serverclock import DAY, ServerClock
from tests.sql.ledgerhelpers import LedgerApi, assert_chains
from tests.threads import run_threads
from tests.waits import blocked_call

Connect = Callable[..., psycopg.Connection[Any]]
Row = dict[str, Any]
THREADS = 8
BARRIER_TIMEOUT = 10.0


def history(conn: psycopg.Connection[Any], user_id: str, goal_id: str) -> list[Row]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT * FROM challenge.ledger WHERE user_id = %s AND goal_id = %s ORDER BY change_id",
            [user_id, goal_id],
        ).fetchall()


def assert_chain(conn: psycopg.Connection[Any], user_id: str, goal_id: str) -> list[Row]:
    """The chain invariant (tests/sql/ledgerhelpers.py's assert_chains, over the whole ledger); returns the
    history of the row (user_id, goal_id).

    Every history starts with its row's creation, every change starts where the previous one ended, and the
    last one ends in the row's current state.
    """
    chains = assert_chains(LedgerApi(conn))
    assert (user_id, goal_id) in chains, f"no ledger history for ({user_id}, {goal_id})"
    return chains[(user_id, goal_id)]


def increments(rows: list[Row]) -> list[Row]:
    return [r for r in rows if r["operation"] == "increment"]


def added(rows: list[Row]) -> int:
    """What the increment rows say they added, in total."""
    return sum(r["progress_after"] - r["progress_before"] for r in increments(rows))


def outcome(result: dict[str, Any]) -> str:
    """The single outcome of a one-item batch."""
    if result["applied"] == 1:
        return "applied"
    skipped: str = next(k for k, v in result["skipped"].items() if v == 1)
    return skipped


# --- many writers, one row ----------------------------------------------------------------------------------


def test_single_increments_from_8_threads_leave_one_exact_chain(
    race_db: psycopg.Connection[Any], connect: Connect
) -> None:
    race_db.execute("SELECT challenge.initialize_player('u1')")
    conns = [connect() for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS, timeout=BARRIER_TIMEOUT)
    deltas = {(i, n): 1 + (i + n) % 3 for i in range(THREADS) for n in range(40)}

    def work(i: int) -> list[str]:
        barrier.wait()
        return [inc(conns[i], "u1", "count-a", deltas[(i, n)], f"e-{i}-{n}") for n in range(40)]

    outcomes = run_threads(THREADS, work)
    assert all(o == "applied" for per_thread in outcomes for o in per_thread)
    rows = assert_chain(race_db, "u1", "count-a")
    final = rows[-1]["progress_after"]
    assert final == sum(deltas.values())
    assert added(rows) == final
    assert len(increments(rows)) == THREADS * 40
    # Each ledger row is one call: its event id and the delta that call sent.
    assert Counter(
        (r["event_ids"][0], r["progress_after"] - r["progress_before"]) for r in increments(rows)
    ) == (Counter((f"e-{i}-{n}", delta) for (i, n), delta in deltas.items()))
    assert all(r["event_ids"] is not None and len(r["event_ids"]) == 1 for r in increments(rows))


def test_batches_with_repeated_keys_from_8_threads_leave_one_change_per_call_and_row(
    race_db: psycopg.Connection[Any], connect: Connect
) -> None:
    """Every batch folds its items of one row into one change: the ledger names exactly those items."""
    race_db.execute("SELECT challenge.initialize_player('u1')")
    goals = ["count-a", "count-b", "count-c"]
    conns = [connect() for _ in range(THREADS)]
    plans: list[list[list[dict[str, Any]]]] = []
    # What each (batch, row) must leave in the ledger: its event ids in item order and the sum of its deltas.
    expected: dict[str, Counter[tuple[tuple[str, ...], int]]] = {g: Counter() for g in goals}
    for i in range(THREADS):
        batches = []
        for b in range(10):
            items: list[dict[str, Any]] = [
                {
                    "user_id": "u1",
                    "goal_id": goals[(i * b + j * j) % 3],
                    "delta": 1 + (i + j) % 4,
                    "event_id": f"e-{i}-{b}-{j}",
                }
                for j in range(7)
            ]
            for goal_id in goals:
                mine = [item for item in items if item["goal_id"] == goal_id]
                if mine:
                    key = (tuple(item["event_id"] for item in mine), sum(item["delta"] for item in mine))
                    expected[goal_id][key] += 1
            batches.append(items)
        plans.append(batches)

    applied = apply_batch_plans(conns, plans)
    assert all(a == 7 for per_thread in applied for a in per_thread)
    for goal_id in goals:
        rows = assert_chain(race_db, "u1", goal_id)
        recorded = Counter(
            (tuple(r["event_ids"]), r["progress_after"] - r["progress_before"]) for r in increments(rows)
        )
        assert recorded == expected[goal_id], goal_id
        assert added(rows) == rows[-1]["progress_after"]
        assert len(increments(rows)) == sum(expected[goal_id].values())


def test_singles_and_batches_on_one_row_count_one_change_per_call(
    race_db: psycopg.Connection[Any], connect: Connect
) -> None:
    race_db.execute("SELECT challenge.initialize_player('u1')")
    conns = [connect() for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS, timeout=BARRIER_TIMEOUT)

    def work(i: int) -> int:
        barrier.wait()
        calls = 0
        for n in range(30):
            if (i + n) % 2:
                assert inc(conns[i], "u1", "count-a", 2) == "applied"
            else:
                items = [{"user_id": "u1", "goal_id": "count-a", "delta": 1}] * 3
                assert inc_batch(conns[i], items)["applied"] == 3
            calls += 1
        return calls

    calls = sum(run_threads(THREADS, work))
    rows = assert_chain(race_db, "u1", "count-a")
    assert len(increments(rows)) == calls == THREADS * 30
    assert added(rows) == rows[-1]["progress_after"] == THREADS * 15 * 2 + THREADS * 15 * 3
    assert {r["progress_after"] - r["progress_before"] for r in increments(rows)} == {2, 3}


def test_racing_absolute_values_record_only_the_applied_ones(
    race_db: psycopg.Connection[Any], connect: Connect
) -> None:
    """A value that lost the race (stale: a newer occurred_at was applied first) changes nothing: no row."""
    race_db.execute("SELECT challenge.initialize_player('u1')")
    conns = [connect() for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS, timeout=BARRIER_TIMEOUT)

    def work(i: int) -> list[str]:
        barrier.wait()
        return [
            outcome(set_batch(conns[i], [{"user_id": "u1", "goal_id": "level", "value": 100 * n + i}]))
            for n in range(25)
        ]

    outcomes = [o for per_thread in run_threads(THREADS, work) for o in per_thread]
    assert set(outcomes) <= {"applied", "stale_event"}
    rows = assert_chain(race_db, "u1", "level")
    sets = [r for r in rows if r["operation"] == "set"]
    assert len(sets) == outcomes.count("applied")
    # Values only move forward in time: each change's occurred_at is at least the previous one's.
    assert all(a["occurred_at"] <= b["occurred_at"] for a, b in pairwise(sets))


def test_increments_racing_activation_changes_keep_the_chain(
    race_db: psycopg.Connection[Any], connect: Connect
) -> None:
    """Deactivations and activations interleave with writes: one change per real toggle and applied write."""
    race_db.execute("SELECT challenge.initialize_player('u1')")
    conns = [connect() for _ in range(4)]
    barrier = threading.Barrier(4, timeout=BARRIER_TIMEOUT)

    def work(i: int) -> list[str]:
        barrier.wait()
        if i == 0:
            for n in range(30):
                conns[0].execute("SELECT challenge.set_goal_active('u1', 'count-a', %s)", [n % 2 == 1])
            return []
        if i == 1:
            return [
                outcome(inc_batch(conns[1], [{"user_id": "u1", "goal_id": "count-a"}])) for _ in range(40)
            ]
        return [inc(conns[i], "u1", "count-a") for _ in range(40)]

    outcomes = [o for per_thread in run_threads(4, work) for o in per_thread]
    assert set(outcomes) <= {"applied", "inactive"}
    rows = assert_chain(race_db, "u1", "count-a")
    assert len(increments(rows)) == outcomes.count("applied") == added(rows) == rows[-1]["progress_after"]
    toggles = [r["operation"] for r in rows if r["operation"] in ("assign", "unassign")]
    assert toggles == ["assign"] + ["unassign", "assign"] * 15


# --- claims racing with increments -------------------------------------------------------------------------


def test_claims_racing_with_increments_end_each_chain_with_the_claim(
    race_db: psycopg.Connection[Any], connect: Connect
) -> None:
    """Increments of a completed row race its claim: each applied one is logged before the claim, none after.

    Every item carries its own event id, so the ledger says exactly which writes it saw applied.
    """
    users = [f"u{n}" for n in range(4)]
    for user_id in users:
        race_db.execute("SELECT challenge.initialize_player(%s)", [user_id])
        assert inc(race_db, user_id, "d-1", 5) == "applied"  # completed: claimable, still incrementable
    writers = 6
    conns = [connect() for _ in range(writers + len(users))]
    barrier = threading.Barrier(writers + len(users), timeout=BARRIER_TIMEOUT)
    halfway = threading.Event()  # the claims go in while the writers are busy

    def work(i: int) -> tuple[set[str], int, int]:
        """Returns the applied single calls' event ids, the batches' applied and claimed item counts."""
        barrier.wait()
        if i >= writers:
            assert halfway.wait(BARRIER_TIMEOUT)
            user_id = users[i - writers]
            conns[i].execute("SELECT * FROM challenge.claim_goal(%s, 'd-1', %s)", [user_id, f"c-{user_id}"])
            return set(), 0, 0
        applied_singles: set[str] = set()
        batch_applied = batch_claimed = 0
        for n in range(20):
            if n == 8 and i == 0:
                halfway.set()
            if (i + n) % 2:
                for user_id in users:
                    event_id = f"s-{i}-{n}-{user_id}"
                    got = inc(conns[i], user_id, "d-1", 1, event_id)
                    assert got in ("applied", "claimed")
                    if got == "applied":
                        applied_singles.add(event_id)
            else:
                items = [{"user_id": u, "goal_id": "d-1", "event_id": f"b-{i}-{n}-{u}"} for u in users]
                result = inc_batch(conns[i], items)
                batch_applied += result["applied"]
                batch_claimed += result["skipped"]["claimed"]
        return applied_singles, batch_applied, batch_claimed

    results = run_threads(writers + len(users), work)
    applied_singles = set().union(*(r[0] for r in results))
    batch_applied = sum(r[1] for r in results)
    assert batch_applied + sum(r[2] for r in results) == writers * 10 * len(users)
    recorded: list[str] = []
    for user_id in users:
        rows = assert_chain(race_db, user_id, "d-1")
        ops = [r["operation"] for r in rows]
        assert ops[:2] == ["assign", "increment"] and ops[-1] == "claim", ops
        assert ops[2:-1] == ["increment"] * (len(ops) - 3), ops
        claim = rows[-1]
        assert (claim["status_before"], claim["status_after"]) == ("completed", "claimed")
        assert claim["progress_after"] == added(rows) == 5 + len(rows) - 3
        for row in rows[2:-1]:
            assert len(row["event_ids"]) == 1 and row["event_ids"][0].endswith(f"-{user_id}"), row
            recorded.append(row["event_ids"][0])
    assert len(recorded) == len(set(recorded))
    assert {e for e in recorded if e.startswith("s-")} == applied_singles
    assert sum(1 for e in recorded if e.startswith("b-")) == batch_applied
    grants = race_db.execute("SELECT count(*) FROM challenge.reward_grants").fetchone()
    assert grants == (len(users),)


@pytest.mark.parametrize("how", ["single", "batch"])
def test_claim_waiting_for_an_increment_records_the_incremented_row(
    race_db: psycopg.Connection[Any], connect: Connect, how: str
) -> None:
    race_db.execute("SELECT challenge.initialize_player('u1')")
    assert inc(race_db, "u1", "d-1", 5) == "applied"
    holder, claimer, observer = connect(autocommit=False), connect(), connect()
    if how == "single":
        assert inc(holder, "u1", "d-1", 2) == "applied"  # row locked, transaction open
    else:
        assert inc_batch(holder, [{"user_id": "u1", "goal_id": "d-1", "delta": 2}])["applied"] == 1

    def claim() -> Any:
        return claimer.execute("SELECT replayed FROM challenge.claim_goal('u1', 'd-1', 'c-1')").fetchone()

    assert blocked_call(claim, observer=observer, pid=backend_pid(claimer), release=holder.commit) == (False,)
    rows = assert_chain(race_db, "u1", "d-1")
    assert [(r["operation"], r["progress_before"], r["progress_after"]) for r in rows] == [
        ("assign", None, 0),
        ("increment", 0, 5),
        ("increment", 5, 7),
        ("claim", 7, 7),
    ]


@pytest.mark.parametrize("how", ["single", "batch"])
def test_increment_waiting_for_a_claim_records_nothing(
    race_db: psycopg.Connection[Any], connect: Connect, how: str
) -> None:
    """The waiting write finds the row claimed (the batch re-judges its item): no change, no ledger row."""
    race_db.execute("SELECT challenge.initialize_player('u1')")
    assert inc(race_db, "u1", "d-1", 5) == "applied"
    holder, writer, observer = connect(autocommit=False), connect(), connect()
    holder.execute("SELECT * FROM challenge.claim_goal('u1', 'd-1', 'c-1')")  # row locked, not committed

    def write() -> str:
        if how == "single":
            return inc(writer, "u1", "d-1", 3, "e-late")
        return outcome(
            inc_batch(writer, [{"user_id": "u1", "goal_id": "d-1", "delta": 3, "event_id": "e-late"}])
        )

    assert blocked_call(write, observer=observer, pid=backend_pid(writer), release=holder.commit) == "claimed"
    rows = assert_chain(race_db, "u1", "d-1")
    assert [(r["operation"], r["progress_before"], r["progress_after"]) for r in rows] == [
        ("assign", None, 0),
        ("increment", 0, 5),
        ("claim", 5, 5),
    ]
    assert all(r["event_ids"] is None for r in rows)


@pytest.mark.parametrize("how", ["single", "batch"])
def test_increment_waiting_for_an_increment_records_the_committed_before(
    race_db: psycopg.Connection[Any], connect: Connect, how: str
) -> None:
    """The waiting write's "before" is the value the first one committed, not the one in its snapshot."""
    race_db.execute("SELECT challenge.initialize_player('u1')")
    holder, writer, observer = connect(autocommit=False), connect(), connect()
    assert inc(holder, "u1", "count-a", 10) == "applied"

    def write() -> str:
        if how == "single":
            return inc(writer, "u1", "count-a", 1, "e-2")
        return outcome(inc_batch(writer, [{"user_id": "u1", "goal_id": "count-a", "event_id": "e-2"}]))

    assert blocked_call(write, observer=observer, pid=backend_pid(writer), release=holder.commit) == "applied"
    rows = assert_chain(race_db, "u1", "count-a")
    assert [(r["operation"], r["progress_before"], r["progress_after"], r["event_ids"]) for r in rows] == [
        ("assign", None, 0, None),
        ("increment", 0, 10, None),
        ("increment", 10, 11, ["e-2"]),
    ]


# --- partitions created while writers write ----------------------------------------------------------------


def test_creating_todays_partition_waits_for_a_writers_row_and_moves_it(
    race_db: psycopg.Connection[Any], connect: Connect
) -> None:
    """Creating today's partition while a writer's ledger row for today sits uncommitted in ledger_default.

    Until the partition exists, writes land in ledger_default, so on a live system the first maintenance run
    meets such a row. Creating the partition must wait for it and move it with the others, not fail.
    """
    race_db.execute("SELECT challenge.initialize_player('u1')")  # committed rows in ledger_default
    writer, maintainer, observer = connect(autocommit=False), connect(), connect()
    assert inc(writer, "u1", "count-a", 3, "e-1") == "applied"  # its ledger row: default, uncommitted

    def create() -> Any:
        return maintainer.execute("SELECT challenge.create_ledger_partitions(0)").fetchone()

    assert blocked_call(create, observer=observer, pid=backend_pid(maintainer), release=writer.commit) == (1,)
    today = race_db.execute(
        "SELECT 'challenge.ledger_' || to_char((clock_timestamp() AT TIME ZONE 'UTC')::date, 'YYYYMMDD')"
    ).fetchone()
    parts = race_db.execute("SELECT DISTINCT tableoid::regclass::text FROM challenge.ledger").fetchall()
    assert parts == [today]
    rows = assert_chain(race_db, "u1", "count-a")
    assert [(r["operation"], r["event_ids"]) for r in rows] == [("assign", None), ("increment", ["e-1"])]


def test_prune_ledger_leaves_a_partition_it_cannot_lock_for_a_later_call(
    race_db: psycopg.Connection[Any], connect: Connect, server_clock: ServerClock
) -> None:
    """Dropping a partition needs an exclusive lock on the whole ledger; an open writer must not stall it.

    While a writer's transaction holds the ledger, prune_ledger gives up on the drop after its short lock
    timeout (instead of queueing every later writer behind it), says so, and drops the day on its next call.
    """
    old = server_clock.today - 30 * DAY  # a day long over, on the server's clock
    partition = f"challenge.ledger_{old:%Y%m%d}"
    race_db.execute(
        f"CREATE TABLE {partition} PARTITION OF challenge.ledger"
        f" FOR VALUES FROM ('{old:%Y-%m-%d} 00:00+00') TO ('{old + DAY:%Y-%m-%d} 00:00+00')"
    )
    race_db.execute("SELECT challenge.initialize_player('u1')")
    writer, pruner = connect(autocommit=False), connect()
    notices: list[str] = []
    pruner.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
    assert inc(writer, "u1", "count-a", 1, "e-1") == "applied"  # holds the ledger until it commits

    assert pruner.execute("SELECT challenge.prune_ledger('1 day')").fetchone() == (0,)
    assert notices == [f"{partition} is busy (writers hold the ledger); it will be dropped by a later call"]
    # The function's lock_timeout did not leak into the session.
    assert pruner.execute("SHOW lock_timeout").fetchone() == ("0",)
    writer.commit()

    assert pruner.execute("SELECT challenge.prune_ledger('1 day')").fetchone() == (1,)
    assert race_db.execute("SELECT to_regclass(%s)", [partition]).fetchone() == (None,)
    assert [r["event_ids"] for r in history(race_db, "u1", "count-a")] == [None, ["e-1"]]
