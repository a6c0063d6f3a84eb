"""challenge.explain_progress: one row's ledger history, in order, and its argument checks."""

from __future__ import annotations

import psycopg
import pytest

from tests.sql.ledgerhelpers import (
    EXPLAIN_COLUMNS,
    LONG,
    LedgerApi,
    Week,
    run_workload,
)
from tests.sql.sqlhelpers import assert_sqlstate


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
