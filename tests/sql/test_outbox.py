"""The reward-grant outbox: lease_reward_grants and finish_reward_grant.

Time never passes by sleeping: a lease "running out" or a backoff "ending" is set up by moving the grant's
dates into the past (QuestApi.expire_leases / make_due).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest

from tests.sql.claimhelpers import GRANT_COLUMNS, QuestApi
from tests.sql.sqlhelpers import assert_sqlstate


def claim_for(qa: QuestApi, users: list[str], goal_id: str = "q-kill") -> list[str]:
    ids = []
    for user_id in users:
        qa.complete(user_id, goal_id)
        ids.append(qa.claim(user_id, goal_id, f"c-{user_id}")["claim_id"])
    return ids


def test_lease_hands_out_due_grants_oldest_first_and_counts_the_attempt(qa: QuestApi) -> None:
    ids = claim_for(qa, ["u1", "u2", "u3"])
    before = qa.now()
    leased = qa.lease("w1", 2)
    assert [g["claim_id"] for g in leased] == ids[:2]
    for grant in leased:
        assert list(grant) == GRANT_COLUMNS
        assert (grant["state"], grant["attempts"], grant["leased_by"]) == ("pending", 1, "w1")
        # Default lease: one minute; the lease end is also when the grant is due again.
        assert grant["leased_until"] - before >= timedelta(minutes=1)
        assert grant["leased_until"] - before < timedelta(minutes=1, seconds=10)
        assert grant["available_at"] == grant["leased_until"]
    # Leased grants are nobody else's until the lease ends.
    assert [g["claim_id"] for g in qa.lease("w2", 10)] == ids[2:]
    assert qa.lease("w3", 10) == []


def test_an_expired_lease_returns_the_grant_to_the_pool(qa: QuestApi) -> None:
    [claim_id] = claim_for(qa, ["u1"])
    assert [g["leased_by"] for g in qa.lease("w1", 10, timedelta(seconds=30))] == ["w1"]
    assert qa.lease("w2", 10) == []
    qa.expire_leases()
    [again] = qa.lease("w2", 10)
    assert (again["claim_id"], again["leased_by"], again["attempts"]) == (claim_id, "w2", 2)


def test_finish_granted_is_final_and_idempotent(qa: QuestApi) -> None:
    [claim_id] = claim_for(qa, ["u1"])
    qa.lease("w1", 10)
    done = qa.finish(claim_id, True)
    assert list(done) == GRANT_COLUMNS
    assert (done["state"], done["leased_by"], done["leased_until"]) == ("granted", None, None)
    assert done["finished_at"] is not None
    # A second worker finishing the same grant (after a lease expiry) changes nothing.
    assert qa.finish(claim_id, True) == done
    assert qa.finish(claim_id, False, "late failure") == done
    qa.make_due()
    assert qa.lease("w1", 10) == []


def test_failed_attempts_back_off_exponentially_then_fail(qa: QuestApi) -> None:
    [claim_id] = claim_for(qa, ["u1"])
    backoffs = []
    for attempt in range(1, 10):
        [leased] = qa.lease("w1", 10)
        assert leased["attempts"] == attempt
        before = qa.now()
        retried = qa.finish(claim_id, False, f"platform 503 #{attempt}")
        assert (retried["state"], retried["last_error"]) == ("pending", f"platform 503 #{attempt}")
        assert (retried["leased_by"], retried["leased_until"], retried["finished_at"]) == (None, None, None)
        backoffs.append(retried["available_at"] - before)
        assert qa.lease("w1", 10) == []  # not due during the backoff
        qa.make_due()
    # 5 s * 2^(attempt - 1), measured from a timestamp taken just before the call.
    for attempt, backoff in enumerate(backoffs, start=1):
        expected = timedelta(seconds=5 * 2 ** (attempt - 1))
        assert expected <= backoff < expected + timedelta(seconds=2), (attempt, backoff)
    [last] = qa.lease("w1", 10)
    assert last["attempts"] == 10
    failed = qa.finish(claim_id, False, "platform 503 #10")
    assert (failed["state"], failed["last_error"]) == ("failed", "platform 503 #10")
    assert failed["finished_at"] is not None
    qa.make_due()
    assert qa.lease("w1", 10) == []


def test_backoff_is_capped_at_one_hour(qa: QuestApi) -> None:
    [claim_id] = claim_for(qa, ["u1"])
    qa.conn.execute("UPDATE challenge.reward_grants SET max_attempts = 50, attempts = 20")
    before = qa.now()
    retried = qa.finish(claim_id, False)
    assert retried["last_error"] == "grant failed (no error given)"
    assert timedelta(hours=1) <= retried["available_at"] - before < timedelta(hours=1, seconds=2)


def test_a_lease_that_expires_on_the_last_attempt_leaves_the_grant_failed(qa: QuestApi) -> None:
    ids = claim_for(qa, ["u1", "u2"])
    qa.conn.execute("UPDATE challenge.reward_grants SET max_attempts = 1 WHERE claim_id = %s", [ids[0]])
    assert len(qa.lease("w1", 10)) == 2
    qa.expire_leases()  # w1 died holding both
    # The exhausted grant is failed, not leased again; the other one is leased (same call, same limit).
    [again] = qa.lease("w2", 1)
    assert again["claim_id"] == ids[1]
    failed = qa.grant(ids[0])
    assert failed["state"] == "failed" and failed["finished_at"] is not None
    assert "lease of w1 expired on the last attempt" in failed["last_error"]


def test_a_late_success_turns_a_failed_grant_granted(qa: QuestApi) -> None:
    [claim_id] = claim_for(qa, ["u1"])
    qa.conn.execute("UPDATE challenge.reward_grants SET max_attempts = 1")
    qa.lease("w1", 10)
    assert qa.finish(claim_id, False, "timeout")["state"] == "failed"
    # The platform did grant after all (the timeout hid it): the outbox records the truth.
    assert qa.finish(claim_id, True)["state"] == "granted"


def test_an_operator_can_retry_a_failed_grant(qa: QuestApi) -> None:
    [claim_id] = claim_for(qa, ["u1"])
    qa.conn.execute("UPDATE challenge.reward_grants SET max_attempts = 1")
    qa.lease("w1", 10)
    qa.finish(claim_id, False, "bad item")
    qa.conn.execute(
        "UPDATE challenge.reward_grants SET state = 'pending', finished_at = NULL,"
        " max_attempts = max_attempts + 1, available_at = now() WHERE claim_id = %s",
        [claim_id],
    )
    [again] = qa.lease("w1", 10)
    assert again["attempts"] == 2
    assert qa.finish(claim_id, True)["state"] == "granted"


def test_lease_skips_grants_locked_by_a_concurrent_lease(qa: QuestApi, connect: Any) -> None:
    ids = claim_for(qa, ["u1", "u2"])
    tx = connect(autocommit=False)
    first = tx.execute("SELECT claim_id FROM challenge.lease_reward_grants('w1', 1)").fetchall()
    assert first == [(ids[0],)]
    # w1's lease is not committed yet: w2 does not wait for it, it takes the next grant.
    assert [g["claim_id"] for g in qa.lease("w2", 10)] == [ids[1]]
    tx.commit()
    assert qa.grant(ids[0])["leased_by"] == "w1"


@pytest.mark.parametrize(
    ("worker", "limit", "lease", "message"),
    [
        ("", 1, timedelta(minutes=1), "worker must be a string of 1 to 100 characters"),
        ("w", 0, timedelta(minutes=1), "limit must be an integer between 1 and 10000, got 0"),
        ("w", 10001, timedelta(minutes=1), "limit must be an integer between 1 and 10000, got 10001"),
        ("w", None, timedelta(minutes=1), "limit must be an integer between 1 and 10000, got NULL"),
        ("w", 1, timedelta(0), "lease must be a positive interval"),
        ("w", 1, None, "lease must be a positive interval, got NULL"),
    ],
    ids=["empty_worker", "zero_limit", "huge_limit", "null_limit", "zero_lease", "null_lease"],
)
def test_lease_bad_arguments(qa: QuestApi, worker: str, limit: Any, lease: Any, message: str) -> None:
    claim_for(qa, ["u1"])
    before = qa.table_rows()
    with pytest.raises(psycopg.Error) as caught:
        qa.lease(worker, limit, lease)
    assert message in str(assert_sqlstate(caught.value, "CH003").diag.message_primary)
    assert qa.table_rows() == before


def test_finish_bad_arguments(qa: QuestApi) -> None:
    [claim_id] = claim_for(qa, ["u1"])
    with pytest.raises(psycopg.Error) as caught:
        qa.finish("no-such-claim", True)
    error = assert_sqlstate(caught.value, "CH003")
    assert error.diag.message_primary == (
        "invalid argument: no reward grant for claim id no-such-claim of player nobody"
    )
    with pytest.raises(psycopg.Error) as caught:
        qa.finish(claim_id, None)
    assert_sqlstate(caught.value, "CH003")
    assert qa.grant(claim_id)["state"] == "pending"
