"""delete_user_data and the ledger: a player's history goes with the player, and stays while a grant is
pending."""

from __future__ import annotations

import psycopg
import pytest

from tests.serverclock import DAY, ServerClock
from tests.sql.ledgerhelpers import (
    DEFAULT_GOALS,
    LedgerApi,
    Week,
    insert_old_row,
    run_workload,
    set_ledger,
)
from tests.sql.sqlhelpers import assert_sqlstate


def test_delete_user_data_removes_only_the_players_ledger_rows_and_counts_them(
    la: LedgerApi, server_clock: ServerClock, wk: Week
) -> None:
    run_workload(la, wk)
    insert_old_row(la, "u1", server_clock.now - 30 * DAY)  # in ledger_default
    la.create_partitions(0)  # the rest of u1's history moves into today's partition
    for grant in la.lease("worker", 10):  # claims must be delivered before their player can go
        la.finish(grant["claim_id"], True)
    counts = {
        table: la.scalar(f"SELECT count(*) FROM challenge.{table} WHERE user_id = 'u1'")
        # Remembered event ids name their player since revision 0008 and are erased with it.
        for table in ("progress", "reward_grants", "ledger", "processed_events")
    }
    assert counts["ledger"] > counts["progress"] > 0 and counts["reward_grants"] == 2
    others = [r for r in la.dump()["ledger"] if r["user_id"] != "u1"]
    assert la.delete_user("u1") == sum(counts.values())
    assert la.ledger("u1") == [] and la.explain("u1", "kills") == []
    assert la.dump()["ledger"] == others
    assert la.delete_user("u1") == 0


def test_delete_user_data_deletes_the_history_of_a_player_whose_rows_expired(la: LedgerApi) -> None:
    la.set_active("u3", "side-b", True)
    la.set_expires_at("u3", "side-b", 8 * DAY)
    assert la.delete_expired() == 1
    assert [r["operation"] for r in la.ledger("u3")] == ["assign", "expire"]
    assert la.delete_user("u3") == 2  # no progress row left: the two ledger rows
    assert la.ledger_count() == 0


def test_delete_user_data_deletes_the_history_with_the_ledger_off(la: LedgerApi) -> None:
    la.init("u1")
    la.inc("u1", "kills", 2)
    set_ledger(la, False)
    assert la.delete_user("u1") == len(DEFAULT_GOALS) + len(DEFAULT_GOALS) + 1
    assert la.ledger_count() == 0


def test_delete_user_data_refused_for_a_pending_grant_keeps_the_history(la: LedgerApi) -> None:
    la.init("u1")
    la.inc("u1", "kills", 10)
    la.claim("u1", "kills", "c-1")
    before = la.dump()
    with pytest.raises(psycopg.Error) as excinfo:
        la.delete_user("u1")
    assert_sqlstate(excinfo.value, "CH026")
    assert la.dump() == before
