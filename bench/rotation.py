"""What rotation periods cost a batch: a 1,000-item rotation-aware increment batch vs the same batch on goals
without periods, in the same run (issue 4: at most 1.3x).

    python -m bench.rotation                      # 100,000 players x (10 plain + 10 weekly goals)
    python -m bench.rotation --quick              # 2,000 players: a smoke run
    python -m bench.rotation --database-url URL   # a server to create the benchmark database on

Run by hand (not a test, no assertions). On a database of its own (created, migrated, dropped): a catalog of
ten increment goals without periods and ten with a weekly period that resets, every player assigned all
twenty (half active), rows of the rotating goals already in the current week. Then rounds alternate one
batch of random (player, goal) items over the plain goals and one over the rotating goals; every call runs
in a transaction that is rolled back, so each round sees the same rows. Medians and their ratio.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
import uuid
from collections.abc import Sequence

import psycopg
from pgchallenge import embedded, migrate
from psycopg.conninfo import make_conninfo

GOALS_PER_KIND = 10


def catalog() -> dict[str, object]:
    def goal(goal_id: str, rotating: bool) -> dict[str, object]:
        body: dict[str, object] = {
            "goalId": goal_id,
            "name": goal_id,
            "type": "increment",
            "eventSource": "statistic",
            "defaultAssigned": True,
            "requirement": {"statCode": "kills", "operator": ">=", "targetValue": 1_000_000_000},
            "reward": {"type": "ITEM", "rewardId": "chest", "quantity": 1},
        }
        if rotating:
            body["rotation"] = {"enabled": True, "schedule": "weekly", "onExpiry": {"resetProgress": True}}
        return body

    goals = [goal(f"plain-{i}", False) for i in range(1, GOALS_PER_KIND + 1)]
    goals += [goal(f"weekly-{i}", True) for i in range(1, GOALS_PER_KIND + 1)]
    return {"challenges": [{"challengeId": "bench", "name": "Bench", "goals": goals}]}


def seed(url: str, players: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT challenge.load_config(%s::jsonb)", [json.dumps(catalog())])
        # Private table, bulk seed: one INSERT ... SELECT, is_active and the period stated explicitly.
        conn.execute(
            """
            INSERT INTO challenge.progress (
                user_id, goal_id, namespace, progress, status, is_active, assigned_at, updated_at,
                period_start, expires_at
            )
            SELECT
                'user-' || u, g.goal_id, 'default', 0, 'not_started', mod(u + g.position, 2) = 0,
                now(), now(),
                challenge._period_start(g.period_schedule, now()),
                challenge._period_end(g.period_schedule, now())
            FROM generate_series(1, %s) AS u
            CROSS JOIN challenge.goals AS g
            """,
            [players],
        )
        conn.execute("VACUUM (ANALYZE) challenge.progress")
        conn.execute("CHECKPOINT")


def payload(rng: random.Random, players: int, prefix: str, size: int) -> str:
    return json.dumps(
        [
            {
                "user_id": f"user-{rng.randint(1, players)}",
                "goal_id": f"{prefix}-{rng.randint(1, GOALS_PER_KIND)}",
            }
            for _ in range(size)
        ]
    )


def measure(url: str, players: int, size: int, rounds: int) -> dict[str, float]:
    rng = random.Random(7)
    samples: dict[str, list[float]] = {"plain": [], "weekly": []}
    with psycopg.connect(url) as conn:
        for _ in range(rounds):
            for kind in samples:
                items = payload(rng, players, kind, size)
                start = time.perf_counter()
                conn.execute("SELECT challenge.increment_progress_batch(%s::jsonb)", [items])
                samples[kind].append((time.perf_counter() - start) * 1000)
                conn.rollback()
    return {kind: statistics.median(values) for kind, values in samples.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="maintenance database of the server (default: embedded)")
    parser.add_argument("--quick", action="store_true", help="2,000 players, 5 rounds")
    parser.add_argument("--players", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    players = args.players or (2_000 if args.quick else 100_000)
    rounds = args.rounds or (5 if args.quick else 40)

    server = args.database_url or embedded.start()
    name = f"pgchallenge_rotation_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = make_conninfo(server, dbname=name)
    try:
        migrate.upgrade(url)
        seed(url, players)
        medians = measure(url, players, args.batch_size, rounds)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    ratio = medians["weekly"] / medians["plain"]
    verdict = "PASS" if ratio <= 1.3 else "MISS"
    print(
        f"{players:,} players x {2 * GOALS_PER_KIND} goals, {args.batch_size:,}-item batches, {rounds} rounds"
    )
    print(f"  goals without periods    median {medians['plain']:.2f} ms")
    print(f"  weekly rotating goals    median {medians['weekly']:.2f} ms")
    print(f"  rotation-aware / plain   {ratio:.3f}x (target <= 1.3x: {verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
