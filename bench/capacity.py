"""Bytes per row on disk, measured: what a DBA multiplies out to size a server or a Citus cluster.

    python -m bench.capacity                    # 20,000 players x 12 goals, 200,000 event ids
    python -m bench.capacity --players 50000 --events 500000

Run by hand (not a test, no assertions), on a database of its own (``bench.common.seeded_database``: players
``user-N``, goals ``goal-N`` / ``level-N``, bulk-seeded, half the rows active). It then writes through the
public functions, so that every row is shaped the way production writes shape it:

- ``progress``: one row per (player, goal), each moved once by ``increment_progress_batch``;
- ``processed_events``: ``--events`` event ids (36-character UUIDs, the common choice) remembered by
  ``increment_progress_batch`` with the ledger on, which also fills
- ``ledger``: one row per applied change, with its event id.

Each table's size (heap, TOAST and every index: ``pg_total_relation_size``, summed over the ledger's
partitions) is divided by its row count after a VACUUM. Sizes on Citus are the same per row: a shard is a
plain table, and the per-row overhead does not depend on how many shards hold the rows.
"""

from __future__ import annotations

import argparse
import json
import random
import uuid
from typing import Any

import psycopg

from bench.common import ABS_GOALS, GOALS, log, seeded_database

DATABASE = "pgchallenge_bench_capacity"
TABLES = ("progress", "processed_events", "ledger")
BATCH = 1000


def write_through_the_api(url: str, players: int, events: int, seed: int) -> None:
    rng = random.Random(seed)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SELECT challenge.set_ledger(true)")
        done = 0
        while done < events:
            size = min(BATCH, events - done)
            items: list[dict[str, Any]] = [
                {
                    "user_id": f"user-{rng.randint(1, players)}",
                    "goal_id": f"goal-{rng.randint(1, GOALS)}",
                    "delta": 1,
                    "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                }
                for _ in range(size)
            ]
            connection.execute("SELECT challenge.increment_progress_batch(%s::jsonb)", [json.dumps(items)])
            done += size
        connection.execute("VACUUM ANALYZE")


def measure(url: str) -> dict[str, dict[str, float]]:
    sizes: dict[str, dict[str, float]] = {}
    with psycopg.connect(url, autocommit=True) as connection:
        for table in TABLES:
            row = connection.execute(
                f"SELECT count(*), (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)"
                f" FROM pg_catalog.pg_class AS c WHERE c.oid = 'challenge.{table}'::regclass"
                f" OR c.oid IN (SELECT i.inhrelid FROM pg_catalog.pg_inherits AS i"
                f" WHERE i.inhparent = 'challenge.{table}'::regclass)) FROM challenge.{table}"
            ).fetchone()
            assert row is not None
            rows, total = int(row[0]), int(row[1])
            sizes[table] = {"rows": rows, "bytes": total, "bytes_per_row": total / rows if rows else 0.0}
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="a server (maintenance database URL); default: as pgchallenge")
    parser.add_argument("--players", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args(argv)
    with seeded_database(args.database_url, DATABASE, args.players) as url:
        log(f"writing {args.events} events through increment_progress_batch, ledger on")
        write_through_the_api(url, args.players, args.events, args.seed)
        sizes = measure(url)
    print(f"{args.players} players x {GOALS + ABS_GOALS} goals, {args.events} events (UUID event ids)")
    for table, size in sizes.items():
        print(
            f"{table:<18} {size['rows']:>10.0f} rows {size['bytes'] / 2**20:9.1f} MiB"
            f" {size['bytes_per_row']:7.1f} bytes/row (heap, TOAST and indexes)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
