"""No reliance on the caller's search_path (docs/api.md section 0): results are the same under any setting."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.sql.sqlhelpers import CONFIG, Api, completed_pairs

SHADOW_DDL = """
CREATE SCHEMA shadow;
CREATE TABLE shadow.challenges (LIKE challenge.challenges);
CREATE TABLE shadow.goals (LIKE challenge.goals);
CREATE TABLE shadow.progress (LIKE challenge.progress);
CREATE TABLE shadow.processed_events (LIKE challenge.processed_events);
CREATE FUNCTION shadow.now() RETURNS timestamptz LANGUAGE sql
    AS $$ SELECT '2001-01-01T00:00:00Z'::timestamptz $$;
"""  # pure: a decoy now() in the shadow schema, which no function may call


def workload(api: Api) -> list[Any]:
    out: list[Any] = [api.load(CONFIG)["goals"]]
    out.append(sorted(r["goal_id"] for r in api.init("u1")))
    out.append(api.set_active("u1", "not-default")["is_active"])
    out.append(tuple(api.inc("u1", "kill-10", 9, event_id="sp-1").values()))
    inc = api.inc_batch(
        [
            {"user_id": "u1", "goal_id": "kill-10", "event_id": "sp-2"},
            {"user_id": "u1", "goal_id": "kill-10", "event_id": "sp-1"},
            {"user_id": "u1", "goal_id": "login-daily"},
            {"user_id": "u1", "goal_id": "login-daily"},
        ]
    )
    out.append((inc["applied"], inc["skipped"], completed_pairs(inc)))
    st = api.set_batch([{"user_id": "u1", "goal_id": "reach-lvl-20", "value": 20}])
    out.append((st["applied"], st["skipped"], completed_pairs(st)))
    rows = api.user_progress("u1", active_only=True, challenge_id="winter")
    out.append([(r["goal_id"], r["progress"], r["status"]) for r in rows])
    out.append(api.must_get("u1", "kill-10")["progress"])
    return out


@pytest.mark.parametrize("search_path", ["''", "shadow, pg_catalog", "pg_catalog, shadow"])
def test_results_do_not_depend_on_search_path(db: psycopg.Connection[Any], search_path: str) -> None:
    api = Api(db)
    db.execute(SHADOW_DDL)
    db.execute(f"SET search_path = {search_path}")
    got = workload(api)
    assert got[0] == 7
    assert got[3] == ("applied", 9, "in_progress", False)
    assert got[4] == (
        2,
        {
            "already_counted_today": 1,
            "claimed": 0,
            "duplicate_event": 1,
            "inactive": 0,
            "not_assigned": 0,
            "stale_event": 0,
            "type_mismatch": 0,
            "unknown_goal": 0,
        },
        [("u1", "kill-10")],
    )
    assert got[5][0] == 1
    assert got[5][2] == [("u1", "reach-lvl-20")]
    assert got[7] == 10
    # The shadow tables were never touched.
    db.execute("SET search_path = pg_catalog")
    for table in ("challenges", "goals", "progress", "processed_events"):
        count = db.execute(f"SELECT count(*) FROM shadow.{table}").fetchone()
        assert count == (0,), table
