"""A write that waits on a row whose state another transaction changes: the write sees the new state.

The waiting write's snapshot was taken before the other transaction committed, so in that snapshot the row
can still move; its lock then reaches the committed version, which cannot (deactivated, claimed or deleted).
The write must report the new state's reason and change nothing; the batches re-judge such items.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.concurrency.conchelpers import (
    backend_pid,
    inc,
    inc_batch,
    progress,
    set_batch,
)
from tests.waits import blocked_call

Connect = Callable[..., psycopg.Connection[Any]]

# What the first transaction does to (u1, goal) while holding it, and the outcome the waiting write
# must report.
CHANGES = {
    "deactivate": ("SELECT challenge.set_goal_active('u1', %(goal)s, false)", "inactive"),
    "claim": (
        "UPDATE challenge.progress"
        " SET status = 'claimed', progress = 5, completed_at = now(), claimed_at = now()"
        " WHERE user_id = 'u1' AND goal_id = %(goal)s",
        "claimed",
    ),
    "delete": ("DELETE FROM challenge.progress WHERE user_id = 'u1' AND goal_id = %(goal)s", "not_assigned"),
}


def _write(conn: psycopg.Connection[Any], how: str) -> str:
    if how == "single":
        return inc(conn, "u1", "count-a", 7)
    if how == "batch":
        result = inc_batch(
            conn,
            [
                {"user_id": "u1", "goal_id": "count-a", "delta": 7},
                {"user_id": "u1", "goal_id": "count-b", "delta": 1},
            ],
        )
        assert result["applied"] == 1  # count-b is untouched by the other transaction
    else:
        result = set_batch(
            conn,
            [
                {"user_id": "u1", "goal_id": "level", "value": 7},
                {"user_id": "u2", "goal_id": "level", "value": 1},
            ],
        )
        assert result["applied"] == 1
    outcomes: list[str] = [k for k, v in result["skipped"].items() if v == 1]
    assert len(outcomes) == 1, result
    return outcomes[0]


@pytest.mark.parametrize("change", sorted(CHANGES))
@pytest.mark.parametrize("how", ["single", "batch", "set"])
def test_write_waiting_on_a_row_sees_its_committed_state(
    race_db: psycopg.Connection[Any], connect: Connect, how: str, change: str
) -> None:
    goal = "level" if how == "set" else "count-a"
    race_db.execute("SELECT challenge.initialize_player('u1'), challenge.initialize_player('u2')")
    race_db.execute("UPDATE challenge.progress SET progress = 5, status = 'in_progress' WHERE user_id = 'u1'")
    holder, writer, observer = connect(autocommit=False), connect(), connect()
    statement, expected = CHANGES[change]
    holder.execute(
        statement, {"goal": goal}
    )  # row locked, not committed: the writer's snapshot sees it movable
    outcome = blocked_call(
        lambda: _write(writer, how), observer=observer, pid=backend_pid(writer), release=holder.commit
    )
    assert outcome == expected
    row = race_db.execute(
        "SELECT progress FROM challenge.progress WHERE user_id = 'u1' AND goal_id = %s", [goal]
    ).fetchone()
    assert row is None if change == "delete" else row == (5,)
    if how == "batch":
        assert progress(race_db, "u1", "count-b") == 6
