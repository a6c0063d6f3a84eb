"""Maintenance on the cluster: delete_expired_progress, prune_processed_events, create_ledger_partitions and
prune_ledger run and return the counts they promise.

Rows are made old as tests/sql/test_maintenance.py and test_ledger_*.py make them: dates moved into the past
on the server's clock (``now() - interval``), never this process's clock or a literal date. These functions
work across players, so their counts cover the whole shared database: each test counts what is due just
before the call (the run's own rows, and any an interrupted earlier run left) and checks its own rows after.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from psycopg import sql

from tests.citus.citushelpers import CLUSTER, Api, Cluster

pytestmark = CLUSTER

DAY = timedelta(days=1)
# A ledger row no function writes (setup only, as tests/sql/ledgerhelpers.py's insert_old_row).
LEDGER_COLUMNS = "recorded_at, user_id, goal_id, operation, progress_after, status_after"
BATCH = 2


def drain(call: Any, batch_size: int = BATCH) -> list[int]:
    """Call a batched maintenance function until it returns less than its batch size."""
    counts = [call(batch_size)]
    while counts[-1] == batch_size:
        counts.append(call(batch_size))
        assert len(counts) < 10_000, "a batched call never ran dry"
    return counts


def test_delete_expired_progress_deletes_rows_expired_longer_ago_than_the_retention(cluster: Cluster) -> None:
    api = cluster.api()
    users = cluster.ids("expire", 5)
    for user in users:
        api.init(user)
    api.inc(users[0], "kill-10", 10)
    claim = api.claim(users[0], "kill-10", "expire-claim")
    moved = api.execute(
        "UPDATE challenge.progress SET expires_at = now() - %s::interval"
        " WHERE user_id = ANY(%s) AND goal_id IN ('kill-10', 'win-1')",
        [10 * DAY, users],
    )
    assert moved == 2 * len(users)
    # Inside the 7-day retention: stays.
    api.execute(
        "UPDATE challenge.progress SET expires_at = now() - %s::interval"
        " WHERE user_id = %s AND goal_id = 'kill-100'",
        [6 * DAY, users[0]],
    )
    due = api.scalar("SELECT count(*) FROM challenge.progress WHERE expires_at < now() - interval '7 days'")
    assert due >= 2 * len(users)

    counts = drain(lambda size: api.delete_expired(7 * DAY, size))

    assert sum(counts) == due and all(c == BATCH for c in counts[:-1]) and counts[-1] < BATCH, counts
    left = api.rows(
        "SELECT user_id, goal_id FROM challenge.progress WHERE user_id = ANY(%s) ORDER BY 1, 2", [users]
    )
    assert not {r["goal_id"] for r in left} & {"kill-10", "win-1"}
    assert len(left) == len(users) * 8
    assert api.get(users[0], "kill-100")["goal_id"] == "kill-100"
    expired = api.rows(
        "SELECT user_id, goal_id, status_before, status_after FROM challenge.ledger"
        " WHERE user_id = ANY(%s) AND operation = 'expire' ORDER BY 1, 2",
        [users],
    )
    assert [(r["user_id"], r["goal_id"]) for r in expired] == sorted(
        (user, goal_id) for user in users for goal_id in ("kill-10", "win-1")
    )
    # A claim's grant is not progress: it stays, to be delivered.
    grant = api.row(
        "SELECT state FROM challenge.reward_grants WHERE user_id = %s AND claim_id = %s",
        [users[0], claim["claim_id"]],
    )
    assert grant == {"state": "pending"}
    assert api.delete_expired(7 * DAY, 1000) == 0


def test_prune_processed_events_forgets_old_event_ids_in_batches(cluster: Cluster) -> None:
    api = cluster.api()
    users = cluster.ids("prune", 3)
    for user in users:
        api.init(user)
        result = api.inc_batch(
            [{"user_id": user, "goal_id": "kill-100", "event_id": f"ev-{n}"} for n in range(3)]
        )
        assert result["applied"] == 3
    aged = api.execute(
        "UPDATE challenge.processed_events SET processed_at = now() - %s::interval WHERE user_id = ANY(%s)",
        [8 * DAY, users[:2]],
    )
    assert aged == 6
    due = api.scalar(
        "SELECT count(*) FROM challenge.processed_events WHERE processed_at < now() - interval '7 days'"
    )
    assert due >= 6

    counts = drain(lambda size: api.prune_events(7 * DAY, size))

    assert sum(counts) == due and counts[-1] < BATCH, counts
    kept = api.rows(
        "SELECT user_id, event_id FROM challenge.processed_events WHERE user_id = ANY(%s) ORDER BY 1, 2",
        [users],
    )
    assert kept == [{"user_id": users[2], "event_id": f"ev-{n}"} for n in range(3)]
    # The retention is the dedup window: a forgotten id counts again, a remembered one is a duplicate.
    assert api.inc(users[0], "kill-100", 1, "ev-0")["outcome"] == "applied"
    assert api.inc(users[2], "kill-100", 1, "ev-0")["outcome"] == "duplicate_event"
    assert api.get(users[0], "kill-100")["progress"] == 4
    assert api.prune_events(7 * DAY, 1000) == 0


def day_name(api: Api, offset: int) -> str:
    """ledger_YYYYMMDD of the UTC day ``offset`` days from the server's today."""
    name: str = api.scalar(
        "SELECT 'ledger_' || to_char((now() AT TIME ZONE 'UTC')::date + %s::integer, 'YYYYMMDD')", [offset]
    )
    return name


def partitions(api: Api) -> set[str]:
    return {
        r["relname"]
        for r in api.rows(
            "SELECT c.relname FROM pg_catalog.pg_inherits AS i JOIN pg_catalog.pg_class AS c"
            " ON c.oid = i.inhrelid WHERE i.inhparent = 'challenge.ledger'::regclass"
        )
    }


@pytest.fixture
def future_day(cluster: Cluster) -> Iterator[tuple[int, str]]:
    """The first day ahead with no ledger partition yet (offset, name); its partition is dropped after the
    test, so runs do not pile up partitions a year ahead."""
    api = cluster.api()
    existing = partitions(api)
    offset = next(n for n in range(1, 367) if day_name(api, n) not in existing)
    name = day_name(api, offset)
    yield offset, name
    cluster.conn.execute(sql.SQL("DROP TABLE IF EXISTS challenge.{}").format(sql.Identifier(name)))


def test_create_ledger_partitions_creates_each_missing_day_once_and_moves_its_rows(
    cluster: Cluster, future_day: tuple[int, str]
) -> None:
    api = cluster.api()
    offset, name = future_day
    [user] = cluster.ids("partitions", 1)
    api.execute(  # a row recorded for that day while it had no partition: in ledger_default
        f"INSERT INTO challenge.ledger ({LEDGER_COLUMNS})"
        " VALUES (((now() AT TIME ZONE 'UTC')::date + %s::integer)::timestamp AT TIME ZONE 'UTC'"
        " + interval '5 hours', %s, 'kill-10', 'assign', 0, 'not_started')",
        [offset, user],
    )
    wanted = {day_name(api, n) for n in range(offset + 1)}
    missing = wanted - partitions(api)
    assert name in missing

    assert api.create_partitions(offset) == len(missing)

    assert wanted <= partitions(api)
    assert api.create_partitions(offset) == 0
    assert api.scalar("SELECT count(*) FROM ONLY challenge.ledger_default WHERE user_id = %s", [user]) == 0
    moved = api.scalar(
        sql.SQL("SELECT count(*) FROM challenge.{} WHERE user_id = %s").format(sql.Identifier(name)), [user]
    )
    assert moved == 1
    assert api.create_partitions(0) == 0  # today's exists now, whatever the day


def test_prune_ledger_drops_old_day_partitions_and_deletes_old_default_rows(cluster: Cluster) -> None:
    api = cluster.api()
    old, recent = cluster.ids("ledger-old", 2)
    old_day = day_name(api, -200)
    day = api.row(
        "SELECT (d::timestamp AT TIME ZONE 'UTC')::text AS start,"
        " ((d + 1)::timestamp AT TIME ZONE 'UTC')::text AS end"
        " FROM (SELECT (now() AT TIME ZONE 'UTC')::date - 200 AS d) AS x"
    )
    # A day partition of long ago, as create_ledger_partitions made it then, with a row in it.
    api.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS challenge.{} PARTITION OF challenge.ledger"
            " FOR VALUES FROM ({}) TO ({})"
        ).format(sql.Identifier(old_day), sql.Literal(day["start"]), sql.Literal(day["end"]))
    )
    insert = (
        f"INSERT INTO challenge.ledger ({LEDGER_COLUMNS})"
        " VALUES ({at}, %s, 'kill-10', 'assign', 0, 'not_started')"
    )
    api.execute(insert.format(at="%s::timestamptz + interval '5 hours'"), [day["start"], old])
    # Rows of days that had no partition: in ledger_default, one older than the retention and one newer.
    api.execute(insert.format(at="now() - interval '120 days'"), [old])
    api.execute(insert.format(at="now() - interval '10 days'"), [recent])
    cutoff = "now() - interval '90 days'"
    old_partitions = api.scalar(
        "SELECT count(*) FROM pg_catalog.pg_inherits AS i JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'challenge.ledger'::regclass AND c.relname ~ '^ledger_[0-9]{8}$'"
        f" AND (to_date(substr(c.relname, 8), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC' <= {cutoff}"
    )
    old_rows = api.scalar(f"SELECT count(*) FROM ONLY challenge.ledger_default WHERE recorded_at < {cutoff}")
    assert old_partitions >= 1 and old_rows >= 1

    assert api.prune_ledger(90 * DAY, 10_000) == old_partitions + old_rows

    assert old_day not in partitions(api)
    assert api.rows(
        "SELECT user_id FROM challenge.ledger WHERE user_id = ANY(%s) ORDER BY 1", [[old, recent]]
    ) == [{"user_id": recent}]
    assert api.prune_ledger(90 * DAY, 10_000) == 0
