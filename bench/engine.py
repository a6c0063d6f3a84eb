"""The write engine's cases beside the floor, interleaved on one long-lived connection.

    python -m bench.engine                      # 20,000 players x (10 increment + 2 absolute) goals
    python -m bench.engine --players 100000 --rounds 60
    python -m bench.engine --database-url URL   # a server to create the benchmark database on

Run by hand (not a test, no assertions). On a database of its own (created, migrated, seeded with
``seed.sql``, dropped at the end; the ledger switched off unless a case says otherwise), every round
draws fresh payloads of ``--size`` distinct random (player, goal) pairs and runs every case once, in an
order that rotates every round, each call its own committed transaction, all on one connection that made
``--warm-calls`` calls of each case first (plans change after a statement's fifth run on a connection).
Figures are medians of the rounds, and each case's ratio to the floor of the same rounds:

- ``floor``: a bare guarded ``UPDATE ... FROM jsonb_to_recordset`` of the same increments (no rule);
- ``increment``: ``increment_progress_batch``, no event ids; ``increment_ids``: an event id per item;
- ``events_ids``: ``record_events``, one statistic event per pair (each reaches one goal), ids per event;
- ``events_position``: the same events by source position (``p_source``; no ids);
- ``events_ids_ledger``: ``events_ids`` with the audit ledger on (``SET LOCAL pgchallenge.ledger = on``);
- ``set`` beside ``set_reference`` (the reference's COPY -> temp table -> ``UPDATE FROM``) on absolute
  goals: their ratio is the "as fast as COPY" goal.

``--sizes`` adds ``increment`` at other sizes for the linearity check (µs per item).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import psycopg

from bench.common import ABS_GOALS, GOALS, TARGET, log, seeded_database
from bench.micro import INCREMENT_FLOOR, MicroSettings, increment_payload, set_calls, set_payload

DATABASE = "pgchallenge_bench_engine"

Call = Callable[[psycopg.Connection[Any]], None]


class Cases:
    """Builds one round's calls; event ids and source positions never repeat across rounds."""

    def __init__(self, players: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.settings = MicroSettings.for_payloads(players, seed)
        self.counter = 0
        self.position = 0

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def round(self, size: int) -> dict[str, Call]:
        items = increment_payload(self.rng, self.settings, size)
        with_ids = [{**item, "event_id": self.fresh("i")} for item in items]
        events = [
            {
                "event_id": self.fresh("e"),
                "user_id": item["user_id"],
                "kind": "statistic",
                "stat_code": item["goal_id"].replace("goal-", "stat-"),
                "inc": item["delta"],
            }
            for item in items
        ]
        sourced = []
        for event in events:
            self.position += 1
            sourced.append({k: v for k, v in event.items() if k != "event_id"} | {"position": self.position})
        sets = set_calls(set_payload(self.rng, self.settings, size), TARGET)
        return {
            "floor": sql(INCREMENT_FLOOR, json.dumps(items)),
            "increment": sql("SELECT challenge.increment_progress_batch(%s::jsonb)", json.dumps(items)),
            "increment_ids": sql(
                "SELECT challenge.increment_progress_batch(%s::jsonb)", json.dumps(with_ids)
            ),
            "events_ids": sql("SELECT challenge.record_events(%s::jsonb)", json.dumps(events)),
            "events_position": sql(
                "SELECT challenge.record_events(%s::jsonb,"
                " p_source => 'bench', p_partition => '0', p_epoch => 1)",
                json.dumps(sourced),
            ),
            "events_ids_ledger": ledger_on(
                "SELECT challenge.record_events(%s::jsonb)",
                json.dumps([{**e, "event_id": e["event_id"] + "-l"} for e in events]),
            ),
            "set": sets["ours"],
            "set_reference": sets["reference"],
        }


def sql(query: str, document: str) -> Call:
    def call(connection: psycopg.Connection[Any]) -> None:
        connection.execute(query, [document])

    return call


def ledger_on(query: str, document: str) -> Call:
    def call(connection: psycopg.Connection[Any]) -> None:
        with connection.transaction():
            connection.execute("SET LOCAL pgchallenge.ledger = on")
            connection.execute(query, [document])

    return call


def measure(url: str, cases: Cases, size: int, rounds: int, warm_calls: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {}
    with psycopg.connect(url, autocommit=True) as connection:
        for _ in range(warm_calls):
            for call in cases.round(size).values():
                call(connection)
        for n in range(rounds):
            calls = list(cases.round(size).items())
            shift = n % len(calls)
            for name, call in calls[shift:] + calls[:shift]:
                started = time.perf_counter()
                call(connection)
                samples.setdefault(name, []).append((time.perf_counter() - started) * 1000)
    return samples


def report(samples: dict[str, list[float]], size: int) -> dict[str, dict[str, float]]:
    floor = statistics.median(samples["floor"])
    rows = {}
    for name, values in samples.items():
        median = statistics.median(values)
        rows[name] = {"ms": median, "x_floor": median / floor, "us_per_item": median * 1000 / size}
        print(
            f"{size:>6} {name:<20} {median:8.2f} ms  {median / floor:5.2f}x floor"
            f"  {median * 1000 / size:6.1f} µs/item"
        )
    if "set" in samples:
        ratio = statistics.median(samples["set_reference"]) / statistics.median(samples["set"])
        print(
            f"{size:>6} set_progress_batch is {ratio:.2f}x as fast as"
            " the reference's COPY -> temp -> UPDATE FROM"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="a server (maintenance database URL); default: as pgchallenge")
    parser.add_argument("--players", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument(
        "--sizes", type=int, nargs="*", default=[], help="also these sizes (increment and floor)"
    )
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--warm-calls", type=int, default=10, help="rounds of every case before measuring")
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args(argv)

    with seeded_database(args.database_url, DATABASE, args.players) as url:
        log(
            f"seeded {args.players:,} players x {GOALS + ABS_GOALS} goals;"
            f" {args.rounds} rounds of size {args.size}"
        )
        cases = Cases(args.players, args.seed)
        report(measure(url, cases, args.size, args.rounds, args.warm_calls), args.size)
        for size in args.sizes:
            report(measure(url, cases, size, max(5, args.rounds * args.size // max(size, 1) // 4), 2), size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
