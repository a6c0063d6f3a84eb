"""What SECURITY DEFINER costs: the write functions as shipped beside the same functions as SECURITY INVOKER.

    python -m bench.definer                     # 20,000 players x 12 goals, 6 rounds
    python -m bench.definer --rounds 10 --seconds 8

Run by hand (not a test, no assertions), on a database of its own (``bench.common.seeded_database``).
Every round runs both modes, in an order that alternates, switching ``increment_progress`` and
``increment_progress_batch`` with ``ALTER FUNCTION ... SECURITY INVOKER`` (and back) between them:

- ``single``: pgbench ``-M prepared`` of ``single_ours.sql`` (one ``increment_progress`` per transaction,
  active rows) for ``--seconds`` at each ``--clients`` count: TPS;
- ``batch``: ``increment_progress_batch`` of ``--size`` distinct random (player, goal) increments on one
  connection, ``--calls`` calls after ``--warm-calls`` (the ALTER invalidates cached plans): median ms.

Figures are medians over the rounds and the ratio definer / invoker (above 1.0 for time, below 1.0 for
TPS, is what SECURITY DEFINER costs).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from typing import Any

import psycopg

from bench.common import GOALS, Tools, libpq_env, log, run_pgbench, seeded_database
from bench.engine import Cases
from bench.micro import increment_payload

DATABASE = "pgchallenge_bench_definer"
FUNCTIONS = ("increment_progress", "increment_progress_batch")
MODES = ("definer", "invoker")


def set_mode(url: str, mode: str) -> None:
    clause = "SECURITY DEFINER" if mode == "definer" else "SECURITY INVOKER"
    with psycopg.connect(url, autocommit=True) as connection:
        signatures = connection.execute(
            "SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc AS p"
            " WHERE p.pronamespace = 'challenge'::regnamespace AND p.proname = ANY (%s)",
            [list(FUNCTIONS)],
        ).fetchall()
        for (signature,) in signatures:
            connection.execute(f"ALTER FUNCTION {signature} {clause}")


def batch_ms(url: str, cases: Cases, size: int, calls: int, warm_calls: int) -> float:
    rng = random.Random(cases.rng.random())
    times = []
    with psycopg.connect(url, autocommit=True) as connection:
        for n in range(warm_calls + calls):
            document = json.dumps(increment_payload(rng, cases.settings, size))
            started = time.perf_counter()
            connection.execute("SELECT challenge.increment_progress_batch(%s::jsonb)", [document])
            if n >= warm_calls:
                times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="a server (maintenance database URL); default: as pgchallenge")
    parser.add_argument("--players", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=5, help="pgbench time per single-increment run")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=15)
    parser.add_argument("--warm-calls", type=int, default=6)
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args(argv)

    tools = Tools.find(None)
    samples: dict[str, list[float]] = {}
    with seeded_database(args.database_url, DATABASE, args.players) as url:
        env = libpq_env(url)
        cases = Cases(args.players, args.seed)
        log(f"seeded {args.players:,} players x {GOALS + 2} goals; {args.rounds} rounds")
        for n in range(args.rounds):
            for mode in MODES if n % 2 == 0 else tuple(reversed(MODES)):
                set_mode(url, mode)
                samples.setdefault(f"batch {mode}", []).append(
                    batch_ms(url, cases, args.size, args.calls, args.warm_calls)
                )
                for clients in args.clients:
                    run = run_pgbench(
                        tools,
                        env,
                        [("single_ours.sql", None)],
                        {"players": args.players, "goals": GOALS, "mode": 1},
                        label=f"single {mode}",
                        clients=clients,
                        threads=min(clients, 2),
                        seed=args.seed + n,
                        seconds=args.seconds,
                    )
                    if run.aborted or run.tps is None:
                        raise SystemExit(f"pgbench failed: {run.error}")
                    samples.setdefault(f"single c={clients} {mode}", []).append(run.tps)
            log(f"round {n + 1}/{args.rounds} done")
        set_mode(url, "definer")
    report(samples, args)
    return 0


def report(samples: dict[str, list[float]], args: Any) -> None:
    def median(key: str) -> float:
        return statistics.median(samples[key])

    definer, invoker = median("batch definer"), median("batch invoker")
    print(
        f"batch of {args.size}: definer {definer:.2f} ms, invoker {invoker:.2f} ms,"
        f" definer/invoker {definer / invoker:.3f}"
    )
    for clients in args.clients:
        definer, invoker = median(f"single c={clients} definer"), median(f"single c={clients} invoker")
        print(
            f"single increment c={clients}: definer {definer:,.0f} TPS, invoker {invoker:,.0f} TPS,"
            f" definer/invoker {definer / invoker:.3f}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
