"""The distributed mode of the statements that pick rows of many players, tested on plain PostgreSQL.

On a Citus cluster (`pgchallenge citus distribute` records ``distributed`` in challenge.deployment_settings)
a row lock cannot span shards, so lease_reward_grants, delete_expired_progress and prune_processed_events
pick their rows without one (challenge._row_lock returns no clause) and re-check them in their UPDATE or
DELETE. The same statements run here with the setting recorded, so CI proves what the mode promises: no
grant leased twice, no row deleted that a writer moved on, a locked row waited for instead of skipped.
tests/citus runs them on a real cluster.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import psycopg

from tests.sql.claimhelpers import QuestApi
from tests.waits import blocked_call

DAY = timedelta(days=1)


def record_distributed(conn: psycopg.Connection[Any]) -> None:
    conn.execute("INSERT INTO challenge.deployment_settings (name, value) VALUES ('distributed', 'citus')")


def test_the_row_lock_clause_is_empty_once_the_deployment_is_distributed(db: psycopg.Connection[Any]) -> None:
    assert db.execute("SELECT challenge._row_lock('r')").fetchone() == ("FOR UPDATE OF r SKIP LOCKED",)
    assert db.execute("SELECT challenge._distributed()").fetchone() == (False,)
    record_distributed(db)
    assert db.execute("SELECT challenge._row_lock('r'), challenge._distributed()").fetchone() == ("", True)


def test_the_alias_is_quoted(db: psycopg.Connection[Any]) -> None:
    assert db.execute("SELECT challenge._row_lock('Odd alias')").fetchone() == (
        'FOR UPDATE OF "Odd alias" SKIP LOCKED',
    )


# --- lease_reward_grants ------------------------------------------------------------------------------------


def claim_for(qa: QuestApi, users: list[str]) -> list[str]:
    ids = []
    for user_id in users:
        qa.complete(user_id, "q-kill")
        ids.append(qa.claim(user_id, "q-kill", f"c-{user_id}")["claim_id"])
    return ids


def test_a_lease_waits_for_a_concurrent_lease_and_takes_the_next_grants(qa: QuestApi, connect: Any) -> None:
    ids = claim_for(qa, ["u1", "u2", "u3"])
    record_distributed(qa.conn)
    first = connect(autocommit=False)
    assert [r[0] for r in first.execute("SELECT claim_id FROM challenge.lease_reward_grants('w1', 1)")] == [
        ids[0]
    ]
    second = connect()
    # Without a row lock w2 picked w1's uncommitted grant too: it waits for it, finds it leased, and
    # takes the next due grants instead, still up to its limit.
    leased = blocked_call(
        lambda: [r[0] for r in second.execute("SELECT claim_id FROM challenge.lease_reward_grants('w2', 2)")],
        observer=qa.conn,
        pid=second.info.backend_pid,
        release=first.commit,
    )
    assert leased == ids[1:]
    assert [(g["claim_id"], g["leased_by"], g["attempts"]) for g in qa.grants()] == [
        (ids[0], "w1", 1),
        (ids[1], "w2", 1),
        (ids[2], "w2", 1),
    ]


def test_concurrent_leases_never_hand_out_a_grant_twice(qa: QuestApi, connect: Any) -> None:
    users = [f"u{i:02d}" for i in range(40)]
    ids = claim_for(qa, users)
    record_distributed(qa.conn)
    workers = [connect() for _ in range(4)]
    results: list[list[str]] = [[] for _ in workers]
    start = threading.Barrier(len(workers))

    def lease(n: int) -> None:
        start.wait()
        while True:
            rows = (
                workers[n]
                .execute("SELECT claim_id FROM challenge.lease_reward_grants(%s, 3)", [f"w{n}"])
                .fetchall()
            )
            if not rows:
                return
            results[n].extend(r[0] for r in rows)

    threads = [threading.Thread(target=lease, args=(n,)) for n in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    handed_out = [claim_id for result in results for claim_id in result]
    assert sorted(handed_out) == sorted(ids)
    assert all(g["attempts"] == 1 for g in qa.grants())


def test_the_exhausted_grants_are_failed_in_the_distributed_mode_too(qa: QuestApi) -> None:
    ids = claim_for(qa, ["u1", "u2"])
    record_distributed(qa.conn)
    qa.conn.execute("UPDATE challenge.reward_grants SET max_attempts = 1 WHERE claim_id = %s", [ids[0]])
    assert len(qa.lease("w1", 10)) == 2
    qa.expire_leases()
    [again] = qa.lease("w2", 1)
    assert again["claim_id"] == ids[1]
    failed = qa.grant(ids[0])
    assert failed["state"] == "failed" and "lease of w1 expired on the last attempt" in failed["last_error"]


# --- delete_expired_progress and prune_processed_events -----------------------------------------------------


def test_a_row_a_writer_moves_on_while_the_cleaner_waits_is_kept(qa: QuestApi, connect: Any) -> None:
    for user_id in ("x1", "x2"):
        qa.set_active(user_id, "q-kill", True)
        qa.set_expires_at(user_id, "q-kill", 10 * DAY)
    record_distributed(qa.conn)
    writer = connect(autocommit=False)
    # The writer gives x1's row a new lease of life (as a rotation would) and holds it uncommitted.
    writer.execute("UPDATE challenge.progress SET expires_at = now() + interval '1 day' WHERE user_id = 'x1'")
    cleaner = connect()
    deleted = blocked_call(
        lambda: cleaner.execute("SELECT challenge.delete_expired_progress('7 days', 100)").fetchone(),
        observer=qa.conn,
        pid=cleaner.info.backend_pid,
        release=writer.commit,
    )
    # The cleaner re-checked x1's row as the writer left it: not expired, kept.
    assert deleted == (1,)
    assert [r["user_id"] for r in qa.table_rows()["progress"]] == ["x1"]


def test_expired_rows_and_old_event_ids_go_in_bounded_batches(qa: QuestApi) -> None:
    for i in range(25):
        qa.set_active(f"x{i:02d}", "q-kill", True)
        qa.set_expires_at(f"x{i:02d}", "q-kill", 10 * DAY)
    qa.init("u1")
    qa.inc_batch([{"user_id": "u1", "goal_id": "q-kill", "event_id": f"e-{i:02d}"} for i in range(15)])
    qa.conn.execute("UPDATE challenge.processed_events SET processed_at = now() - interval '8 days'")
    record_distributed(qa.conn)
    assert [qa.delete_expired(batch_size=10) for _ in range(4)] == [10, 10, 5, 0]
    assert [qa.prune_events(batch_size=10) for _ in range(3)] == [10, 5, 0]
    assert qa.table_rows()["processed_events"] == []
