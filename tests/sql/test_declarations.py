"""Lists declared once in SQL, and the Python side checked against them."""

from __future__ import annotations

from typing import Any, get_args

import psycopg
from pgchallenge import writer
from pgchallenge.models import Outcome
from psycopg.types.json import Jsonb


def test_the_python_outcome_type_is_the_sql_outcome_list(db: psycopg.Connection[Any]) -> None:
    row = db.execute("SELECT challenge._outcomes()").fetchone()
    assert row is not None
    assert sorted(row[0]) == sorted(get_args(Outcome))


def test_the_outcome_order_yields_exactly_the_declared_outcomes(db: psycopg.Connection[Any]) -> None:
    """Every combination of the eight facts (true, false, NULL) gives a declared outcome, and every
    declared outcome is reachable."""
    facts = ", ".join(f"unnest('{{t,f,NULL}}'::boolean[]) AS f{n}(v)" for n in range(8))
    arguments = ", ".join(f"f{n}.v" for n in range(8))
    rows = db.execute(f"SELECT DISTINCT challenge._outcome({arguments}) FROM {facts}").fetchall()
    declared = db.execute("SELECT challenge._outcomes()").fetchone()
    assert declared is not None
    assert sorted(r[0] for r in rows) == sorted(declared[0])


def limits(db: psycopg.Connection[Any]) -> dict[str, int]:
    row = db.execute("SELECT challenge._limits()").fetchone()
    assert row is not None
    declared: dict[str, int] = row[0]
    return declared


def test_the_python_client_uses_the_sql_limits(db: psycopg.Connection[Any]) -> None:
    declared = limits(db)
    assert {
        key: declared[key]
        for key in ("batch_items", "id_length", "value", "inc", "position", "source_length")
    } == {
        "batch_items": writer.MAX_BATCH_EVENTS,
        "id_length": writer._MAX_ID_LENGTH,
        "value": writer._MAX_VALUE,
        "inc": writer._MAX_INC,
        "position": writer.MAX_POSITION,
        "source_length": writer._MAX_SOURCE_NAME,
    }


def refused(db: psycopg.Connection[Any], query: str, params: list[Any]) -> str | None:
    """The SQLSTATE a call raises, or None when it passes (rolled back either way)."""
    try:
        with db.transaction(force_rollback=True):
            db.execute(query, params)
    except psycopg.Error as error:
        return error.diag.sqlstate
    return None


def test_the_validators_enforce_exactly_the_declared_limits(db: psycopg.Connection[Any]) -> None:
    """Each limit passes and one more is refused (CH002, CH003 for a source name)."""
    declared = limits(db)
    batch = "SELECT challenge.increment_progress_batch(%s::jsonb)"
    values = "SELECT challenge.set_progress_batch(%s::jsonb)"
    events = "SELECT challenge.record_events(%s::jsonb)"
    sourced = "SELECT challenge.record_events(%s::jsonb, p_source => 'limits', p_epoch => 0)"
    longest = "x" * declared["id_length"]
    # (function, item at the limit, the same item just over it)
    cases: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        (
            batch,
            {"user_id": "u", "goal_id": "g", "delta": declared["delta"]},
            {"delta": declared["delta"] + 1},
        ),
        (
            values,
            {"user_id": "u", "goal_id": "g", "value": declared["value"]},
            {"value": declared["value"] + 1},
        ),
        (
            events,
            {"event_id": "e", "user_id": "u", "kind": "statistic", "stat_code": "s", "inc": declared["inc"]},
            {"inc": declared["inc"] + 1},
        ),
        (batch, {"user_id": longest, "goal_id": "g"}, {"user_id": longest + "x"}),
        (events, {"event_id": longest, "user_id": "u", "kind": "login"}, {"event_id": longest + "x"}),
        (
            sourced,
            {"user_id": "u", "kind": "login", "position": declared["position"]},
            {"position": declared["position"] + 1},
        ),
    ]
    for query, at_limit, over in cases:
        assert refused(db, query, [Jsonb([at_limit])]) is None, at_limit
        assert refused(db, query, [Jsonb([{**at_limit, **over}])]) == "CH002", over
    many = [{"user_id": "u", "goal_id": "g"}] * declared["batch_items"]
    assert refused(db, batch, [Jsonb(many)]) is None
    assert refused(db, batch, [Jsonb([*many, many[0]])]) == "CH002"
    name = "s" * declared["source_length"]
    assert refused(db, "SELECT challenge.acquire_source(%s, %s)", [name, name]) is None
    assert refused(db, "SELECT challenge.acquire_source(%s, '')", [name + "s"]) == "CH003"
    assert refused(db, "SELECT challenge.acquire_source('s', %s)", [name + "s"]) == "CH003"
