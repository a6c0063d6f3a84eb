"""challenge.status on the cluster: the same metrics as on plain PostgreSQL, with exact counts that match the
tables (a distributed table's statistics are read from its shards)."""

from __future__ import annotations

import re
from typing import Any

import psycopg

from tests.citus.citushelpers import CLUSTER, Api, Cluster, example_config

pytestmark = CLUSTER


def labelled(rows: list[dict[str, Any]]) -> list[tuple[str, tuple[str, ...]]]:
    return [(r["metric"], tuple(sorted(r["labels"]))) for r in rows]


def test_status_reports_the_same_metrics_as_plain_postgresql_with_exact_counts_that_match(
    cluster: Cluster, db: psycopg.Connection[Any]
) -> None:
    plain = Api(db)
    digest = plain.load(example_config())["digest"]
    expected = labelled(plain.status())

    api = cluster.api()
    rows = api.status()

    assert labelled(rows) == expected
    by_key = {(r["metric"], tuple(sorted(r["labels"].items()))): r for r in rows}
    assert by_key[("pgchallenge_ledger_enabled", ())]["value"] == 1.0
    version = next(r for r in rows if r["metric"] == "pgchallenge_config_version")
    assert version["labels"] == {"digest": digest} and version["value"] >= 1
    partitions = api.scalar(
        "SELECT count(*) FROM pg_catalog.pg_inherits AS i JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'challenge.ledger'::regclass AND c.relname ~ '^ledger_[0-9]{8}$'"
    )
    assert by_key[("pgchallenge_ledger_partitions", ())]["value"] == partitions
    counts = {
        r["status"]: r["n"]
        for r in api.rows("SELECT status, count(*) AS n FROM challenge.progress GROUP BY status")
    }
    for status in ("not_started", "in_progress", "completed", "claimed"):
        row = by_key[("pgchallenge_progress_rows", (("status", status),))]
        if row["exact"]:
            assert row["value"] == counts.get(status, 0), status
        else:  # an estimate from the shards' statistics: unknown (NULL) or a count
            assert row["value"] is None or row["value"] >= 0, status
    failed = api.scalar("SELECT count(*) FROM challenge.reward_grants WHERE state = 'failed'")
    assert by_key[("pgchallenge_outbox_grants", (("state", "failed"),))]["value"] == failed
    for row in rows:
        assert re.fullmatch(r"pgchallenge_[a-z_]+", row["metric"]) and row["help"], row
