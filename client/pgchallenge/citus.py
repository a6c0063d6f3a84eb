"""Distribute a migrated database on a Citus coordinator: ``pgchallenge citus distribute [--sql]``.

The plan is read from the catalog, so a later revision's tables and functions are covered without editing
this module:

- a per-player table (one with a ``user_id`` column; its unique keys all include it, a test on plain
  PostgreSQL keeps that true) is hash-distributed by ``user_id``, co-located with ``challenge.progress``
  (the partitioned ledger with its partitions);
- every other table but Alembic's stamp (the catalog, the legacy event ids, source positions, settings,
  roles, config loads) becomes a reference table, copied to every node;
- every public function whose first argument is ``p_user_id`` is distributed by it, so Citus runs a call
  made outside a transaction block on the worker that holds the player (a delegated call); every other
  function of the schema is distributed without an argument, which puts it on every node: a delegated
  call runs the private functions it calls on the worker, and Citus keeps them in step with later
  ``CREATE OR REPLACE FUNCTION`` statements of a migration;
- the deployment records that it is distributed (``challenge.deployment_settings``: ``distributed``), which
  switches the outbox lease and the maintenance deletes from row locks across players to guarded
  statements a cluster can run.

Foreign keys between the tables are dropped first and added back last. A local table's key to a new
reference table would make Citus convert the local table, which ``challenge.goal_progress`` (a view)
blocks; keys from distributed to reference tables are supported.

The statements are idempotent in effect: run again after a later revision, only what is not yet
distributed is distributed. They run one by one, each in its own transaction, as Citus's functions need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import psycopg
from psycopg import sql

from pgchallenge.errors import PgChallengeError

# Every per-player table is co-located with this one (same shard count, same hash ranges).
ANCHOR_TABLE: Final = "challenge.progress"
DISTRIBUTION_COLUMN: Final = "user_id"
DISTRIBUTION_ARGUMENT: Final = "p_user_id"
DISTRIBUTED_SETTING: Final = "distributed"
# Alembic's revision stamp stays a local table of the coordinator, where migrations run.
ALEMBIC_VERSION_TABLE: Final = "alembic_version"


class DistributionError(PgChallengeError):
    """The database cannot be distributed as it is (no Citus, not migrated, not the coordinator)."""


@dataclass(frozen=True)
class ForeignKey:
    table: str
    name: str
    definition: str


@dataclass(frozen=True)
class Plan:
    """What is not distributed yet, read from the catalog."""

    reference_tables: tuple[str, ...]
    distributed_tables: tuple[str, ...]
    functions: tuple[tuple[str, bool], ...]  # (signature, distributed by p_user_id)
    foreign_keys: tuple[ForeignKey, ...]
    recorded: bool

    def statements(self) -> list[str]:
        drops = [f"ALTER TABLE {key.table} DROP CONSTRAINT {_quote(key.name)};" for key in self.foreign_keys]
        references = [f"SELECT create_reference_table('{table}');" for table in self.reference_tables]
        tables = [
            f"SELECT create_distributed_table('{table}', '{DISTRIBUTION_COLUMN}'"
            + ("" if table == ANCHOR_TABLE else f", colocate_with => '{ANCHOR_TABLE}'")
            + ");"
            for table in self.distributed_tables
        ]
        adds = [
            f"ALTER TABLE {key.table} ADD CONSTRAINT {_quote(key.name)} {key.definition};"
            for key in self.foreign_keys
        ]
        functions = [
            f"SELECT create_distributed_function('{signature}', '{DISTRIBUTION_ARGUMENT}',"
            f" colocate_with => '{ANCHOR_TABLE}');"
            if by_player
            else f"SELECT create_distributed_function('{signature}');"
            for signature, by_player in self.functions
        ]
        record = (
            []
            if self.recorded
            else [
                "INSERT INTO challenge.deployment_settings (name, value)"
                f" VALUES ('{DISTRIBUTED_SETTING}', 'citus')"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value;"
            ]
        )
        return drops + references + tables + adds + functions + record


def plan(conn: psycopg.Connection[Any]) -> Plan:
    """Read what remains to distribute; raises DistributionError where the database cannot be."""
    _check(conn)
    distributed = {
        str(name)
        for (name,) in conn.execute(
            "SELECT logicalrelid::regclass::text FROM pg_catalog.pg_dist_partition"
        ).fetchall()
    }
    tables = conn.execute(
        """
        SELECT c.oid::regclass::text,
            EXISTS (
                SELECT FROM pg_catalog.pg_attribute AS a
                WHERE a.attrelid = c.oid AND a.attname = %s AND NOT a.attisdropped
            )
        FROM pg_catalog.pg_class AS c
        WHERE c.relnamespace = 'challenge'::regnamespace
            AND c.relkind IN ('r', 'p')
            AND NOT c.relispartition
            AND c.relname <> %s
        ORDER BY c.oid::regclass::text
        """,
        [DISTRIBUTION_COLUMN, ALEMBIC_VERSION_TABLE],
    ).fetchall()
    per_player = [str(name) for name, has_player in tables if has_player and name not in distributed]
    # The anchor first: the others are co-located with it.
    per_player.sort(key=lambda name: (name != ANCHOR_TABLE, name))
    reference = [str(name) for name, has_player in tables if not has_player and name not in distributed]
    keys = (
        tuple(
            ForeignKey(str(table), str(name), str(definition))
            for table, name, definition in conn.execute(
                """
                SELECT k.conrelid::regclass::text, k.conname, pg_catalog.pg_get_constraintdef(k.oid)
                FROM pg_catalog.pg_constraint AS k
                WHERE k.contype = 'f' AND k.connamespace = 'challenge'::regnamespace
                ORDER BY 1, 2
                """
            ).fetchall()
        )
        if per_player or reference
        else ()
    )
    functions = tuple(
        (str(signature), bool(by_player))
        for signature, by_player in conn.execute(
            """
            SELECT p.oid::regprocedure::text, p.proname !~ '^_' AND p.proargnames[1] = %s
            FROM pg_catalog.pg_proc AS p
            LEFT JOIN pg_catalog.pg_dist_object AS o
                ON o.classid = 'pg_catalog.pg_proc'::regclass AND o.objid = p.oid
            WHERE p.pronamespace = 'challenge'::regnamespace
                AND (
                    o.objid IS NULL
                    OR (o.distribution_argument_index IS NULL AND p.proname !~ '^_' AND p.proargnames[1] = %s)
                )
            ORDER BY 1
            """,
            [DISTRIBUTION_ARGUMENT, DISTRIBUTION_ARGUMENT],
        ).fetchall()
    )
    recorded = conn.execute(
        "SELECT EXISTS (SELECT FROM challenge.deployment_settings WHERE name = %s AND value = 'citus')",
        [DISTRIBUTED_SETTING],
    ).fetchone()
    return Plan(tuple(reference), tuple(per_player), functions, keys, bool(recorded and recorded[0]))


def distribute(conn: psycopg.Connection[Any]) -> list[str]:
    """Run the plan on an autocommit connection to the coordinator; returns the statements it ran."""
    statements = plan(conn).statements()
    for statement in statements:
        conn.execute(statement)
    return statements


def _check(conn: psycopg.Connection[Any]) -> None:
    if not conn.autocommit:
        raise DistributionError("distribute needs an autocommit connection (Citus's functions commit)")
    citus = conn.execute("SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'citus'").fetchone()
    if citus is None:
        raise DistributionError(
            "the citus extension is not installed in this database: CREATE EXTENSION citus on the"
            " coordinator and every worker, and add the workers (citus_add_node), first"
        )
    migrated = conn.execute("SELECT to_regclass('challenge.deployment_settings') IS NOT NULL").fetchone()
    if not (migrated and migrated[0]):
        raise DistributionError("the database is not migrated: run pgchallenge migrate first")
    coordinator = conn.execute(
        "SELECT pg_catalog.citus_is_coordinator()",
    ).fetchone()
    if not (coordinator and coordinator[0]):
        raise DistributionError(
            "this is not the Citus coordinator (citus_is_coordinator() is false):"
            " connect to the coordinator, and make sure its workers are added"
        )
    workers = conn.execute("SELECT count(*) FROM pg_catalog.citus_get_active_worker_nodes()").fetchone()
    if not (workers and workers[0]):
        raise DistributionError("the coordinator has no active worker: add them with citus_add_node first")


def _quote(identifier: str) -> str:
    return sql.Identifier(identifier).as_string(None)
