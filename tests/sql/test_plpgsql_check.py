"""Lint every PL/pgSQL function body with plpgsql_check, where the server has the extension.

Debian ships it as postgresql-15-plpgsql-check (.ci/run installs it for the PostgreSQL 15 leg); the embedded
PostgreSQL 18 has no such extension, so there the test is skipped with the reason printed.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest


def test_every_function_passes_plpgsql_check(db: psycopg.Connection[Any]) -> None:
    available = db.execute(
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'plpgsql_check'"
    ).fetchone()
    if available is None or available[0] == 0:
        pytest.skip("plpgsql_check is not installed on this server")
    db.execute("CREATE EXTENSION IF NOT EXISTS plpgsql_check")
    findings = db.execute(
        """
        SELECT p.oid::regprocedure::text, c.lineno, c.sqlstate, c.message, c.detail
        FROM pg_catalog.pg_proc AS p
        CROSS JOIN LATERAL plpgsql_check_function_tb(
            p.oid, extra_warnings := true, security_warnings := true
        ) AS c
        WHERE p.pronamespace = 'challenge'::regnamespace
            AND p.prolang = (SELECT l.oid FROM pg_catalog.pg_language AS l WHERE l.lanname = 'plpgsql')
            -- Performance hints (implicit casts in WHERE etc.) are advice, not defects.
            AND c.level <> 'performance'
        ORDER BY 1, 2
        """
    ).fetchall()
    # Known, reviewed: _shard_stats reads Citus's catalog (pg_dist_shard) in dynamic SQL that runs only on a
    # distributed deployment, which plain PostgreSQL does not have; its and status's jsonb results of that
    # dynamic SQL are read as text by plpgsql_check. Exactly these findings, no others (issue 12 follow-up:
    # pragmas in the functions instead).
    known = {
        ("challenge._shard_stats(regclass[],text[])", "42804"),
        ("challenge._shard_stats(regclass[],text[])", "42P01"),
        ("challenge.status()", "42804"),
    }
    assert [f for f in findings if (f[0], f[2]) not in known] == []
