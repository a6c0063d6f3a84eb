"""Run the pgchallenge benchmarks: ours vs the bare-SQL floor vs the reference system's strategy.

    python -m bench.run                       # embedded server, full run (a few minutes)
    python -m bench.run --quick               # tiny seed, short runs: proves every script runs cleanly
    python -m bench.run --database-url URL    # any server; URL names its maintenance database

Steps: create a dedicated database on the server, migrate it (``pgchallenge.migrate.upgrade``), seed it
(``bench/seed.sql``: catalog through ``challenge.load_config``, progress rows bulk-inserted), ``VACUUM
(ANALYZE)``, ``CHECKPOINT``, a sanity probe and a warm-up pass, then the benchmarks, every workload a pgbench
script (``bench/*.sql``) run with ``-M prepared``:

* batch: each batch script in turn, interleaved in rounds (the order rotates every round, all scripts of a
  round share one ``--random-seed`` and therefore the same payloads); per-transaction latencies come from
  pgbench's log, the first transaction of each pgbench run (session warm-up) is dropped; medians.
* single: ours and the floor at each client count for the same duration, interleaved in rounds; TPS.

Writes ``bench/results/<UTC timestamp>/results.json`` and ``report.md`` (reference figure, ours, floor,
ratios, PASS/MISS per target), then drops the database. The server is never reconfigured: its settings are
recorded. Exit status 0 when every workload ran with zero failed transactions (whatever the timings), 1
otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.types.json import Jsonb

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
SEED_SCRIPT = BENCH_DIR / "seed.sql"

# libpq connection parameters -> the environment variables pgbench and psql read.
LIBPQ_ENV = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "dbname": "PGDATABASE",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "passfile": "PGPASSFILE",
    "options": "PGOPTIONS",
    "application_name": "PGAPPNAME",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "gssencmode": "PGGSSENCMODE",
    "channel_binding": "PGCHANNELBINDING",
}

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
# What is measured. A later issue adds workloads by appending to these tuples.


@dataclass(frozen=True)
class Workload:
    """One pgbench script. ``requires`` lists the functions it calls (regprocedure signatures)."""

    name: str
    script: str
    role: str  # ours | floor | reference | payload
    requires: tuple[str, ...] = ()

    @property
    def path(self) -> Path:
        return BENCH_DIR / self.script


@dataclass(frozen=True)
class BatchBenchmark:
    """Batch scripts compared on identical payloads; latency medians per call."""

    name: str
    title: str
    ours: Workload
    floor: Workload
    reference: Workload | None
    payload: Workload | None
    reference_published_ms: float | None  # the reference system's own figure, for the report
    reference_published_source: str
    target_ms: float | None  # ours' net median must not exceed this
    target_floor_ratio: float | None  # ours net / floor net must not exceed this

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
        title="1,000-item batch increment (random pairs, ~50% inactive)",
        ours=Workload("batch_ours", "batch_ours.sql", "ours", ("challenge.increment_progress_batch(jsonb)",)),
        floor=Workload("batch_floor", "batch_floor.sql", "floor"),
        reference=Workload("batch_reference", "batch_reference.sql", "reference"),
        payload=Workload("batch_payload", "batch_payload.sql", "payload"),
        reference_published_ms=295.4,
        reference_published_source="M3_PHASE5_PERFORMANCE_RESULTS.md, BatchIncrementProgress, 1,000 rows",
        target_ms=15.0,
        target_floor_ratio=1.3,
    ),
)

SINGLE_BENCHMARKS: tuple[SingleBenchmark, ...] = (
    SingleBenchmark(
        name="increment_single",
        title="single increment_progress(user, goal, 1)",
        ours=Workload(
            "single_ours",
            "single_ours.sql",
            "ours",
            ("challenge.increment_progress(text,text,integer,text,timestamptz)",),
        ),
        floor=Workload("single_floor", "single_floor.sql", "floor"),
        reference_published="1.49 ms/op single IncrementProgress, one Go client (about 670 ops/s)",
        target_tps_ratio=0.9,
    ),
)


# --------------------------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class Settings:
    quick: bool
    players: int
    goals: int
    batch_size: int
    target: int
    batch_rounds: int
    batch_transactions: int  # counted transactions per pgbench run (one more runs first, as warm-up)
    pgbench_seconds: int
    pgbench_rounds: int
    clients: tuple[tuple[int, int], ...]  # (clients, threads)
    seed: int

    def variables(self) -> dict[str, int]:
        return {"players": self.players, "goals": self.goals, "batch": self.batch_size, "target": self.target}


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, Settings]:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        help="server to benchmark on (URL or conninfo of a maintenance database, e.g. .../postgres); "
        "default: the embedded server",
    )
    parser.add_argument("--quick", action="store_true", help="tiny seed, short runs (< 1 minute)")
    parser.add_argument("--players", type=int, help="players seeded (default 100,000; quick 2,000)")
    parser.add_argument("--goals", type=int, default=10, help="increment goals per player (default 10)")
    parser.add_argument("--batch-size", type=int, default=1000, help="items per batch call (default 1,000)")
    parser.add_argument("--batch-rounds", type=int, help="interleaved batch rounds (default 10; quick 2)")
    parser.add_argument(
        "--batch-transactions", type=int, help="counted calls per script per round (default 4; quick 2)"
    )
    parser.add_argument("--seconds", type=int, help="duration of each single-call pgbench run (default 10)")
    parser.add_argument("--rounds", type=int, help="interleaved single-call rounds (default 4; quick 1)")
    parser.add_argument("--seed", type=int, default=20261127, help="base random seed")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="parent of the run's folder")
    parser.add_argument("--bin-dir", type=Path, help="folder holding pgbench and psql")
    parser.add_argument("--keep-database", action="store_true", help="do not drop the benchmark database")
    args = parser.parse_args(argv)
    quick = bool(args.quick)

    def pick(value: int | None, full: int, fast: int) -> int:
        return value if value is not None else (fast if quick else full)

    settings = Settings(
        quick=quick,
        players=pick(args.players, 100_000, 2_000),
        goals=args.goals,
        batch_size=args.batch_size,
        target=1_000_000_000,
        batch_rounds=pick(args.batch_rounds, 10, 2),
        batch_transactions=pick(args.batch_transactions, 4, 2),
        pgbench_seconds=pick(args.seconds, 10, 2),
        pgbench_rounds=pick(args.rounds, 4, 1),
        clients=((1, 1), (8, 2)),
        seed=args.seed,
    )
    for name in ("players", "goals", "batch_size", "batch_rounds", "batch_transactions", "pgbench_seconds"):
        if getattr(settings, name) < 1:
            parser.error(f"{name} must be at least 1")
    if settings.pgbench_rounds < 1:
        parser.error("rounds must be at least 1")
    return args, settings


# --------------------------------------------------------------------------------------------------------
# Tools


def log(message: str) -> None:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%H:%M:%S")
    print(f"[bench {stamp}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Tools:
    pgbench: str
    psql: str

    @classmethod
    def find(cls, bin_dir: Path | None) -> Tools:
        directories: list[Path] = []
        if bin_dir is not None:
            directories.append(bin_dir)
        else:
            try:
                from pgchallenge import embedded

                directories.append(embedded.bin_dir())
            except Exception:  # the embedded server is optional
                pass

        def locate(name: str) -> str:
            for directory in directories:
                candidate = directory / name
                if candidate.is_file() and os.access(candidate, os.X_OK):
                    return str(candidate)
            found = shutil.which(name)
            if found is None:
                raise SystemExit(f"bench: {name} not found (pass --bin-dir)")
            return found

        return cls(pgbench=locate("pgbench"), psql=locate("psql"))


def libpq_env(url: str) -> dict[str, str]:
    """The process environment with the PG* variables that reach ``url``'s database."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    for key, value in conninfo_to_dict(url).items():
        if value is None or value == "":
            continue
        variable = LIBPQ_ENV.get(key)
        if variable is None:
            raise SystemExit(f"bench: connection parameter {key!r} has no libpq environment variable")
        env[variable] = str(value)
    return env


@dataclass
class PgbenchRun:
    workload: str
    clients: int
    threads: int
    seed: int
    returncode: int
    processed: int
    expected: int | None
    failed: int
    aborted: bool
    tps: float | None
    latency_avg_ms: float | None
    latencies_ms: list[float] = field(default_factory=list)
    error: str = ""

    @property
    def failures(self) -> int:
        """Failed transactions, counting those a client abort never ran."""
        missing = max(0, self.expected - self.processed - self.failed) if self.expected is not None else 0
        return self.failed + missing + (1 if self.aborted and not self.failed and not missing else 0)


def run_pgbench(
    tools: Tools,
    env: Mapping[str, str],
    workload: Workload,
    variables: Mapping[str, int],
    *,
    clients: int,
    threads: int,
    seed: int,
    transactions: int | None = None,
    seconds: int | None = None,
    latency_log: bool = False,
) -> PgbenchRun:
    command = [
        tools.pgbench,
        "--no-vacuum",
        "--protocol=prepared",
        f"--client={clients}",
        f"--jobs={threads}",
        f"--random-seed={seed}",
        f"--file={workload.path}",
    ]
    for key, value in variables.items():
        command.append(f"--define={key}={value}")
    if transactions is not None:
        command.append(f"--transactions={transactions}")
        timeout = None
    else:
        assert seconds is not None
        command.append(f"--time={seconds}")
        timeout = seconds * 5 + 60
    with tempfile.TemporaryDirectory(prefix="pgchallenge-bench-") as log_dir:
        if latency_log:
            command += ["--log", "--log-prefix=tx"]
        completed = subprocess.run(
            command, env=dict(env), cwd=log_dir, capture_output=True, text=True, timeout=timeout, check=False
        )
        latencies: list[float] = []
        if latency_log:
            # Lines: client_id transaction_no time script_no time_epoch time_us [...]; time in microseconds
            # (or "failed"/"skipped"). The first transaction of each client warms its session: dropped.
            per_client: dict[str, list[tuple[int, str]]] = {}
            for path in sorted(Path(log_dir).glob("tx.*")):
                for line in path.read_text().splitlines():
                    fields = line.split()
                    if len(fields) >= 3 and fields[1].isdigit():
                        per_client.setdefault(fields[0], []).append((int(fields[1]), fields[2]))
            for entries in per_client.values():
                entries.sort()
                latencies += [int(time_us) / 1000.0 for _, time_us in entries[1:] if time_us.isdigit()]
    out = completed.stdout

    def number(pattern: str) -> float | None:
        match = re.search(pattern, out)
        return float(match.group(1)) if match else None

    processed = number(r"number of transactions actually processed: (\d+)")
    failed = number(r"number of failed transactions: (\d+)")
    stderr = completed.stderr.strip()
    aborted = completed.returncode != 0 or "aborted" in stderr
    return PgbenchRun(
        workload=workload.name,
        clients=clients,
        threads=threads,
        seed=seed,
        returncode=completed.returncode,
        processed=int(processed or 0),
        expected=clients * transactions if transactions is not None else None,
        failed=int(failed or 0),
        aborted=aborted,
        tps=number(r"tps = ([\d.]+) \(without initial connection time\)"),
        latency_avg_ms=number(r"latency average = ([\d.]+) ms"),
        latencies_ms=latencies,
        error="\n".join(stderr.splitlines()[-5:]) if aborted or failed else "",
    )


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


def seed(tools: Tools, env: Mapping[str, str], settings: Settings) -> None:
    command = [tools.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(SEED_SCRIPT)]
    for key in ("players", "goals", "target"):
        command += ["-v", f"{key}={settings.variables()[key]}"]
    completed = subprocess.run(command, env=dict(env), capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"bench: seeding failed:\n{completed.stderr.strip()}")


def missing_functions(url: str, workloads: Sequence[Workload]) -> dict[str, list[str]]:
    """Workload name -> the functions it calls that the database lacks."""
    missing: dict[str, list[str]] = {}
    with psycopg.connect(url, autocommit=True) as connection:
        for workload in workloads:
            for signature in workload.requires:
                row = connection.execute("SELECT to_regprocedure(%s) IS NOT NULL", [signature]).fetchone()
                if not row or not row[0]:
                    missing.setdefault(workload.name, []).append(signature)
    return missing


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


def python_payload(settings: Settings, seed: int) -> tuple[list[dict[str, Any]], int]:
    """``batch_size`` distinct random (user, goal) items, and how many of them are on active rows."""
    rng = random.Random(seed)
    wanted = min(settings.batch_size, settings.players * settings.goals)
    pairs: dict[tuple[int, int], None] = {}
    while len(pairs) < wanted:
        pairs[(rng.randint(1, settings.players), rng.randint(1, settings.goals))] = None
    items = [{"user_id": f"user-{u}", "goal_id": f"goal-{g}", "delta": 1} for u, g in pairs]
    return items, sum(1 for u, g in pairs if (u + g) % 2 == 0)


def sanity_probe(url: str, settings: Settings) -> dict[str, Any]:
    """One batch call of ours on a known payload: every active pair applied, every other one inactive."""
    items, active = python_payload(settings, settings.seed)
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
        and skipped.get("inactive") == len(items) - active
    )
    return {
        "items": len(items),
        "expected_applied": active,
        "expected_inactive": len(items) - active,
        "applied": result.get("applied") if isinstance(result, dict) else None,
        "skipped": skipped,
        "ok": bool(ok),
    }


def capture_plans(url: str, settings: Settings, directory: Path) -> dict[str, Any]:
    """Plans of one call each: ours' inner statements (auto_explain, nested) and the floor's UPDATE."""
    items, _ = python_payload(settings, settings.seed + 1)
    written: dict[str, Any] = {}
    with psycopg.connect(url, autocommit=True) as connection:
        notices: list[str] = []
        connection.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        try:
            for statement in (
                "LOAD 'auto_explain'",
                "SET auto_explain.log_min_duration = 0",
                "SET auto_explain.log_analyze = on",
                "SET auto_explain.log_buffers = on",
                "SET auto_explain.log_timing = on",
                "SET auto_explain.log_nested_statements = on",
                "SET auto_explain.log_level = notice",
            ):
                connection.execute(statement)
            connection.execute("SELECT challenge.increment_progress_batch(%s::jsonb)", [Jsonb(items)])
            text = "\n\n".join(notices)
        except psycopg.Error as exc:
            text = f"auto_explain unavailable: {exc}"
        path = directory / "explain_batch_ours.txt"
        path.write_text(text + "\n")
        written["batch_ours"] = path.name
        written["batch_ours_statements"] = statement_durations(notices)
    items, _ = python_payload(settings, settings.seed + 2)
    with psycopg.connect(url, autocommit=True) as connection:
        rows = connection.execute(
            """
            EXPLAIN (ANALYZE, BUFFERS)
            UPDATE challenge.progress AS p
            SET progress = p.progress + r.delta, status = 'in_progress', updated_at = now()
            FROM jsonb_to_recordset(%s::jsonb) AS r(user_id text, goal_id text, delta integer)
            WHERE p.user_id = r.user_id AND p.goal_id = r.goal_id AND p.is_active AND p.status <> 'claimed'
            """,
            [Jsonb(items)],
        ).fetchall()
        path = directory / "explain_batch_floor.txt"
        path.write_text("\n".join(str(row[0]) for row in rows) + "\n")
        written["batch_floor"] = path.name
    return written


def statement_durations(notices: Sequence[str]) -> list[dict[str, Any]]:
    """auto_explain notices -> [{duration_ms, query}] (query: its first non-blank lines, squeezed)."""
    statements: list[dict[str, Any]] = []
    for notice in notices:
        match = re.match(r"duration: ([\d.]+) ms", notice)
        if not match:
            continue
        query = notice.split("Query Text:", 1)[1] if "Query Text:" in notice else ""
        query = query.split("\n---", 1)[0].split("\nQuery Identifier", 1)[0]
        plan_start = re.search(r"\n\S.*\(cost=|\n\S.*\(actual", query)
        if plan_start:
            query = query[: plan_start.start()]
        statements.append({"duration_ms": float(match.group(1)), "query": " ".join(query.split())[:160]})
    return statements


# --------------------------------------------------------------------------------------------------------
# Running the benchmarks


def latency_summary(samples: Sequence[float]) -> dict[str, Any]:
    if not samples:
        return {"count": 0}
    ordered = sorted(samples)
    return {
        "count": len(ordered),
        "median": statistics.median(ordered),
        "mean": statistics.fmean(ordered),
        "min": ordered[0],
        "p90": ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))],
        "max": ordered[-1],
        "samples": [round(value, 3) for value in samples],
    }


def run_batch(
    tools: Tools,
    env: Mapping[str, str],
    settings: Settings,
    benchmark: BatchBenchmark,
    missing: Mapping[str, list[str]],
    workloads: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    present = [w for w in benchmark.workloads if w.name not in missing]
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
                workload,
                settings.variables(),
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
        if workload.name in missing:
            workloads[workload.name] = {
                "kind": "batch",
                "benchmark": benchmark.name,
                "role": workload.role,
                "script": f"bench/{workload.script}",
                "status": "missing",
                "missing_functions": missing[workload.name],
            }
            continue
        workload_runs = runs[workload.name]
        failures = sum(run.failures for run in workload_runs)
        workloads[workload.name] = {
            "kind": "batch",
            "benchmark": benchmark.name,
            "role": workload.role,
            "script": f"bench/{workload.script}",
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

    def ratio(numerator: float | None, denominator: float | None) -> float | None:
        if numerator is None or denominator is None or denominator <= 0:
            return None
        return numerator / denominator

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
        "reference_published_ms": benchmark.reference_published_ms,
        "reference_published_source": benchmark.reference_published_source,
        "target_ms": benchmark.target_ms,
        "target_floor_ratio": benchmark.target_floor_ratio,
    }


def run_single(
    tools: Tools,
    env: Mapping[str, str],
    settings: Settings,
    benchmark: SingleBenchmark,
    missing: Mapping[str, list[str]],
    workloads: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    present = [w for w in benchmark.workloads if w.name not in missing]
    runs: dict[tuple[str, int], list[PgbenchRun]] = {}
    for round_index in range(settings.pgbench_rounds):
        for config_index, (clients, threads) in enumerate(settings.clients):
            seed = settings.seed + 2000 + round_index * 10 + config_index
            shift = (round_index + config_index) % len(present)
            for workload in present[shift:] + present[:shift]:
                run = run_pgbench(
                    tools,
                    env,
                    workload,
                    settings.variables(),
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
            if workload.name in missing:
                workloads[key] = {
                    "kind": "single",
                    "benchmark": benchmark.name,
                    "role": workload.role,
                    "script": f"bench/{workload.script}",
                    "clients": clients,
                    "threads": threads,
                    "status": "missing",
                    "missing_functions": missing[workload.name],
                }
                tps[workload.role] = None
                continue
            workload_runs = runs.get((workload.name, clients), [])
            failures = sum(run.failures for run in workload_runs)
            values = [run.tps for run in workload_runs if run.tps is not None]
            workloads[key] = {
                "kind": "single",
                "benchmark": benchmark.name,
                "role": workload.role,
                "script": f"bench/{workload.script}",
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
                strict=False,  # empty when ours is missing
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


def warm_up(tools: Tools, env: Mapping[str, str], settings: Settings, available: Sequence[Workload]) -> None:
    """Bring the table into cache and every script's plans and functions through one short pass."""
    for workload in available:
        single = workload.name.startswith("single_")
        run_pgbench(
            tools,
            env,
            workload,
            settings.variables(),
            clients=1,
            threads=1,
            seed=settings.seed,
            transactions=200 if single else 2,
        )


# --------------------------------------------------------------------------------------------------------
# Verdicts and report


def verdict(value: float | None, limit: float | None, *, at_most: bool, quick: bool) -> str:
    if value is None or limit is None:
        return "n/a"
    if quick:
        return "n/a (quick)"
    passed = value <= limit if at_most else value >= limit
    return "PASS" if passed else "MISS"


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    quick = bool(results["settings"]["quick"])
    targets: list[dict[str, Any]] = []
    for name, comparison in results["comparisons"]["batch"].items():
        ours = comparison["net_ms"]["ours"]
        ratio = comparison["ratios"]["ours_over_floor_net"]
        if comparison["target_ms"] is not None:
            targets.append(
                {
                    "benchmark": name,
                    "target": f"ours median <= {comparison['target_ms']:g} ms (net of payload build)",
                    "value": ours,
                    "result": verdict(ours, comparison["target_ms"], at_most=True, quick=quick),
                }
            )
        if comparison["target_floor_ratio"] is not None:
            targets.append(
                {
                    "benchmark": name,
                    "target": f"ours / floor <= {comparison['target_floor_ratio']:g} (net of payload build)",
                    "value": ratio,
                    "result": verdict(ratio, comparison["target_floor_ratio"], at_most=True, quick=quick),
                }
            )
    for name, comparison in results["comparisons"]["single"].items():
        limit = comparison["target_tps_ratio"]
        if limit is None:
            continue
        for clients, row in comparison["by_clients"].items():
            targets.append(
                {
                    "benchmark": name,
                    "target": f"ours TPS >= {limit:.0%} of the floor's at {clients} client(s) "
                    "(median per-round ratio)",
                    "value": row["ours_over_floor"],
                    "result": verdict(row["ours_over_floor"], limit, at_most=False, quick=quick),
                }
            )
    clean = all(w["status"] == "ok" for w in results["workloads"].values())
    targets.append(
        {
            "benchmark": "all",
            "target": "every workload ran, zero failed transactions",
            "value": sum(int(w.get("failed_transactions", 0)) for w in results["workloads"].values()),
            "result": "PASS" if clean else "MISS",
        }
    )
    return targets


def fmt(value: float | None, pattern: str = "{:,.2f}") -> str:
    return "—" if value is None else pattern.format(value)


def write_report(results: dict[str, Any], path: Path) -> None:
    env = results["environment"]
    server = env["server"]
    host = env["host"]
    lines = [
        f"# pgchallenge benchmark — {results['started_at']}",
        "",
        f"Mode: **{'quick (timings meaningless)' if results['settings']['quick'] else 'full'}**. "
        f"Seed: {results['database']['progress_rows']:,} progress rows "
        f"({results['settings']['players']:,} players x {results['settings']['goals']} goals, "
        f"{results['database']['active_rows']:,} active), table {results['database']['table_size']}, "
        f"indexes {results['database']['index_size']}.",
        "",
        "## Batch",
        "",
        "Every batch script builds its payload in SQL from the same seeded random sequence (same items for "
        "every strategy in a round); *raw* is pgbench's per-call latency, *net* subtracts the median cost of "
        "building the payload alone (`batch_payload.sql`). Targets are judged on net figures. Medians.",
        "",
    ]
    for comparison in results["comparisons"]["batch"].values():
        raw, net, rps, ratios = (
            comparison["raw_ms"],
            comparison["net_ms"],
            comparison["rows_per_second_net"],
            comparison["ratios"],
        )
        published = comparison["reference_published_ms"]
        published_rate = comparison["items_per_call"] / published * 1000 if published else None
        lines += [
            f"### {comparison['title']}",
            "",
            f"{comparison['repetitions_per_workload']} calls per strategy, {comparison['items_per_call']:,} "
            f"items per call; payload build alone {fmt(comparison['payload_ms'])} ms.",
            "",
            "| | reference (published) | reference strategy (this run) | ours | floor |",
            "|---|---:|---:|---:|---:|",
            f"| median ms, raw | — | {fmt(raw['reference'])} | {fmt(raw['ours'])} | {fmt(raw['floor'])} |",
            f"| median ms, net | {fmt(comparison['reference_published_ms'])} | {fmt(net['reference'])} | "
            f"{fmt(net['ours'])} | {fmt(net['floor'])} |",
            f"| items/s, net | {fmt(published_rate, '{:,.0f}')} | "
            f"{fmt(rps['reference'], '{:,.0f}')} | {fmt(rps['ours'], '{:,.0f}')} | "
            f"{fmt(rps['floor'], '{:,.0f}')} |",
            "",
            f"- ours / floor: **{fmt(ratios['ours_over_floor_net'])}x** net "
            f"({fmt(ratios['ours_over_floor_raw'])}x raw)",
            f"- reference strategy / ours: **{fmt(ratios['reference_over_ours_net'], '{:,.1f}')}x** net "
            f"({fmt(ratios['reference_over_ours_raw'], '{:,.1f}')}x raw)",
            f"- published reference figure: {comparison['reference_published_source']} "
            "(PostgreSQL 15, Ryzen 7 5825U laptop, Go client)",
            "",
        ]
    lines += ["## Single calls (pgbench -M prepared, TPS, median of rounds)", ""]
    for comparison in results["comparisons"]["single"].values():
        lines += [
            f"### {comparison['title']}",
            "",
            f"{comparison['rounds']} round(s) of {comparison['seconds_per_run']} s per script and client "
            f"count; reference (published): {comparison['reference_published']}.",
            "",
            "ours / floor is the median of the per-round ratios (ours and the floor run back to back in each "
            "round); the ratio of the median TPS is shown too.",
            "",
            "| clients | ours TPS | floor TPS | ours / floor | ratio of medians | per round |",
            "|---:|---:|---:|---:|---:|---|",
        ]
        for row in comparison["by_clients"].values():
            per_round = ", ".join(f"{value:.0%}" for value in row["ours_over_floor_per_round"])
            lines.append(
                f"| {row['clients']} (-j {row['threads']}) | {fmt(row['tps_ours'], '{:,.0f}')} | "
                f"{fmt(row['tps_floor'], '{:,.0f}')} | **{fmt(row['ours_over_floor'], '{:.1%}')}** | "
                f"{fmt(row['ratio_of_median_tps'], '{:.1%}')} | {per_round} |"
            )
        lines.append("")
    lines += ["## Targets", "", "| benchmark | target | measured | result |", "|---|---|---:|---|"]
    for target in results["targets"]:
        value = target["value"]
        shown = fmt(value, "{:,.3f}") if isinstance(value, float) else str(value)
        lines.append(f"| {target['benchmark']} | {target['target']} | {shown} | **{target['result']}** |")
    lines += ["", "## Workloads", "", "| workload | script | status | transactions | failed | median |"]
    lines.append("|---|---|---|---:|---:|---:|")
    for name, workload in results["workloads"].items():
        if workload["kind"] == "batch":
            median = fmt(workload.get("latency_ms", {}).get("median"), "{:,.2f} ms")
        else:
            median = fmt(workload.get("tps", {}).get("median"), "{:,.0f} TPS")
        lines.append(
            f"| {name} | `{workload['script']}` | {workload['status']} | "
            f"{workload.get('transactions', 0):,} | {workload.get('failed_transactions', '—')} | {median} |"
        )
    sanity = results.get("sanity", {})
    if sanity:
        lines += [
            "",
            f"Sanity probe (one ours batch of {sanity.get('items')} known items before the run): applied "
            f"{sanity.get('applied')} (expected {sanity.get('expected_applied')}), skipped "
            f"{json.dumps(sanity.get('skipped'))} — **{'OK' if sanity.get('ok') else 'UNEXPECTED'}**.",
        ]
    statements = results.get("plans", {}).get("batch_ours_statements") or []
    if statements:
        lines += [
            "",
            "Where one call of ours spends its time (auto_explain with nested statements and timing on, so "
            "slower than uninstrumented; plans in `explain_batch_ours.txt`):",
            "",
            "| ms | statement |",
            "|---:|---|",
        ]
        for statement in statements:
            query = statement["query"].replace("|", "\\|")
            lines.append(f"| {statement['duration_ms']:,.2f} | `{query}` |")
    settings = ", ".join(f"{key}={value}" for key, value in server["settings"].items())
    lines += [
        "",
        "## Environment",
        "",
        f"- PostgreSQL: {server['version']}",
        f"- server settings (as found, not changed): {settings}",
        f"- host: {host['cpu_model']}, nproc {host['nproc']}, memory {host['memory_gib']} GiB, "
        f"{host['platform']}; load average at start {host['loadavg_start']}, "
        f"at end {host.get('loadavg_end')}",
        f"- client: {host['pgbench']}, Python {host['python']}; server reached at {server['host']}",
        "- a shared machine drifts by tens of percent between runs: compare the ratios, measured in one run "
        "with interleaved rounds, rather than absolute figures.",
        "",
    ]
    path.write_text("\n".join(lines))


# --------------------------------------------------------------------------------------------------------


def default_server_url() -> str:
    from pgchallenge import embedded

    return embedded.start()


def main(argv: Sequence[str] | None = None, *, server_url_factory: Callable[[], str] | None = None) -> int:
    args, settings = parse_args(argv)
    tools = Tools.find(args.bin_dir)
    server_url: str = args.database_url or (server_url_factory or default_server_url)()
    started = dt.datetime.now(dt.timezone.utc)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    output = Path(args.results_dir) / stamp
    output.mkdir(parents=True, exist_ok=False)
    name = f"pgchallenge_bench_{stamp.lower()}_{os.getpid()}"
    log(f"server {server_url}; database {name}; results {output}")
    clock = time.monotonic()
    url = create_database(server_url, name)
    try:
        from pgchallenge import migrate

        migrate.upgrade(url)
        log("migrated")
        env = libpq_env(url)
        seed(tools, env, settings)
        log(f"seeded {settings.players:,} players x {settings.goals} goals")
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
        missing = missing_functions(url, all_workloads)
        for workload_name, functions in missing.items():
            log(f"{workload_name}: skipped, missing {', '.join(functions)}")
        results: dict[str, Any] = {
            "schema_version": 1,
            "started_at": started.isoformat(timespec="seconds"),
            "settings": asdict(settings),
            "environment": {"host": host_environment(tools), "server": server_environment(url)},
            "database": {"name": name, "checkpoint": checkpoint, **database_facts(url)},
            "workloads": {},
            "comparisons": {"batch": {}, "single": {}},
        }
        if "batch_ours" not in missing:
            results["sanity"] = sanity_probe(url, settings)
            results["plans"] = capture_plans(url, settings, output)
            log(f"sanity probe: {results['sanity']}")
        warm_up(tools, env, settings, [w for w in all_workloads if w.name not in missing])
        log("warmed up")
        for batch in BATCH_BENCHMARKS:
            results["comparisons"]["batch"][batch.name] = run_batch(
                tools, env, settings, batch, missing, results["workloads"]
            )
        for single in SINGLE_BENCHMARKS:
            results["comparisons"]["single"][single.name] = run_single(
                tools, env, settings, single, missing, results["workloads"]
            )
        results["targets"] = evaluate_targets(results)
        results["environment"]["host"]["loadavg_end"] = list(os.getloadavg())
        results["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        results["duration_seconds"] = round(time.monotonic() - clock, 1)
        (output / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        write_report(results, output / "report.md")
        log(f"wrote {output / 'results.json'} and report.md in {results['duration_seconds']} s")
        clean = all(w["status"] == "ok" for w in results["workloads"].values())
        sane = bool(results.get("sanity", {}).get("ok", False))
        return 0 if clean and sane else 1
    finally:
        if args.keep_database:
            log(f"kept database {name}")
        else:
            drop_database(server_url, name)


if __name__ == "__main__":
    sys.exit(main())
