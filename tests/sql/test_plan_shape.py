"""Plan shapes of the write paths, seen from inside the functions with auto_explain (no timing asserted).

The benchmark report (``pgchallenge bench``, section 1) shows the same plans with times; here they are
assertions: the single write finds its row by primary key, no write path scans challenge.progress
sequentially, and a batch never runs a subplan once per row (the reference's quadratic batch increment ran
nine correlated subqueries per row). The table is seeded large enough (60,000 rows, analyzed) that the
planner's choices are the ones a real table gets.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

PLAYERS = 5000
GOALS = 10  # increment goals goal-1 .. goal-10; plus absolute goals level-1, level-2
TARGET = 1_000_000_000
FLUSH = "SELECT 'plan shape: flush'"


def _goal(goal_id: str, kind: str) -> dict[str, Any]:
    return {
        "goalId": goal_id,
        "name": goal_id,
        "type": kind,
        "eventSource": "statistic",
        "defaultAssigned": True,
        "requirement": {
            "statCode": goal_id,
            "operator": ">=",
            "targetValue": TARGET,
            "progressMode": "absolute",
        },
        "reward": {"type": "ITEM", "rewardId": "sword", "quantity": 1},
    }


@pytest.fixture
def traced(db: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    """A seeded, analyzed database with auto_explain logging every nested statement as a JSON notice."""
    goals = [_goal(f"goal-{g}", "increment") for g in range(1, GOALS + 1)]
    goals += [_goal(f"level-{a}", "absolute") for a in (1, 2)]
    db.execute(
        "SELECT challenge.load_config(%s)",
        [Jsonb({"challenges": [{"challengeId": "shape", "name": "shape", "goals": goals}]})],
    )
    # Active when (player + goal number) is even; players n % 10 = 1 completed on their active goals.
    db.execute(
        """
        INSERT INTO challenge.progress (user_id, goal_id, namespace, progress, status, is_active, assigned_at,
                                        completed_at, updated_at)
        SELECT 'user-' || u, g.goal_id, 'default',
               CASE WHEN done THEN %(target)s ELSE 0 END,
               CASE WHEN done THEN 'completed' ELSE 'not_started' END,
               (u + g.n) %% 2 = 0, now(), CASE WHEN done THEN now() END, now()
        FROM generate_series(1, %(players)s) AS u
        CROSS JOIN LATERAL (
            SELECT 'goal-' || n AS goal_id, n FROM generate_series(1, %(goals)s) AS n
            UNION ALL
            SELECT 'level-' || n, n FROM generate_series(1, 2) AS n
        ) AS g
        CROSS JOIN LATERAL (
            SELECT (u + g.n) %% 2 = 0 AND u %% 10 = 1 AND g.goal_id LIKE 'goal-%%' AS done
        ) AS d
        """,
        {"players": PLAYERS, "goals": GOALS, "target": TARGET},
    )
    db.execute("ANALYZE challenge.progress")
    try:
        db.execute("LOAD 'auto_explain'")
    except psycopg.Error as exc:  # pragma: no cover - depends on the server
        pytest.skip(f"auto_explain unavailable: {exc}")
    for setting in (
        "log_min_duration = 0",
        "log_analyze = on",
        "log_timing = off",
        "log_nested_statements = on",
        "log_format = json",
        "log_level = notice",
    ):
        db.execute(f"SET auto_explain.{setting}")
    return db


def plans_of(connection: psycopg.Connection[Any], query: str, params: Any = None) -> list[dict[str, Any]]:
    """The statements one call ran (its own and every nested one): [{query, plan}]."""
    notices: list[str] = []

    def collect(diagnostic: psycopg.errors.Diagnostic) -> None:
        notices.append(diagnostic.message_primary or "")

    # auto_explain logs a statement when its portal closes, at the next statement: flush before and after.
    connection.execute(FLUSH)
    connection.add_notice_handler(collect)
    try:
        connection.execute(query, params).fetchall()
        connection.execute(FLUSH)
    finally:
        connection.remove_notice_handler(collect)
    statements = []
    for notice in notices:
        match = re.match(r"duration: [\d.]+ ms\s+plan:\s*", notice)
        if match:
            document = json.loads(notice[match.end() :])
            text = " ".join(str(document.get("Query Text", "")).split())
            if text != FLUSH:
                statements.append({"query": text, "plan": document["Plan"]})
    assert statements, "auto_explain logged nothing"
    return statements


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def is_scan_of_progress(node: dict[str, Any]) -> bool:
    return node.get("Relation Name") == "progress" and node.get("Node Type") != "ModifyTable"


def seq_scans_of_progress(statements: list[dict[str, Any]]) -> list[str]:
    return [
        statement["query"][:80]
        for statement in statements
        for node in nodes(statement["plan"])
        if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") == "progress"
    ]


def per_row_subplans(statements: list[dict[str, Any]]) -> list[str]:
    return [
        f"{statement['query'][:80]} (loops {node.get('Actual Loops')})"
        for statement in statements
        for node in nodes(statement["plan"])
        if node.get("Parent Relationship") == "SubPlan" and int(node.get("Actual Loops", 0)) > 1
    ]


def batch(kind: str, size: int, seed: int) -> Jsonb:
    rng = random.Random(seed)
    pairs: dict[tuple[int, int], None] = {}
    while len(pairs) < size:
        pairs[(rng.randint(1, PLAYERS), rng.randint(1, GOALS if kind == "delta" else 2))] = None
    prefix = "goal" if kind == "delta" else "level"
    return Jsonb([{"user_id": f"user-{u}", "goal_id": f"{prefix}-{g}", kind: 3} for u, g in pairs])


ACTIVE = ("user-3", "goal-1")
INACTIVE = ("user-3", "goal-2")
COMPLETED = ("user-11", "goal-1")

WRITE_PATHS: dict[str, tuple[str, Any]] = {
    "increment-active": ("SELECT * FROM challenge.increment_progress(%s, %s, 1)", ACTIVE),
    "increment-inactive": ("SELECT * FROM challenge.increment_progress(%s, %s, 1)", INACTIVE),
    "increment-with-event-id": ("SELECT * FROM challenge.increment_progress(%s, %s, 1, 'evt-1')", ACTIVE),
    "increment-batch-1000": ("SELECT challenge.increment_progress_batch(%s)", [batch("delta", 1000, 1)]),
    "set-batch-1000": ("SELECT challenge.set_progress_batch(%s)", [batch("value", 1000, 2)]),
    "set-goal-active": ("SELECT * FROM challenge.set_goal_active(%s, %s, true)", INACTIVE),
    "initialize-existing-player": ("SELECT * FROM challenge.initialize_player(%s)", ["user-7"]),
    "initialize-new-player": ("SELECT * FROM challenge.initialize_player(%s)", ["user-new"]),
    "claim": ("SELECT * FROM challenge.claim_goal(%s, %s, 'claim-1')", COMPLETED),
}


def test_single_increment_writes_by_primary_key(traced: psycopg.Connection[Any]) -> None:
    statements = plans_of(traced, "SELECT * FROM challenge.increment_progress(%s, %s, 1)", ACTIVE)
    (update,) = [s for s in statements if s["query"].startswith("UPDATE challenge.progress")]
    scans = [n for n in nodes(update["plan"]) if is_scan_of_progress(n)]
    assert scans, update["plan"]
    for scan in scans:
        assert scan["Node Type"] in ("Index Scan", "Index Only Scan"), scan["Node Type"]
        assert scan["Index Name"] == "progress_pkey", scan["Index Name"]
    # The guards are in the plan's filters (the scan's, or the join's when a guard also reads the catalog),
    # applied to the one row the key found.
    filters = " ".join(
        str(n.get(key, "")) for n in nodes(update["plan"]) for key in ("Filter", "Join Filter")
    )
    assert "is_active" in filters and "claimed" in filters, filters


def test_single_increment_on_inactive_row_is_filtered_by_the_guard(traced: psycopg.Connection[Any]) -> None:
    statements = plans_of(traced, "SELECT * FROM challenge.increment_progress(%s, %s, 1)", INACTIVE)
    (update,) = [s for s in statements if s["query"].startswith("UPDATE challenge.progress")]
    removed = sum(
        int(n.get("Rows Removed by Filter", 0)) for n in nodes(update["plan"]) if is_scan_of_progress(n)
    )
    assert removed == 1
    reads = [n for s in statements for n in nodes(s["plan"]) if is_scan_of_progress(n)]
    assert all(n.get("Index Name") == "progress_pkey" for n in reads), reads


@pytest.mark.parametrize("path", WRITE_PATHS, ids=list(WRITE_PATHS))
def test_no_write_path_scans_progress_sequentially(traced: psycopg.Connection[Any], path: str) -> None:
    query, params = WRITE_PATHS[path]
    statements = plans_of(traced, query, params)
    assert seq_scans_of_progress(statements) == []


@pytest.mark.parametrize("path", ["increment-batch-1000", "set-batch-1000"])
def test_batches_run_no_subplan_per_row(traced: psycopg.Connection[Any], path: str) -> None:
    query, params = WRITE_PATHS[path]
    statements = plans_of(traced, query, params)
    assert per_row_subplans(statements) == []
    # And every row is reached through the primary key or by the tid locked earlier.
    progress_scans = {n["Node Type"] for s in statements for n in nodes(s["plan"]) if is_scan_of_progress(n)}
    assert progress_scans <= {"Index Scan", "Index Only Scan", "Tid Scan"}, progress_scans


# Node types that hold or produce a whole intermediate result: run more than once with many rows per run,
# they mean the statement walks (part of) the batch again for every row of something else. A per-row
# subplan over that row's own few items (the ledger's event ids) reads a row or two per run.
MANY_ROWS_PER_RUN = 10
BATCH_SIZED_NODES = {"Function Scan", "CTE Scan", "Materialize", "Subquery Scan", "Sort", "WorkTable Scan"}
REPEATED_CALLS = 12  # PL/pgSQL switches a statement to a generic plan from its sixth run on a connection


def loops_over_the_batch(statements: list[dict[str, Any]]) -> list[str]:
    return [
        f"{statement['query'][:80]}: {node['Node Type']} {node.get('Function Name', '')}"
        f" x{node.get('Actual Loops')} loops of {node.get('Actual Rows')} rows"
        for statement in statements
        for node in nodes(statement["plan"])
        if node["Node Type"] in BATCH_SIZED_NODES
        and int(node.get("Actual Loops", 0)) > 1
        and float(node.get("Actual Rows", 0)) >= MANY_ROWS_PER_RUN
    ]


def event_batch(function: str, call: int, size: int = 500) -> Jsonb:
    """``size`` items with fresh event ids, spread over the seeded players, different on every call."""
    rng = random.Random(call)
    items: list[dict[str, Any]] = []
    for n in range(size):
        user_id, event_id = f"user-{rng.randint(1, PLAYERS)}", f"{function}-{call}-{n}"
        if function == "record_events":
            stat = f"goal-{rng.randint(1, GOALS)}"
            items.append({"event_id": event_id, "user_id": user_id, "kind": "statistic", "stat_code": stat})
        elif function == "increment_progress_batch":
            goal_id = f"goal-{rng.randint(1, GOALS)}"
            items.append({"event_id": event_id, "user_id": user_id, "goal_id": goal_id})
        else:
            items.append({"event_id": event_id, "user_id": user_id, "goal_id": "level-1", "value": n})
    return Jsonb(items)


@pytest.mark.parametrize("function", ["increment_progress_batch", "set_progress_batch", "record_events"])
def test_batches_keep_linear_plans_on_a_long_lived_connection(
    traced: psycopg.Connection[Any], function: str
) -> None:
    """Past the switch to generic plans no statement loops over the batch per item (record_events'
    routing once joined the fresh positions in a nested loop from the sixth call on: 10x slower)."""
    for call in range(1, REPEATED_CALLS + 1):
        statements = plans_of(traced, f"SELECT challenge.{function}(%s)", [event_batch(function, call)])
        assert loops_over_the_batch(statements) == [], f"call {call}"
