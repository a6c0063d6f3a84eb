"""The audit ledger's chain invariant (ledgerhelpers.assert_chains) over a workload that runs every writer,
and a check that the invariant helper catches a broken chain.
"""

from __future__ import annotations

import pytest

from tests.sql.ledgerhelpers import (
    OPERATIONS,
    LedgerApi,
    Week,
    assert_chains,
    operations,
    run_workload,
)


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
