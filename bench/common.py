"""What every part of the benchmark shares: where the scripts are, the tools, pgbench runs, summaries.

The scripts are read from this package's folder: ``bench/`` in a checkout, ``pgchallenge/bench/`` in an
installed wheel (setuptools maps the folder to the package ``pgchallenge.bench``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

BENCH_DIR = Path(__file__).resolve().parent

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


def log(message: str) -> None:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%H:%M:%S")
    print(f"[bench {stamp}] {message}", file=sys.stderr, flush=True)


def script_path(name: str) -> Path:
    return BENCH_DIR / name


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


def switch_ledger_off(url: str) -> None:
    """The deployment's ledger switch off (``challenge.set_ledger``): the reference keeps no audit trail."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SELECT challenge.set_ledger(false)")


# The seed of the side benchmarks (engine, ingest, capacity, definer): seed.sql's goals per player and the
# target of every goal (far above anything a benchmark adds).
GOALS = 10
ABS_GOALS = 2
TARGET = 1_000_000_000


def seed(psql: str, env: Mapping[str, str], *, players: int, goals: int, abs_goals: int, target: int) -> None:
    """``seed.sql`` through psql on the database ``env`` reaches (see ``libpq_env``)."""
    command = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(script_path("seed.sql"))]
    for key, value in (("players", players), ("goals", goals), ("abs_goals", abs_goals), ("target", target)):
        command += ["-v", f"{key}={value}"]
    completed = subprocess.run(command, env=dict(env), capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"bench: seeding failed:\n{completed.stderr.strip()}")


@contextmanager
def seeded_database(server_url: str | None, name: str, players: int) -> Iterator[str]:
    """A database of its own on the server: created, migrated, seeded (``seed.sql``: ``players`` x
    ``GOALS`` increment + ``ABS_GOALS`` absolute goals), analysed, the ledger off; dropped afterwards."""
    from pgchallenge import migrate
    from pgchallenge.connection import resolve_database_url

    server = resolve_database_url(server_url)
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(server, dbname=name)
    try:
        migrate.upgrade(url)
        switch_ledger_off(url)
        seed(
            Tools.find(None).psql,
            libpq_env(url),
            players=players,
            goals=GOALS,
            abs_goals=ABS_GOALS,
            target=TARGET,
        )
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE")
        yield url
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
    label: str
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
    lags_ms: list[float] = field(default_factory=list)
    per_script: dict[int, int] = field(default_factory=dict)
    skipped: int = 0
    error: str = ""
    command: str = ""

    @property
    def failures(self) -> int:
        """Failed transactions, counting those a client abort never ran."""
        missing = max(0, self.expected - self.processed - self.failed) if self.expected is not None else 0
        return self.failed + missing + (1 if self.aborted and not self.failed and not missing else 0)


def run_pgbench(
    tools: Tools,
    env: Mapping[str, str],
    files: Sequence[tuple[str, int | None]],
    variables: Mapping[str, int],
    *,
    label: str,
    clients: int,
    threads: int,
    seed: int,
    transactions: int | None = None,
    seconds: int | None = None,
    rate: float | None = None,
    latency_log: bool = False,
    drop_first: bool = True,
) -> PgbenchRun:
    """One pgbench run (``-M prepared``) of ``files`` (script name, weight or None).

    With ``latency_log`` the per-transaction log is parsed: latencies in ms (under ``rate``, pgbench
    measures them from each transaction's scheduled start, so the schedule lag is included), the lags,
    the count per script. ``drop_first`` drops each client's first transaction (session warm-up).
    """
    command = [
        tools.pgbench,
        "--no-vacuum",
        "--protocol=prepared",
        f"--client={clients}",
        f"--jobs={threads}",
        f"--random-seed={seed}",
    ]
    for name, weight in files:
        command.append(f"--file={script_path(name)}" + (f"@{weight}" if weight is not None else ""))
    for key, value in variables.items():
        command.append(f"--define={key}={value}")
    if transactions is not None:
        command.append(f"--transactions={transactions}")
        timeout = None
    else:
        assert seconds is not None
        command.append(f"--time={seconds}")
        timeout = seconds * 5 + 120
    if rate is not None:
        command.append(f"--rate={rate:.0f}")
    with tempfile.TemporaryDirectory(prefix="pgchallenge-bench-") as log_dir:
        if latency_log:
            command += ["--log", "--log-prefix=tx"]
        completed = subprocess.run(
            command, env=dict(env), cwd=log_dir, capture_output=True, text=True, timeout=timeout, check=False
        )
        latencies: list[float] = []
        lags: list[float] = []
        per_script: dict[int, int] = {}
        skipped = 0
        if latency_log:
            # Lines: client_id transaction_no time script_no time_epoch time_us [schedule_lag ...]; time
            # in microseconds, or "failed" / "skipped".
            per_client: dict[str, list[list[str]]] = {}
            for path in sorted(Path(log_dir).glob("tx.*")):
                for line in path.read_text().splitlines():
                    fields = line.split()
                    if len(fields) >= 6 and fields[1].isdigit():
                        per_client.setdefault(fields[0], []).append(fields)
            for entries in per_client.values():
                entries.sort(key=lambda fields: int(fields[1]))
                for fields in entries[1:] if drop_first else entries:
                    if fields[2] == "skipped":
                        skipped += 1
                    if not fields[2].isdigit():
                        continue
                    latencies.append(int(fields[2]) / 1000.0)
                    script = int(fields[3])
                    per_script[script] = per_script.get(script, 0) + 1
                    if rate is not None and len(fields) >= 7 and fields[6].isdigit():
                        lags.append(int(fields[6]) / 1000.0)
    out = completed.stdout

    def number(pattern: str) -> float | None:
        match = re.search(pattern, out)
        return float(match.group(1)) if match else None

    processed = number(r"number of transactions actually processed: (\d+)")
    failed = number(r"number of failed transactions: (\d+)")
    stderr = completed.stderr.strip()
    aborted = completed.returncode != 0 or "aborted" in stderr
    return PgbenchRun(
        label=label,
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
        lags_ms=lags,
        per_script=per_script,
        skipped=skipped,
        error="\n".join(stderr.splitlines()[-5:]) if aborted or failed else "",
        command=" ".join(["pgbench", *(part.replace(str(BENCH_DIR) + "/", "") for part in command[1:])]),
    )


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted sequence."""
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def latency_summary(samples: Sequence[float], *, keep_samples: bool = True) -> dict[str, Any]:
    if not samples:
        return {"count": 0}
    ordered = sorted(samples)
    summary: dict[str, Any] = {
        "count": len(ordered),
        "median": statistics.median(ordered),
        "mean": statistics.fmean(ordered),
        "min": ordered[0],
        "p50": percentile(ordered, 0.50),
        "p90": percentile(ordered, 0.90),
        "p95": percentile(ordered, 0.95),
        "p99": percentile(ordered, 0.99),
        "max": ordered[-1],
    }
    if keep_samples:
        summary["samples"] = [round(value, 3) for value in samples]
    return summary


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator
