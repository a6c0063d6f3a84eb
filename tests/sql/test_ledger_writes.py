"""The exact ledger rows each writer records: assignment, increments, batches, absolute values, skipped
writes (nothing recorded), record_events, claims, expiry, and the transaction id and time a call's rows share.

Rotation by writes and assignment calls is in test_ledger_rotation.py.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.serverclock import DAY
from tests.sql.ledgerhelpers import (
    CHANGE_COLUMNS,
    DEFAULT_GOALS,
    LedgerApi,
    Week,
    assert_chains,
    change,
    changes,
    operations,
    utc,
)
from tests.sql.sqlhelpers import assert_sqlstate, outcome_of, skipped


def test_initialize_player_records_one_assign_per_created_row(la: LedgerApi) -> None:
    la.init("u1")
    rows = la.ledger("u1")
    assert sorted(r["goal_id"] for r in rows) == DEFAULT_GOALS
    assert len({r["txid"] for r in rows}) == 1
    week, day = la.period_start("weekly"), la.period_start("daily")
    starts = {"weekly": week, "carry": week, "daily-wins": day}
    for row in rows:
        assert {c: row[c] for c in CHANGE_COLUMNS} == change(
            "assign", None, (0, "not_started"), period_start=starts.get(row["goal_id"])
        ), row["goal_id"]
    la.init("u1")  # nothing new to create: nothing recorded
    assert la.ledger_count() == len(DEFAULT_GOALS)


def test_set_goal_active_records_real_changes_only(la: LedgerApi, wk: Week) -> None:
    la.set_active("u1", "side-b", True)  # created active
    la.set_active("u1", "side-b", True)  # no-op
    la.inc("u1", "side-b", 2, occurred_at=wk.mon)
    mark = la.mark()
    la.set_active("u1", "side-b", False)
    la.set_active("u1", "side-b", False)  # no-op
    la.set_active("u1", "side-b", True)
    la.set_active("u1", "side-c", False)  # created inactive
    assert changes(la, "u1", "side-b", mark) == [
        change("unassign", (2, "in_progress"), (2, "in_progress")),
        change("assign", (2, "in_progress"), (2, "in_progress")),
    ]
    assert changes(la, "u1", "side-c") == [change("unassign", None, (0, "not_started"))]
    assert operations(assert_chains(la), ("u1", "side-b")) == ["assign", "increment", "unassign", "assign"]


def test_select_goals_with_replace_records_unassign_then_assign(la: LedgerApi) -> None:
    la.init("u1")  # side-a active
    la.set_active("u1", "side-b", True)
    la.set_active("u1", "side-c", True)
    la.set_active("u1", "side-c", False)
    mark = la.mark()
    la.select("u1", "side", ["side-c", "side-b", "side-c"], replace=True)
    rows = la.ledger("u1", after=mark)
    assert [(r["goal_id"], r["operation"]) for r in rows] == [("side-a", "unassign"), ("side-c", "assign")]
    assert changes(la, "u1", "side-c", mark) == [change("assign", (0, "not_started"), (0, "not_started"))]
    assert len({r["txid"] for r in rows}) == 1
    mark = la.mark()
    la.select("u1", "side", ["side-b", "side-c"], replace=True)  # already exactly these: no-op
    assert la.ledger(after=mark) == []
    assert_chains(la)


def test_random_select_goals_records_the_created_rows(la: LedgerApi) -> None:
    picked = la.random_select("u2", "side", 5, seed="any")  # the whole pool: side-a, side-b, side-c
    assert [r["goal_id"] for r in picked] == ["side-a", "side-b", "side-c"]
    assert [(r["goal_id"], r["operation"], r["progress_before"]) for r in la.ledger("u2")] == [
        ("side-a", "assign", None),
        ("side-b", "assign", None),
        ("side-c", "assign", None),
    ]


def test_increment_progress_records_before_after_event_id_and_time(la: LedgerApi, wk: Week) -> None:
    la.init("u1")
    mark = la.mark()
    la.inc("u1", "kills", 3, occurred_at=wk.mon)
    la.inc("u1", "kills", 2, "e-1", occurred_at=wk.tue)
    assert la.inc("u1", "kills", 2, "e-1", occurred_at=wk.tue)["outcome"] == "duplicate_event"
    la.inc("u1", "kills", 7, "e-2", occurred_at=wk.wed)
    assert changes(la, "u1", "kills", mark) == [
        change("increment", (0, "not_started"), (3, "in_progress"), occurred_at=utc(wk.mon)),
        change(
            "increment", (3, "in_progress"), (5, "in_progress"), event_ids=["e-1"], occurred_at=utc(wk.tue)
        ),
        change(
            "increment", (5, "in_progress"), (12, "completed"), event_ids=["e-2"], occurred_at=utc(wk.wed)
        ),
    ]


def test_default_occurred_at_is_the_calls_transaction_time(la: LedgerApi) -> None:
    la.init("u1")
    mark = la.mark()
    with la.conn.transaction():
        la.inc("u1", "kills", 1)
        la.inc_batch([{"user_id": "u1", "goal_id": "side-a"}])
        now = la.now()
    assert [r["occurred_at"] for r in la.ledger("u1", after=mark)] == [now, now]


def test_batch_folds_the_items_of_one_row_into_one_change(la: LedgerApi, wk: Week) -> None:
    """Several items for one row: one ledger row, every applied item's event id in item order."""
    la.init("u1")
    la.init("u2")
    la.inc("u1", "kills", 1, "seen", occurred_at=wk.mon)
    mark = la.mark()
    result = la.inc_batch(
        [
            {"user_id": "u1", "goal_id": "kills", "delta": 2, "event_id": "z-9", "occurred_at": wk.wed},
            {"user_id": "u2", "goal_id": "kills", "delta": 1, "event_id": "a-0", "occurred_at": wk.mon},
            {"user_id": "u1", "goal_id": "kills", "delta": 1, "occurred_at": wk.mon},
            {"user_id": "u1", "goal_id": "kills", "delta": 5, "event_id": "seen", "occurred_at": wk.wed},
            {"user_id": "u1", "goal_id": "kills", "delta": 3, "event_id": "a-1", "occurred_at": wk.tue},
        ]
    )
    assert (result["applied"], result["skipped"]) == (4, skipped(duplicate_event=1))
    assert changes(la, "u1", "kills", mark) == [
        change(
            "increment",
            (1, "in_progress"),
            (7, "in_progress"),
            event_ids=["z-9", "a-1"],
            occurred_at=utc(wk.wed),
        )
    ]
    assert changes(la, "u2", "kills", mark) == [
        change(
            "increment", (0, "not_started"), (1, "in_progress"), event_ids=["a-0"], occurred_at=utc(wk.mon)
        )
    ]
    rows = la.ledger(after=mark)
    assert len(rows) == 2 and rows[0]["txid"] == rows[1]["txid"]


def test_batch_of_items_without_event_ids_records_null_event_ids(la: LedgerApi, wk: Week) -> None:
    la.init("u1")
    mark = la.mark()
    la.inc_batch([{"user_id": "u1", "goal_id": "kills", "occurred_at": wk.mon}] * 3)
    assert changes(la, "u1", "kills", mark) == [
        change("increment", (0, "not_started"), (3, "in_progress"), occurred_at=utc(wk.mon))
    ]


def test_daily_once_goal_labels_only_the_counted_item(la: LedgerApi, wk: Week) -> None:
    la.init("u1")
    mark = la.mark()
    result = la.inc_batch(
        [
            {"user_id": "u1", "goal_id": "logins", "event_id": "l-1", "occurred_at": wk.mon},
            {"user_id": "u1", "goal_id": "logins", "event_id": "l-2", "occurred_at": wk.at(0, 23)},
            {"user_id": "u1", "goal_id": "logins", "event_id": "l-3", "occurred_at": wk.tue},
        ]
    )
    assert (result["applied"], result["skipped"]["already_counted_today"]) == (2, 1)
    assert changes(la, "u1", "logins", mark) == [
        change(
            "increment",
            (0, "not_started"),
            (2, "in_progress"),
            event_ids=["l-1", "l-3"],
            occurred_at=utc(wk.tue),
        )
    ]


def test_set_batch_records_the_winning_value_and_leaves_stale_items_out(la: LedgerApi, wk: Week) -> None:
    la.init("u1")
    mark = la.mark()
    result = la.set_batch(
        [
            {"user_id": "u1", "goal_id": "level", "value": 5, "event_id": "s-1", "occurred_at": wk.mon},
            {"user_id": "u1", "goal_id": "level", "value": 9, "event_id": "s-2", "occurred_at": wk.wed},
            {"user_id": "u1", "goal_id": "level", "value": 7, "event_id": "s-3", "occurred_at": wk.tue},
        ]
    )
    assert (result["applied"], result["skipped"]["stale_event"]) == (2, 1)
    la.set_batch(
        [{"user_id": "u1", "goal_id": "level", "value": 25, "event_id": "s-4", "occurred_at": wk.next_tue}]
    )
    assert changes(la, "u1", "level", mark) == [
        change(
            "set", (0, "not_started"), (9, "in_progress"), event_ids=["s-1", "s-2"], occurred_at=utc(wk.wed)
        ),
        change("set", (9, "in_progress"), (25, "completed"), event_ids=["s-4"], occurred_at=utc(wk.next_tue)),
    ]


def _write(api: LedgerApi, how: str, goal_id: str, *, at: str, event_id: str | None = None) -> str:
    """One item through one write path; returns its outcome."""
    item: dict[str, Any] = {"user_id": "u1", "goal_id": goal_id, "occurred_at": at}
    if event_id is not None:
        item["event_id"] = event_id
    if how == "single":
        outcome: str = api.inc("u1", goal_id, 1, event_id, occurred_at=at)["outcome"]
        return outcome
    if how == "batch":
        return outcome_of(api.inc_batch([item]))
    return outcome_of(api.set_batch([{**item, "value": 4}]))


# (write path, setup, goal, outcome): each a skipped write, which must record nothing.
SKIPS = [
    ("single", "duplicate", "kills", "duplicate_event"),
    ("batch", "duplicate", "kills", "duplicate_event"),
    ("set", "duplicate", "level", "duplicate_event"),
    ("single", "inactive", "kills", "inactive"),
    ("batch", "inactive", "kills", "inactive"),
    ("set", "inactive", "level", "inactive"),
    ("single", "not-assigned", "side-b", "not_assigned"),
    ("batch", "not-assigned", "side-b", "not_assigned"),
    ("single", "claimed", "side-a", "claimed"),
    ("batch", "claimed", "side-a", "claimed"),
    ("single", "counted-today", "logins", "already_counted_today"),
    ("batch", "counted-today", "logins", "already_counted_today"),
    ("single", "stale", "weekly", "stale_event"),
    ("batch", "stale", "weekly", "stale_event"),
    ("set", "stale", "level", "stale_event"),
    ("single", "unknown", "nope", "unknown_goal"),
    ("batch", "unknown", "nope", "unknown_goal"),
    ("set", "type", "kills", "type_mismatch"),
]


@pytest.mark.parametrize(
    ("how", "setup", "goal_id", "expected"), SKIPS, ids=[f"{s[0]}-{s[1]}" for s in SKIPS]
)
def test_a_skipped_write_records_nothing(
    la: LedgerApi, wk: Week, how: str, setup: str, goal_id: str, expected: str
) -> None:
    la.init("u1")
    event_id = None
    if setup == "duplicate":
        event_id = "seen"
        assert _write(la, how, goal_id, at=wk.wed, event_id="seen") == "applied"
    elif setup == "inactive":
        la.set_active("u1", goal_id, False)
    elif setup == "claimed":
        la.inc("u1", goal_id, 3)
        la.claim("u1", goal_id, "c-1")
    elif setup == "counted-today":
        assert _write(la, how, goal_id, at=wk.wed) == "applied"
    elif setup == "stale":
        assert _write(la, how, goal_id, at=wk.next_tue) == "applied"
    before = la.dump()
    at = wk.mon if setup == "stale" else wk.wed
    assert _write(la, how, goal_id, event_id=event_id, at=at) == expected
    after = la.dump()
    assert after["ledger"] == before["ledger"]
    assert after["progress"] == before["progress"]


def test_record_events_labels_every_goal_it_reached_with_the_event_id(la: LedgerApi, wk: Week) -> None:
    la.init("u1")
    la.init("u2")
    mark = la.mark()
    result = la.record(
        [
            {
                "event_id": "k-1",
                "user_id": "u1",
                "kind": "statistic",
                "stat_code": "kills",
                "inc": 2,
                "occurred_at": wk.mon,
            },
            {"event_id": "g-1", "user_id": "u1", "kind": "login", "occurred_at": wk.mon},
            {
                "event_id": "k-2",
                "user_id": "u2",
                "kind": "statistic",
                "stat_code": "kills",
                "occurred_at": wk.mon,
            },
            {
                "event_id": "k-3",
                "user_id": "u1",
                "kind": "statistic",
                "stat_code": "kills",
                "inc": 3,
                "occurred_at": wk.tue,
            },
            {
                "event_id": "v-1",
                "user_id": "u1",
                "kind": "statistic",
                "stat_code": "level",
                "value": 6,
                "occurred_at": wk.tue,
            },
        ]
    )
    assert (result["events"], result["applied"]) == (5, 8)
    week1 = wk.start
    assert changes(la, "u1", "kills", mark) == [
        change(
            "increment",
            (0, "not_started"),
            (5, "in_progress"),
            event_ids=["k-1", "k-3"],
            occurred_at=utc(wk.tue),
        )
    ]
    assert changes(la, "u1", "weekly", mark) == [
        change(
            "increment",
            (0, "not_started"),
            (5, "completed"),
            event_ids=["k-1", "k-3"],
            rotated=True,
            period_start=week1,
            occurred_at=utc(wk.tue),
        )
    ]
    assert changes(la, "u1", "logins", mark) == [
        change(
            "increment", (0, "not_started"), (1, "in_progress"), event_ids=["g-1"], occurred_at=utc(wk.mon)
        )
    ]
    assert changes(la, "u1", "level", mark) == [
        change("set", (0, "not_started"), (6, "in_progress"), event_ids=["v-1"], occurred_at=utc(wk.tue))
    ]
    assert changes(la, "u2", "kills", mark) == [
        change(
            "increment", (0, "not_started"), (1, "in_progress"), event_ids=["k-2"], occurred_at=utc(wk.mon)
        )
    ]
    assert [r["event_ids"] for r in la.ledger("u2", "weekly", mark)] == [["k-2"]]
    rows = la.ledger(after=mark)
    assert len(rows) == 6 and len({r["txid"] for r in rows}) == 1
    # Every (event, goal) it applied is named by exactly one ledger row.
    labels = sorted((r["user_id"], r["goal_id"], e) for r in rows for e in r["event_ids"])
    assert len(labels) == result["applied"] == len(set(labels))
    assert_chains(la)


def test_record_events_duplicates_and_unrouted_events_record_nothing(la: LedgerApi, wk: Week) -> None:
    la.init("u1")
    event = {
        "event_id": "k-1",
        "user_id": "u1",
        "kind": "statistic",
        "stat_code": "kills",
        "occurred_at": wk.mon,
    }
    la.record([event])
    before = la.dump()["ledger"]
    result = la.record(
        [
            event,
            {
                "event_id": "n-1",
                "user_id": "u1",
                "kind": "statistic",
                "stat_code": "deaths",
                "occurred_at": wk.mon,
            },
            {"event_id": "n-2", "user_id": "u9", "kind": "login", "occurred_at": wk.mon},
        ]
    )
    assert (result["duplicate_events"], result["applied"]) == (1, 0)
    assert la.dump()["ledger"] == before


def test_claim_records_the_status_change_only_once(la: LedgerApi, wk: Week) -> None:
    la.init("u1")
    la.inc("u1", "kills", 12, occurred_at=wk.mon)
    mark = la.mark()
    la.claim("u1", "kills", "c-1")
    assert changes(la, "u1", "kills", mark) == [change("claim", (12, "completed"), (12, "claimed"))]
    assert la.claim("u1", "kills", "c-1")["replayed"] is True  # a replay changes nothing
    with pytest.raises(psycopg.Error) as again:
        la.claim("u1", "kills", "c-2")
    assert_sqlstate(again.value, "CH022")
    with pytest.raises(psycopg.Error) as not_done:
        la.claim("u1", "side-a", "c-3")
    assert_sqlstate(not_done.value, "CH021")
    assert len(la.ledger(after=mark)) == 1


def test_claim_of_a_carried_over_goal_records_its_move_to_the_current_period(la: LedgerApi) -> None:
    la.init("u1")
    la.inc("u1", "carry", 6)
    la.let_period_pass("u1", "carry")
    mark = la.mark()
    la.claim("u1", "carry", "c-1")
    assert changes(la, "u1", "carry", mark) == [
        change(
            "claim", (6, "completed"), (6, "claimed"), rotated=True, period_start=la.period_start("weekly")
        )
    ]
    assert_chains(la)


def test_expiry_records_the_rows_last_state_and_nothing_after(la: LedgerApi, wk: Week) -> None:
    la.init("u1")
    la.inc("u1", "kills", 4, occurred_at=wk.mon)
    la.inc("u1", "weekly", 2)
    la.set_expires_at("u1", "kills", 8 * DAY)
    la.set_expires_at("u1", "weekly", 8 * DAY)
    mark = la.mark()
    assert la.delete_expired() == 2
    assert changes(la, "u1", "kills", mark) == [change("expire", (4, "in_progress"), None)]
    assert changes(la, "u1", "weekly", mark) == [
        change("expire", (2, "in_progress"), None, period_start=la.period_start("weekly"))
    ]
    assert la.get("u1", "kills") is None
    assert operations(assert_chains(la), ("u1", "kills")) == ["assign", "increment", "expire"]
    # A later assignment starts the row again: its history goes on from "no row".
    mark = la.mark()
    la.init("u1")
    assert changes(la, "u1", "kills", mark) == [change("assign", None, (0, "not_started"))]
    assert operations(assert_chains(la), ("u1", "kills")) == ["assign", "increment", "expire", "assign"]


def test_rows_of_one_call_share_its_transaction_id_and_time(la: LedgerApi) -> None:
    la.init("u1")
    la.init("u2")
    mark = la.mark()
    with la.conn.transaction():
        started = la.scalar("SELECT clock_timestamp()")
        la.inc_batch([{"user_id": u, "goal_id": g} for u in ("u1", "u2") for g in ("kills", "side-a")])
        la.inc("u1", "kills", 1)
        xid = la.scalar("SELECT pg_current_xact_id()::text::bigint")
        ended = la.scalar("SELECT clock_timestamp()")
    rows = la.ledger(after=mark)
    assert len(rows) == 5
    assert {r["txid"] for r in rows} == {xid}
    assert all(started <= r["recorded_at"] <= ended for r in rows)
    la.inc("u1", "kills", 1)
    assert la.ledger(after=rows[-1]["change_id"])[0]["txid"] != xid
    # Within a call, the rows come in (user, goal) order.
    assert [(r["user_id"], r["goal_id"]) for r in rows[:4]] == [
        ("u1", "kills"),
        ("u1", "side-a"),
        ("u2", "kills"),
        ("u2", "side-a"),
    ]
