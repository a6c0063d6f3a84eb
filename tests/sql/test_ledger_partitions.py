"""The ledger's day partitions (create_ledger_partitions: UTC days, rows moved out of the default partition)
and their retention (prune_ledger), with the argument checks of both.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest

from tests.serverclock import DAY, ServerClock
from tests.sql.ledgerhelpers import (
    DEFAULT_GOALS,
    LedgerApi,
    Week,
    assert_chains,
    create_day_partition,
    day_name,
    insert_old_row,
    part_of,
    run_workload,
)
from tests.sql.sqlhelpers import assert_sqlstate


def test_create_ledger_partitions_makes_each_day_once(la: LedgerApi) -> None:
    today = la.today()
    assert la.partitions() == ["ledger_default"]
    assert la.create_partitions(3) == 4
    assert la.partitions() == sorted([*(day_name(today + n * DAY) for n in range(4)), "ledger_default"])
    assert la.create_partitions(3) == 0
    assert la.create_partitions() == 4  # the default, 7 days ahead: days 4 to 7 are new
    assert la.create_partitions(0) == 0
    assert len(la.partitions()) == 9


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "America/Los_Angeles"])
def test_partitions_are_utc_days_whatever_the_session_time_zone(la: LedgerApi, zone: str) -> None:
    la.conn.execute(f"SET TIME ZONE '{zone}'")
    assert la.create_partitions(1) == 2
    la.conn.execute("SET TIME ZONE 'UTC'")
    today = la.today()
    bounds = la.rows(
        "SELECT c.relname, pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS bound"
        " FROM pg_catalog.pg_class AS c WHERE c.relname = ANY (%s) ORDER BY c.relname",
        [[day_name(today), day_name(today + DAY)]],
    )
    assert [(b["relname"], b["bound"]) for b in bounds] == [
        (day_name(d), f"FOR VALUES FROM ('{d} 00:00:00+00') TO ('{d + DAY} 00:00:00+00')")
        for d in (today, today + DAY)
    ]


def test_rows_recorded_before_the_partition_existed_move_into_it(
    la: LedgerApi, server_clock: ServerClock, wk: Week
) -> None:
    la.init("u1")
    la.inc("u1", "kills", 3, "e-1", occurred_at=wk.mon)
    old = server_clock.now - 10 * DAY
    insert_old_row(la, "u9", old)
    before = la.dump()["ledger"]
    assert {r["part"] for r in before} == {"challenge.ledger_default"}
    la.create_partitions(1)
    after = la.dump()["ledger"]
    today_part = f"challenge.{day_name(la.today())}"
    # The same rows, value for value; today's moved out of the default partition, the old one stayed.
    assert [{**r, "part": None} for r in after] == [{**r, "part": None} for r in before]
    assert {r["user_id"]: r["part"] for r in after} == {"u1": today_part, "u9": "challenge.ledger_default"}
    assert la.scalar("SELECT count(*) FROM ONLY challenge.ledger_default") == 1
    assert [r["operation"] for r in la.explain("u1", "kills")] == ["assign", "increment"]


def test_new_rows_land_in_todays_partition(la: LedgerApi, wk: Week) -> None:
    assert la.create_partitions(2) == 3
    mark = la.mark()
    run_workload(la, wk)
    today_part = f"challenge.{day_name(la.today())}"
    parts = {part for change_id, part in part_of(la).items() if change_id > mark}
    assert parts == {today_part}
    assert la.scalar("SELECT count(*) FROM ONLY challenge.ledger_default") == 0
    assert_chains(la)


def test_prune_ledger_drops_old_day_partitions_and_old_default_rows(
    la: LedgerApi, server_clock: ServerClock
) -> None:
    today = la.today()
    long_ago = today - 200 * DAY
    create_day_partition(la, long_ago)
    insert_old_row(
        la,
        "u-old-partition",
        datetime.combine(long_ago, datetime.min.time(), timezone.utc) + timedelta(hours=5),
    )
    insert_old_row(la, "u-old-default", server_clock.now - 120 * DAY)
    insert_old_row(la, "u-recent-default", server_clock.now - 10 * DAY)
    la.create_partitions(1)
    la.init("u1")
    assert part_of(la)[la.mark()] == f"challenge.{day_name(today)}"
    kept = [r for r in la.dump()["ledger"] if not r["user_id"].startswith("u-old")]
    assert la.prune() == 2  # one partition dropped, one default row deleted (90 days by default)
    assert la.partitions() == sorted(["ledger_default", day_name(today), day_name(today + DAY)])
    assert la.dump()["ledger"] == kept
    assert la.prune() == 0


def test_prune_ledger_keeps_the_current_day_and_bounds_default_deletes(
    la: LedgerApi, server_clock: ServerClock
) -> None:
    today = la.today()
    yesterday = today - DAY
    create_day_partition(la, yesterday)
    insert_old_row(la, "u-yesterday", datetime.combine(yesterday, datetime.min.time(), timezone.utc))
    for n in range(3):
        insert_old_row(la, f"u-default-{n}", server_clock.now - (40 + n) * DAY)
    la.create_partitions(0)
    la.init("u1")
    # A zero interval: yesterday's day is over and goes; today's is not over and stays whole.
    assert la.prune(timedelta(0), 2) == 3  # the partition + 2 default rows
    assert la.partitions() == sorted(["ledger_default", day_name(today)])
    assert la.prune(timedelta(0), 2) == 1
    assert la.prune(timedelta(0), 2) == 0
    assert sorted({r["user_id"] for r in la.ledger()}) == ["u1"]
    assert la.ledger_count() == len(DEFAULT_GOALS)


@pytest.mark.parametrize(
    ("sql", "params", "named"),
    [
        ("SELECT challenge.create_ledger_partitions(%s::integer)", [-1], "days_ahead"),
        ("SELECT challenge.create_ledger_partitions(%s::integer)", [367], "days_ahead"),
        ("SELECT challenge.create_ledger_partitions(%s::integer)", [None], "days_ahead"),
        ("SELECT challenge.prune_ledger(%s::interval)", [None], "retention"),
        ("SELECT challenge.prune_ledger(%s::interval)", [timedelta(days=-1)], "retention"),
        ("SELECT challenge.prune_ledger(interval '1 day', %s::integer)", [0], "batch_size"),
        ("SELECT challenge.prune_ledger(interval '1 day', %s::integer)", [None], "batch_size"),
        ("SELECT challenge.prune_ledger(interval '1 day', %s::integer)", [100001], "batch_size"),
    ],
    ids=[
        "days--1",
        "days-367",
        "days-null",
        "older-null",
        "older-negative",
        "batch-0",
        "batch-null",
        "batch-100001",
    ],
)
def test_partition_functions_reject_bad_arguments(
    la: LedgerApi, server_clock: ServerClock, sql: str, params: list[Any], named: str
) -> None:
    create_day_partition(la, la.today() - 200 * DAY)
    insert_old_row(la, "u-old", server_clock.now - 200 * DAY)
    before = la.dump()
    with pytest.raises(psycopg.Error) as excinfo:
        la.scalar(sql, params)
    assert named in (assert_sqlstate(excinfo.value, "CH003").diag.message_primary or "")
    assert la.dump() == before
