"""Distribution and delegated calls: after ``pgchallenge.citus.distribute`` every per-player table is
hash-distributed by user_id and co-located with challenge.progress, the rest are reference tables, and every
public function whose first argument is p_user_id is a distributed function (pg_dist_object's
distribution_argument_index set), so a call made outside a transaction block is delegated whole to the
worker holding the player.

A delegated call shows in the coordinator's log of remote commands (citus.log_remote_commands): the call
itself is sent to a worker ("issuing SELECT ... challenge.increment_progress(...)"), instead of the
function's statements being planned on the coordinator shard by shard.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from pgchallenge import citus

from tests.citus.citushelpers import CLUSTER, Api, Cluster, example_config

pytestmark = CLUSTER

Connect = Callable[..., psycopg.Connection[Any]]
PER_PLAYER_TABLES = {
    "challenge.progress",
    "challenge.ledger",
    "challenge.processed_events",
    "challenge.reward_grants",
}


def test_the_database_is_distributed_and_distributing_again_changes_nothing(cluster: Cluster) -> None:
    api = Api(cluster.conn)
    assert citus.plan(cluster.conn).statements() == []
    assert api.scalar("SELECT value FROM challenge.deployment_settings WHERE name = 'distributed'") == "citus"
    tables = {
        r["name"]: r
        for r in api.rows(
            "SELECT logicalrelid::regclass::text AS name, partmethod, colocationid,"
            " column_to_column_name(logicalrelid, partkey) AS column_name"
            " FROM pg_catalog.pg_dist_partition"
            " WHERE logicalrelid::regclass::text LIKE 'challenge.%'"
        )
    }
    anchor = tables["challenge.progress"]["colocationid"]
    for name in PER_PLAYER_TABLES:
        assert (tables[name]["partmethod"], tables[name]["column_name"]) == ("h", "user_id"), name
        assert tables[name]["colocationid"] == anchor, name
    local = api.rows(
        "SELECT c.oid::regclass::text AS name FROM pg_catalog.pg_class AS c"
        " WHERE c.relnamespace = 'challenge'::regnamespace AND c.relkind IN ('r', 'p')"
        " AND NOT c.relispartition"
        " AND c.relname <> 'alembic_version'"
        " AND NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS d WHERE d.logicalrelid = c.oid)"
    )
    assert local == []
    for name, table in tables.items():
        if name in PER_PLAYER_TABLES:
            continue
        if name.startswith("challenge.ledger_"):  # the ledger's partitions are distributed with it
            assert (table["partmethod"], table["colocationid"]) == ("h", anchor), name
        else:
            assert table["partmethod"] == "n", f"{name} is not a reference table"


def player_functions(api: Api) -> list[dict[str, Any]]:
    return api.rows(
        """
        SELECT p.proname AS name, o.distribution_argument_index AS argument, o.colocationid
        FROM pg_catalog.pg_proc AS p
        LEFT JOIN pg_catalog.pg_dist_object AS o
            ON o.classid = 'pg_catalog.pg_proc'::regclass AND o.objid = p.oid
        WHERE p.pronamespace = 'challenge'::regnamespace
            AND p.proname !~ '^_'
            AND p.proargnames[1] = 'p_user_id'
        ORDER BY 1
        """
    )


@dataclass(frozen=True)
class Step:
    """One call of a delegated function and what it must return."""

    function: str
    call: Callable[[Api], Any]
    check: Callable[[Any], bool]


def test_every_public_function_taking_a_player_first_is_distributed_by_it(cluster: Cluster) -> None:
    api = Api(cluster.conn)
    functions = player_functions(api)
    anchor = api.scalar(
        "SELECT colocationid FROM pg_catalog.pg_dist_partition"
        " WHERE logicalrelid = 'challenge.progress'::regclass"
    )
    assert {f["name"] for f in functions} >= {
        "increment_progress",
        "claim_goal",
        "get_progress",
        "initialize_player",
    }
    wrong = [f for f in functions if f["argument"] != 0 or f["colocationid"] != anchor]
    assert not wrong, f"not distributed by p_user_id with challenge.progress: {wrong}"


def test_single_player_calls_outside_a_transaction_block_work_and_are_delegated(
    cluster: Cluster, cluster_connect: Connect
) -> None:
    conn = cluster_connect()
    conn.execute("SET citus.log_remote_commands = on")
    remote: list[str] = []
    conn.add_notice_handler(lambda notice: remote.append(notice.message_primary or ""))
    api = cluster.api(conn)
    [user] = cluster.ids("delegated", 1)
    defaults = sum(
        1 for c in example_config()["challenges"] for g in c["goals"] if g.get("defaultAssigned", True)
    )

    def counts() -> int:
        total = 0
        for table in ("progress", "reward_grants", "ledger", "processed_events"):
            total += Api(cluster.conn).scalar(
                f"SELECT count(*) FROM challenge.{table} WHERE user_id = %s", [user]
            )
        return total

    steps = [
        Step("initialize_player", lambda a: a.init(user), lambda r: len(r) == defaults),
        Step("get_user_progress", lambda a: a.user_progress(user), lambda r: len(r) == defaults),
        Step(
            "increment_progress",
            lambda a: a.inc(user, "kill-10", 10, "delegated-1"),
            lambda r: (r["outcome"], r["status"], r["newly_completed"]) == ("applied", "completed", True),
        ),
        Step(
            "get_progress",
            lambda a: a.get(user, "kill-10"),
            lambda r: (r["progress"], r["status"]) == (10, "completed"),
        ),
        Step(
            "set_goal_active",
            lambda a: a.set_active(user, "kill-100", False),
            lambda r: (r["goal_id"], r["is_active"]) == ("kill-100", False),
        ),
        Step(
            "random_select_goals",  # the pool: kill-100 (inactive; its prerequisite kill-10 completed)
            lambda a: a.random_select(user, "combat", 1, "seed"),
            lambda r: [(g["goal_id"], g["is_active"]) for g in r] == [("kill-100", True)],
        ),
        Step(
            "select_goals",
            lambda a: a.select(user, "matches", ["win-50"]),
            lambda r: [(g["goal_id"], g["is_active"]) for g in r] == [("win-50", True)],
        ),
        Step(
            "claim_goal",
            lambda a: a.claim(user, "kill-10", "delegated-claim"),
            lambda r: (r["claim_id"], r["replayed"]) == ("delegated-claim", False),
        ),
        Step(
            "explain_progress",
            lambda a: a.explain(user, "kill-10"),
            lambda r: {e["operation"] for e in r} == {"assign", "increment", "claim"},
        ),
        Step(
            "finish_reward_grant",
            lambda a: a.finish(user, "delegated-claim", True),
            lambda r: r["state"] == "granted",
        ),
    ]
    problems: list[str] = []

    def run(step: Step) -> None:
        remote.clear()
        try:
            result = step.call(api)
        except psycopg.Error as error:
            problems.append(f"{step.function}: {error.sqlstate}: {error}")
            return
        if not step.check(result):
            problems.append(f"{step.function}: unexpected result {result!r}")
        delegated = [m for m in remote if m.startswith("issuing ") and f"challenge.{step.function}(" in m]
        if not delegated:
            problems.append(f"{step.function}: not delegated; remote commands: {remote[:3]!r}")

    for step in steps:
        run(step)
    expected = counts()
    run(Step("delete_user_data", lambda a: a.delete_user(user), lambda r: r == expected > 0))
    assert counts() == 0
    # Inside a transaction block Citus does not delegate: the coordinator runs the function, and it works.
    with conn.transaction():
        assert api.init(user)[0]["user_id"] == user
        assert api.inc(user, "kill-10", 3)["progress"] == 3

    covered = {step.function for step in steps} | {"delete_user_data"}
    untested = {f["name"] for f in player_functions(Api(cluster.conn))} - covered
    assert not untested, f"distributed functions this test does not call: {sorted(untested)}"
    assert not problems, "\n".join(problems)
