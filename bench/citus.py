"""pgchallenge on a Citus cluster beside the same calls on plain PostgreSQL, interleaved in one run.

    python -m bench.citus --citus-url URL --plain-url URL --setup    # set both databases up, then measure
    python -m bench.citus --citus-url URL --plain-url URL            # measure already set-up databases

Run by hand (not a test, no assertions). Two databases, set up the same way: ``--citus-url`` on a Citus
coordinator (the database must exist with the citus extension on every node and the workers added, e.g.
``/opt/citus-cluster/cluster.sh newdb pgc_bench``), ``--plain-url`` a database WITHOUT the extension,
best on the coordinator's own server (same binary and settings: the comparison is fair; ``--setup``
drops and creates it through the server's ``postgres`` database). ``--setup`` then migrates both,
switches the audit ledger off (``challenge.set_ledger(false)``, as the other benches do: the reference
keeps no trail), seeds them (``seed.sql``: ``--players`` x 10 increment + 2 absolute goals),
distributes the Citus one (``pgchallenge citus distribute``: per-player tables by ``user_id``, the
functions whose first argument is ``p_user_id`` delegated by it), creates the bench-only wrapper below,
and runs ``VACUUM ANALYZE`` on both. Nothing is dropped at the end: drop the databases by hand (on every
node for the Citus one).

Three parts; in each, every round runs every case once, in an order that rotates every round, and the
figures are medians with each cluster case's ratio to its plain PostgreSQL counterpart:

1. Single-player calls, one long-lived autocommit connection per database, ``--calls`` calls per case
   and round on random players (the same draws on both databases), each call timed (µs):
   ``increment_progress(user, goal, 1)`` on an active row (on the cluster a delegated call: Citus runs it
   on the worker holding the player); the same sent by the client straight to the worker holding the
   player (``pg_dist_placement``; a connection per worker): the coordinator's hop, on plain PostgreSQL
   just the same call again; the increment on an inactive row (nothing written: the function falls
   back to the write engine ``_apply_writes``; ``--calls`` / 10 calls); the active increment inside
   ``BEGIN ... COMMIT`` (psycopg ``transaction()``, three round trips on both; on the cluster not
   delegated: the coordinator runs the function and routes its statements); ``get_progress``;
   ``claim_goal`` on completed rows, claim id from the pair (``claim.sql``'s draw: first claims and
   replays, the same on both).
2. Throughput: pgbench ``-M prepared`` of ``single_ours.sql`` (active rows) for ``--seconds`` at each
   ``--clients``, on both, and the same script wrapped in ``BEGIN; ... COMMIT;`` (a temporary copy).
3. A ``--size`` (1,000) item ``increment_progress_batch`` of distinct random (player, goal) pairs
   (``bench.micro.increment_payload``: over every player, so over every shard; about half the rows
   inactive), the same payload for every case of a round, ms per 1,000 items:

   - ``plain``: one call on plain PostgreSQL (the baseline);
   - ``coordinator``: one call on the coordinator (the engine's statements run as multi-shard statements);
   - ``shards_sequential`` / ``shards_pipelined``: the client groups the items by
     ``get_shard_id_for_distribution_column('challenge.progress', user_id)`` (looked up once per player and
     cached; the cache is filled before measuring) and sends one ``increment_progress_batch`` per shard
     group, one after the other on one connection, or in one psycopg ``pipeline()`` (one Sync);
   - ``shards_delegated``: the same groups, pipelined, through ``bench.batch_for(p_user_id, p_items)``, a
     bench-only PL/pgSQL wrapper (not part of pgchallenge) distributed by its first argument, so each
     group call is delegated to the worker holding the group's shard;
   - ``singles_pipelined``: each item as a delegated ``increment_progress`` call, all in one pipeline.
     Half the items meet inactive rows, whose fallback costs over 100 ms on the cluster, so this case
     runs on the first ``--singles-items`` items of the payload and its time is scaled to 1,000 items.

   Each call's ``applied`` count is checked against the plain baseline's (same rows, same states).
   After the rounds, one call of each of ``coordinator`` and a shard group runs with
   ``citus.log_remote_commands`` on: the commands the coordinator sent, the shards they named, the
   two-phase commits.

Absolute times on a shared machine drift by tens of percent; the ratios are the claim. ``--json FILE``
writes every sample.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from pgchallenge import citus, migrate
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bench import common
from bench.common import (
    ABS_GOALS,
    GOALS,
    TARGET,
    Tools,
    libpq_env,
    log,
    run_pgbench,
    script_path,
    switch_ledger_off,
)
from bench.micro import MicroSettings, increment_payload

ANCHOR = citus.ANCHOR_TABLE

INCREMENT = "SELECT outcome FROM challenge.increment_progress(%s, %s, %s)"
GET_PROGRESS = "SELECT * FROM challenge.get_progress(%s, %s)"
CLAIM = "SELECT claim_id, replayed FROM challenge.claim_goal(%s, %s, %s)"
BATCH = "SELECT challenge.increment_progress_batch(%s::jsonb)"
DELEGATED_BATCH = "SELECT bench.batch_for(%s, %s::jsonb)"

WRAPPER = """
CREATE OR REPLACE FUNCTION bench.batch_for(p_user_id text, p_items jsonb)
RETURNS jsonb
LANGUAGE plpgsql
AS $function$
BEGIN
    -- Bench only: a function distributed by its first argument is delegated to the worker holding it.
    RETURN challenge.increment_progress_batch(p_items);
END;
$function$
"""

Connection = psycopg.Connection[Any]
T = TypeVar("T")


# --- setup ---------------------------------------------------------------------------------------------


def seed(url: str, tools: Tools, players: int) -> None:
    common.seed(tools.psql, libpq_env(url), players=players, goals=GOALS, abs_goals=ABS_GOALS, target=TARGET)


def setup(citus_url: str, plain_url: str, tools: Tools, players: int) -> None:
    plain_name = conninfo_to_dict(plain_url).get("dbname")
    with psycopg.connect(make_conninfo(plain_url, dbname="postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{plain_name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{plain_name}"')
    for name, url in (("plain", plain_url), ("citus", citus_url)):
        started = time.perf_counter()
        migrate.upgrade(url)
        switch_ledger_off(url)
        seed(url, tools, players)
        with psycopg.connect(url, autocommit=True) as connection:
            if name == "citus":
                citus.distribute(connection)
                connection.execute("CREATE SCHEMA IF NOT EXISTS bench")
                connection.execute(WRAPPER)
                connection.execute(
                    "SELECT create_distributed_function('bench.batch_for(text,jsonb)', 'p_user_id',"
                    " colocate_with => %s)",
                    [ANCHOR],
                )
            connection.execute("VACUUM ANALYZE")
        log(f"{name}: migrated, ledger off, seeded, analysed in {time.perf_counter() - started:.1f} s")


def describe(citus_url: str, plain_url: str) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "load_average": os.getloadavg(),
    }
    with psycopg.connect(citus_url, autocommit=True) as connection:
        facts["citus_server"] = scalar(connection, "SELECT version()")
        facts["citus_version"] = scalar(connection, "SELECT citus_version()")
        facts["workers"] = scalar(connection, "SELECT count(*) FROM citus_get_active_worker_nodes()")
        facts["shards"] = scalar(
            connection, "SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = %s::regclass", [ANCHOR]
        )
        facts["citus_ledger"] = scalar(connection, "SELECT challenge._ledger_enabled()")
        facts["citus_rows"] = scalar(connection, "SELECT count(*) FROM challenge.progress")
    with psycopg.connect(plain_url, autocommit=True) as connection:
        facts["plain_server"] = scalar(connection, "SELECT version()")
        facts["plain_citus"] = scalar(
            connection, "SELECT count(*) FROM pg_catalog.pg_extension WHERE extname = 'citus'"
        )
        facts["plain_ledger"] = scalar(connection, "SELECT challenge._ledger_enabled()")
        facts["plain_rows"] = scalar(connection, "SELECT count(*) FROM challenge.progress")
    return facts


def scalar(connection: Connection, query: str, params: Sequence[Any] | None = None) -> Any:
    row = connection.execute(query, params).fetchone()
    return None if row is None else row[0]


# --- draws ---------------------------------------------------------------------------------------------


class Draws:
    """Random (player, goal) pairs as the pgbench scripts draw them (claimed players never drawn)."""

    def __init__(self, players: int, seed: int) -> None:
        self.players = players
        self.rng = random.Random(seed)

    def increment(self, active: bool) -> tuple[str, str, int]:
        uid = self.rng.randint(1, self.players)
        uid = uid - 1 if uid % 100 == 2 else uid
        gid = 2 * self.rng.randint(1, GOALS // 2) - ((uid + 1 - int(active)) % 2)
        return (f"user-{uid}", f"goal-{gid}", 1)

    def any_pair(self) -> tuple[str, str]:
        return (f"user-{self.rng.randint(1, self.players)}", f"goal-{self.rng.randint(1, GOALS)}")

    def claim(self) -> tuple[str, str, str]:
        uid = 10 * self.rng.randint(0, (self.players - 1) // 10) + 1
        gid = 2 * self.rng.randint(1, GOALS // 2) - 1
        return (f"user-{uid}", f"goal-{gid}", f"bench-{uid}-{gid}")


def rotated(names: Sequence[T], n: int) -> list[T]:
    shift = n % len(names)
    return [*names[shift:], *names[:shift]]


class ShardCache:
    """Each player's shard of ``challenge.progress``, looked up once (one query per batch of new players)."""

    def __init__(self) -> None:
        self.shard: dict[str, int] = {}

    def lookup(self, connection: Connection, users: Sequence[str]) -> None:
        missing = sorted({user for user in users if user not in self.shard})
        if missing:
            rows = connection.execute(
                "SELECT u, get_shard_id_for_distribution_column(%s, u) FROM unnest(%s::text[]) AS u",
                [ANCHOR, missing],
            ).fetchall()
            self.shard.update({str(user): int(shard) for user, shard in rows})

    def groups(self, connection: Connection, items: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        self.lookup(connection, [item["user_id"] for item in items])
        grouped: dict[int, list[dict[str, Any]]] = {}
        for item in items:
            grouped.setdefault(self.shard[item["user_id"]], []).append(item)
        return list(grouped.values())


class Workers:
    """A connection to every worker, and each shard's worker: to call a function where the player is."""

    def __init__(self, cluster: Connection, citus_url: str, cache: ShardCache) -> None:
        self.cache = cache
        self.connections: dict[tuple[str, int], Connection] = {}
        self.placement: dict[int, tuple[str, int]] = {}
        for shard, host, port in cluster.execute(
            "SELECT s.shardid, n.nodename, n.nodeport FROM pg_dist_shard AS s"
            " JOIN pg_dist_placement AS p USING (shardid) JOIN pg_dist_node AS n USING (groupid)"
            " WHERE s.logicalrelid = %s::regclass AND n.noderole = 'primary' AND n.isactive",
            [ANCHOR],
        ).fetchall():
            node = (str(host), int(port))
            self.placement[int(shard)] = node
            if node not in self.connections:
                url = make_conninfo(citus_url, host=node[0], port=str(node[1]))
                self.connections[node] = psycopg.connect(url, autocommit=True)

    def connection(self, user: str) -> Connection:
        return self.connections[self.placement[self.cache.shard[user]]]

    def close(self) -> None:
        for connection in self.connections.values():
            connection.close()


# --- part 1: single-player calls ----------------------------------------------------------------------

SINGLE_KINDS = (
    "increment",
    "increment_on_worker",
    "increment_inactive",
    "increment_tx",
    "get_progress",
    "claim_goal",
)


def single_round(draws: Draws, calls: int) -> dict[str, tuple[str, list[Sequence[Any]]]]:
    return {
        "increment": (INCREMENT, [draws.increment(True) for _ in range(calls)]),
        "increment_on_worker": (INCREMENT, [draws.increment(True) for _ in range(calls)]),
        "increment_inactive": (INCREMENT, [draws.increment(False) for _ in range(max(1, calls // 10))]),
        "increment_tx": (INCREMENT, [draws.increment(True) for _ in range(calls)]),
        "get_progress": (GET_PROGRESS, [draws.any_pair() for _ in range(calls)]),
        "claim_goal": (CLAIM, [draws.claim() for _ in range(calls)]),
    }


def measure_singles(
    connections: dict[str, Connection],
    workers: Workers,
    draws: Draws,
    calls: int,
    rounds: int,
    warm_rounds: int,
) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {}
    cases = [f"{kind} {db}" for kind in SINGLE_KINDS for db in connections]
    for n in range(warm_rounds + rounds):
        plan = single_round(draws, calls)
        for case in rotated(cases, n):
            kind, db = case.split()
            query, params = plan[kind]
            times = samples.setdefault(case, [])
            for values in params:
                if kind == "increment_on_worker" and db == "citus":
                    connection = workers.connection(str(values[0]))
                else:
                    connection = connections[db]
                started = time.perf_counter()
                if kind == "increment_tx":
                    with connection.transaction():
                        connection.execute(query, values).fetchall()
                else:
                    connection.execute(query, values).fetchall()
                if n >= warm_rounds:
                    times.append((time.perf_counter() - started) * 1e6)
        log(f"single calls: round {n + 1}/{warm_rounds + rounds} done")
    return samples


# --- part 2: pgbench throughput -------------------------------------------------------------------------


def transaction_script(directory: Path) -> Path:
    """``single_ours.sql`` with its statement wrapped in ``BEGIN; ... COMMIT;``."""
    lines = script_path("single_ours.sql").read_text().splitlines()
    wrapped = [f"BEGIN;\n{line}\nCOMMIT;" if line.startswith("SELECT") else line for line in lines]
    path = directory / "single_ours_tx.sql"
    path.write_text("\n".join(wrapped) + "\n")
    return path


def measure_tps(urls: dict[str, str], tools: Tools, args: argparse.Namespace) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {}
    variables = {"players": args.players, "goals": GOALS, "mode": 1}
    with tempfile.TemporaryDirectory(prefix="pgchallenge-bench-citus-") as directory:
        scripts = {"autocommit": "single_ours.sql", "tx": str(transaction_script(Path(directory)))}
        cases = [(form, db) for form in scripts for db in urls]
        for n in range(args.tps_rounds):
            for clients in args.clients:
                for form, db in rotated(cases, n + clients):
                    run = run_pgbench(
                        tools,
                        libpq_env(urls[db]),
                        [(scripts[form], None)],
                        variables,
                        label=f"{form} {db}",
                        clients=clients,
                        threads=min(clients, 2),
                        seed=args.seed + n,
                        seconds=args.seconds,
                    )
                    if run.aborted or run.tps is None or run.failures:
                        raise SystemExit(f"pgbench {form} {db} c={clients} failed: {run.error}")
                    samples.setdefault(f"{form} c={clients} {db}", []).append(run.tps)
            log(f"pgbench: round {n + 1}/{args.tps_rounds} done")
    return samples


# --- part 3: the 1,000-item batch ---------------------------------------------------------------------

BATCH_CASES = (
    "plain",
    "coordinator",
    "shards_sequential",
    "shards_pipelined",
    "shards_delegated",
    "singles_pipelined",
)


def applied(document: Any) -> int:
    return int(document["applied"])


def batch_calls(
    items: list[dict[str, Any]], cache: ShardCache, singles_items: int
) -> dict[str, Callable[[Connection], int]]:
    """Every strategy for one payload; each returns the number of writes applied."""
    document = json.dumps(items)

    def one_call(connection: Connection) -> int:
        row = connection.execute(BATCH, [document]).fetchone()
        assert row is not None
        return applied(row[0])

    def shards_sequential(connection: Connection) -> int:
        total = 0
        for group in cache.groups(connection, items):
            row = connection.execute(BATCH, [json.dumps(group)]).fetchone()
            assert row is not None
            total += applied(row[0])
        return total

    def pipelined(query: str, with_user: bool) -> Callable[[Connection], int]:
        def call(connection: Connection) -> int:
            groups = cache.groups(connection, items)
            with connection.pipeline():
                cursors = [
                    connection.execute(
                        query, [group[0]["user_id"], json.dumps(group)] if with_user else [json.dumps(group)]
                    )
                    for group in groups
                ]
            return sum(applied(row[0]) for cursor in cursors for row in cursor.fetchall())

        return call

    def singles_pipelined(connection: Connection) -> int:
        with connection.pipeline():
            cursors = [
                connection.execute(INCREMENT, [item["user_id"], item["goal_id"], item["delta"]])
                for item in items[:singles_items]
            ]
        return sum(row[0] == "applied" for cursor in cursors for row in cursor.fetchall())

    return {
        "plain": one_call,
        "coordinator": one_call,
        "shards_sequential": shards_sequential,
        "shards_pipelined": pipelined(BATCH, with_user=False),
        "shards_delegated": pipelined(DELEGATED_BATCH, with_user=True),
        "singles_pipelined": singles_pipelined,
    }


def measure_batches(
    connections: dict[str, Connection], cache: ShardCache, players: int, args: argparse.Namespace
) -> tuple[dict[str, list[float]], list[str]]:
    settings = MicroSettings.for_payloads(players, args.seed)
    rng = random.Random(args.seed + 1)
    samples: dict[str, list[float]] = {}
    mismatches: list[str] = []
    for n in range(args.batch_warm_rounds + args.batch_rounds):
        items = increment_payload(rng, settings, args.size)
        calls = batch_calls(items, cache, args.singles_items)
        counts: dict[str, int] = {}
        for case in rotated(BATCH_CASES, n):
            connection = connections["plain" if case == "plain" else "citus"]
            started = time.perf_counter()
            counts[case] = calls[case](connection)
            elapsed = (time.perf_counter() - started) * 1000
            if case == "singles_pipelined":
                elapsed *= len(items) / min(len(items), args.singles_items)
            if n >= args.batch_warm_rounds:
                samples.setdefault(case, []).append(elapsed)
        for case, count in counts.items():
            if case != "singles_pipelined" and count != counts["plain"]:
                mismatches.append(f"round {n}: {case} applied {count}, plain {counts['plain']}")
        log(
            f"batch: round {n + 1}/{args.batch_warm_rounds + args.batch_rounds} done"
            f" (applied {counts['plain']} of {len(items)})"
        )
    return samples, mismatches


def probe(connection: Connection, players: int, size: int, seed: int) -> dict[str, dict[str, int]]:
    """One call of ``coordinator`` and of one shard group, with the commands the coordinator sends logged."""
    settings = MicroSettings.for_payloads(players, seed)
    items = increment_payload(random.Random(seed + 2), settings, size)
    group = ShardCache().groups(connection, items)[0]
    messages: list[str] = []

    def note(notice: psycopg.errors.Diagnostic) -> None:
        messages.append(notice.message_primary or "")

    connection.add_notice_handler(note)
    found: dict[str, dict[str, int]] = {}
    connection.execute("SET citus.log_remote_commands = on")
    connection.execute("SET client_min_messages = log")
    try:
        for name, payload in (("coordinator", items), ("one shard group", group)):
            messages.clear()
            connection.execute(BATCH, [json.dumps(payload)]).fetchall()
            issued = [m for m in messages if m.startswith("issuing ")]
            found[name] = {
                "items": len(payload),
                "remote_commands": len(issued),
                "local_commands": sum(m.startswith("executing the command locally") for m in messages),
                "shards_named": len({s for m in issued for s in re.findall(r"progress_(\d+)", m)}),
                "intermediate_result_copies": sum(m.startswith("issuing COPY") for m in issued),
                "prepare_transaction": sum("PREPARE TRANSACTION" in m for m in issued),
            }
    finally:
        connection.execute("RESET client_min_messages")
        connection.execute("RESET citus.log_remote_commands")
        connection.remove_notice_handler(note)
    return found


# --- report --------------------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def report_singles(singles: dict[str, list[float]]) -> None:
    print("\nsingle-player calls, one connection, median µs per call (cluster / plain)")
    for kind in SINGLE_KINDS:
        c, p = median(singles[f"{kind} citus"]), median(singles[f"{kind} plain"])
        count = len(singles[f"{kind} plain"])
        print(f"  {kind:<20} citus {c:9.0f}  plain {p:9.0f}  {c / p:6.2f}x  (n={count})")
    tx, delegated = median(singles["increment_tx citus"]), median(singles["increment citus"])
    worker = median(singles["increment_on_worker citus"])
    print(f"  cluster: in BEGIN..COMMIT / delegated {tx / delegated:.2f}x the time")
    print(f"  cluster: delegated / called on the player's worker {delegated / worker:.2f}x the time")


def report_tps(tps: dict[str, list[float]], clients: Sequence[int]) -> None:
    print("\npgbench -M prepared single_ours.sql (active rows), median TPS (cluster / plain)")
    for form in ("autocommit", "tx"):
        for count in clients:
            c, p = median(tps[f"{form} c={count} citus"]), median(tps[f"{form} c={count} plain"])
            print(f"  {form:<10} c={count}  citus {c:8.0f}  plain {p:8.0f}  {c / p:6.3f}x the TPS")


def report_batches(batches: dict[str, list[float]]) -> None:
    print("\n1,000-item batch, median ms per 1,000 items (x plain PostgreSQL)")
    base = median(batches["plain"])
    for case in BATCH_CASES:
        value = median(batches[case])
        print(f"  {case:<20} {value:10.1f} ms  {value / base:8.1f}x  (n={len(batches[case])})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--citus-url", required=True, help="the database on the Citus coordinator")
    parser.add_argument("--plain-url", required=True, help="a database without Citus (same server best)")
    parser.add_argument("--setup", action="store_true", help="migrate, seed and distribute both first")
    parser.add_argument("--players", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=200, help="single calls per case and round")
    parser.add_argument("--rounds", type=int, default=6, help="rounds of single calls")
    parser.add_argument("--warm-rounds", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=5, help="pgbench time per run")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--tps-rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--batch-rounds", type=int, default=6)
    parser.add_argument("--batch-warm-rounds", type=int, default=1)
    parser.add_argument(
        "--singles-items", type=int, default=100, help="items of the payload sent as single calls"
    )
    parser.add_argument("--parts", nargs="+", default=["single", "tps", "batch"])
    parser.add_argument("--bin-dir", type=Path, help="where pgbench and psql are")
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--json", type=Path, help="write every sample here")
    args = parser.parse_args(argv)

    tools = Tools.find(args.bin_dir)
    urls = {"citus": args.citus_url, "plain": args.plain_url}
    if args.setup:
        setup(args.citus_url, args.plain_url, tools, args.players)
    facts = describe(args.citus_url, args.plain_url)
    log(json.dumps(facts, default=str))
    if facts["plain_citus"]:
        raise SystemExit("bench: --plain-url has the citus extension")
    results: dict[str, Any] = {"facts": facts, "args": {k: str(v) for k, v in vars(args).items()}}
    singles: dict[str, list[float]] = {}
    tps: dict[str, list[float]] = {}
    batches: dict[str, list[float]] = {}
    with (
        psycopg.connect(urls["citus"], autocommit=True) as cluster,
        psycopg.connect(urls["plain"], autocommit=True) as plain,
    ):
        connections = {"citus": cluster, "plain": plain}
        # Every player's shard, looked up before measuring (a client caches them).
        cache = ShardCache()
        cache.lookup(cluster, [f"user-{n}" for n in range(1, args.players + 1)])
        if "single" in args.parts:
            workers = Workers(cluster, urls["citus"], cache)
            try:
                singles = measure_singles(
                    connections,
                    workers,
                    Draws(args.players, args.seed),
                    args.calls,
                    args.rounds,
                    args.warm_rounds,
                )
            finally:
                workers.close()
        if "tps" in args.parts:
            tps = measure_tps(urls, tools, args)
        if "batch" in args.parts:
            batches, mismatches = measure_batches(connections, cache, args.players, args)
            results["mismatches"] = mismatches
            for line in mismatches:
                log(f"MISMATCH {line}")
            results["probe"] = probe(cluster, args.players, args.size, args.seed)
            log(f"remote commands: {json.dumps(results['probe'])}")
    results.update(singles=singles, tps=tps, batches=batches, load_average_end=os.getloadavg())
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    if singles:
        report_singles(singles)
    if tps:
        report_tps(tps, args.clients)
    if batches:
        report_batches(batches)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
