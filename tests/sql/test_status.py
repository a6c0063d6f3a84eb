"""challenge.status: the health metrics, counted exactly on a small database and estimated on a large one.

Ages are measured from the transaction's now(): a test compares a metric with a value computed in the same
statement (same now()), or bounds it by the server's clock read before and after. Large tables (more than
128 pages) are filled directly, as the superuser, and analysed (or, for the "never analysed" cases, kept
away from autovacuum) so the estimate path is deterministic.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pgchallenge import AsyncClient, Client, StatusMetric
from psycopg.types.json import Jsonb

from tests.serverclock import ServerClock
from tests.sql.claimhelpers import QUEST_CONFIG, QuestApi
from tests.sql.sqlhelpers import CONFIG, config
from tests.sql.sqlscan import Token, tokenize

PAGE_LIMIT = 128
Key = tuple[str, tuple[tuple[str, str], ...]]

METRIC_ORDER = [
    ("pgchallenge_outbox_grants", {"state": "pending"}),
    ("pgchallenge_outbox_grants", {"state": "leased"}),
    ("pgchallenge_outbox_grants", {"state": "failed"}),
    ("pgchallenge_outbox_oldest_pending_age_seconds", {}),
    ("pgchallenge_remembered_event_ids", {}),
    ("pgchallenge_remembered_event_ids_oldest_age_seconds", {}),
    ("pgchallenge_ledger_enabled", {}),
    ("pgchallenge_ledger_partitions", {}),
    ("pgchallenge_ledger_rows", {}),
    ("pgchallenge_ledger_default_rows", {}),
    ("pgchallenge_ledger_bytes", {}),
    ("pgchallenge_ledger_oldest_day_timestamp_seconds", {}),
    ("pgchallenge_progress_rows", {"status": "not_started"}),
    ("pgchallenge_progress_rows", {"status": "in_progress"}),
    ("pgchallenge_progress_rows", {"status": "completed"}),
    ("pgchallenge_progress_rows", {"status": "claimed"}),
    ("pgchallenge_config_version", None),  # labels: a digest once a config was loaded
    ("pgchallenge_config_loaded_timestamp_seconds", {}),
]


def key(metric: str, labels: Mapping[str, str] | None = None) -> Key:
    return metric, tuple(sorted((labels or {}).items()))


class Status:
    """One call of challenge.status (optionally with extra columns computed in the same statement)."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows
        self.by_key: dict[Key, tuple[float | None, bool]] = {}
        for metric, labels, value, exact, _help in rows:
            if metric == "pgchallenge_config_version":
                labels = {}  # one row; its digest label is read with digest()
            self.by_key[key(metric, labels)] = (value, exact)
        assert len(self.by_key) == len(rows), "a metric and label set appears twice"

    def value(self, metric: str, **labels: str) -> float | None:
        return self.by_key[key(metric, labels)][0]

    def exact(self, metric: str, **labels: str) -> bool:
        return self.by_key[key(metric, labels)][1]

    def digest(self) -> str | None:
        [labels] = [r[1] for r in self.rows if r[0] == "pgchallenge_config_version"]
        assert set(labels) <= {"digest"}, labels
        digest = labels.get("digest")
        return None if digest is None else str(digest)


def status(conn: psycopg.Connection[Any]) -> Status:
    return Status(
        conn.execute("SELECT metric, labels, value, exact, help FROM challenge.status()").fetchall()
    )


def status_with(conn: psycopg.Connection[Any], expression: str) -> tuple[Status, Any]:
    """status() and ``expression`` evaluated in one statement (so both see the same now())."""
    row = conn.execute(
        "SELECT (SELECT array_agg(ARRAY[s.metric, s.labels::text, s.value::text, s.exact::text, s.help])"
        f" FROM challenge.status() AS s), ({expression})"
    ).fetchone()
    assert row is not None
    rows = [
        (m, json.loads(labels), None if value is None else float(value), exact == "true", h)
        for m, labels, value, exact, h in row[0]
    ]
    return Status(rows), row[1]


def pages(conn: psycopg.Connection[Any], table: str) -> float:
    value = conn.execute(
        "SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::float8", [table]
    ).fetchone()
    assert value is not None
    return float(value[0])


def scalar(conn: psycopg.Connection[Any], statement: str, params: list[Any] | None = None) -> Any:
    row = conn.execute(statement, params).fetchone()
    assert row is not None
    return row[0]


def epoch(at: datetime) -> float:
    return at.timestamp()


# --- shape ----------------------------------------------------------------------------------------------


def test_empty_database(db: psycopg.Connection[Any]) -> None:
    result = status(db)
    assert [(m, labels) for m, labels, *_ in result.rows] == [
        (m, {} if labels is None else labels) for m, labels in METRIC_ORDER
    ]
    assert all(exact is True for *_, exact, _help in result.rows)
    assert all(help_text for *_, help_text in result.rows)
    for metric, labels, value, _, _ in result.rows:
        if metric in (
            "pgchallenge_ledger_oldest_day_timestamp_seconds",
            "pgchallenge_config_loaded_timestamp_seconds",
        ):
            assert value is None, metric
        elif metric == "pgchallenge_ledger_bytes":
            assert value is not None and value > 0  # ledger_default's empty indexes take a page each
        elif metric == "pgchallenge_ledger_enabled":
            assert value == 1  # on unless switched off
        else:
            assert value == 0, (metric, labels)
    assert result.digest() is None


def test_ledger_enabled_follows_the_switch(db: psycopg.Connection[Any]) -> None:
    db.execute("SELECT challenge.set_ledger(false)")
    assert status(db).value("pgchallenge_ledger_enabled") == 0
    db.execute("SET pgchallenge.ledger = on")  # a session's own recording is not the deployment's switch
    assert status(db).value("pgchallenge_ledger_enabled") == 0
    db.execute("RESET pgchallenge.ledger")
    db.execute("SELECT challenge.set_ledger(true)")
    assert status(db).value("pgchallenge_ledger_enabled") == 1


# --- the outbox -----------------------------------------------------------------------------------------


def claim(qa: QuestApi, user_id: str) -> str:
    qa.complete(user_id, "q-kill")
    claim_id: str = qa.claim(user_id, "q-kill", f"c-{user_id}")["claim_id"]
    return claim_id


def test_outbox_counts_pending_leased_and_failed(qa: QuestApi) -> None:
    # Two grants fail for good: max_attempts 2, both attempts finished with an error.
    failing = [claim(qa, user) for user in ("f1", "f2")]
    qa.conn.execute("UPDATE challenge.reward_grants SET max_attempts = 2")
    for attempt in (1, 2):
        assert sorted(g["claim_id"] for g in qa.lease("w-fail", 10)) == failing
        for claim_id in failing:
            assert qa.finish(claim_id, False, f"503 #{attempt}")["state"] == (
                "failed" if attempt == 2 else "pending"
            )
        qa.make_due()
    # One is delivered: counted nowhere.
    granted = claim(qa, "g1")
    [leased] = qa.lease("w-ok", 10)
    assert leased["claim_id"] == granted
    qa.finish(granted, True)
    # Five wait; the worker leases the two oldest.
    waiting = [claim(qa, f"p{i}") for i in range(1, 6)]
    assert [g["claim_id"] for g in qa.lease("w1", 2)] == waiting[:2]

    result, true_age = status_with(
        qa.conn,
        "SELECT extract(epoch FROM now() - min(claimed_at))::float8 FROM challenge.reward_grants"
        " WHERE state = 'pending'",
    )
    assert result.value("pgchallenge_outbox_grants", state="pending") == 3
    assert result.value("pgchallenge_outbox_grants", state="leased") == 2
    assert result.value("pgchallenge_outbox_grants", state="failed") == 2
    # The oldest pending claim is p1's (leased, but not delivered).
    assert result.value("pgchallenge_outbox_oldest_pending_age_seconds") == true_age
    p1_claimed = qa.grant(waiting[0])["claimed_at"]
    assert true_age == pytest.approx((qa.now() - p1_claimed).total_seconds(), abs=60)
    assert all(result.exact("pgchallenge_outbox_grants", state=s) for s in ("pending", "leased", "failed"))


def test_an_expired_lease_is_pending_again(qa: QuestApi) -> None:
    claim(qa, "u1")
    qa.lease("w1", 10)
    result = status(qa.conn)
    assert (
        result.value("pgchallenge_outbox_grants", state="pending"),
        result.value("pgchallenge_outbox_grants", state="leased"),
    ) == (0, 1)
    qa.expire_leases()
    result = status(qa.conn)
    assert (
        result.value("pgchallenge_outbox_grants", state="pending"),
        result.value("pgchallenge_outbox_grants", state="leased"),
    ) == (1, 0)


def test_oldest_pending_age_follows_the_server_clock(qa: QuestApi, server_clock: ServerClock) -> None:
    claim(qa, "u1")
    # The claim happened an hour ago, as far as the outbox knows.
    qa.conn.execute("UPDATE challenge.reward_grants SET claimed_at = claimed_at - interval '1 hour'")
    before = ServerClock.read(qa.conn)
    age = status(qa.conn).value("pgchallenge_outbox_oldest_pending_age_seconds")
    after = ServerClock.read(qa.conn)
    claimed_at = qa.grant("c-u1")["claimed_at"]
    assert age is not None
    # now() of the status call lies between the two clock readings.
    assert (before.now - claimed_at).total_seconds() <= age <= (after.now - claimed_at).total_seconds()
    assert age >= 3600
    assert claimed_at >= server_clock.now - timedelta(hours=1)


# --- remembered event ids -------------------------------------------------------------------------------


def login(user_id: str, event_id: str) -> dict[str, Any]:
    return {"event_id": event_id, "user_id": user_id, "kind": "login"}


def test_remembered_event_ids(qa: QuestApi) -> None:
    qa.init("e1")
    qa.conn.execute(
        "SELECT challenge.record_events(%s::jsonb)",
        [Jsonb([login("e1", "ev-1"), login("e1", "ev-2"), login("e1", "ev-1"), login("e2", "ev-1")])],
    )
    qa.inc("e1", "q-kill", 1, "ev-3")
    qa.inc("e1", "q-kill", 1, "ev-3")  # a duplicate: remembered once
    result, true_age = status_with(
        qa.conn,
        "SELECT extract(epoch FROM now() - min(processed_at))::float8 FROM challenge.processed_events",
    )
    assert (
        result.value("pgchallenge_remembered_event_ids") == 4
    )  # (e1, ev-1) (e1, ev-2) (e2, ev-1) (e1, ev-3)
    assert result.exact("pgchallenge_remembered_event_ids")
    assert result.value("pgchallenge_remembered_event_ids_oldest_age_seconds") == true_age
    assert result.exact("pgchallenge_remembered_event_ids_oldest_age_seconds")
    assert true_age >= 0


def test_legacy_event_ids_count_and_can_be_the_oldest(qa: QuestApi) -> None:
    qa.init("e1")
    qa.inc("e1", "q-kill", 1, "ev-new")
    qa.conn.execute(
        "INSERT INTO challenge.processed_events_legacy (event_id, processed_at)"
        " VALUES ('old-1', now() - interval '2 days'), ('old-2', now() - interval '1 day')"
    )
    result, true_age = status_with(
        qa.conn,
        "SELECT extract(epoch FROM now() - min(processed_at))::float8 FROM challenge.processed_events_legacy",
    )
    assert result.value("pgchallenge_remembered_event_ids") == 3
    assert result.value("pgchallenge_remembered_event_ids_oldest_age_seconds") == true_age
    assert true_age >= 2 * 86400


# --- the ledger -----------------------------------------------------------------------------------------


def utc_day_epoch(at: datetime) -> float:
    return epoch(at.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0))


def test_ledger_partitions_rows_bytes_and_oldest_day(qa: QuestApi) -> None:
    before = ServerClock.read(qa.conn)
    created = scalar(qa.conn, "SELECT challenge.create_ledger_partitions(2)")
    after = ServerClock.read(qa.conn)
    assert created == 3
    for user in ("l1", "l2"):
        qa.init(user)
        qa.inc(user, "q-kill", 1)
    written = scalar(qa.conn, "SELECT count(*) FROM challenge.ledger")
    assert written >= 4  # at least an assign and an increment per player
    # Three rows of a day without a partition (a month ahead): they land in ledger_default.
    qa.conn.execute(
        "INSERT INTO challenge.ledger (user_id, goal_id, operation, recorded_at)"
        " SELECT 'l9', 'q-kill', 'increment', now() + interval '30 days' FROM generate_series(1, 3)"
    )
    result, totals = status_with(
        qa.conn,
        "SELECT ARRAY[count(*), (SELECT count(*) FROM ONLY challenge.ledger_default),"
        " (SELECT sum(pg_total_relation_size(t.relid)) FROM pg_partition_tree('challenge.ledger') AS t"
        "  WHERE t.isleaf)] FROM challenge.ledger",
    )
    rows, default_rows, size = totals
    assert (rows, default_rows) == (written + 3, 3)
    assert result.value("pgchallenge_ledger_partitions") == 3
    assert result.value("pgchallenge_ledger_rows") == written + 3
    assert result.value("pgchallenge_ledger_default_rows") == 3
    assert result.value("pgchallenge_ledger_bytes") == size
    oldest = result.value("pgchallenge_ledger_oldest_day_timestamp_seconds")
    assert oldest in {utc_day_epoch(before.now), utc_day_epoch(after.now)}
    for metric in (
        "pgchallenge_ledger_partitions",
        "pgchallenge_ledger_rows",
        "pgchallenge_ledger_default_rows",
        "pgchallenge_ledger_bytes",
        "pgchallenge_ledger_oldest_day_timestamp_seconds",
    ):
        assert result.exact(metric), metric


def test_ledger_rows_without_day_partitions_are_default_rows(qa: QuestApi) -> None:
    qa.init("l1")
    written = scalar(qa.conn, "SELECT count(*) FROM challenge.ledger")
    assert written > 0
    result = status(qa.conn)
    assert result.value("pgchallenge_ledger_partitions") == 0
    assert result.value("pgchallenge_ledger_rows") == written
    assert result.value("pgchallenge_ledger_default_rows") == written
    assert result.value("pgchallenge_ledger_oldest_day_timestamp_seconds") is None


# --- progress rows --------------------------------------------------------------------------------------


def test_progress_rows_by_status(qa: QuestApi) -> None:
    for user in ("n1", "n2"):
        qa.init(user)  # q-kill, q-win and l-login: not started
    qa.init("i1")
    qa.inc("i1", "q-kill", 1)  # in progress
    qa.init("c1")
    qa.complete("c1", "q-kill")  # completed
    qa.init("k1")
    claim(qa, "k1")  # claimed
    by_status = dict(
        qa.conn.execute("SELECT status, count(*) FROM challenge.progress GROUP BY status").fetchall()
    )
    assert by_status == {"not_started": 2 * 3 + 2 + 2 + 2, "in_progress": 1, "completed": 1, "claimed": 1}
    result = status(qa.conn)
    for state in ("not_started", "in_progress", "completed", "claimed"):
        assert result.value("pgchallenge_progress_rows", status=state) == by_status[state], state
        assert result.exact("pgchallenge_progress_rows", status=state)


# --- the config -----------------------------------------------------------------------------------------


def jsonb_sha256(conn: psycopg.Connection[Any], document: Any) -> str:
    """SHA-256 of the document's text as PostgreSQL normalises jsonb (computed here, not by the server)."""
    text: str = scalar(conn, "SELECT %s::jsonb::text", [Jsonb(document)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_config_version_digest_and_load_time(db: psycopg.Connection[Any]) -> None:
    first = status(db)
    assert (first.value("pgchallenge_config_version"), first.digest()) == (0, None)
    assert first.value("pgchallenge_config_loaded_timestamp_seconds") is None

    before = ServerClock.read(db)
    loaded = scalar(db, "SELECT challenge.load_config(%s::jsonb)", [Jsonb(CONFIG)])
    after = ServerClock.read(db)
    digest = jsonb_sha256(db, CONFIG)
    assert (loaded["version"], loaded["digest"]) == (1, digest)
    result = status(db)
    assert (result.value("pgchallenge_config_version"), result.digest()) == (1, digest)
    loaded_at = result.value("pgchallenge_config_loaded_timestamp_seconds")
    assert loaded_at is not None and epoch(before.now) <= loaded_at <= epoch(after.now)

    # The same document, keys in another order: the same digest, the next version.
    reordered = json.loads(json.dumps(CONFIG), object_pairs_hook=lambda pairs: dict(reversed(pairs)))
    assert json.dumps(reordered) != json.dumps(CONFIG)
    again = scalar(db, "SELECT challenge.load_config(%s::jsonb)", [Jsonb(reordered)])
    assert (again["version"], again["digest"]) == (2, digest)
    result = status(db)
    assert (result.value("pgchallenge_config_version"), result.digest()) == (2, digest)
    second_at = result.value("pgchallenge_config_loaded_timestamp_seconds")
    assert second_at is not None and second_at >= loaded_at

    # A different document: a different digest. An invalid one changes nothing.
    changed = config()
    changed["challenges"][0]["goals"][0]["requirement"]["targetValue"] = 11
    third = scalar(db, "SELECT challenge.load_config(%s::jsonb)", [Jsonb(changed)])
    assert third["version"] == 3
    assert third["digest"] == jsonb_sha256(db, changed) != digest
    broken = config()
    broken["challenges"][0]["goals"][0]["requirement"]["targetValue"] = 0
    with pytest.raises(psycopg.Error):
        db.execute("SELECT challenge.load_config(%s::jsonb)", [Jsonb(broken)])
    result = status(db)
    assert (result.value("pgchallenge_config_version"), result.digest()) == (3, third["digest"])
    assert result.exact("pgchallenge_config_version")
    assert result.exact("pgchallenge_config_loaded_timestamp_seconds")


# --- everything at once, exactly ------------------------------------------------------------------------


def test_all_values_are_exact_on_a_small_database(qa: QuestApi) -> None:
    claim(qa, "u1")
    qa.init("u2")
    qa.inc("u2", "q-kill", 1, "ev-1")
    scalar(qa.conn, "SELECT challenge.create_ledger_partitions(1)")
    for table in ("challenge.progress", "challenge.processed_events", "challenge.reward_grants"):
        assert pages(qa.conn, table) <= PAGE_LIMIT
    result = status(qa.conn)
    assert [m for m, *_, exact, _h in result.rows if not exact] == []
    assert all(value is not None for m, _, value, *_ in result.rows)


# --- large tables: estimates ----------------------------------------------------------------------------


def fill_processed_events(conn: psycopg.Connection[Any], rows: int) -> None:
    """``rows`` remembered ids, one a second back from now (the oldest ``rows`` seconds ago)."""
    conn.execute(
        "INSERT INTO challenge.processed_events (user_id, event_id, processed_at)"
        " SELECT 'bulk', 'e-' || i, now() - make_interval(secs => i)"
        " FROM generate_series(1, %s::integer) AS i",
        [rows],
    )


def fill_progress(conn: psycopg.Connection[Any], rows: int, first: int = 0) -> None:
    """``rows`` progress rows of q-kill (target 2): per ten, 5 in progress, 3 completed, 1 not started,
    1 claimed."""
    conn.execute(
        """
        INSERT INTO challenge.progress (user_id, goal_id, namespace, progress, status, is_active,
                                        completed_at, claimed_at, updated_at)
        SELECT 'bulk-' || i, 'q-kill', 'default', s.progress, s.status, true,
               CASE WHEN s.status IN ('completed', 'claimed') THEN now() END,
               CASE WHEN s.status = 'claimed' THEN now() END,
               now()
        FROM generate_series(%s::integer, %s::integer) AS i
        CROSS JOIN LATERAL (
            SELECT CASE WHEN i %% 10 < 5 THEN 'in_progress' WHEN i %% 10 < 8 THEN 'completed'
                        WHEN i %% 10 = 8 THEN 'not_started' ELSE 'claimed' END AS status
        ) AS st
        CROSS JOIN LATERAL (
            SELECT st.status, CASE st.status WHEN 'in_progress' THEN 1 WHEN 'not_started' THEN 0 ELSE 2 END
                AS progress
        ) AS s
        """,
        [first, first + rows - 1],
    )


def never_autoanalyse(conn: psycopg.Connection[Any], table: str) -> None:
    conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")


def never_analysed(conn: psycopg.Connection[Any], table: str) -> bool:
    return bool(scalar(conn, "SELECT reltuples < 0 FROM pg_class WHERE oid = %s::regclass", [table]))


def test_large_processed_events_are_estimated(qa: QuestApi) -> None:
    fill_processed_events(qa.conn, 40_000)
    assert pages(qa.conn, "challenge.processed_events") > PAGE_LIMIT
    qa.conn.execute("ANALYZE challenge.processed_events")
    result, true_age = status_with(
        qa.conn,
        "SELECT extract(epoch FROM now() - min(processed_at))::float8 FROM challenge.processed_events",
    )
    count = result.value("pgchallenge_remembered_event_ids")
    assert count is not None and count == pytest.approx(40_000, rel=0.05)
    assert not result.exact("pgchallenge_remembered_event_ids")
    age = result.value("pgchallenge_remembered_event_ids_oldest_age_seconds")
    assert not result.exact("pgchallenge_remembered_event_ids_oldest_age_seconds")
    # From the histogram's first bound: the oldest sampled id, a little younger than the true oldest.
    assert age is not None and 0.9 * true_age <= age <= true_age
    # Ids remembered after the ANALYZE: the count follows the table's size, at the analysed density.
    qa.conn.execute(
        "INSERT INTO challenge.processed_events (user_id, event_id)"
        " SELECT 'later', 'l-' || i FROM generate_series(1, 20000) AS i"
    )
    count = status(qa.conn).value("pgchallenge_remembered_event_ids")
    assert count is not None and count == pytest.approx(60_000, rel=0.1)


def test_large_processed_events_never_analysed_count_is_null(qa: QuestApi) -> None:
    never_autoanalyse(qa.conn, "challenge.processed_events")
    fill_processed_events(qa.conn, 40_000)
    assert pages(qa.conn, "challenge.processed_events") > PAGE_LIMIT
    assert never_analysed(qa.conn, "challenge.processed_events")
    result = status(qa.conn)
    assert result.value("pgchallenge_remembered_event_ids") is None
    assert not result.exact("pgchallenge_remembered_event_ids")


def test_large_processed_events_never_analysed_age_is_null(qa: QuestApi) -> None:
    never_autoanalyse(qa.conn, "challenge.processed_events")
    fill_processed_events(qa.conn, 40_000)
    assert never_analysed(qa.conn, "challenge.processed_events")
    result = status(qa.conn)
    assert result.value("pgchallenge_remembered_event_ids_oldest_age_seconds") is None


def test_large_processed_events_of_one_transaction_have_an_age(qa: QuestApi) -> None:
    qa.conn.execute(
        "INSERT INTO challenge.processed_events (user_id, event_id, processed_at)"
        " SELECT 'bulk', 'e-' || i, now() - interval '1 hour' FROM generate_series(1, 40000) AS i"
    )
    assert pages(qa.conn, "challenge.processed_events") > PAGE_LIMIT
    qa.conn.execute("ANALYZE challenge.processed_events")
    age = status(qa.conn).value("pgchallenge_remembered_event_ids_oldest_age_seconds")
    assert age is not None and age >= 3600


def test_large_progress_is_estimated_by_status(qa: QuestApi) -> None:
    fill_progress(qa.conn, 20_000)
    assert pages(qa.conn, "challenge.progress") > PAGE_LIMIT
    qa.conn.execute("ANALYZE challenge.progress")
    result = status(qa.conn)
    expected = {"in_progress": 10_000, "completed": 6_000, "not_started": 2_000, "claimed": 2_000}
    for state, rows in expected.items():
        value = result.value("pgchallenge_progress_rows", status=state)
        assert value is not None and value == pytest.approx(rows, rel=0.1), state
        assert not result.exact("pgchallenge_progress_rows", status=state)

    # Rows added since: the total follows the table's size.
    fill_progress(qa.conn, 10_000, first=20_000)
    result = status(qa.conn)
    values = [result.value("pgchallenge_progress_rows", status=state) for state in expected]
    assert all(v is not None for v in values)
    assert sum(v for v in values if v is not None) == pytest.approx(30_000, rel=0.1)


def test_large_progress_never_analysed_is_null(qa: QuestApi) -> None:
    never_autoanalyse(qa.conn, "challenge.progress")
    fill_progress(qa.conn, 20_000)
    assert pages(qa.conn, "challenge.progress") > PAGE_LIMIT
    assert never_analysed(qa.conn, "challenge.progress")
    result = status(qa.conn)
    for state in ("not_started", "in_progress", "completed", "claimed"):
        assert result.value("pgchallenge_progress_rows", status=state) is None, state
        assert not result.exact("pgchallenge_progress_rows", status=state)


def fill_ledger(conn: psycopg.Connection[Any], rows: int, at: str = "now()") -> None:
    conn.execute(
        "INSERT INTO challenge.ledger (user_id, goal_id, operation, progress_before, progress_after,"
        " status_before, status_after, recorded_at)"
        f" SELECT 'bulk-' || i, 'q-kill', 'increment', 0, 1, 'not_started', 'in_progress', {at}"
        " FROM generate_series(1, %s::integer) AS i",
        [rows],
    )


def test_large_ledger_partition_is_estimated(qa: QuestApi) -> None:
    scalar(qa.conn, "SELECT challenge.create_ledger_partitions(1)")
    fill_ledger(qa.conn, 20_000)
    qa.conn.execute("ANALYZE challenge.ledger")
    [today] = [
        name
        for (name,) in qa.conn.execute(
            "SELECT relid::regclass::text FROM pg_partition_tree('challenge.ledger')"
            " WHERE isleaf AND pg_relation_size(relid) > 0"
        ).fetchall()
    ]
    assert pages(qa.conn, today) > PAGE_LIMIT
    result = status(qa.conn)
    rows = result.value("pgchallenge_ledger_rows")
    assert rows is not None and rows == pytest.approx(20_000, rel=0.05)
    assert not result.exact("pgchallenge_ledger_rows")
    assert result.value("pgchallenge_ledger_default_rows") == 0
    assert result.exact("pgchallenge_ledger_default_rows")  # the default partition is small: counted


def test_large_default_ledger_never_analysed_rows_are_null(qa: QuestApi) -> None:
    never_autoanalyse(qa.conn, "challenge.ledger_default")
    fill_ledger(qa.conn, 20_000)
    assert pages(qa.conn, "challenge.ledger_default") > PAGE_LIMIT
    assert never_analysed(qa.conn, "challenge.ledger_default")
    result = status(qa.conn)
    assert result.value("pgchallenge_ledger_rows") is None
    assert not result.exact("pgchallenge_ledger_rows")
    assert not result.exact("pgchallenge_ledger_default_rows")


def test_large_default_ledger_never_analysed_default_rows_are_null(qa: QuestApi) -> None:
    never_autoanalyse(qa.conn, "challenge.ledger_default")
    fill_ledger(qa.conn, 20_000)
    assert never_analysed(qa.conn, "challenge.ledger_default")
    assert status(qa.conn).value("pgchallenge_ledger_default_rows") is None


def test_ledger_rows_with_one_partition_never_analysed_are_null(qa: QuestApi) -> None:
    scalar(qa.conn, "SELECT challenge.create_ledger_partitions(0)")
    never_autoanalyse(qa.conn, "challenge.ledger_default")
    fill_ledger(qa.conn, 20_000, at="now() + interval '30 days'")  # into ledger_default
    fill_ledger(qa.conn, 10)  # into today's partition, small
    assert never_analysed(qa.conn, "challenge.ledger_default")
    assert status(qa.conn).value("pgchallenge_ledger_rows") is None


# --- no sequential scan of a large table ----------------------------------------------------------------


def seq_scans(conn: psycopg.Connection[Any], table: str) -> int:
    """Sequential scans of ``table`` in the current transaction so far (not yet in pg_stat_user_tables)."""
    value = scalar(
        conn,
        "SELECT coalesce((SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relid = %s::regclass), 0)",
        [table],
    )
    return int(value)


def scans_during_status(connect: Any, table: str) -> int:
    conn: psycopg.Connection[Any] = connect(autocommit=False)
    with conn.transaction():
        before = seq_scans(conn, table)
        status(conn)
        return seq_scans(conn, table) - before


def test_status_scans_a_small_progress_table(qa: QuestApi, connect: Any) -> None:
    """The control: on a small table the counts are exact, read by scanning (and this counter sees it)."""
    qa.init("u1")
    assert scans_during_status(connect, "challenge.progress") > 0


def test_status_does_not_scan_large_tables(qa: QuestApi, connect: Any) -> None:
    fill_progress(qa.conn, 20_000)
    fill_processed_events(qa.conn, 40_000)
    for table in ("challenge.progress", "challenge.processed_events"):
        assert pages(qa.conn, table) > PAGE_LIMIT
        qa.conn.execute(f"ANALYZE {table}")
    for table in ("challenge.progress", "challenge.processed_events"):
        assert scans_during_status(connect, table) == 0, table
    # The counter does count scans in such a transaction.
    conn: psycopg.Connection[Any] = connect(autocommit=False)
    with conn.transaction():
        conn.execute("SET LOCAL enable_indexscan = off")
        conn.execute("SET LOCAL enable_indexonlyscan = off")
        conn.execute("SET LOCAL enable_bitmapscan = off")
        before = seq_scans(conn, "challenge.progress")
        conn.execute("SELECT count(*) FROM challenge.progress")
        assert seq_scans(conn, "challenge.progress") == before + 1


def test_status_reads_the_outbox_through_its_partial_indexes(qa: QuestApi, connect: Any) -> None:
    """Delivered grants are kept as claim history: a large outbox of them is not scanned."""
    claim(qa, "u1")
    qa.conn.execute(
        """
        INSERT INTO challenge.reward_grants (claim_id, user_id, goal_id, namespace, reward_type, reward_id,
            quantity, claimed_at, state, attempts, available_at, finished_at, updated_at, idempotency_key)
        SELECT 'h-' || i, 'h-' || i, 'q-kill', 'default', 'ITEM', 'r', 1, now() - interval '1 day',
               'granted', 1, now() - interval '1 day', now() - interval '1 day', now(), 'h-' || i
        FROM generate_series(1, 30000) AS i
        """
    )
    assert pages(qa.conn, "challenge.reward_grants") > PAGE_LIMIT
    qa.conn.execute("ANALYZE challenge.reward_grants")
    assert scans_during_status(connect, "challenge.reward_grants") == 0
    result = status(qa.conn)
    assert result.value("pgchallenge_outbox_grants", state="pending") == 1
    assert result.value("pgchallenge_outbox_grants", state="failed") == 0


# --- the Python clients ---------------------------------------------------------------------------------


def expected_metrics(rows: list[tuple[Any, ...]]) -> list[StatusMetric]:
    return [StatusMetric(metric, labels, value, exact, help) for metric, labels, value, exact, help in rows]


def test_client_status_returns_the_sql_rows(qa: QuestApi, connect: Any) -> None:
    claim(qa, "u1")
    qa.load(QUEST_CONFIG)
    conn: psycopg.Connection[Any] = connect(autocommit=False)
    with conn.transaction():  # one now() for both reads
        rows = conn.execute("SELECT metric, labels, value, exact, help FROM challenge.status()").fetchall()
        metrics = Client(conn).status()
    assert metrics == expected_metrics(rows)
    assert all(isinstance(m, StatusMetric) for m in metrics)
    version = next(m for m in metrics if m.metric == "pgchallenge_config_version")
    assert version.value == 2 and set(version.labels) == {"digest"}


def test_async_client_status_returns_the_sql_rows(qa: QuestApi, db_url: str) -> None:
    claim(qa, "u1")

    async def read() -> tuple[list[tuple[Any, ...]], list[StatusMetric]]:
        async with await psycopg.AsyncConnection.connect(db_url) as aconn, aconn.transaction():
            cur = await aconn.execute("SELECT metric, labels, value, exact, help FROM challenge.status()")
            rows = await cur.fetchall()
            return rows, await AsyncClient(aconn).status()

    rows, metrics = asyncio.run(read())
    assert metrics == expected_metrics(rows)
    assert len(metrics) == len(METRIC_ORDER)


def test_client_status_none_value(qa: QuestApi) -> None:
    """A NULL value arrives as None, and NaN never appears in the rows themselves."""
    metrics = Client(qa.conn).status()
    [oldest_day] = [m for m in metrics if m.metric == "pgchallenge_ledger_oldest_day_timestamp_seconds"]
    assert oldest_day.value is None
    assert not any(isinstance(m.value, float) and math.isnan(m.value) for m in metrics)


# --- Citus: no statement reads the catalog and a table together -----------------------------------------

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "plpgsql" / "functions"
# status and the helpers it runs: on a Citus coordinator they must read the local catalog (pg_class,
# pg_stats, pg_inherits ...) and the tables of schema challenge (distributed or reference tables there) in
# separate statements: Citus cannot plan one that joins them (it tries to ship the catalog's rows:
# "no binary output function available for type aclitem").
STATUS_FUNCTIONS = ("status", "_table_rows", "_shard_stats")


def relations_read(tokens: list[Token]) -> set[str]:
    """The relations a statement's FROM / JOIN items name, qualified as written (function calls left out)."""
    found: set[str] = set()
    for i, token in enumerate(tokens):
        if token.kind != "word" or token.text not in ("from", "join"):
            continue
        j = i + 1
        while j < len(tokens) and tokens[j].kind == "word" and tokens[j].text in ("only", "lateral"):
            j += 1
        parts: list[str] = []
        while j < len(tokens) and tokens[j].kind == "word":
            parts.append(tokens[j].text)
            if j + 1 < len(tokens) and tokens[j + 1].kind == "op" and tokens[j + 1].text == ".":
                j += 2
            else:
                j += 1
                break
        called = j < len(tokens) and tokens[j].kind == "op" and tokens[j].text == "("
        if parts and not called:
            found.add(".".join(parts))
    return found


def statements_of(name: str) -> list[list[Token]]:
    text = (FUNCTIONS_DIR / f"{name}.sql").read_text(encoding="utf-8")
    body = text.split("$function$")[1]  # dynamic SQL stays inside its string tokens
    statements: list[list[Token]] = [[]]
    for token in tokenize(body):
        if token.kind == "op" and token.text == ";":
            statements.append([])
        else:
            statements[-1].append(token)
    return [s for s in statements if s]


def test_no_status_statement_joins_the_catalog_with_a_table(db: psycopg.Connection[Any]) -> None:
    tables = {
        str(name)
        for (name,) in db.execute(
            "SELECT c.oid::regclass::text FROM pg_catalog.pg_class AS c"
            " WHERE c.relnamespace = 'challenge'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')"
        ).fetchall()
    }
    assert {"challenge.progress", "challenge.processed_events", "challenge.ledger"} <= tables
    mixed: list[str] = []
    seen_catalog = seen_tables = 0
    for name in STATUS_FUNCTIONS:
        for tokens in statements_of(name):
            read = relations_read(tokens)
            catalog = {r for r in read if r.startswith(("pg_catalog.", "pg_"))}
            ours = read & tables
            seen_catalog += bool(catalog)
            seen_tables += bool(ours)
            if catalog and ours:
                mixed.append(f"{name}: {sorted(catalog)} with {sorted(ours)}")
    assert seen_catalog and seen_tables  # the scanner sees both kinds
    assert mixed == []


def test_the_scanner_sees_a_statement_that_joins_the_catalog_with_a_table() -> None:
    tokens = tokenize(
        "SELECT count(*) FROM challenge.progress AS p"
        " JOIN pg_catalog.pg_class AS c ON c.oid = 'challenge.progress'::regclass"
        " CROSS JOIN LATERAL challenge._table_rows(c.oid::regclass) AS t"
    )
    assert relations_read(tokens) == {"challenge.progress", "pg_catalog.pg_class"}
