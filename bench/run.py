"""Run the pgchallenge performance verification suite: ours vs the reference's strategies vs the floor.

    pgchallenge bench                         # embedded server, full run (about ten minutes)
    pgchallenge bench --quick                 # tiny seed, short runs (< 1 minute): every script runs cleanly
    pgchallenge bench --database-url URL      # any server; URL names its maintenance database
    python -m bench.run ...                   # the same, from a checkout

Steps, on a dedicated database the runner creates and drops: migrate (``pgchallenge.migrate.upgrade``), seed
(``seed.sql``: 100,000 players x 10 increment + 2 absolute goals, half active, some completed, some claimed),
``VACUUM (ANALYZE)``, ``CHECKPOINT``, a sanity probe and a warm-up pass; then

1. EXPLAIN ANALYZE (the reference report's Tests 1-4, ``explain.py``), rolled back;
2. microbenchmarks (``micro.py``): batch increment and absolute set at 100 / 500 / 1,000 / 10,000 rows,
   client-timed, ours beside the reference's strategies and the floor, interleaved; single increments on
   active and inactive rows (pgbench, one client);
3. pgbench cross-check of the 1,000-item batch increment with the payload built in SQL (ours, floor,
   reference strategy, payload alone), interleaved rounds;
4. single increment throughput, ours vs the floor, at 1 and 8 clients, interleaved rounds;
5. load runs: every workload script (``*.sql``, one per workload, ``-M prepared``) at 1, 2, 4 and 8 clients
   with a per-transaction log (p50/p95/p99), a mixed workload (``-f file@weight``) and one fixed-rate run
   (``-R``) so coordinated omission cannot hide latency.

Writes ``<results>/<UTC timestamp>/`` with ``results.json`` (raw), ``report.md`` (the reference report's
layout: EXPLAIN results, microbenchmarks, targets vs results, key findings, conclusion), ``explain.json``
(plans) and, when matplotlib is installed (extra ``bench``), PNG plots. The server is never reconfigured:
its settings are recorded. Exit status 0 when every workload ran with zero failed transactions and the
sanity probe passed (whatever the timings), 1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.types.json import Jsonb

from . import explain, micro, report
from .common import (
    BENCH_DIR,
    PgbenchRun,
    Tools,
    latency_summary,
    libpq_env,
    log,
    ratio,
    run_pgbench,
    seed,
    switch_ledger_off,
)


def default_results_dir() -> Path:
    """``bench/results`` in a checkout; ``./pgchallenge-bench-results`` for an installed package."""
    if (BENCH_DIR.parent / "pyproject.toml").is_file() and BENCH_DIR.name == "bench":
        return BENCH_DIR / "results"
    return Path.cwd() / "pgchallenge-bench-results"


SERVER_SETTINGS = (
    "shared_buffers",
    "effective_cache_size",
    "work_mem",
    "maintenance_work_mem",
    "max_connections",
    "synchronous_commit",
    "fsync",
    "full_page_writes",
    "wal_level",
    "wal_buffers",
    "max_wal_size",
    "checkpoint_timeout",
    "jit",
    "huge_pages",
    "random_page_cost",
    "data_checksums",
    "autovacuum",
    "max_worker_processes",
    "max_parallel_workers_per_gather",
)


# --------------------------------------------------------------------------------------------------------
# What is measured


@dataclass(frozen=True)
class Workload:
    """One pgbench script."""

    name: str
    script: str
    role: str  # ours | floor | reference | payload


@dataclass(frozen=True)
class BatchBenchmark:
    """Batch scripts compared on identical payloads built in SQL; latency medians per call."""

    name: str
    title: str
    ours: Workload
    floor: Workload
    reference: Workload | None
    payload: Workload | None

    @property
    def workloads(self) -> tuple[Workload, ...]:
        return tuple(w for w in (self.payload, self.floor, self.reference, self.ours) if w is not None)


@dataclass(frozen=True)
class SingleBenchmark:
    """Single-call scripts compared on throughput at each client count."""

    name: str
    title: str
    ours: Workload
    floor: Workload
    reference_published: str
    target_tps_ratio: float | None  # ours TPS / floor TPS must be at least this

    @property
    def workloads(self) -> tuple[Workload, ...]:
        return (self.floor, self.ours)


BATCH_BENCHMARKS: tuple[BatchBenchmark, ...] = (
    BatchBenchmark(
        name="increment_batch",
        title="batch increment, payload built in SQL (random pairs, ~50% inactive)",
        ours=Workload("batch_ours", "batch_ours.sql", "ours"),
        floor=Workload("batch_floor", "batch_floor.sql", "floor"),
        reference=Workload("batch_reference", "batch_reference.sql", "reference"),
        payload=Workload("batch_payload", "batch_payload.sql", "payload"),
    ),
)

SINGLE_BENCHMARKS: tuple[SingleBenchmark, ...] = (
    SingleBenchmark(
        name="increment_single",
        title="single increment_progress(user, goal, 1), random pairs (~50% inactive)",
        ours=Workload("single_ours", "single_ours.sql", "ours"),
        floor=Workload("single_floor", "single_floor.sql", "floor"),
        reference_published="1.49 ms/op single IncrementProgress, one Go client (about 670 ops/s)",
        target_tps_ratio=0.9,
    ),
)


@dataclass(frozen=True)
class LoadWorkload:
    """A pgbench load run: one script, or several with weights (``-f file@weight``)."""

    name: str
    title: str
    files: tuple[tuple[str, int | None], ...]
    variables: tuple[tuple[str, int], ...] = ()


LOAD_WORKLOADS: tuple[LoadWorkload, ...] = (
    LoadWorkload(
        "single_increment",
        "single increment_progress, random pairs (~50% inactive)",
        (("single_ours.sql", None),),
        (("mode", 2),),
    ),
    LoadWorkload(
        "batch_increment_100",
        "increment_progress_batch, 100 items",
        (("batch_ours.sql", None),),
        (("batch", 100),),
    ),
    LoadWorkload(
        "batch_increment_1000",
        "increment_progress_batch, 1,000 items",
        (("batch_ours.sql", None),),
        (("batch", 1000),),
    ),
    LoadWorkload(
        "batch_set_1000",
        "set_progress_batch, 1,000 values",
        (("set_batch_ours.sql", None),),
        (("batch", 1000),),
    ),
    LoadWorkload("claim", "claim_goal on completed rows (re-draws replay)", (("claim.sql", None),)),
    LoadWorkload("initialize", "initialize_player (half new players)", (("initialize.sql", None),)),
    LoadWorkload("read_progress", "get_user_progress (12 goals)", (("read_progress.sql", None),)),
    LoadWorkload(
        "mixed",
        "mixed: 50 single, 25 read, 5 batch-100, 5 set-100, 5 initialize, 10 claim",
        (
            ("single_ours.sql", 50),
            ("read_progress.sql", 25),
            ("batch_ours.sql", 5),
            ("set_batch_ours.sql", 5),
            ("initialize.sql", 5),
            ("claim.sql", 10),
        ),
        (("mode", 2), ("batch", 100)),
    ),
)


# --------------------------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class Settings:
    quick: bool
    players: int
    goals: int
    abs_goals: int
    batch_size: int
    target: int
    batch_rounds: int
    batch_transactions: int  # counted transactions per pgbench run (one more runs first, as warm-up)
    pgbench_seconds: int
    pgbench_rounds: int
    clients: tuple[tuple[int, int], ...]  # (clients, threads) of the ours-vs-floor single comparison
    load_clients: tuple[int, ...]
    load_seconds: int
    micro_sizes: tuple[int, ...]
    micro_repetitions: dict[int, int]
    reference_increment_cap: dict[int, int]
    single_transactions: int
    single_rounds: int
    rate_fraction: float
    seed: int
    max_threads: int = 2

    def variables(self) -> dict[str, int]:
        return {
            "players": self.players,
            "goals": self.goals,
            "abs_goals": self.abs_goals,
            "batch": self.batch_size,
            "target": self.target,
            "mode": 2,
        }

    def threads(self, clients: int) -> int:
        return max(1, min(clients, self.max_threads))

    def micro(self) -> micro.MicroSettings:
        return micro.MicroSettings(
            players=self.players,
            goals=self.goals,
            abs_goals=self.abs_goals,
            target=self.target,
            sizes=self.micro_sizes,
            repetitions=self.micro_repetitions,
            reference_increment_cap=self.reference_increment_cap,
            single_transactions=self.single_transactions,
            single_rounds=self.single_rounds,
            seed=self.seed,
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The suite's options (shared by ``python -m bench.run`` and ``pgchallenge bench``)."""
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="server to benchmark on (URL or conninfo of a maintenance database, e.g. .../postgres); "
        "default: the embedded server",
    )
    parser.add_argument("--quick", action="store_true", help="tiny seed, short runs (< 1 minute), for CI")
    parser.add_argument("--players", type=int, help="players seeded (default 100,000; quick 2,000)")
    parser.add_argument("--goals", type=int, default=10, help="increment goals per player, even (default 10)")
    parser.add_argument("--abs-goals", type=int, default=2, help="absolute goals per player (default 2)")
    parser.add_argument(
        "--batch-size", type=int, help="items per call in the pgbench batch cross-check (default 1,000)"
    )
    parser.add_argument(
        "--batch-rounds", type=int, help="interleaved cross-check rounds (default 4; quick 1)"
    )
    parser.add_argument(
        "--batch-transactions", type=int, help="counted calls per script per round (default 3; quick 2)"
    )
    parser.add_argument("--seconds", type=int, help="seconds per single-call comparison run (default 8)")
    parser.add_argument("--rounds", type=int, help="interleaved single-call comparison rounds (default 3)")
    parser.add_argument("--load-seconds", type=int, help="seconds per load run (default 8; quick 1)")
    parser.add_argument("--seed", type=int, default=20261127, help="base random seed")
    parser.add_argument("--results-dir", type=Path, help="parent of the run's folder (default bench/results)")
    parser.add_argument("--bin-dir", type=Path, help="folder holding pgbench and psql")
    parser.add_argument("--keep-database", action="store_true", help="do not drop the benchmark database")


def settings_from(args: argparse.Namespace, error: Callable[[str], Any]) -> Settings:
    quick = bool(args.quick)

    def pick(value: int | None, full: int, fast: int) -> int:
        return value if value is not None else (fast if quick else full)

    sizes = (100, 1000) if quick else (100, 500, 1000, 10_000)
    settings = Settings(
        quick=quick,
        players=pick(args.players, 100_000, 2_000),
        goals=args.goals,
        abs_goals=args.abs_goals,
        batch_size=pick(args.batch_size, 1000, 1000),
        target=1_000_000_000,
        batch_rounds=pick(args.batch_rounds, 4, 1),
        batch_transactions=pick(args.batch_transactions, 3, 2),
        pgbench_seconds=pick(args.seconds, 8, 1),
        pgbench_rounds=pick(args.rounds, 3, 1),
        clients=((1, 1), (8, 2)),
        load_clients=(1, 2) if quick else (1, 2, 4, 8),
        load_seconds=pick(args.load_seconds, 8, 1),
        micro_sizes=sizes,
        micro_repetitions={100: 1, 1000: 1} if quick else {100: 15, 500: 11, 1000: 9, 10_000: 5},
        # 10,000 rows of the reference's correlated-subquery increment take about a minute per call.
        reference_increment_cap={} if quick else {10_000: 1},
        single_transactions=200 if quick else 2000,
        single_rounds=1 if quick else 5,
        rate_fraction=0.5,
        seed=args.seed,
    )
    for name in (
        "players",
        "goals",
        "abs_goals",
        "batch_size",
        "batch_rounds",
        "batch_transactions",
        "pgbench_seconds",
        "pgbench_rounds",
        "load_seconds",
    ):
        if getattr(settings, name) < 1:
            error(f"{name.replace('_', '-')} must be at least 1")
    if settings.goals % 2:
        error("goals must be even (the scripts draw active and inactive goals by parity)")
    return settings


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, Settings]:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    return args, settings_from(args, parser.error)


# --------------------------------------------------------------------------------------------------------
# Database lifecycle


def create_database(server_url: str, name: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return make_conninfo(server_url, dbname=name)


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as connection:
        version = connection.info.server_version
        force = " WITH (FORCE)" if version >= 130000 else ""
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"{force}')


# --------------------------------------------------------------------------------------------------------
# Environment


def host_environment(tools: Tools) -> dict[str, Any]:
    cpu_model = platform.processor() or "unknown"
    memory_kb: int | None = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 0
    pgbench_version = subprocess.run(
        [tools.pgbench, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "platform": platform.platform(),
        "cpu_model": cpu_model,
        "nproc": usable,
        "cpu_count": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024 / 1024, 1) if memory_kb else None,
        "python": platform.python_version(),
        "pgbench": pgbench_version,
        "loadavg_start": list(os.getloadavg()),
    }


def server_environment(url: str) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as connection:
        version = connection.execute("SELECT version(), current_setting('server_version')").fetchone()
        assert version is not None
        settings = {
            str(name): str(value)
            for name, value in connection.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s) ORDER BY name",
                [list(SERVER_SETTINGS)],
            ).fetchall()
        }
        host = conninfo_to_dict(url).get("host")
    return {
        "version": str(version[0]),
        "server_version": str(version[1]),
        "settings": settings,
        "host": str(host) if host else "(default socket)",
    }


def database_facts(url: str) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as connection:
        row = connection.execute(
            """
            SELECT count(*), count(*) FILTER (WHERE is_active),
                   pg_size_pretty(pg_table_size('challenge.progress')),
                   pg_size_pretty(pg_indexes_size('challenge.progress')),
                   (SELECT count(*) FROM challenge.goals)
            FROM challenge.progress
            """
        ).fetchone()
    assert row is not None
    return {
        "progress_rows": int(row[0]),
        "active_rows": int(row[1]),
        "table_size": str(row[2]),
        "index_size": str(row[3]),
        "goals": int(row[4]),
    }


# --------------------------------------------------------------------------------------------------------
# Sanity probe and plans


def python_payload(settings: Settings, seed: int) -> tuple[list[dict[str, Any]], int, int]:
    """``batch_size`` distinct random (user, goal) items, how many are on movable rows, how many claimed."""
    rng = random.Random(seed)
    wanted = min(settings.batch_size, settings.players * settings.goals)
    pairs: dict[tuple[int, int], None] = {}
    while len(pairs) < wanted:
        pairs[(rng.randint(1, settings.players), rng.randint(1, settings.goals))] = None
    items = [{"user_id": f"user-{u}", "goal_id": f"goal-{g}", "delta": 1} for u, g in pairs]
    active = [(u, g) for u, g in pairs if (u + g) % 2 == 0]
    claimed = sum(1 for u, _ in active if u % 100 == 2)  # the seed's claimed rows
    return items, len(active) - claimed, claimed


def sanity_probe(url: str, settings: Settings) -> dict[str, Any]:
    """One batch call of ours on a known payload: movable pairs applied, claimed and inactive skipped."""
    items, active, claimed = python_payload(settings, settings.seed)
    with psycopg.connect(url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT challenge.increment_progress_batch(%s::jsonb)", [Jsonb(items)]
        ).fetchone()
    assert row is not None
    result: dict[str, Any] = row[0]
    skipped = result.get("skipped", {}) if isinstance(result, dict) else {}
    ok = (
        isinstance(result, dict)
        and result.get("applied") == active
        and skipped.get("claimed") == claimed
        and skipped.get("inactive") == len(items) - active - claimed
    )
    return {
        "items": len(items),
        "expected_applied": active,
        "expected_claimed": claimed,
        "expected_inactive": len(items) - active - claimed,
        "applied": result.get("applied") if isinstance(result, dict) else None,
        "skipped": skipped,
        "ok": bool(ok),
    }


# --------------------------------------------------------------------------------------------------------
# Running the benchmarks


def run_batch(
    tools: Tools,
    env: Mapping[str, str],
    settings: Settings,
    benchmark: BatchBenchmark,
    workloads: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    present = list(benchmark.workloads)
    latencies: dict[str, list[float]] = {w.name: [] for w in present}
    runs: dict[str, list[PgbenchRun]] = {w.name: [] for w in present}
    for round_index in range(settings.batch_rounds):
        seed = settings.seed + 1000 + round_index
        shift = round_index % len(present)
        order = present[shift:] + present[:shift]
        for workload in order:
            run = run_pgbench(
                tools,
                env,
                [(workload.script, None)],
                settings.variables(),
                label=workload.name,
                clients=1,
                threads=1,
                seed=seed,
                transactions=settings.batch_transactions + 1,
                latency_log=True,
            )
            runs[workload.name].append(run)
            latencies[workload.name].extend(run.latencies_ms)
        log(
            f"{benchmark.name} round {round_index + 1}/{settings.batch_rounds}: "
            + ", ".join(
                f"{name} {statistics.median(values):.1f} ms" for name, values in latencies.items() if values
            )
        )
    for workload in benchmark.workloads:
        workload_runs = runs[workload.name]
        failures = sum(run.failures for run in workload_runs)
        workloads[workload.name] = {
            "kind": "batch",
            "benchmark": benchmark.name,
            "role": workload.role,
            "script": workload.script,
            "status": "ok" if failures == 0 else "failed",
            "transactions": sum(run.processed for run in workload_runs),
            "failed_transactions": failures,
            "errors": sorted({run.error for run in workload_runs if run.error}),
            "latency_ms": latency_summary(latencies[workload.name]),
        }

    def median(workload: Workload | None) -> float | None:
        if workload is None or workloads[workload.name]["status"] != "ok":
            return None
        value = workloads[workload.name]["latency_ms"].get("median")
        return float(value) if value is not None else None

    payload = median(benchmark.payload) or 0.0
    ours, floor, reference = median(benchmark.ours), median(benchmark.floor), median(benchmark.reference)

    def net(value: float | None) -> float | None:
        return None if value is None else value - payload

    def per_second(value: float | None) -> float | None:
        return None if value is None or value <= 0 else settings.batch_size / (value / 1000.0)

    return {
        "title": benchmark.title,
        "items_per_call": settings.batch_size,
        "repetitions_per_workload": settings.batch_rounds * settings.batch_transactions,
        "payload_ms": payload if benchmark.payload is not None else None,
        "raw_ms": {"ours": ours, "floor": floor, "reference": reference},
        "net_ms": {"ours": net(ours), "floor": net(floor), "reference": net(reference)},
        "rows_per_second_net": {
            "ours": per_second(net(ours)),
            "floor": per_second(net(floor)),
            "reference": per_second(net(reference)),
        },
        "ratios": {
            "ours_over_floor_net": ratio(net(ours), net(floor)),
            "ours_over_floor_raw": ratio(ours, floor),
            "reference_over_ours_net": ratio(net(reference), net(ours)),
            "reference_over_ours_raw": ratio(reference, ours),
        },
    }


def run_single(
    tools: Tools,
    env: Mapping[str, str],
    settings: Settings,
    benchmark: SingleBenchmark,
    workloads: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    present = list(benchmark.workloads)
    runs: dict[tuple[str, int], list[PgbenchRun]] = {}
    for round_index in range(settings.pgbench_rounds):
        for config_index, (clients, threads) in enumerate(settings.clients):
            seed = settings.seed + 2000 + round_index * 10 + config_index
            shift = (round_index + config_index) % len(present)
            for workload in present[shift:] + present[:shift]:
                run = run_pgbench(
                    tools,
                    env,
                    [(workload.script, None)],
                    settings.variables(),
                    label=workload.name,
                    clients=clients,
                    threads=threads,
                    seed=seed,
                    seconds=settings.pgbench_seconds,
                )
                runs.setdefault((workload.name, clients), []).append(run)
                log(f"{workload.name} c={clients} round {round_index + 1}: tps {run.tps}")
    comparison: dict[str, Any] = {
        "title": benchmark.title,
        "seconds_per_run": settings.pgbench_seconds,
        "rounds": settings.pgbench_rounds,
        "reference_published": benchmark.reference_published,
        "target_tps_ratio": benchmark.target_tps_ratio,
        "by_clients": {},
    }
    for clients, threads in settings.clients:
        tps: dict[str, float | None] = {}
        for workload in benchmark.workloads:
            key = f"{workload.name}@c{clients}"
            workload_runs = runs.get((workload.name, clients), [])
            failures = sum(run.failures for run in workload_runs)
            values = [run.tps for run in workload_runs if run.tps is not None]
            workloads[key] = {
                "kind": "single",
                "benchmark": benchmark.name,
                "role": workload.role,
                "script": workload.script,
                "clients": clients,
                "threads": threads,
                "status": "ok" if failures == 0 and values else "failed",
                "transactions": sum(run.processed for run in workload_runs),
                "failed_transactions": failures,
                "errors": sorted({run.error for run in workload_runs if run.error}),
                "tps": {
                    "median": statistics.median(values) if values else None,
                    "values": values,
                },
                "latency_avg_ms": [run.latency_avg_ms for run in workload_runs],
            }
            tps[workload.role] = statistics.median(values) if values else None
        ours, floor = tps.get("ours"), tps.get("floor")
        # Each round runs ours and the floor back to back: the median of those paired ratios resists the
        # machine's drift better than the ratio of the medians (both are recorded).
        paired = [
            mine.tps / theirs.tps
            for mine, theirs in zip(
                runs.get((benchmark.ours.name, clients), []),
                runs.get((benchmark.floor.name, clients), []),
                strict=True,
            )
            if mine.tps is not None and theirs.tps
        ]
        comparison["by_clients"][str(clients)] = {
            "clients": clients,
            "threads": threads,
            "tps_ours": ours,
            "tps_floor": floor,
            "ours_over_floor": statistics.median(paired) if paired else None,
            "ours_over_floor_per_round": paired,
            "ratio_of_median_tps": ours / floor if ours is not None and floor else None,
        }
    return comparison


def warm_up(tools: Tools, env: Mapping[str, str], settings: Settings, scripts: Sequence[str]) -> None:
    """Bring the table into cache and every script's plans and functions through one short pass."""
    for script in scripts:
        single = not any(word in script for word in ("batch", "reference", "payload", "floor"))
        run_pgbench(
            tools,
            env,
            [(script, None)],
            {**settings.variables(), "batch": 100},
            label=f"warm-up {script}",
            clients=1,
            threads=1,
            seed=settings.seed,
            transactions=200 if single else 2,
        )


# --------------------------------------------------------------------------------------------------------
# Load runs


def run_load(
    tools: Tools,
    env: Mapping[str, str],
    settings: Settings,
    workloads: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """Every load workload at every client count: TPS and per-transaction latency percentiles."""
    result: dict[str, Any] = {"clients": list(settings.load_clients), "seconds": settings.load_seconds}
    runs: dict[str, Any] = {}
    for index, load in enumerate(LOAD_WORKLOADS):
        files = load.files
        by_clients: dict[str, Any] = {}
        for clients in settings.load_clients:
            run = run_pgbench(
                tools,
                env,
                files,
                {**settings.variables(), **dict(load.variables)},
                label=load.name,
                clients=clients,
                threads=settings.threads(clients),
                seed=settings.seed + 5000 + index * 10 + clients,
                seconds=settings.load_seconds,
                latency_log=True,
            )
            summary = latency_summary(run.latencies_ms, keep_samples=False)
            by_clients[str(clients)] = {
                "clients": clients,
                "threads": run.threads,
                "tps": run.tps,
                "latency_ms": summary,
                "transactions": run.processed,
                "failed_transactions": run.failures,
                "per_script": {
                    files[number][0]: count
                    for number, count in sorted(run.per_script.items())
                    if number < len(files)
                },
                "errors": run.error,
                "command": run.command,
            }
            workloads[f"load_{load.name}@c{clients}"] = {
                "kind": "load",
                "script": ", ".join(name + (f"@{weight}" if weight else "") for name, weight in files),
                "clients": clients,
                "status": "ok" if run.failures == 0 and run.processed > 0 else "failed",
                "transactions": run.processed,
                "failed_transactions": run.failures,
                "errors": [run.error] if run.error else [],
                "tps": {"median": run.tps},
            }
            log(
                f"load {load.name} c={clients}: tps {run.tps}, p50 {summary.get('p50', 0):.2f} ms, "
                f"p99 {summary.get('p99', 0):.2f} ms, failed {run.failures}"
            )
        runs[load.name] = {
            "title": load.title,
            "status": "ok",
            "files": [list(item) for item in files],
            "by_clients": by_clients,
        }
    result["runs"] = runs
    result["fixed_rate"] = run_fixed_rate(tools, env, settings, runs, workloads)
    return result


def run_fixed_rate(
    tools: Tools,
    env: Mapping[str, str],
    settings: Settings,
    runs: Mapping[str, Any],
    workloads: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """Single increments at a fixed schedule (-R), a fraction of the measured throughput at 4 clients."""
    clients = 4 if 4 in settings.load_clients else max(settings.load_clients)
    measured = runs.get("single_increment", {}).get("by_clients", {}).get(str(clients), {}).get("tps")
    if not measured:
        return {"status": "skipped: no throughput measured"}
    rate = max(10.0, measured * settings.rate_fraction)
    seconds = settings.load_seconds * 2
    run = run_pgbench(
        tools,
        env,
        [("single_ours.sql", None)],
        settings.variables(),
        label="fixed_rate",
        clients=clients,
        threads=settings.threads(clients),
        seed=settings.seed + 9000,
        seconds=seconds,
        rate=rate,
        latency_log=True,
    )
    workloads["fixed_rate_single_increment"] = {
        "kind": "load",
        "script": "single_ours.sql",
        "clients": clients,
        "status": "ok" if run.failures == 0 and run.processed > 0 else "failed",
        "transactions": run.processed,
        "failed_transactions": run.failures,
        "errors": [run.error] if run.error else [],
        "tps": {"median": run.tps},
    }
    latency = latency_summary(run.latencies_ms, keep_samples=False)
    log(f"fixed rate {rate:.0f}/s c={clients}: p99 {latency.get('p99', 0):.2f} ms")
    return {
        "status": "ok",
        "workload": "single_increment",
        "clients": clients,
        "rate": round(rate),
        "fraction_of_measured": settings.rate_fraction,
        "measured_tps": measured,
        "seconds": seconds,
        "tps": run.tps,
        "latency_ms": latency,
        "schedule_lag_ms": latency_summary(run.lags_ms, keep_samples=False),
        "skipped": run.skipped,
        "failed_transactions": run.failures,
    }


# --------------------------------------------------------------------------------------------------------
# Verdicts


def verdict(value: float | None, limit: float, *, at_most: bool, quick: bool) -> str:
    if value is None:
        return "n/a"
    if quick:
        return "n/a (quick)"
    passed = value <= limit if at_most else value >= limit
    return "PASS" if passed else "MISS"


# The kinds of goal (bench/report.py words each one from its record):
#   faster_than_reference  the reference's strategy / ours, at ``rows``, at least ``threshold``
#   near_floor             ours / the floor (bare UPDATE), at ``rows``, at most ``threshold``
#   floor_tps_share        ours' TPS / the floor's TPS, at ``clients``, at least ``threshold``
#   flat_per_row           ours' us/row at the largest of ``sizes`` / at the smallest, at most ``threshold``
#   no_failed_transactions every workload's failed transactions (the result is PASS at zero)
GOAL_KINDS = (
    "faster_than_reference",
    "near_floor",
    "floor_tps_share",
    "flat_per_row",
    "no_failed_transactions",
)


def goal_record(
    kind: str,
    operation: str,
    *,
    source: str,
    measured: float | None,
    threshold: float,
    at_most: bool,
    shown: str,
    quick: bool,
    at: Mapping[str, Any] | None = None,
    reference: float | None = None,
) -> dict[str, Any]:
    """One goal as data: its kind and operation, the point measured (``at``: rows, clients or sizes), where
    in results.json the figure comes from (``source``), the threshold, the value measured (and the
    reference strategy's, where it has one) and the verdict."""
    assert kind in GOAL_KINDS, kind
    point = "".join(
        f"@{key}={'-'.join(map(str, value)) if isinstance(value, list) else value}"
        for key, value in (at or {}).items()
    )
    return {
        "id": f"{kind}:{operation}{point}",
        "kind": kind,
        "operation": operation,
        **(at or {}),
        "source": source,
        "threshold": threshold,
        "at_most": at_most,
        "measured": measured,
        "reference": reference,
        "shown": shown,
        "result": verdict(measured, threshold, at_most=at_most, quick=quick),
    }


def per_row_growth(first: Mapping[str, Any], last: Mapping[str, Any], strategy: str) -> float | None:
    """us/row of ``strategy`` in the ``last`` size row over the ``first``."""
    return ratio(last.get("us_per_row", {}).get(strategy), first.get("us_per_row", {}).get(strategy))


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's goals, each PASS or MISS on this run (never tuned: the limits are fixed here)."""
    quick = bool(results["settings"]["quick"])
    batch = results.get("micro", {}).get("batch", {})
    targets: list[dict[str, Any]] = []

    def size_row(kind: str, size: int) -> dict[str, Any]:
        row: dict[str, Any] = batch.get(kind, {}).get("by_size", {}).get(str(size), {})
        return row

    for operation, figure, limit, at_most, shown in (
        ("increment", "reference_over_ours", 25.0, False, "{:,.1f}x"),
        ("increment", "ours_over_floor", 1.3, True, "{:,.2f}x"),
        ("set", "reference_over_ours", 1.2, False, "{:,.2f}x"),
    ):
        targets.append(
            goal_record(
                "near_floor" if figure == "ours_over_floor" else "faster_than_reference",
                operation,
                at={"rows": 1000},
                source=f"micro.batch.{operation}.by_size.1000.{figure}",
                measured=size_row(operation, 1000).get(figure),
                threshold=limit,
                at_most=at_most,
                shown=shown,
                quick=quick,
            )
        )
    comparison = results["comparisons"]["single"].get("increment_single")
    if comparison is not None and comparison["target_tps_ratio"] is not None:
        for clients, row in comparison["by_clients"].items():
            targets.append(
                goal_record(
                    "floor_tps_share",
                    "single_increment",
                    at={"clients": int(clients)},
                    source=f"comparisons.single.increment_single.by_clients.{clients}.ours_over_floor",
                    measured=row["ours_over_floor"],
                    threshold=comparison["target_tps_ratio"],
                    at_most=False,
                    shown="{:.1%}",
                    quick=quick,
                )
            )
    sizes = [int(size) for size in batch.get("increment", {}).get("by_size", {})]
    if sizes:
        low, high = min(sizes), max(sizes)
        for operation in ("increment", "set"):
            first, last = size_row(operation, low), size_row(operation, high)
            targets.append(
                goal_record(
                    "flat_per_row",
                    operation,
                    at={"sizes": [low, high]},
                    source=f"micro.batch.{operation}.by_size.{{{low},{high}}}.us_per_row.ours",
                    measured=per_row_growth(first, last, "ours"),
                    threshold=1.5,
                    at_most=True,
                    shown="{:,.2f}x",
                    quick=quick,
                    reference=per_row_growth(first, last, "reference"),
                )
            )
    failed = sum(int(w.get("failed_transactions", 0)) for w in results["workloads"].values())
    clean = all(w["status"] == "ok" for w in results["workloads"].values())
    record = goal_record(
        "no_failed_transactions",
        "all",
        source="workloads.*.failed_transactions",
        measured=float(failed),
        threshold=0.0,
        at_most=True,
        shown="{:,.0f} failed",
        quick=False,  # judged in quick mode too
    )
    record["result"] = "PASS" if clean and failed == 0 else "MISS"
    targets.append(record)
    return targets


# --------------------------------------------------------------------------------------------------------


def default_server_url() -> str:
    from pgchallenge import embedded

    return embedded.start()


def package_version() -> dict[str, str]:
    """pgchallenge's version and, in a checkout, the git commit (read from .git, no git command)."""
    try:
        from importlib.metadata import version

        found = version("pgchallenge")
    except Exception:
        found = "unknown"
    commit = "unknown (not a checkout)"
    git = BENCH_DIR.parent / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if head.startswith("ref: "):
            ref = head[5:]
            ref_file = git / ref
            if ref_file.is_file():
                commit = ref_file.read_text().strip()
            else:
                for line in (git / "packed-refs").read_text().splitlines():
                    if line.endswith(" " + ref):
                        commit = line.split()[0]
                        break
        else:
            commit = head
    except OSError:
        pass
    return {"version": found, "commit": commit}


def run(
    args: argparse.Namespace, settings: Settings, server_url_factory: Callable[[], str] | None = None
) -> int:
    tools = Tools.find(args.bin_dir)
    server_url: str = args.database_url or (server_url_factory or default_server_url)()
    started = dt.datetime.now(dt.timezone.utc)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    output = Path(args.results_dir or default_results_dir()) / stamp
    output.mkdir(parents=True, exist_ok=False)
    name = f"pgchallenge_bench_{stamp.lower()}_{os.getpid()}"
    log(f"server {server_url}; database {name}; results {output}")
    clock = time.monotonic()
    url = create_database(server_url, name)
    try:
        from pgchallenge import migrate

        migrate.upgrade(url)
        # The reference keeps no audit trail: compare like with like. The ledger's own cost is measured
        # by bench.ingest and bench.engine (ledger on vs off in the same run).
        switch_ledger_off(url)
        log("migrated")
        env = libpq_env(url)
        seed_started = time.monotonic()
        seed(
            tools.psql,
            env,
            players=settings.players,
            goals=settings.goals,
            abs_goals=settings.abs_goals,
            target=settings.target,
        )
        seed_seconds = time.monotonic() - seed_started
        log(f"seeded {settings.players:,} players x {settings.goals} + {settings.abs_goals} goals")
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("VACUUM (ANALYZE)")
            try:
                connection.execute("CHECKPOINT")
                checkpoint = "done"
            except psycopg.Error as exc:  # needs superuser or pg_checkpoint
                checkpoint = f"skipped: {exc}"
            connection.execute("SELECT count(*) FROM challenge.progress")  # read the heap once (OS cache)
        all_workloads = [w for b in BATCH_BENCHMARKS for w in b.workloads] + [
            w for s in SINGLE_BENCHMARKS for w in s.workloads
        ]
        results: dict[str, Any] = {
            "schema_version": 3,
            "started_at": started.isoformat(timespec="seconds"),
            "settings": asdict(settings),
            "environment": {
                "host": host_environment(tools),
                "server": server_environment(url),
                "pgchallenge": package_version(),
            },
            "database": {
                "name": name,
                "checkpoint": checkpoint,
                "seed_seconds": round(seed_seconds, 1),
                **database_facts(url),
            },
            "workloads": {},
            "comparisons": {"batch": {}, "single": {}},
        }
        results["sanity"] = sanity_probe(url, settings)
        log(f"sanity probe: {results['sanity']}")
        scripts = sorted(
            {w.script for w in all_workloads}
            | {name for load in LOAD_WORKLOADS for name, _ in load.files}
            | {"single_reference.sql"}
        )
        warm_up(tools, env, settings, scripts)
        log("warmed up")
        plans = explain.run_explain(url, settings.micro())
        (output / "explain.json").write_text(json.dumps(plans, indent=2, default=str) + "\n")
        results["explain"] = explain.strip_plans(plans)
        log("EXPLAIN section done")
        results["micro"] = micro.run_batches(url, settings.micro())
        results["micro"]["single"] = micro.run_singles(tools, env, settings.micro(), settings.variables())
        for key, count in results["micro"]["single"]["failed_transactions"].items():
            results["workloads"][f"micro_single_{key}"] = {
                "kind": "micro",
                "script": f"single_{key.split('_')[0]}.sql",
                "status": "ok" if count == 0 else "failed",
                "transactions": results["micro"]["single"]["transactions"][key],
                "failed_transactions": count,
            }
        results["workloads"]["micro_batches"] = {
            "kind": "micro",
            "script": "(client-timed, micro.py)",
            "status": "ok" if not results["micro"]["errors"] else "failed",
            "transactions": sum(
                sum(row["calls"].values())
                for kind in results["micro"]["batch"].values()
                for row in kind["by_size"].values()
            ),
            "failed_transactions": len(results["micro"]["errors"]),
            "errors": results["micro"]["errors"],
        }
        log("microbenchmarks done")
        for batch in BATCH_BENCHMARKS:
            results["comparisons"]["batch"][batch.name] = run_batch(
                tools, env, settings, batch, results["workloads"]
            )
        for single in SINGLE_BENCHMARKS:
            results["comparisons"]["single"][single.name] = run_single(
                tools, env, settings, single, results["workloads"]
            )
        results["load"] = run_load(tools, env, settings, results["workloads"])
        results["targets"] = evaluate_targets(results)
        results["environment"]["host"]["loadavg_end"] = list(os.getloadavg())
        results["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        results["duration_seconds"] = round(time.monotonic() - clock, 1)
        (output / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
        results["plots"] = report.make_plots(results, output)
        (output / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
        report.write_report(results, output / "report.md")
        log(f"wrote {output / 'results.json'} and report.md in {results['duration_seconds']} s")
        clean = all(w["status"] == "ok" for w in results["workloads"].values())
        sane = bool(results["sanity"]["ok"])
        return 0 if clean and sane else 1
    finally:
        if args.keep_database:
            log(f"kept database {name}")
        else:
            drop_database(server_url, name)


def main(argv: Sequence[str] | None = None, *, server_url_factory: Callable[[], str] | None = None) -> int:
    args, settings = parse_args(argv)
    return run(args, settings, server_url_factory)


if __name__ == "__main__":
    sys.exit(main())
