"""The order of a row's changes: challenge.progress.version, recorded in the ledger as row_version.

On a Citus cluster each node draws ledger change ids from its own range (a worker's start at its group id
shifted by 48 bits) and keeps its own clock, so neither change_id nor recorded_at orders one row's history
when its changes are made on different nodes (a delegated call on the worker, a batch on the coordinator).
The row's version does: every change of the row adds one under the row's lock. The test makes the ledger's
sequence jump back and forth the way two nodes' ranges interleave.
"""

from __future__ import annotations

from datetime import timedelta

from tests.sql.claimhelpers import QuestApi


def version(qa: QuestApi, user_id: str, goal_id: str) -> int:
    row = qa.conn.execute(
        "SELECT version FROM challenge.progress WHERE user_id = %s AND goal_id = %s", [user_id, goal_id]
    ).fetchone()
    assert row is not None
    return int(row[0])


def history(qa: QuestApi, user_id: str, goal_id: str) -> list[tuple[str, int | None, int | None]]:
    return [
        (str(r[0]), r[1], r[2])
        for r in qa.conn.execute(
            "SELECT operation, progress_before, progress_after FROM challenge.explain_progress(%s, %s)",
            [user_id, goal_id],
        )
    ]


def test_every_change_adds_one_to_the_version_and_the_ledger_records_it(qa: QuestApi) -> None:
    qa.init("u1")
    created = version(qa, "u1", "q-kill")
    qa.inc("u1", "q-kill", 1)  # the single write's fast path
    qa.inc_batch([{"user_id": "u1", "goal_id": "q-kill", "delta": 2}])  # the engine
    qa.set_active("u1", "q-kill", False)
    qa.set_active("u1", "q-kill", True)
    assert version(qa, "u1", "q-kill") == created + 4
    recorded = qa.conn.execute(
        "SELECT row_version FROM challenge.ledger WHERE user_id = 'u1' AND goal_id = 'q-kill'"
        " ORDER BY row_version"
    ).fetchall()
    assert [r[0] for r in recorded] == [created + k for k in range(5)]


def test_the_history_follows_the_row_not_the_change_ids(qa: QuestApi) -> None:
    qa.init("u1")
    # Another node's range first (a delegated call on a worker), then the coordinator's, then the worker's.
    for start, delta in ((10**15, 1), (1000, 2), (10**15 + 100, 3)):
        qa.conn.execute("SELECT setval('challenge.ledger_change_id_seq', %s)", [start])
        qa.inc("u1", "q-kill", delta)
    assert history(qa, "u1", "q-kill") == [
        ("assign", None, 0),
        ("increment", 0, 1),
        ("increment", 1, 3),
        ("increment", 3, 6),
    ]


def test_a_row_deleted_and_created_again_goes_on_from_a_larger_version(qa: QuestApi) -> None:
    qa.init("u1")
    qa.inc("u1", "q-kill", 1)
    qa.set_expires_at("u1", "q-kill", timedelta(days=30))
    before = version(qa, "u1", "q-kill")
    assert qa.delete_expired() == 1
    # The deletion is the row's next change; the ledger names it with the version after the last one.
    expired = qa.conn.execute(
        "SELECT row_version FROM challenge.ledger WHERE user_id = 'u1' AND operation = 'expire'"
    ).fetchone()
    assert expired == (before + 1,)
    qa.set_active("u1", "q-kill", True)
    assert version(qa, "u1", "q-kill") > before + 1
    assert [op for op, _, _ in history(qa, "u1", "q-kill")] == ["assign", "increment", "expire", "assign"]
