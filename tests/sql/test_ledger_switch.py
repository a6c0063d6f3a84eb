"""The ledger switch: challenge.set_ledger (deployment-wide, from its commit) and the pgchallenge.ledger
setting, which can only add to it; an invalid setting raises and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.serverclock import DAY
from tests.sql.ledgerhelpers import (
    DEFAULT_GOALS,
    LedgerApi,
    Week,
    assert_chains,
    run_workload,
    set_ledger,
)
from tests.sql.sqlhelpers import Row, assert_sqlstate


def comparable(rows: list[Row], prefix: str) -> list[Row]:
    """Progress rows of the prefixed players, without the prefix and the columns that hold call times."""
    times = {
        "assigned_at",
        "completed_at",
        "claimed_at",
        "created_at",
        "updated_at",
        "last_value_at",
        "expires_at",
        "version",  # starts at the clock's microseconds
    }
    return [
        {**{k: v for k, v in r.items() if k not in times}, "user_id": r["user_id"][len(prefix) :]}
        for r in rows
        if r["user_id"].startswith(prefix)
    ]


def test_ledger_off_records_nothing_and_progress_changes_as_usual(la: LedgerApi, wk: Week) -> None:
    set_ledger(la, False)
    run_workload(la, wk, "off-")
    assert la.ledger_count() == 0
    set_ledger(la, True)
    run_workload(la, wk, "on-")
    assert la.ledger_count() > 0
    assert {r["user_id"] for r in la.ledger()} == {"on-u1", "on-u2"}
    progress = la.table_rows()["progress"]
    assert comparable(progress, "off-") == comparable(progress, "on-")
    assert len(comparable(progress, "off-")) == 17


@pytest.mark.parametrize(("value", "records"), [
    ("on", True), ("off", False), ("true", True), ("false", False),
    ("yes", True), ("no", False), ("1", True), ("0", False), ("", False), (" On ", True),
])  # fmt: skip
@pytest.mark.parametrize("switch", [True, False])
def test_the_setting_can_only_add_to_the_switch(
    la: LedgerApi, value: str, records: bool, switch: bool
) -> None:
    """An on spelling records even while the switch is off; no spelling keeps a write out of it."""
    set_ledger(la, switch)
    la.conn.execute(f"SET pgchallenge.ledger = '{value}'")
    la.init("u1")
    la.inc("u1", "kills", 2)
    assert la.must_get("u1", "kills")["progress"] == 2
    assert la.ledger_count() == (len(DEFAULT_GOALS) + 1 if records or switch else 0)


def test_the_ledger_is_on_by_default(la: LedgerApi) -> None:
    assert la.scalar("SELECT current_setting('pgchallenge.ledger', true)") in (None, "")
    assert la.scalar("SELECT count(*) FROM challenge.deployment_settings WHERE name = 'ledger'") == 0
    la.init("u1")
    assert la.ledger_count() == len(DEFAULT_GOALS)


def test_the_switch_applies_to_every_session_from_its_commit(
    la: LedgerApi, connect: Callable[..., psycopg.Connection[Any]]
) -> None:
    la.init("u1")
    other = LedgerApi(connect())
    mark = la.mark()
    with la.conn.transaction():
        set_ledger(la, False)
        other.inc("u1", "kills", 1)  # before the commit: still on
    other.inc("u1", "kills", 2)  # after: off, in a session opened before the switch
    assert [r["progress_after"] for r in la.ledger(after=mark)] == [1]
    assert other.must_get("u1", "kills")["progress"] == 3


@pytest.mark.parametrize("how", ["SET", "SET LOCAL", "ALTER ROLE"])
def test_a_session_cannot_switch_the_ledger_off_for_itself(
    la: LedgerApi, connect: Callable[..., psycopg.Connection[Any]], how: str
) -> None:
    la.init("u1")
    mark = la.mark()
    if how == "ALTER ROLE":
        role = la.scalar("SELECT current_user")
        la.conn.execute(
            f'ALTER ROLE "{role}" IN DATABASE "{la.scalar("SELECT current_database()")}"'
            " SET pgchallenge.ledger = off"
        )
        try:
            LedgerApi(connect()).inc("u1", "kills", 2)
        finally:
            la.conn.execute(
                f'ALTER ROLE "{role}" IN DATABASE "{la.scalar("SELECT current_database()")}"'
                " RESET pgchallenge.ledger"
            )
    else:
        with la.conn.transaction():
            la.conn.execute(f"{how} pgchallenge.ledger = off")
            la.inc("u1", "kills", 2)
        la.conn.execute("RESET pgchallenge.ledger")
    assert [(r["operation"], r["progress_after"]) for r in la.ledger(after=mark)] == [("increment", 2)]


def test_set_local_on_records_one_transaction_while_the_switch_is_off(la: LedgerApi) -> None:
    la.init("u1")
    set_ledger(la, False)
    mark = la.mark()
    la.inc("u1", "kills", 1)
    with la.conn.transaction():
        la.conn.execute("SET LOCAL pgchallenge.ledger = on")
        la.inc("u1", "kills", 2)
        la.inc_batch([{"user_id": "u1", "goal_id": "kills", "event_id": "e-1"}])
    la.inc("u1", "kills", 1)  # the next transaction: off again
    assert [(r["operation"], r["progress_before"], r["progress_after"]) for r in la.ledger(after=mark)] == [
        ("increment", 1, 3),
        ("increment", 3, 4),
    ]
    assert la.must_get("u1", "kills")["progress"] == 5
    # The chain shows the gaps: it no longer starts where the ledger saw the row last.
    with pytest.raises(AssertionError):
        assert_chains(la)


def test_set_ledger_refuses_null(la: LedgerApi) -> None:
    with pytest.raises(psycopg.Error) as excinfo:
        la.scalar("SELECT challenge.set_ledger(NULL)")
    assert assert_sqlstate(excinfo.value, "CH003").diag.message_primary == (
        "invalid argument: enabled must be true or false, got NULL"
    )


BAD_SETTING = "onn"

# Each write function, called on a state where it would change something.
INVALID_SETTING_CALLS: dict[str, Callable[[LedgerApi], object]] = {
    "initialize_player": lambda a: a.init("u2"),
    "set_goal_active-create": lambda a: a.set_active("u1", "side-b", True),
    "set_goal_active-deactivate": lambda a: a.set_active("u1", "kills", False),
    "select_goals": lambda a: a.select("u1", "side", ["side-c"], replace=True),
    "random_select_goals": lambda a: a.random_select("u1", "side", 1, seed="s"),
    "increment_progress": lambda a: a.inc("u1", "kills", 1, "e-new"),
    "increment_progress_batch": lambda a: a.inc_batch(
        [{"user_id": "u1", "goal_id": "kills", "event_id": "e-new"}]
    ),
    "set_progress_batch": lambda a: a.set_batch(
        [{"user_id": "u1", "goal_id": "level", "value": 3, "event_id": "e-new"}]
    ),
    "record_events": lambda a: a.record([{"event_id": "e-new", "user_id": "u1", "kind": "login"}]),
    "record_events-no-goal-reached": lambda a: a.record(
        [{"event_id": "e-new", "user_id": "u1", "kind": "statistic", "stat_code": "deaths"}]
    ),
    "claim_goal": lambda a: a.claim("u1", "level", "c-new"),
    "delete_expired_progress": lambda a: a.delete_expired(DAY),
    "rotation-by-set_goal_active": lambda a: a.set_active("u1", "weekly", True),
}


@pytest.mark.parametrize("call", sorted(INVALID_SETTING_CALLS))
def test_an_invalid_setting_raises_and_changes_nothing(la: LedgerApi, wk: Week, call: str) -> None:
    la.init("u1")
    la.set_batch([{"user_id": "u1", "goal_id": "level", "value": 20, "occurred_at": wk.mon}])  # claimable
    la.set_expires_at("u1", "side-a", 2 * DAY)  # expired
    la.inc("u1", "weekly", 2)
    la.let_period_pass("u1", "weekly")  # due for rotation
    before = la.dump()
    la.conn.execute(f"SET pgchallenge.ledger = '{BAD_SETTING}'")
    with pytest.raises(psycopg.Error) as excinfo:
        INVALID_SETTING_CALLS[call](la)
    error = assert_sqlstate(excinfo.value, "CH003")
    message = error.diag.message_primary or ""
    assert "pgchallenge.ledger" in message and BAD_SETTING in message, message
    la.conn.execute("RESET pgchallenge.ledger")
    assert la.dump() == before
