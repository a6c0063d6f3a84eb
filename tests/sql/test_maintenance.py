"""Maintenance: delete_expired_progress, prune_processed_events, delete_user_data, `pgchallenge maintain`.

expires_at is set directly here (rotation, which will maintain it, is not built yet), and processed_at is
moved into the past, so ages are exact without sleeping.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest
from pgchallenge import cli
from psycopg.types.json import Jsonb

from tests.sql.claimhelpers import QuestApi
from tests.sql.sqlhelpers import assert_sqlstate
from tests.waits import blocked_call

DAY = timedelta(days=1)


def users_with_expired_rows(qa: QuestApi, count: int, age: timedelta) -> None:
    for i in range(count):
        qa.set_active(f"x{i:03d}", "q-kill", True)
        qa.set_expires_at(f"x{i:03d}", "q-kill", age)


# --- delete_expired_progress --------------------------------------------------------------------------------


def test_deletes_rows_expired_longer_ago_than_the_retention_whatever_their_status(qa: QuestApi) -> None:
    qa.init("u1")
    qa.complete("u1", "q-kill")
    qa.claim("u1", "q-kill", "c-1")  # claimed
    qa.inc("u1", "l-login", 1)  # completed
    qa.set_active("u1", "q-boss", True)  # not started
    for goal_id in ("q-kill", "l-login", "q-boss"):
        qa.set_expires_at("u1", goal_id, 8 * DAY)
    qa.set_expires_at("u1", "q-win", 6 * DAY)  # inside the default 7-day retention
    assert qa.delete_expired() == 3
    assert {r["goal_id"] for r in qa.user_progress("u1")} == {"q-win"}
    # The claim's grant is not progress: it stays, to be delivered.
    assert [g["state"] for g in qa.grants()] == ["pending"]


def test_rows_without_expires_at_never_expire(qa: QuestApi) -> None:
    qa.init("u1")
    assert qa.delete_expired(timedelta(0)) == 0
    assert len(qa.user_progress("u1")) == 3


def test_retention_boundary_is_strict(qa: QuestApi) -> None:
    qa.init("u1")
    qa.set_expires_at("u1", "q-kill", 3 * DAY + timedelta(seconds=5))
    qa.set_expires_at("u1", "q-win", 3 * DAY - timedelta(seconds=5))
    assert qa.delete_expired(3 * DAY) == 1
    assert qa.get("u1", "q-kill") is None and qa.get("u1", "q-win") is not None
    assert qa.delete_expired(timedelta(0)) == 1


def test_batches_are_bounded(qa: QuestApi) -> None:
    users_with_expired_rows(qa, 25, 10 * DAY)
    assert [qa.delete_expired(batch_size=10) for _ in range(4)] == [10, 10, 5, 0]
    assert qa.table_rows()["progress"] == []


def test_a_row_locked_by_a_writer_is_skipped_not_waited_for(qa: QuestApi, connect: Any) -> None:
    users_with_expired_rows(qa, 3, 10 * DAY)
    writer = connect(autocommit=False)
    writer.execute("SELECT * FROM challenge.increment_progress('x001', 'q-kill')")
    assert qa.delete_expired() == 2
    writer.commit()
    assert qa.delete_expired() == 1


@pytest.mark.parametrize(
    ("retention", "batch_size", "message"),
    [
        (timedelta(days=-1), 10, "retention must be a non-negative interval"),
        (None, 10, "retention must be a non-negative interval, got NULL"),
        (DAY, 0, "batch_size must be an integer between 1 and 100000, got 0"),
        (DAY, 100001, "batch_size must be an integer between 1 and 100000, got 100001"),
        (DAY, None, "batch_size must be an integer between 1 and 100000, got NULL"),
    ],
    ids=["negative_retention", "null_retention", "zero_batch", "huge_batch", "null_batch"],
)
def test_maintenance_bad_arguments(qa: QuestApi, retention: Any, batch_size: Any, message: str) -> None:
    users_with_expired_rows(qa, 2, 10 * DAY)
    for call in (qa.delete_expired, qa.prune_events):
        with pytest.raises(psycopg.Error) as caught:
            call(retention, batch_size)
        assert message in str(assert_sqlstate(caught.value, "CH003").diag.message_primary)
    assert len(qa.table_rows()["progress"]) == 2


# --- prune_processed_events ---------------------------------------------------------------------------------


def remember_events(qa: QuestApi, count: int, age: timedelta, prefix: str) -> None:
    qa.init("u1")
    qa.inc_batch(
        [{"user_id": "u1", "goal_id": "q-kill", "event_id": f"{prefix}-{i:03d}"} for i in range(count)]
    )
    qa.conn.execute(
        "UPDATE challenge.processed_events SET processed_at = now() - %s::interval WHERE event_id LIKE %s",
        [age, f"{prefix}-%"],
    )


def test_prune_forgets_old_event_ids_in_bounded_batches(qa: QuestApi) -> None:
    remember_events(qa, 25, 8 * DAY, "old")
    remember_events(qa, 5, 6 * DAY, "new")
    assert [qa.prune_events(batch_size=10) for _ in range(4)] == [10, 10, 5, 0]
    kept = [r["event_id"] for r in qa.table_rows()["processed_events"]]
    assert kept == [f"new-{i:03d}" for i in range(5)]


def test_the_retention_is_the_dedup_window(qa: QuestApi) -> None:
    remember_events(qa, 1, 8 * DAY, "old")
    remember_events(qa, 1, 6 * DAY, "new")
    assert qa.prune_events() == 1
    assert qa.inc("u1", "q-kill", 1, event_id="new-000")["outcome"] == "duplicate_event"
    # A redelivery after the window counts again: that is what the window means.
    assert qa.inc("u1", "q-kill", 1, event_id="old-000")["outcome"] == "applied"


# --- delete_user_data ---------------------------------------------------------------------------------------


def test_delete_user_data_removes_every_row_of_the_player(qa: QuestApi) -> None:
    for user_id in ("u1", "u2"):
        qa.init(user_id)
        qa.complete(user_id, "q-kill")
        qa.claim(user_id, "q-kill", f"c-{user_id}")
        qa.complete(user_id, "q-gold")
        qa.claim(user_id, "q-gold", f"g-{user_id}")
    qa.lease("w1", 10)
    qa.finish("c-u1", True)
    qa.conn.execute("UPDATE challenge.reward_grants SET max_attempts = 1 WHERE claim_id = 'g-u1'")
    qa.finish("g-u1", False, "bad item")  # failed
    qa.finish("c-u2", True)
    qa.finish("g-u2", True)
    for user_id in ("u1", "u2"):  # remembered event ids name their player (revision 0008)
        qa.conn.execute(
            "SELECT challenge.increment_progress_batch(%s::jsonb)",
            [Jsonb([{"user_id": user_id, "goal_id": "nope", "event_id": f"e-{n}"} for n in range(2)])],
        )
    before = qa.table_rows()
    history = [r for r in before["ledger"] if r["user_id"] == "u1"]
    assert history, "the audit ledger recorded u1's changes"
    # 4 progress rows (3 default + q-gold), 2 grants (one granted, one failed), u1's ledger history and its
    # 2 remembered event ids.
    assert qa.delete_user("u1") == 6 + len(history) + 2
    after = qa.table_rows()
    assert after["progress"] == [r for r in before["progress"] if r["user_id"] != "u1"]
    assert after["reward_grants"] == [r for r in before["reward_grants"] if r["user_id"] != "u1"]
    assert after["ledger"] == [r for r in before["ledger"] if r["user_id"] != "u1"]
    assert after["processed_events"] == [r for r in before["processed_events"] if r["user_id"] != "u1"]
    assert len(after["processed_events"]) == 2
    # A replayed claim id of an erased player is gone too: the goal must be assigned again to be claimed.
    with pytest.raises(psycopg.Error) as caught:
        qa.claim("u1", "q-kill", "c-u1")
    assert_sqlstate(caught.value, "CH021")


def test_delete_user_data_of_an_unknown_player_returns_zero(qa: QuestApi) -> None:
    assert qa.delete_user("nobody") == 0


def test_delete_user_data_refuses_while_a_grant_is_pending(qa: QuestApi) -> None:
    qa.init("u1")
    qa.complete("u1", "q-kill")
    qa.claim("u1", "q-kill", "c-1")
    qa.complete("u1", "q-gold")
    qa.claim("u1", "q-gold", "c-2")
    before = qa.table_rows()
    with pytest.raises(psycopg.Error) as caught:
        qa.delete_user("u1")
    error = assert_sqlstate(caught.value, "CH026")
    assert error.diag.message_primary == "player u1 has 2 reward grant(s) pending delivery"
    assert error.diag.message_detail == "Pending claims: c-1, c-2."
    assert qa.table_rows() == before
    # Once delivered, the erasure goes through.
    qa.lease("w1", 10)
    qa.finish("c-1", True)
    qa.finish("c-2", True)
    history = len(qa.table_rows()["ledger"])
    assert qa.delete_user("u1") == 6 + history  # 4 progress rows, 2 grants, the ledger history
    assert qa.table_rows()["progress"] == []
    assert qa.table_rows()["ledger"] == []


def test_delete_user_data_bad_argument(qa: QuestApi) -> None:
    with pytest.raises(psycopg.Error) as caught:
        qa.delete_user("")
    assert_sqlstate(caught.value, "CH003")


def test_delete_user_data_waits_for_a_claim_in_flight_and_then_refuses(qa: QuestApi, connect: Any) -> None:
    """A claim committing while the erasure waits for the row lock is seen, never silently dropped."""
    qa.complete("u1", "q-kill")
    claimer = connect(autocommit=False)
    claimer.execute("SELECT * FROM challenge.claim_goal('u1', 'q-kill', 'c-1')")
    eraser = connect()
    # The eraser waits on the claim's row lock, then sees the committed claim.
    with pytest.raises(psycopg.Error) as caught:
        blocked_call(
            lambda: eraser.execute("SELECT challenge.delete_user_data('u1')").fetchone(),
            observer=connect(),
            pid=eraser.info.backend_pid,
            release=claimer.commit,
        )
    assert_sqlstate(caught.value, "CH026")
    assert [g["state"] for g in qa.grants()] == ["pending"]


# --- the CLI ------------------------------------------------------------------------------------------------


def test_maintain_runs_one_pass_and_prints_counts(
    qa: QuestApi, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    users_with_expired_rows(qa, 7, 10 * DAY)
    qa.set_active("keep", "q-kill", True)
    qa.set_expires_at("keep", "q-kill", 2 * DAY)
    remember_events(qa, 5, 3 * DAY, "ev")
    status = cli.main(
        [
            "maintain",
            "--database-url",
            db_url,
            "--batch-size",
            "3",
            "--retention",
            "5d",
            "--event-retention",
            "2d",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "expired progress rows deleted: 7 (expired more than 5d ago)" in out
    assert "processed event ids pruned:    5 (remembered more than 2d ago)" in out
    assert "ledger partitions created:     8 (up to 7 days ahead)" in out
    assert "ledger days/rows pruned:       0 (recorded more than 90d ago)" in out
    assert {r["user_id"] for r in qa.table_rows()["progress"]} == {"keep", "u1"}
    # Everything recorded so far (in the default partition until now) moved into today's partition.
    partitions = qa.rows("SELECT DISTINCT tableoid::regclass::text AS part FROM challenge.ledger")
    assert [r["part"] for r in partitions] == [
        qa.scalar("SELECT 'challenge.ledger_' || to_char((now() AT TIME ZONE 'UTC')::date, 'YYYYMMDD')")
    ]


def test_explain_prints_one_goals_history(
    qa: QuestApi, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    qa.init("u1")
    qa.conn.execute("SELECT challenge.increment_progress('u1', 'q-kill', 2, 'e-7')")
    assert cli.main(["explain", "u1", "q-kill", "--database-url", db_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["recorded", "at", "(UTC)", "operation", "progress", "status", "events"]
    assert lines[1].split()[2:] == ["assign", "-", "->", "0", "-", "->", "not_started"]
    assert lines[2].split()[2:] == ["increment", "0", "->", "2", "not_started", "->", "completed", "e-7"]
    assert len(lines) == 3
    assert cli.main(["explain", "u1", "no-such-goal", "--database-url", db_url]) == 0
    assert "no recorded history for u1 / no-such-goal" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--retention", "soon"], ["--batch-size", "0"], ["--batch-size", "100001"]])
def test_maintain_rejects_bad_options(db_url: str, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["maintain", "--database-url", db_url, *argv])
    assert caught.value.code == 2
