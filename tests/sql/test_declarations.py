"""Lists declared once in SQL, and the Python side checked against them."""

from __future__ import annotations

from typing import Any, get_args

import psycopg
from pgchallenge.models import Outcome


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
