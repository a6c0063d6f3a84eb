"""Sustained event ingestion through ``EventWriter``, and the single-batch cost of ``record_events``.

    python -m bench.ingest                      # 100,000 players x (10 increment + 2 absolute) goals
    python -m bench.ingest --quick              # 2,000 players, 20,000 events: a smoke run
    python -m bench.ingest --database-url URL   # a server to create the benchmark database on

Run by hand (not a test, no assertions). Steps, on a database of its own that it creates and drops:
migrate, seed with ``seed.sql`` (half the rows active, some completed, some claimed: the same data as
``bench.run``), then

1. sustained ingestion: ``--events`` statistic events with ids (90% increments of a random player's
   ``stat-N``, 10% absolute ``level-N`` values), submitted as fast as the writer takes them through one
   ``EventWriter`` with ``--connections`` connections; reports events/s from the first submit until
   ``close()`` returned (everything committed), the ``record_events`` call latency (p50/p99 per flush,
   and the median of the first and of the last ten flushes: the writer keeps its connections, and a
   statement's plan may change after its fifth run on one), and the submit-to-commit latency of a sample
   of events;
2. single batch: ``record_events`` with 1,000 fresh events vs ``increment_progress_batch`` with the same
   1,000 (player, goal) applications (with and without event ids), alternating, each call in a
   transaction that is rolled back, so every round sees the same rows; medians over ``--rounds``. The
   record_events and event-id batch calls run twice, with the audit ledger off and on (``SET LOCAL
   pgchallenge.ledger``), and the ratio on/off is the ledger's cost. All on one connection, after
   ``--warm-calls`` calls of each kind (default 100) on it: the medians are those of a long-lived
   connection, and the first five calls' medians are reported beside them.

The database runs with the ledger switched off (``challenge.set_ledger(false)``: the sustained run measures
ingestion without the audit trail, as the reference has none); only the ``*_ledger`` single-batch calls
record, with ``SET LOCAL pgchallenge.ledger = on``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import psycopg
from pgchallenge import EventOutcome, EventWriter
from pgchallenge.writer import partition_of
from psycopg.types.json import Jsonb

from bench.common import ABS_GOALS, GOALS, latency_summary, log, seeded_database

DATABASE = "pgchallenge_bench_ingest"


def stat_events(rng: random.Random, players: int, count: int, tag: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for n in range(count):
        user = f"user-{1 + rng.randrange(players)}"
        if rng.random() < 0.9:
            code = f"stat-{1 + rng.randrange(GOALS)}"
            events.append({"event_id": f"{tag}-{n}", "user_id": user, "kind": "statistic", "stat_code": code})
        else:
            code = f"level-{1 + rng.randrange(ABS_GOALS)}"
            value = rng.randrange(1000)
            events.append(
                {
                    "event_id": f"{tag}-{n}",
                    "user_id": user,
                    "kind": "statistic",
                    "stat_code": code,
                    "value": value,
                }
            )
    return events


def sustained(url: str, events: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    sampled: list[float] = []

    def timer(started: float) -> Callable[[Future[EventOutcome]], None]:
        return lambda _: sampled.append(time.perf_counter() - started)

    # By event id: one writer over --connections connections. By source position (--by-position): one
    # writer per source partition (a writer by position sends over one connection), the events split by
    # player as a Kafka producer would, each numbered in its partition.
    options: dict[str, Any] = {
        "batch_size": args.batch_size,
        "flush_interval": args.flush_ms / 1000,
        "max_pending": args.max_pending,
        "submit_timeout": None,
    }
    if args.by_position:
        writers = [
            EventWriter(url, source="bench-ingest", source_partition=str(p), **options)
            for p in range(args.connections)
        ]
        positions = [0] * args.connections
    else:
        writers = [EventWriter(url, connections=args.connections, **options)]
    started = time.perf_counter()
    for n, event in enumerate(events):
        if args.by_position:
            partition = partition_of(event["user_id"], args.connections)
            positions[partition] += 1
            event = {k: v for k, v in event.items() if k != "event_id"} | {"position": positions[partition]}
            future = writers[partition].submit(event)
        else:
            future = writers[0].submit(event)
        if n % 100 == 0:
            future.add_done_callback(timer(time.perf_counter()))
    for writer in writers:
        writer.close()
    elapsed = time.perf_counter() - started
    stats = [writer.stats for writer in writers]
    flushes = [seconds * 1000 for writer in writers for seconds in writer.flush_seconds]
    return {
        "by_position": args.by_position,
        "calls_per_connection": sum(s.flushes for s in stats) / args.connections,
        "first_10_flushes_ms": statistics.median(flushes[:10]) if flushes else 0.0,
        "last_10_flushes_ms": statistics.median(flushes[-10:]) if flushes else 0.0,
        "events": len(events),
        "seconds": elapsed,
        "events_per_second": len(events) / elapsed,
        "committed": sum(s.committed for s in stats),
        "failed": sum(s.failed for s in stats),
        "retries": sum(s.retries for s in stats),
        "flushes": sum(s.flushes for s in stats),
        "flush_ms": latency_summary(flushes, keep_samples=False),
        "submit_to_commit_ms": latency_summary([s * 1000 for s in sampled], keep_samples=False),
    }


def single_batch(url: str, players: int, rounds: int, warm_calls: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    timings: dict[str, list[float]] = {
        "record_events": [],
        "record_events_ledger": [],
        "increment_ids": [],
        "increment_ids_ledger": [],
        "increment_plain": [],
    }
    with psycopg.connect(url) as conn:
        for round_index in range(warm_calls + rounds):
            tag = f"single-{round_index}-{uuid.uuid4().hex[:6]}"
            events = [
                {
                    "event_id": f"{tag}-{n}",
                    "user_id": f"user-{1 + rng.randrange(players)}",
                    "kind": "statistic",
                    "stat_code": f"stat-{1 + rng.randrange(GOALS)}",
                }
                for n in range(1000)
            ]
            plain = [{"user_id": e["user_id"], "goal_id": "goal-" + e["stat_code"][5:]} for e in events]
            with_ids = [{**item, "event_id": e["event_id"]} for item, e in zip(plain, events, strict=True)]
            calls = [
                ("record_events", "SELECT challenge.record_events(%s::jsonb)", events),
                ("record_events_ledger", "SELECT challenge.record_events(%s::jsonb)", events),
                ("increment_ids", "SELECT challenge.increment_progress_batch(%s::jsonb)", with_ids),
                ("increment_ids_ledger", "SELECT challenge.increment_progress_batch(%s::jsonb)", with_ids),
                ("increment_plain", "SELECT challenge.increment_progress_batch(%s::jsonb)", plain),
            ]
            rng.shuffle(calls)
            for name, query, payload in calls:
                if name.endswith("_ledger"):
                    conn.execute("SET LOCAL pgchallenge.ledger = on")
                started = time.perf_counter()
                conn.execute(query, [Jsonb(payload)]).fetchone()
                timings[name].append((time.perf_counter() - started) * 1000)
                conn.rollback()
    measured = {name: statistics.median(samples[warm_calls:]) for name, samples in timings.items()}
    first = {f"{name}_first_5": statistics.median(samples[:5]) for name, samples in timings.items()}
    return {**measured, **first}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="a server (maintenance database URL); default: as pgchallenge")
    parser.add_argument("--players", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument(
        "--by-position",
        action="store_true",
        help="sustained run by source position (one partition per connection, no event ids)",
    )
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--flush-ms", type=int, default=100)
    parser.add_argument("--max-pending", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=15, help="single-batch rounds (default 15)")
    parser.add_argument(
        "--warm-calls", type=int, default=100, help="single-batch calls of each kind before measuring"
    )
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--quick", action="store_true", help="2,000 players, 20,000 events, 5 rounds")
    parser.add_argument("--output", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.players, args.events, args.rounds, args.warm_calls = 2_000, 20_000, 5, 10

    log(f"migrating and seeding {args.players:,} players x {GOALS + ABS_GOALS} goals")
    with seeded_database(args.database_url, DATABASE, args.players) as url:
        log("single-batch comparison")
        single = single_batch(url, args.players, args.rounds, args.warm_calls, args.seed)
        how = "by source position" if args.by_position else "by event id"
        log(f"sustained ingestion of {args.events:,} events {how}, {args.connections} connections")
        events = stat_events(
            random.Random(args.seed), args.players, args.events, f"run-{uuid.uuid4().hex[:6]}"
        )
        stream = sustained(url, events, args)

    results = {"players": args.players, "single_batch_ms": single, "sustained": stream}
    print(f"players {args.players:,} x {GOALS + ABS_GOALS} goals; {args.connections} connections,"
          f" batch {args.batch_size}, flush {args.flush_ms} ms")  # fmt: skip
    print(f"sustained: {stream['events_per_second']:,.0f} events/s ({stream['events']:,} events in"
          f" {stream['seconds']:.1f} s, {stream['flushes']} flushes, {stream['retries']} retries,"
          f" {stream['failed']} failed)")  # fmt: skip
    flush = stream["flush_ms"]
    lag = stream["submit_to_commit_ms"]
    print(
        f"record_events per flush: p50 {flush['p50']:.1f} ms, p99 {flush['p99']:.1f} ms,"
        f" max {flush['max']:.1f} ms"
    )
    print(
        f"record_events per flush, {stream['calls_per_connection']:.0f} calls per connection: median of"
        f" the first 10 {stream['first_10_flushes_ms']:.1f} ms,"
        f" of the last 10 {stream['last_10_flushes_ms']:.1f} ms"
    )
    print(f"submit -> commit (sampled): p50 {lag['p50']:.1f} ms, p99 {lag['p99']:.1f} ms")
    measured = {k: v for k, v in single.items() if not k.endswith("_first_5")}
    print(
        f"single 1,000-event batch, medians after {args.warm_calls} calls of each kind on the connection: "
        + ", ".join(
            f"{k} {v:.1f} ms (first 5 calls {single[k + '_first_5']:.1f})" for k, v in measured.items()
        )
    )
    print(
        f"audit ledger on/off: record_events {single['record_events_ledger'] / single['record_events']:.2f}x,"
        f" increment_progress_batch {single['increment_ids_ledger'] / single['increment_ids']:.2f}x"
    )
    if args.output:
        args.output.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
