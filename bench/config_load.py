"""What ``load_config`` costs on large catalogs and deep prerequisite graphs (issue 9, item 4).

    python -m bench.config_load                      # every case, 3 rounds each
    python -m bench.config_load --quick              # 1 round, small cases only: a smoke run
    python -m bench.config_load --database-url URL   # a server to create the benchmark databases on
    python -m bench.config_load \\
        --baseline migrations/sql/0001_initial/functions/_config_goal.sql \\
        --baseline migrations/sql/0001_initial/functions/load_config.sql

Run by hand (not a test, no assertions). On a database of its own (created, migrated to head, dropped), each
case's document is loaded with ``challenge.load_config`` in a transaction that is rolled back, so every round
is a first load into an empty catalog; client-timed (the call, parsing the document included), median of
``--rounds``. A case still running after ``--timeout`` seconds is cancelled and reported as ``> N s``.

With ``--baseline FILE`` (repeatable), a second database migrated the same way gets those SQL files applied on
top (``CREATE OR REPLACE`` of an earlier version of the functions, e.g. the pre-0007 snapshots above), and
each round times the baseline and the current functions on the same document, alternating; the table shows
both and their ratio.

Cases (goals; prerequisite edges):

* ``layered-N``: N goals in layers of 2, every goal requiring both goals of the layer below (a quest line of
  N / 2 steps, two goals each: the number of paths doubles with each step; the shape of issue 9's figures);
* ``flat-5000``: 5,000 goals in 10 challenges, no prerequisites (the cost of loading alone);
* ``chain-5000``: the same goals, each requiring the previous one (one 5,000-deep chain);
* ``mixed-5000``: a 200-deep chain plus 4,800 goals each requiring 3 earlier goals drawn at random (fixed
  seed), across challenges;
* ``mixed-5000-cycle``: the same with the chain's first goal requiring its last, which load_config must
  reject (CH001) without loading anything.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from pgchallenge import embedded, migrate
from psycopg.conninfo import make_conninfo

Document = dict[str, Any]


def goal(goal_id: str, prerequisites: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "goalId": goal_id,
        "name": f"Goal {goal_id}",
        "description": f"Bench goal {goal_id}",
        "type": "increment",
        "eventSource": "statistic",
        "defaultAssigned": False,
        "requirement": {"statCode": "kills", "operator": ">=", "targetValue": 10, "progressMode": "absolute"},
        "reward": {"type": "ITEM", "rewardId": "chest", "quantity": 1},
        "prerequisites": list(prerequisites),
    }


def document(goals: Sequence[dict[str, Any]], challenges: int = 1) -> Document:
    """The goals, in order, spread over ``challenges`` challenges of (about) equal size."""
    size = -(-len(goals) // challenges)
    return {
        "challenges": [
            {
                "challengeId": f"bench-{c}",
                "name": f"Bench {c}",
                "description": "config loading benchmark",
                "goals": list(goals[c * size : (c + 1) * size]),
            }
            for c in range(challenges)
        ]
    }


def layered(count: int, width: int = 2) -> Document:
    ids = [f"step-{i}" for i in range(count)]
    goals = [
        goal(ids[i], ids[(i // width - 1) * width : (i // width) * width] if i >= width else ())
        for i in range(count)
    ]
    return document(goals)


def flat(count: int = 5000) -> Document:
    return document([goal(f"g-{i}") for i in range(count)], challenges=10)


def chain(count: int = 5000) -> Document:
    return document([goal(f"g-{i}", [f"g-{i - 1}"] if i else ()) for i in range(count)], challenges=10)


def mixed(count: int = 5000, depth: int = 200, fan_in: int = 3, cycle: bool = False) -> Document:
    rng = random.Random(9)
    goals = [goal(f"chain-{i}", [f"chain-{i - 1}"] if i else ()) for i in range(depth)]
    if cycle:
        goals[0]["prerequisites"] = [f"chain-{depth - 1}"]
    ids = [g["goalId"] for g in goals]
    for i in range(count - depth):
        earlier = rng.sample(ids, min(fan_in, len(ids))) if i else []
        goals.append(goal(f"wide-{i}", earlier))
        ids.append(f"wide-{i}")
    # Wide goals interleaved with the chain across challenges, as a real catalog would be.
    rng.shuffle(goals)
    return document(goals, challenges=10)


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], Document]
    quick: bool = False


CASES = [
    Case("layered-24", lambda: layered(24), quick=True),
    Case("layered-32", lambda: layered(32), quick=True),
    Case("layered-36", lambda: layered(36)),
    Case("layered-40", lambda: layered(40)),
    Case("flat-5000", flat),
    Case("chain-5000", chain),
    Case("mixed-5000", mixed),
    Case("mixed-5000-cycle", lambda: mixed(cycle=True)),
]


@dataclass
class Timing:
    samples: list[float] = field(default_factory=list)
    timed_out: bool = False
    outcome: str = ""

    def show(self, timeout: float) -> str:
        if self.timed_out:
            return f"> {timeout:.0f} s"
        return f"{statistics.median(self.samples):.3f} s"


def load_once(conn: psycopg.Connection[Any], text: str, timeout: float, timing: Timing) -> None:
    if timing.timed_out:
        return
    conn.execute("SELECT set_config('statement_timeout', %s, true)", [f"{int(timeout * 1000)}"])
    start = time.perf_counter()
    try:
        result = conn.execute("SELECT challenge.load_config(%s::jsonb)", [text]).fetchone()
        timing.outcome = f"{result[0]['goals'] if result else '?'} goals loaded"
    except psycopg.errors.QueryCanceled:
        timing.timed_out = True
    except psycopg.Error as exc:
        timing.outcome = f"{exc.sqlstate}: {(exc.diag.message_primary or '')[:70]}"
    elapsed = time.perf_counter() - start
    conn.rollback()
    if not timing.timed_out:
        timing.samples.append(elapsed)


def create_database(server: str, prefix: str, patches: Sequence[Path]) -> tuple[str, str]:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = make_conninfo(server, dbname=name)
    migrate.upgrade(url)
    with psycopg.connect(url, autocommit=True) as conn:
        for path in patches:
            conn.execute(path.read_text(encoding="utf-8"))
    return name, url


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="maintenance database of the server (default: embedded)")
    parser.add_argument("--quick", action="store_true", help="1 round of the small cases")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per case (default 3)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a load is cancelled")
    parser.add_argument("--case", action="append", default=[], help="run only this case (repeatable)")
    parser.add_argument(
        "--baseline", action="append", type=Path, default=[], help="SQL file of the baseline (repeatable)"
    )
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    cases = [c for c in CASES if (c.quick or not args.quick) and (not args.case or c.name in args.case)]

    server = args.database_url or embedded.start()
    databases: list[str] = []
    try:
        name, current_url = create_database(server, "pgchallenge_config_load", [])
        databases.append(name)
        urls = {"current": current_url}
        if args.baseline:
            name, urls["baseline"] = create_database(server, "pgchallenge_config_base", args.baseline)
            databases.append(name)
            urls = {"baseline": urls["baseline"], "current": current_url}
        connections = {label: psycopg.connect(url) for label, url in urls.items()}
        try:
            print(f"{'case':<18} {'goals':>6} {'edges':>6}  " + "  ".join(f"{label:>12}" for label in urls))
            for case in cases:
                doc = case.build()
                text = json.dumps(doc)
                goals = [g for c in doc["challenges"] for g in c["goals"]]
                edges = sum(len(g["prerequisites"]) for g in goals)
                timings = {label: Timing() for label in urls}
                for r in range(rounds):
                    order = list(urls) if r % 2 == 0 else list(reversed(urls))
                    for label in order:
                        load_once(connections[label], text, args.timeout, timings[label])
                cells = "  ".join(f"{timings[label].show(args.timeout):>12}" for label in urls)
                line = f"{case.name:<18} {len(goals):>6} {edges:>6}  {cells}"
                if "baseline" in timings and not timings["current"].timed_out:
                    base, now = timings["baseline"], timings["current"]
                    current = statistics.median(now.samples)
                    if base.timed_out:
                        line += f"  (> {args.timeout / current:.0f}x faster)"
                    else:
                        line += f"  ({statistics.median(base.samples) / current:.1f}x faster)"
                print(f"{line}  [{timings['current'].outcome}]", flush=True)
        finally:
            for conn in connections.values():
                conn.close()
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            for name in databases:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    print(f"{rounds} round(s) per case, client-timed first loads rolled back; timeout {args.timeout:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
