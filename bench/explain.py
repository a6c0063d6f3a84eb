"""The EXPLAIN ANALYZE section (the reference report's Tests 1-4), ours beside the reference's statements.

Every test runs in one transaction that is rolled back, on rows the seed made: the top-level call is run
under ``EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`` (planning and execution time), and ``auto_explain``
(nested statements, JSON) shows the statements inside our functions: the index each one used, whether the
guards (``is_active``, not claimed) are in its filter, sequential scans, per-row subplans.
"""

from __future__ import annotations

import copy
import json
import random
import re
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from . import micro

AUTO_EXPLAIN = (
    "LOAD 'auto_explain'",
    "SET auto_explain.log_min_duration = 0",
    "SET auto_explain.log_analyze = on",
    "SET auto_explain.log_buffers = on",
    "SET auto_explain.log_timing = on",
    "SET auto_explain.log_nested_statements = on",
    "SET auto_explain.log_format = json",
    "SET auto_explain.log_level = notice",
)

PROGRESS = "progress"  # relation name of challenge.progress in plans
FLUSH = "SELECT 'pgchallenge bench: flush'"


def walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from walk(child)


def parse_notices(notices: Sequence[str]) -> list[dict[str, Any]]:
    """auto_explain JSON notices -> [{duration_ms, query, plan}], EXPLAIN statements left out."""
    statements: list[dict[str, Any]] = []
    for notice in notices:
        match = re.match(r"duration: ([\d.]+) ms\s+plan:\s*", notice)
        if not match:
            continue
        try:
            document = json.loads(notice[match.end() :])
        except json.JSONDecodeError:
            continue
        query = " ".join(str(document.get("Query Text", "")).split())
        if query.upper().startswith("EXPLAIN") or query == FLUSH:
            continue
        statements.append(
            {"duration_ms": float(match.group(1)), "query": query, "plan": document.get("Plan", {})}
        )
    return statements


def plan_facts(plan: dict[str, Any]) -> dict[str, Any]:
    """What a plan does to challenge.progress: indexes, sequential scans, guards, per-row subplans."""
    indexes: list[str] = []
    seq_scans: list[str] = []
    guards: list[str] = []
    removed = 0
    subplans = 0
    subplan_loops = 0
    for node in walk(plan):
        relation = node.get("Relation Name")
        if node.get("Index Name") and node["Index Name"] not in indexes:
            indexes.append(str(node["Index Name"]))
        if node.get("Node Type") == "Seq Scan" and relation:
            seq_scans.append(str(relation))
        # A subplan run once per row of its parent (the reference's correlated subqueries); one that never
        # ran (an error branch) or ran once is not per-row.
        if node.get("Parent Relationship") == "SubPlan" and int(node.get("Actual Loops", 0)) > 1:
            subplans += 1
            subplan_loops += int(node.get("Actual Loops", 0))
        # The guards sit in the progress scan's filter, or partly in a join's filter when a guard also
        # reads the catalog (the single increment's "not claimed, unless its period resets").
        for key in ("Filter", "Conflict Filter", "Recheck Cond", "Join Filter"):
            text = node.get(key)
            if (
                text
                and (relation == PROGRESS or key == "Join Filter")
                and ("is_active" in text or "claimed" in text)
            ):
                guards.append(f"{key}: {text}")
        if relation == PROGRESS:
            removed += int(node.get("Rows Removed by Filter", 0)) + int(
                node.get("Rows Removed by Conflict Filter", 0)
            )
        for key in ("Conflict Arbiter Indexes",):
            for index in node.get(key, []) or []:
                if index not in indexes:
                    indexes.append(str(index))
    joined = " ".join(guards)
    if not ("is_active" in joined and "claimed" in joined):
        guards = []
    return {
        "indexes": indexes,
        "seq_scans": seq_scans,
        "guards": guards,
        "rows_removed_by_guards": removed,
        "subplans": subplans,
        "subplan_loops": subplan_loops,
    }


def summarize_statements(statements: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "duration_ms": statement["duration_ms"],
            "query": statement["query"][:160],
            **plan_facts(statement["plan"]),
        }
        for statement in statements
    ]


def explained(connection: psycopg.Connection[Any], query: str, params: Any = None) -> dict[str, Any]:
    row = connection.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {query}", params).fetchone()
    assert row is not None
    document = row[0][0] if isinstance(row[0], list) else json.loads(row[0])[0]
    plan = document["Plan"]
    return {
        "planning_ms": document.get("Planning Time"),
        "execution_ms": document.get("Execution Time"),
        "shared_hit": plan.get("Shared Hit Blocks"),
        "shared_read": plan.get("Shared Read Blocks"),
        "rows": plan.get("Actual Rows"),
        **plan_facts(plan),
        "plan": plan,
    }


def shown(query: str, params: Sequence[str]) -> str:
    """The statement with its literal arguments, for the report."""
    return query % tuple("'" + value.replace("'", "''") + "'" for value in params)


def batch_call(query: str, items: int) -> str:
    return query.replace("%s", "$1") + f"  -- $1: a jsonb array of {items:,} items"


def run_explain(url: str, settings: micro.MicroSettings) -> dict[str, Any]:
    """Tests 1-4 (and the absolute set) on the seeded database; every change rolled back."""
    rng = random.Random(settings.seed + 7)
    # user-3: not a completed (n % 10 = 1) or claimed (n % 100 = 2) player; goal-1 active, goal-2 not.
    active, inactive = ("user-3", "goal-1"), ("user-3", "goal-2")
    reference_active, reference_inactive = ("user-5", "goal-1"), ("user-5", "goal-2")
    result: dict[str, Any] = {"auto_explain": "on"}
    with psycopg.connect(url) as connection:
        notices: list[str] = []
        connection.add_notice_handler(lambda diagnostic: notices.append(diagnostic.message_primary or ""))
        try:
            for statement in AUTO_EXPLAIN:
                connection.execute(statement)
            connection.commit()  # SET is transactional: keep the settings past the rollbacks below
        except psycopg.Error as exc:
            result["auto_explain"] = f"unavailable: {str(exc).strip()}"
            connection.rollback()

        def flush() -> None:
            # auto_explain logs a statement when its portal closes, i.e. at the next statement under the
            # extended protocol: a no-op statement pushes out the previous one's notice (its own is ignored).
            connection.execute(FLUSH)

        def traced(
            query: str, params: Any = None, shown: str | None = None, alone: bool = False
        ) -> dict[str, Any]:
            flush()
            notices.clear()
            outcome = explained(connection, query, params)
            flush()
            outcome["statements"] = summarize_statements(parse_notices(notices))
            outcome["call"] = shown or query.strip()
            if alone:
                # Its own transaction: rows another test of this transaction rewrote would be "inserted by
                # this transaction" and make every update re-check their foreign key.
                connection.rollback()
            return outcome

        def progress_of(pair: tuple[str, str]) -> int:
            row = connection.execute(
                "SELECT progress FROM challenge.progress WHERE user_id = %s AND goal_id = %s", pair
            ).fetchone()
            assert row is not None
            return int(row[0])

        before = {pair: progress_of(pair) for pair in (active, inactive)}
        single = "SELECT * FROM challenge.increment_progress(%s, %s, 1)"
        reference_single = (
            "INSERT INTO challenge.progress AS p (user_id, goal_id, namespace, progress, status, is_active, "
            "updated_at) VALUES (%s, %s, 'default', 10, 'in_progress', true, now()) "
            "ON CONFLICT (user_id, goal_id) DO UPDATE SET progress = excluded.progress, "
            "status = excluded.status, updated_at = now() WHERE p.status <> 'claimed' AND p.is_active"
        )
        result["test1"] = {
            "title": "Test 1: single increment, active goal",
            "ours": traced(single, active, shown(single, active)),
            "reference": traced(
                reference_single, reference_active, shown(reference_single, reference_active)
            ),
            "published": {"execution_ms": 0.959, "planning_ms": 0.030, "index": "user_goal_progress_pkey"},
        }
        result["test2"] = {
            "title": "Test 2: single increment, inactive goal (skipped)",
            "ours": traced(single, inactive, shown(single, inactive)),
            "reference": traced(
                reference_single, reference_inactive, shown(reference_single, reference_inactive)
            ),
            "published": {"execution_ms": 0.082, "planning_ms": 0.022, "index": "user_goal_progress_pkey"},
        }
        verification = (
            "SELECT p.user_id, p.goal_id, p.progress, p.is_active, "
            "CASE WHEN p.goal_id = %(ag)s AND p.progress = %(ap)s THEN 'active goal updated' "
            "WHEN p.goal_id = %(ig)s AND p.progress = %(ip)s THEN 'inactive goal not updated' "
            "ELSE 'UNEXPECTED RESULT' END AS result "
            "FROM challenge.progress AS p WHERE p.user_id = %(user)s AND p.goal_id IN (%(ag)s, %(ig)s) "
            "ORDER BY p.goal_id"
        )
        params = {
            "user": active[0],
            "ag": active[1],
            "ap": before[active] + 1,
            "ig": inactive[1],
            "ip": before[inactive],
        }
        rows = connection.execute(verification, params).fetchall()
        result["test3"] = {
            "title": "Test 3: verification",
            "rows": [[str(value) for value in row] for row in rows],
            "ok": len(rows) == 2 and all(row[-1] != "UNEXPECTED RESULT" for row in rows),
            "ours": traced(verification, params),
        }
        connection.rollback()  # Tests 1-3 end here; every batch below runs alone
        items = micro.increment_payload(rng, settings, 1000)
        document = json.dumps(items)
        arrays = {
            "user_ids": [item["user_id"] for item in items],
            "goal_ids": [item["goal_id"] for item in items],
            "deltas": [item["delta"] for item in items],
            "targets": [settings.target] * len(items),
            "is_daily": [False] * len(items),
        }
        result["test4"] = {
            "title": f"Test 4: batch increment, {len(items):,} items",
            "items": len(items),
            "ours": traced(
                micro.INCREMENT_OURS, [document], batch_call(micro.INCREMENT_OURS, len(items)), alone=True
            ),
            "floor": traced(micro.INCREMENT_FLOOR, [document], alone=True),
            "reference": traced(micro.INCREMENT_REFERENCE, arrays, alone=True),
            "published": {"execution_ms": 0.119, "planning_ms": 0.043, "items": 2},
        }
        items = micro.set_payload(rng, settings, 1000)
        document = json.dumps(items)
        result["test5"] = {
            "title": f"Extra: batch absolute set, {len(items):,} items",
            "items": len(items),
            "ours": traced(micro.SET_OURS, [document], batch_call(micro.SET_OURS, len(items)), alone=True),
            "floor": traced(micro.SET_FLOOR, [document], alone=True),
        }
        connection.rollback()
    return result


def strip_plans(result: dict[str, Any]) -> dict[str, Any]:
    """The section without the raw plan trees (those go to explain.json)."""
    stripped = copy.deepcopy(result)
    for test in stripped.values():
        if isinstance(test, dict):
            for side in ("ours", "reference", "floor"):
                if isinstance(test.get(side), dict):
                    test[side].pop("plan", None)
    return stripped
