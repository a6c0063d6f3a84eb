"""Microbenchmarks: batch writes at several sizes and single increments, ours beside the reference's
strategies and the floor, on the same payloads, interleaved.

Batch writes are client-timed from Python (psycopg, one autocommit connection, the payload prepared before
the clock starts): each repetition draws one payload and runs every strategy on it, in an order that
rotates every repetition; the figure is the median wall time of a call, commit included.

* increment: ours ``challenge.increment_progress_batch(jsonb)``; the reference's correlated-subquery
  ``INSERT ... SELECT FROM UNNEST(arrays) ON CONFLICT DO UPDATE`` (reference-system.md 2.8, 6.3); the floor,
  a bare guarded ``UPDATE ... FROM jsonb_to_recordset`` (same jsonb as ours, no rule).
* absolute set: ours ``challenge.set_progress_batch(jsonb)``; the reference's COPY -> temp table ->
  ``UPDATE ... FROM`` merge (2.5: one transaction, ``CREATE TEMP TABLE IF NOT EXISTS ... ON COMMIT DROP``,
  ``COPY FROM STDIN`` through psycopg ``cursor.copy()``, status and completed_at computed by the caller);
  the floor, a bare guarded ``UPDATE ... FROM jsonb_to_recordset``.

Single increments are pgbench-timed (one client, ``-M prepared``, per-transaction log), active and inactive
rows, ours beside the reference's single UPDATE and the floor, interleaved rounds.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from .common import ABS_GOALS, BENCH_DIR, GOALS, TARGET, Tools, latency_summary, log, ratio, run_pgbench

INCREMENT_OURS = "SELECT challenge.increment_progress_batch(%s::jsonb)"

INCREMENT_FLOOR = """
UPDATE challenge.progress AS p
SET progress = p.progress + r.delta,
    status = CASE WHEN p.status = 'completed' THEN p.status ELSE 'in_progress' END,
    updated_at = now()
FROM jsonb_to_recordset(%s::jsonb) AS r(user_id text, goal_id text, delta integer)
WHERE p.user_id = r.user_id AND p.goal_id = r.goal_id AND p.is_active AND p.status <> 'claimed'
"""

# The reference's batch increment ("TX variant", up to v0.5.0 the pool variant too): parallel arrays,
# INSERT ... ON CONFLICT DO UPDATE whose update branch re-reads delta, target and is_daily through scalar
# subqueries that re-UNNEST the input filtered on goal_id only, LIMIT 1 (nine subplans per conflicting row:
# rows x batch size). The goal-only filter is the reference's correctness bug too; kept, the cost is measured.
# One text of it: the statement of batch_reference.sql after its payload block, here fed by parameters.
REFERENCE_SCRIPT = BENCH_DIR / "batch_reference.sql"


def reference_upsert(script: Path = REFERENCE_SCRIPT) -> str:
    """The INSERT ... ON CONFLICT DO UPDATE of a ``batch_*.sql`` script: what follows ``-- payload: end``."""
    text = script.read_text()
    marker = "-- payload: end\n"
    return text[text.index(marker) + len(marker) :].strip().removesuffix(";")


INCREMENT_REFERENCE = (
    """
WITH input AS (
    SELECT %(user_ids)s::text[] AS user_ids, %(goal_ids)s::text[] AS goal_ids, %(deltas)s::int[] AS deltas,
           %(targets)s::int[] AS targets, %(is_daily)s::boolean[] AS is_daily
)
"""
    + reference_upsert()
    + "\n"
)

SET_OURS = "SELECT challenge.set_progress_batch(%s::jsonb)"

SET_FLOOR = """
UPDATE challenge.progress AS p
SET progress = r.value,
    status = CASE WHEN p.status = 'completed' THEN p.status ELSE 'in_progress' END,
    updated_at = now()
FROM jsonb_to_recordset(%s::jsonb) AS r(user_id text, goal_id text, value integer)
WHERE p.user_id = r.user_id AND p.goal_id = r.goal_id AND p.is_active AND p.status <> 'claimed'
"""

# The reference's BatchUpsertProgressWithCOPY (M4 semantics, reference-system.md 1.4 and 2.5).
SET_REFERENCE_TEMP = """
CREATE TEMP TABLE IF NOT EXISTS temp_user_goal_progress (
    user_id text NOT NULL,
    goal_id text NOT NULL,
    challenge_id text NOT NULL,
    namespace text NOT NULL,
    progress integer NOT NULL,
    status text NOT NULL,
    completed_at timestamptz,
    updated_at timestamptz NOT NULL
) ON COMMIT DROP
"""
SET_REFERENCE_COPY = (
    "COPY temp_user_goal_progress (user_id, goal_id, challenge_id, namespace, progress, status, "
    "completed_at, updated_at) FROM STDIN"
)
SET_REFERENCE_MERGE = """
UPDATE challenge.progress AS p
SET progress = t.progress, status = t.status, completed_at = t.completed_at, updated_at = now()
FROM temp_user_goal_progress AS t
WHERE p.user_id = t.user_id AND p.goal_id = t.goal_id AND p.is_active AND p.status <> 'claimed'
"""

KINDS = ("increment", "set")
STRATEGIES = ("ours", "reference", "floor")
REFERENCE_LABEL = {
    "increment": "correlated-subquery UNNEST upsert",
    "set": "COPY -> temp table -> UPDATE FROM",
}
# The reference's own figures (M3_PHASE5_PERFORMANCE_RESULTS.md), measured on the setup it names.
PUBLISHED_SETUP = "PostgreSQL 15, Ryzen 7 5825U, Go client"
PUBLISHED_MS = {
    "increment": {100: 8.82, 500: 83.16, 1000: 295.4},
    "set": {100: 6.66, 500: 23.61, 1000: 39.27},
}
PUBLISHED_SINGLE_MS = {"active": 1.49, "inactive": 1.55}


@dataclass(frozen=True)
class MicroSettings:
    players: int
    goals: int
    abs_goals: int
    target: int
    sizes: tuple[int, ...]
    repetitions: Mapping[int, int]  # per size, every strategy
    reference_increment_cap: Mapping[int, int]  # per size: at most this many reference increment calls
    single_transactions: int
    single_rounds: int
    seed: int

    @classmethod
    def for_payloads(cls, players: int, seed: int) -> MicroSettings:
        """Settings that only draw payloads (``increment_payload``, ``set_payload``) over the side benchmarks'
        seed (bench.common: GOALS increment + ABS_GOALS absolute goals of TARGET): no sizes, no runs."""
        return cls(players, GOALS, ABS_GOALS, TARGET, (), {}, {}, 0, 0, seed)


def increment_payload(rng: random.Random, settings: MicroSettings, size: int) -> list[dict[str, Any]]:
    pairs: dict[tuple[int, int], int] = {}
    wanted = min(size, settings.players * settings.goals)
    while len(pairs) < wanted:
        pairs.setdefault(
            (rng.randint(1, settings.players), rng.randint(1, settings.goals)), rng.randint(1, 5)
        )
    return [{"user_id": f"user-{u}", "goal_id": f"goal-{g}", "delta": d} for (u, g), d in pairs.items()]


def set_payload(rng: random.Random, settings: MicroSettings, size: int) -> list[dict[str, Any]]:
    pairs: dict[tuple[int, int], int] = {}
    wanted = min(size, settings.players * settings.abs_goals)
    while len(pairs) < wanted:
        key = (rng.randint(1, settings.players), rng.randint(1, settings.abs_goals))
        pairs.setdefault(key, rng.randint(0, 1_000_000))
    return [{"user_id": f"user-{u}", "goal_id": f"level-{a}", "value": v} for (u, a), v in pairs.items()]


Call = Callable[[psycopg.Connection[Any]], None]


def increment_calls(items: Sequence[dict[str, Any]], target: int) -> dict[str, Call]:
    document = json.dumps(items)
    arrays = {
        "user_ids": [item["user_id"] for item in items],
        "goal_ids": [item["goal_id"] for item in items],
        "deltas": [item["delta"] for item in items],
        "targets": [target] * len(items),
        "is_daily": [False] * len(items),
    }
    return {
        "ours": lambda connection: _execute(connection, INCREMENT_OURS, [document]),
        "reference": lambda connection: _execute(connection, INCREMENT_REFERENCE, arrays),
        "floor": lambda connection: _execute(connection, INCREMENT_FLOOR, [document]),
    }


def set_calls(items: Sequence[dict[str, Any]], target: int) -> dict[str, Call]:
    document = json.dumps(items)

    def reference(connection: psycopg.Connection[Any]) -> None:
        # What the reference's caller does: status and completed_at computed client-side from the target.
        with connection.transaction(), connection.cursor() as cursor:
            cursor.execute(SET_REFERENCE_TEMP)
            now = time.time()
            with cursor.copy(SET_REFERENCE_COPY) as copy:
                for item in items:
                    completed = item["value"] >= target
                    copy.write_row(
                        (
                            item["user_id"],
                            item["goal_id"],
                            "bench",
                            "default",
                            item["value"],
                            "completed" if completed else "in_progress",
                            _timestamp(now) if completed else None,
                            _timestamp(now),
                        )
                    )
            cursor.execute(SET_REFERENCE_MERGE)

    return {
        "ours": lambda connection: _execute(connection, SET_OURS, [document]),
        "reference": reference,
        "floor": lambda connection: _execute(connection, SET_FLOOR, [document]),
    }


def _timestamp(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(epoch))


def _execute(connection: psycopg.Connection[Any], query: str, params: Any) -> None:
    cursor = connection.execute(query, params)
    if cursor.description is not None:
        cursor.fetchall()


def run_batches(url: str, settings: MicroSettings) -> dict[str, Any]:
    """Every kind x size x strategy: call times (ms), interleaved; medians, rows/s and ratios."""
    rng = random.Random(settings.seed)
    samples: dict[str, dict[int, dict[str, list[float]]]] = {
        kind: {size: {strategy: [] for strategy in STRATEGIES} for size in settings.sizes} for kind in KINDS
    }
    errors: list[str] = []
    with psycopg.connect(url, autocommit=True) as connection:
        # Warm-up: one small call of each strategy (plans, function cache), not counted.
        for calls in (
            increment_calls(increment_payload(rng, settings, 50), settings.target),
            set_calls(set_payload(rng, settings, 50), settings.target),
        ):
            for call in calls.values():
                call(connection)
        for size in settings.sizes:
            repetitions = settings.repetitions[size]
            for repetition in range(repetitions):
                for kind_index, kind in enumerate(KINDS):
                    if kind == "increment":
                        calls = increment_calls(increment_payload(rng, settings, size), settings.target)
                    else:
                        calls = set_calls(set_payload(rng, settings, size), settings.target)
                    shift = (repetition + kind_index) % len(STRATEGIES)
                    for strategy in STRATEGIES[shift:] + STRATEGIES[:shift]:
                        if (
                            kind == "increment"
                            and strategy == "reference"
                            and repetition >= settings.reference_increment_cap.get(size, repetitions)
                        ):
                            continue
                        started = time.perf_counter()
                        try:
                            calls[strategy](connection)
                        except psycopg.Error as exc:
                            errors.append(f"{kind} {strategy} {size}: {exc}")
                            continue
                        samples[kind][size][strategy].append((time.perf_counter() - started) * 1000.0)
            log(
                f"micro size {size:,}: "
                + "; ".join(
                    f"{kind} "
                    + ", ".join(
                        f"{strategy} {statistics.median(values):.1f} ms"
                        for strategy, values in samples[kind][size].items()
                        if values
                    )
                    for kind in KINDS
                )
            )
    return {"batch": summarize(samples, settings), "errors": errors}


def summarize(
    samples: dict[str, dict[int, dict[str, list[float]]]], settings: MicroSettings
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for kind, by_size in samples.items():
        rows: dict[str, Any] = {}
        for size, by_strategy in by_size.items():
            medians = {
                strategy: statistics.median(values) if values else None
                for strategy, values in by_strategy.items()
            }
            rows[str(size)] = {
                "size": size,
                "calls": {strategy: len(values) for strategy, values in by_strategy.items()},
                "median_ms": medians,
                "samples_ms": {s: [round(v, 3) for v in values] for s, values in by_strategy.items()},
                "rows_per_second": {
                    s: (size / (value / 1000.0) if value else None) for s, value in medians.items()
                },
                "us_per_row": {s: (value * 1000.0 / size if value else None) for s, value in medians.items()},
                "published_ms": PUBLISHED_MS[kind].get(size),
                "reference_over_ours": ratio(medians["reference"], medians["ours"]),
                "ours_over_floor": ratio(medians["ours"], medians["floor"]),
            }
        result[kind] = {"reference_strategy": REFERENCE_LABEL[kind], "by_size": rows}
    return result


SINGLE_SCRIPTS = {
    "ours": "single_ours.sql",
    "reference": "single_reference.sql",
    "floor": "single_floor.sql",
}


def run_singles(
    tools: Tools, env: Mapping[str, str], settings: MicroSettings, variables: Mapping[str, int]
) -> dict[str, Any]:
    """Single increments on active and inactive rows: per-call latency (pgbench log), interleaved rounds."""
    latencies: dict[str, dict[str, list[float]]] = {
        mode: {strategy: [] for strategy in SINGLE_SCRIPTS} for mode in ("active", "inactive")
    }
    failures: dict[str, int] = {}
    transactions: dict[str, int] = {}
    strategies = list(SINGLE_SCRIPTS)
    for round_index in range(settings.single_rounds):
        for mode_index, mode in enumerate(("active", "inactive")):
            shift = (round_index + mode_index) % len(strategies)
            for strategy in strategies[shift:] + strategies[:shift]:
                run = run_pgbench(
                    tools,
                    env,
                    [(SINGLE_SCRIPTS[strategy], None)],
                    {**variables, "mode": 1 if mode == "active" else 0},
                    label=f"single_{strategy}_{mode}",
                    clients=1,
                    threads=1,
                    seed=settings.seed + 300 + round_index,
                    transactions=settings.single_transactions + 1,
                    latency_log=True,
                )
                latencies[mode][strategy] += run.latencies_ms
                key = f"{strategy}_{mode}"
                failures[key] = failures.get(key, 0) + run.failures
                transactions[key] = transactions.get(key, 0) + run.processed
    result: dict[str, Any] = {}
    for mode, by_strategy in latencies.items():
        summaries = {s: latency_summary(values, keep_samples=False) for s, values in by_strategy.items()}
        medians = {s: summary.get("median") for s, summary in summaries.items()}
        result[mode] = {
            "latency_ms": summaries,
            "median_ms": medians,
            "calls_per_second": {s: (1000.0 / m if m else None) for s, m in medians.items()},
            "published_ms": PUBLISHED_SINGLE_MS[mode],
            "ours_over_floor": ratio(medians["ours"], medians["floor"]),
            "ours_over_reference": ratio(medians["ours"], medians["reference"]),
        }
    result["failed_transactions"] = failures
    result["transactions"] = transactions
    return result
