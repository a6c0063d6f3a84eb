"""Citus compatibility, guarded on plain PostgreSQL (CI has no Citus cluster).

The target: per-player tables hash-distributed by ``user_id``, the catalog as reference tables, and the
single-player functions delegated to the worker that holds the player. These tests fail when a change breaks
one of the rules that deployment needs:

1. every unique index / primary key / unique or exclusion constraint of a per-player table (a table of schema
   challenge with a ``user_id`` column: progress, processed_events, reward_grants, ledger and its partitions,
   any future one) has ``user_id`` among its key columns (read from the migrated database's catalog);
2. no ``ctid`` in any function body (pg_proc.prosrc) or function source (plpgsql/functions/*.sql): a row
   address repeats across the shards of a distributed table;
3. no function of the schema takes (or returns) a table's row type: Citus resolves it to the shard's type
   (the view goal_progress's row type and the CREATE TYPE composites are fine);
4. no non-IMMUTABLE call inside a CASE or COALESCE in an UPDATE's SET list, and none at all in an INSERT's
   ON CONFLICT DO UPDATE SET list (or its WHERE): Citus refuses both ("non-IMMUTABLE functions are not allowed
   in CASE or COALESCE statements", "functions used in the DO UPDATE SET clause of INSERTs on distributed
   tables must be marked IMMUTABLE"). A call counts as non-IMMUTABLE by the catalog (a challenge function
   by its own volatility; a pg_catalog name when none of its overloads is IMMUTABLE), plus now() and its
   kin, current_timestamp and the other SQL value keywords, and timestamptz +/- interval (a STABLE operator)
   where the scanner can tell the operands' types from the declarations and the catalog. Not seen: other
   STABLE operators and casts, and the STABLE overloads of names that also have IMMUTABLE ones (date_trunc);
5. every UPDATE / DELETE of a per-player table reaches its rows by ``user_id`` (compared in its WHERE, or in
   its FROM / USING join condition), so that Citus can route it or join co-located shards;
6. no FOR UPDATE / FOR NO KEY UPDATE / FOR SHARE / FOR KEY SHARE (SKIP LOCKED or not) on a per-player table
   in a statement not restricted to one player by ``user_id = <value>``: Citus cannot lock rows across shards.
   The statements that pick rows of many players append challenge._row_lock's clause instead, which is
   empty on a distributed deployment (tested in tests/sql/test_distributed_mode.py);
7. no SQL-language function names a per-player table: Citus cannot plan a SQL function's parameterised
   statement on a distributed table (seen on Citus 13.2 with get_progress; PL/pgSQL is planned).

Rules 4-6 read the function sources with a small SQL-aware scanner (tests/sql/sqlscan.py), unit-tested here
on small SQL strings so that each check can be seen to fail. Dynamic SQL (string literals that read as
statements) is scanned too.

Today's code breaks some rules; each breach is listed in KNOWN_VIOLATIONS below, to be fixed by the Citus
work. A test fails for a breach not in the list, and for a listed one that no longer occurs (remove it from
KNOWN_VIOLATIONS): the list only shrinks.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import psycopg
import pytest

from tests.sql.sqlscan import (
    FunctionSource,
    Types,
    Violation,
    dynamic_sql,
    find_dml,
    find_locks,
    find_upserts,
    normalise_type,
    parse_functions,
    scan_ctid,
    scan_dml_by_user_id,
    scan_mutable_in_set,
    scan_row_locks,
    tokenize,
    without_comments,
)

ROOT: Final = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR: Final = ROOT / "plpgsql" / "functions"

UNIQUE_KEY: Final = "1 unique key without user_id"
CTID: Final = "2 ctid"
ROW_TYPE: Final = "3 table row type as argument"
MUTABLE_IN_SET: Final = "4 non-IMMUTABLE call in UPDATE SET CASE/COALESCE or ON CONFLICT DO UPDATE"
NOT_BY_USER_ID: Final = "5 UPDATE/DELETE of a per-player table not by user_id"
LOCK_ACROSS_PLAYERS: Final = "6 row lock on a per-player table across players"
SQL_FUNCTION_ON_PER_PLAYER: Final = "7 SQL-language function on a per-player table"
RULES: Final = (
    UNIQUE_KEY,
    CTID,
    ROW_TYPE,
    MUTABLE_IN_SET,
    NOT_BY_USER_ID,
    LOCK_ACROSS_PLAYERS,
    SQL_FUNCTION_ON_PER_PLAYER,
)

# The breaches in today's code: the to-do list of the Citus work. Each is keyed by rule, object (table or
# function name) and the snippet the check reports. Fix one, then remove its entry; never add one without
# a review (and a reason, in a comment).
KNOWN_VIOLATIONS: Final[tuple[Violation, ...]] = (
    # Rule 5 --------------------------------------------------------------------------------------------
    # Dynamic SQL: a new day partition takes its rows out of ledger_default by time, every player at
    # once (into a table created plain, then attached). On Citus, making the partitions ahead of time
    # (e.g. Citus's create_time_partitions) leaves no rows in a default partition to move.
    Violation(
        NOT_BY_USER_ID,
        "create_ledger_partitions",
        "DELETE FROM challenge.ledger_default WHERE recorded_at >= $1 AND recorded_at < $2",
    ),
)


def assert_as_known(rule: str, found: Iterable[Violation]) -> None:
    """The breaches of ``rule`` found are exactly the ones KNOWN_VIOLATIONS lists for it."""
    known = Counter(v for v in KNOWN_VIOLATIONS if v.rule == rule)
    got = Counter(found)
    problems: list[str] = []
    new = got - known
    if new:
        problems.append(
            f"new breach(es) of rule {rule!r}; fix them (see the module docstring):\n"
            + "\n".join(f"    {v!r}" for v in sorted(new.elements()))
        )
    gone = known - got
    if gone:
        problems.append(
            f"no longer found, remove it from KNOWN_VIOLATIONS (rule {rule!r}):\n"
            + "\n".join(f"    {v!r}" for v in sorted(gone.elements()))
        )
    assert not problems, "\n".join(problems)


def test_the_allowlist_names_known_rules_once_each() -> None:
    assert {v.rule for v in KNOWN_VIOLATIONS} <= set(RULES)
    assert [v for v, n in Counter(KNOWN_VIOLATIONS).items() if n > 1] == []


# --- the catalog ---------------------------------------------------------------------------------------


def per_player_tables(db: psycopg.Connection[Any]) -> set[str]:
    """Tables (and partitions) of schema challenge with a user_id column, as ``challenge.name``."""
    rows = db.execute(
        """
        SELECT c.oid::regclass::text
        FROM pg_catalog.pg_class AS c
        JOIN pg_catalog.pg_attribute AS a
            ON a.attrelid = c.oid AND a.attname = 'user_id' AND NOT a.attisdropped
        WHERE c.relnamespace = 'challenge'::regnamespace
            AND c.relkind IN ('r', 'p')
        """
    ).fetchall()
    return {row[0] for row in rows}


def catalog_types(db: psycopg.Connection[Any], source: FunctionSource) -> Types:
    """Volatilities (challenge.f: the worst of its overloads; pg_catalog's f: 'i' when some overload is
    IMMUTABLE), the function's own variables, and the column types of the schema's tables and views."""
    volatility: dict[str, str] = {}
    for schema, name, some_immutable, worst in db.execute(
        """
        SELECT n.nspname, p.proname, bool_or(p.provolatile = 'i'), max(p.provolatile::text)
        FROM pg_catalog.pg_proc AS p
        JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
        WHERE n.nspname IN ('pg_catalog', 'challenge')
        GROUP BY 1, 2
        """
    ).fetchall():
        if schema == "challenge":
            volatility[f"challenge.{name}"] = "v" if "v" in worst else worst
        else:
            volatility[name] = "i" if some_immutable else worst
    columns: dict[str, dict[str, str]] = {}
    for table, column, type_name in db.execute(
        """
        SELECT c.oid::regclass::text, a.attname, format_type(a.atttypid, a.atttypmod)
        FROM pg_catalog.pg_attribute AS a
        JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
        WHERE c.relnamespace = 'challenge'::regnamespace
            AND c.relkind IN ('r', 'p', 'v')
            AND a.attnum > 0
            AND NOT a.attisdropped
        """
    ).fetchall():
        columns.setdefault(table, {})[column] = normalise_type(type_name)
    return Types(volatility, source.variables, columns)


def unique_keys_without_user_id(db: psycopg.Connection[Any]) -> list[Violation]:
    rows = db.execute(
        """
        SELECT c.oid::regclass::text, x.relname,
               coalesce(pg_get_constraintdef(k.oid), pg_get_indexdef(i.indexrelid))
        FROM pg_catalog.pg_index AS i
        JOIN pg_catalog.pg_class AS c ON c.oid = i.indrelid
        JOIN pg_catalog.pg_class AS x ON x.oid = i.indexrelid
        JOIN pg_catalog.pg_attribute AS u
            ON u.attrelid = c.oid AND u.attname = 'user_id' AND NOT u.attisdropped
        LEFT JOIN pg_catalog.pg_constraint AS k ON k.conindid = i.indexrelid AND k.conrelid = c.oid
        WHERE c.relnamespace = 'challenge'::regnamespace
            AND c.relkind IN ('r', 'p')
            AND (i.indisunique OR i.indisexclusion)
            -- A partition's index attached to its parent's is covered by the parent's.
            AND NOT EXISTS (SELECT FROM pg_catalog.pg_inherits AS h WHERE h.inhrelid = i.indexrelid)
            AND NOT (
                -- user_id is a key column (INCLUDE columns do not count)...
                u.attnum IN (
                    SELECT e.attnum
                    FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS e(attnum, n)
                    WHERE e.n <= i.indnkeyatts
                )
                -- ... compared with = when the constraint is an exclusion.
                AND (
                    NOT i.indisexclusion
                    OR coalesce((
                        SELECT o.oprname = '='
                        FROM pg_catalog.pg_operator AS o
                        WHERE o.oid = k.conexclop[array_position(k.conkey, u.attnum)]
                    ), false)
                )
            )
        ORDER BY 1, 2
        """
    ).fetchall()
    return [Violation(UNIQUE_KEY, table, f"{index}: {definition}") for table, index, definition in rows]


def ctid_in_deployed_functions(db: psycopg.Connection[Any]) -> list[Violation]:
    rows = db.execute(
        """
        SELECT p.oid::regprocedure::text, p.prosrc
        FROM pg_catalog.pg_proc AS p
        WHERE p.pronamespace = 'challenge'::regnamespace
        ORDER BY 1
        """
    ).fetchall()
    return [Violation(CTID, function, line) for function, source in rows for line in scan_ctid(source)]


def table_row_types_of_functions(db: psycopg.Connection[Any]) -> list[Violation]:
    rows = db.execute(
        """
        SELECT
            p.oid::regprocedure::text,
            CASE
                WHEN a.n IS NULL
                    THEN 'returns ' || CASE WHEN p.proretset THEN 'SETOF ' ELSE '' END
                ELSE CASE p.proargmodes[a.n]
                        WHEN 'o' THEN 'OUT ' WHEN 'b' THEN 'INOUT ' WHEN 't' THEN 'TABLE ' ELSE ''
                    END
                    || 'argument ' || coalesce(nullif(p.proargnames[a.n], ''), '$' || a.n) || ' '
            END || format_type(a.typ, NULL)
        FROM pg_catalog.pg_proc AS p
        CROSS JOIN LATERAL (
            SELECT t.typ, t.n
            FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) WITH ORDINALITY AS t(typ, n)
            UNION ALL
            SELECT p.prorettype, NULL
        ) AS a
        JOIN pg_catalog.pg_type AS t ON t.oid = a.typ
        -- An array of row types counts as the row type.
        JOIN pg_catalog.pg_type AS e ON e.oid = CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE t.oid END
        JOIN pg_catalog.pg_class AS r ON r.oid = e.typrelid
        WHERE p.pronamespace = 'challenge'::regnamespace
            AND r.relnamespace = 'challenge'::regnamespace
            AND r.relkind IN ('r', 'p')
        ORDER BY 1, 2
        """
    ).fetchall()
    return [Violation(ROW_TYPE, function, what) for function, what in rows]


def test_the_per_player_tables_are_the_ones_with_a_user_id(db: psycopg.Connection[Any]) -> None:
    tables = per_player_tables(db)
    expected = {"progress", "processed_events", "reward_grants", "ledger", "ledger_default"}
    assert {f"challenge.{name}" for name in expected} <= tables
    assert "challenge.goals" not in tables
    assert "challenge.processed_events_legacy" not in tables


def test_unique_keys_of_per_player_tables_include_user_id(db: psycopg.Connection[Any]) -> None:
    assert_as_known(UNIQUE_KEY, unique_keys_without_user_id(db))


def test_the_unique_key_check_flags_keys_without_user_id(db: psycopg.Connection[Any]) -> None:
    db.execute(
        """
        CREATE TABLE challenge.citus_probe (
            user_id text NOT NULL,
            a integer CONSTRAINT citus_probe_a UNIQUE,
            b integer,
            c integer,
            d integer,
            CONSTRAINT citus_probe_pkey PRIMARY KEY (user_id, c),
            CONSTRAINT citus_probe_b EXCLUDE USING btree (b WITH =),
            CONSTRAINT citus_probe_user_b EXCLUDE USING btree (user_id WITH =, b WITH =)
        );
        CREATE UNIQUE INDEX citus_probe_d ON challenge.citus_probe (d) INCLUDE (user_id);
        CREATE UNIQUE INDEX citus_probe_user_d ON challenge.citus_probe (d, user_id);
        CREATE TABLE challenge.citus_probe_catalog (x integer UNIQUE);
        CREATE TABLE challenge.citus_probe_parted (user_id text, day date, PRIMARY KEY (user_id, day))
            PARTITION BY RANGE (day);
        CREATE TABLE challenge.citus_probe_part PARTITION OF challenge.citus_probe_parted DEFAULT;
        CREATE UNIQUE INDEX citus_probe_part_day ON challenge.citus_probe_part (day);
        """
    )
    flagged = {(v.obj, v.snippet.split(":")[0]) for v in unique_keys_without_user_id(db)}
    assert {
        ("challenge.citus_probe", "citus_probe_a"),
        ("challenge.citus_probe", "citus_probe_b"),
        ("challenge.citus_probe", "citus_probe_d"),
        ("challenge.citus_probe_part", "citus_probe_part_day"),
    } <= flagged
    assert (
        not {
            ("challenge.citus_probe", "citus_probe_pkey"),
            ("challenge.citus_probe", "citus_probe_user_b"),
            ("challenge.citus_probe", "citus_probe_user_d"),
            ("challenge.citus_probe_parted", "citus_probe_parted_pkey"),
            ("challenge.citus_probe_part", "citus_probe_part_pkey"),
        }
        & flagged
    )
    assert not [obj for obj, _ in flagged if obj == "challenge.citus_probe_catalog"]


def test_no_ctid_in_deployed_functions(db: psycopg.Connection[Any]) -> None:
    assert_as_known(CTID, ctid_in_deployed_functions(db))


def test_the_deployed_ctid_check_flags_a_function_using_ctid(db: psycopg.Connection[Any]) -> None:
    db.execute(
        """
        CREATE FUNCTION challenge.citus_probe(p_user_id text) RETURNS integer LANGUAGE sql
        AS $$ SELECT count(*)::integer FROM challenge.progress AS p WHERE p.ctid IS NOT NULL -- ctid
              AND p.user_id = p_user_id $$
        """
    )
    assert ctid_in_deployed_functions(db) == [
        Violation(
            CTID,
            "challenge.citus_probe(text)",
            "SELECT count(*)::integer FROM challenge.progress AS p WHERE p.ctid IS NOT NULL -- ctid",
        )
    ]


def sql_functions_on_per_player_tables(db: psycopg.Connection[Any]) -> list[Violation]:
    """SQL-language functions whose body names a per-player table (or remembered ids, legacy included)."""
    tables = per_player_tables(db) | {"challenge.processed_events_legacy"}
    rows = db.execute(
        """
        SELECT p.oid::regprocedure::text, p.prosrc
        FROM pg_catalog.pg_proc AS p
        WHERE p.pronamespace = 'challenge'::regnamespace
            AND p.prolang = (SELECT l.oid FROM pg_catalog.pg_language AS l WHERE l.lanname = 'sql')
        ORDER BY 1
        """
    ).fetchall()
    found = []
    for function, source in rows:
        code = without_comments(source)
        for table in sorted(tables):
            if re.search(rf"(?<![\w.]){re.escape(table)}(?![\w])", code):
                found.append(Violation(SQL_FUNCTION_ON_PER_PLAYER, function, table))
    return found


def test_no_sql_function_reaches_a_per_player_table(db: psycopg.Connection[Any]) -> None:
    assert_as_known(SQL_FUNCTION_ON_PER_PLAYER, sql_functions_on_per_player_tables(db))


def test_the_sql_function_check_flags_one(db: psycopg.Connection[Any]) -> None:
    db.execute(
        "CREATE FUNCTION challenge.citus_probe_sql(p_user_id text) RETURNS bigint LANGUAGE sql"
        " AS $$ SELECT count(*) FROM challenge.progress AS p WHERE p.user_id = p_user_id $$"
    )
    db.execute(
        "CREATE FUNCTION challenge.citus_probe_plpgsql(p_user_id text) RETURNS bigint LANGUAGE plpgsql"
        " AS $$ BEGIN RETURN (SELECT count(*) FROM challenge.progress AS p WHERE p.user_id = p_user_id);"
        " END $$"
    )
    flagged = {v.obj for v in sql_functions_on_per_player_tables(db)}
    assert "challenge.citus_probe_sql(text)" in flagged
    assert "challenge.citus_probe_plpgsql(text)" not in flagged


def test_no_function_takes_or_returns_a_table_row_type(db: psycopg.Connection[Any]) -> None:
    assert_as_known(ROW_TYPE, table_row_types_of_functions(db))


def test_the_row_type_check_flags_table_row_types_only(db: psycopg.Connection[Any]) -> None:
    db.execute(
        """
        CREATE FUNCTION challenge.citus_probe_in(p_row challenge.progress) RETURNS integer LANGUAGE sql
            AS $$ SELECT 1 $$;
        CREATE FUNCTION challenge.citus_probe_array(p_rows challenge.reward_grants[]) RETURNS integer
            LANGUAGE sql AS $$ SELECT 1 $$;
        CREATE FUNCTION challenge.citus_probe_out(OUT o_row challenge.ledger, OUT o_n integer) LANGUAGE sql
            AS $$ SELECT NULL::challenge.ledger, 1 $$;
        CREATE FUNCTION challenge.citus_probe_returns() RETURNS SETOF challenge.goals LANGUAGE sql
            AS $$ SELECT * FROM challenge.goals $$;
        CREATE FUNCTION challenge.citus_probe_fine(
            p_view challenge.goal_progress, p_type challenge.reward_grant, p_writes challenge._write[]
        )
            RETURNS challenge.goal_progress LANGUAGE sql AS $$ SELECT p_view $$;
        """
    )
    assert sorted((v.obj, v.snippet) for v in table_row_types_of_functions(db)) == [
        (
            "challenge.citus_probe_array(challenge.reward_grants[])",
            "argument p_rows challenge.reward_grants[]",
        ),
        ("challenge.citus_probe_in(challenge.progress)", "argument p_row challenge.progress"),
        ("challenge.citus_probe_out()", "OUT argument o_row challenge.ledger"),
        ("challenge.citus_probe_returns()", "returns SETOF challenge.goals"),
    ]


# --- the function sources --------------------------------------------------------------------------------


def sources() -> list[FunctionSource]:
    found: list[FunctionSource] = []
    for path in sorted(FUNCTIONS_DIR.glob("*.sql")):
        functions = parse_functions(path.read_text(encoding="utf-8"))
        assert [f.name for f in functions] == [path.stem], f"{path.name}: one function, named as the file"
        found.extend(functions)
    return found


def test_the_sources_scanned_are_the_deployed_functions(db: psycopg.Connection[Any]) -> None:
    """Rules 4-6 read plpgsql/functions: every function of the schema must come from there."""
    rows = db.execute(
        "SELECT DISTINCT p.proname FROM pg_catalog.pg_proc AS p"
        " WHERE p.pronamespace = 'challenge'::regnamespace"
    ).fetchall()
    assert sorted(s.name for s in sources()) == sorted(row[0] for row in rows)


def test_the_scanner_finds_every_statement_of_the_sources() -> None:
    """What the scanner finds is what a plain search of the comment-free sources counts."""
    patterns = {
        "UPDATE": r"\bUPDATE\s+(?:ONLY\s+)?challenge\.\w+",
        "DELETE": r"\bDELETE\s+FROM\b",
        "DO UPDATE": r"\bDO\s+UPDATE\b",
        "FOR lock": r"\bFOR\s+(?:UPDATE|NO\s+KEY\s+UPDATE|SHARE|KEY\s+SHARE)\b",
    }
    expected = Counter[str]()
    for path in sorted(FUNCTIONS_DIR.glob("*.sql")):
        text = without_comments(path.read_text(encoding="utf-8"))
        # A quoted fragment that names no table of the schema is no statement to either count (the
        # scanner reads such strings as dynamic SQL only when they do): challenge._row_lock's clause.
        text = re.sub(r"'(?:[^']|'')*'", lambda m: m[0] if "challenge." in m[0] else "''", text)
        for what, pattern in patterns.items():
            expected[what] += len(re.findall(pattern, text, re.IGNORECASE))
    found = Counter[str]()
    for source in sources():
        for text in source.texts():
            tokens = tokenize(text)
            for dml in find_dml(tokens):
                found[dml.verb] += 1
            found["DO UPDATE"] += len(find_upserts(tokens))
            found["FOR lock"] += len(find_locks(tokens))
    assert found == expected
    assert min(expected[what] for what in patterns) > 0


def source_violations(db: psycopg.Connection[Any], rule: str) -> list[Violation]:
    tables = per_player_tables(db)
    found: list[Violation] = []
    for source in sources():
        types = catalog_types(db, source) if rule == MUTABLE_IN_SET else None
        for text in source.texts():
            if types is not None:
                snippets = scan_mutable_in_set(text, types)
            elif rule == NOT_BY_USER_ID:
                snippets = scan_dml_by_user_id(text, tables)
            else:
                snippets = scan_row_locks(text, tables)
            found.extend(Violation(rule, source.name, snippet) for snippet in snippets)
    return found


def test_no_ctid_in_function_sources() -> None:
    found = [
        Violation(CTID, f"plpgsql/functions/{path.name}", line)
        for path in sorted(FUNCTIONS_DIR.glob("*.sql"))
        for line in scan_ctid(path.read_text(encoding="utf-8"))
    ]
    assert_as_known(CTID, found)


def test_no_mutable_calls_in_update_case_coalesce_or_upsert(db: psycopg.Connection[Any]) -> None:
    assert_as_known(MUTABLE_IN_SET, source_violations(db, MUTABLE_IN_SET))


def test_updates_and_deletes_of_per_player_tables_reach_rows_by_user_id(db: psycopg.Connection[Any]) -> None:
    assert_as_known(NOT_BY_USER_ID, source_violations(db, NOT_BY_USER_ID))


def test_row_locks_on_per_player_tables_name_one_player(db: psycopg.Connection[Any]) -> None:
    assert_as_known(LOCK_ACROSS_PLAYERS, source_violations(db, LOCK_ACROSS_PLAYERS))


# --- the scanner, on small SQL strings ---------------------------------------------------------------------

TYPES: Final = Types(
    volatility={"challenge.stable_fn": "s", "challenge.pure_fn": "i", "format": "s", "lower": "i"},
    variables={"v_now": "timestamptz", "p_lease": "interval", "v_count": "integer"},
    columns={"challenge.t": {"due_at": "timestamptz", "wait": "interval", "n": "integer"}},
)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        # CASE in an UPDATE's SET list
        (
            "UPDATE challenge.t AS t SET a = CASE WHEN t.b THEN now() ELSE t.a END WHERE t.user_id = $1",
            ["UPDATE challenge.t SET a = CASE ... now() ... END"],
        ),
        ("UPDATE challenge.t AS t SET a = CASE WHEN t.b THEN v_now ELSE t.a END", []),
        # COALESCE in an UPDATE's SET list
        (
            "UPDATE challenge.t SET a = coalesce(a, clock_timestamp())",
            ["UPDATE challenge.t SET a = coalesce(... clock_timestamp() ...)"],
        ),
        ("UPDATE challenge.t SET a = coalesce(a, v_now)", []),
        # outside CASE/COALESCE, and outside the SET list, a STABLE call is allowed
        (
            "UPDATE challenge.t SET a = now(), b = CASE WHEN c THEN 1 END"
            " WHERE d = CASE WHEN e THEN now() END",
            [],
        ),
        (
            "UPDATE challenge.t SET a = x.a FROM (SELECT coalesce(y, now()) AS a FROM z) AS x"
            " WHERE t.k = x.k",
            [],
        ),
        # the SQL value keywords, with or without parentheses
        (
            "UPDATE challenge.t SET a = CASE WHEN b THEN current_timestamp END",
            ["UPDATE challenge.t SET a = CASE ... current_timestamp ... END"],
        ),
        (
            "UPDATE challenge.t SET a = CASE WHEN b THEN localtimestamp(3) END",
            ["UPDATE challenge.t SET a = CASE ... localtimestamp ... END"],
        ),
        # the schema's functions, by their volatility in the catalog (unknown ones count as not IMMUTABLE)
        (
            "UPDATE challenge.t SET a = CASE WHEN challenge.stable_fn(b) THEN 1 END",
            ["UPDATE challenge.t SET a = CASE ... challenge.stable_fn() ... END"],
        ),
        ("UPDATE challenge.t SET a = CASE WHEN challenge.pure_fn(b) THEN 1 END", []),
        (
            "UPDATE challenge.t SET a = coalesce(challenge.new_fn(b), 1)",
            ["UPDATE challenge.t SET a = coalesce(... challenge.new_fn() ...)"],
        ),
        # pg_catalog functions by volatility (format: STABLE; lower: IMMUTABLE)
        (
            "UPDATE challenge.t SET a = CASE WHEN b THEN format('%s', c) ELSE lower(c) END",
            ["UPDATE challenge.t SET a = CASE ... format() ... END"],
        ),
        # the listed calls, nested anywhere in the CASE, several in one
        (
            "UPDATE challenge.t SET a = CASE WHEN b THEN coalesce(c, random()) ELSE nextval('s') END",
            [
                "UPDATE challenge.t SET a = CASE ... random() ... END",
                "UPDATE challenge.t SET a = CASE ... nextval() ... END",
            ],
        ),
        (
            "UPDATE challenge.t SET a = CASE WHEN b THEN txid_current_if_assigned() END",
            ["UPDATE challenge.t SET a = CASE ... txid_current_if_assigned() ... END"],
        ),
        # timestamptz +/- interval (a STABLE operator), by declared, column and literal types
        (
            "UPDATE challenge.t SET a = CASE WHEN b THEN v_now + p_lease END",
            ["UPDATE challenge.t SET a = CASE ... timestamptz + interval ... END"],
        ),
        (
            "UPDATE challenge.t AS t SET a = coalesce(t.due_at - interval '1 day', v_now)",
            ["UPDATE challenge.t SET a = coalesce(... timestamptz - interval ...)"],
        ),
        (
            "UPDATE challenge.t AS t SET a = CASE WHEN b THEN v_now + least(t.wait, interval '1 hour') END",
            ["UPDATE challenge.t SET a = CASE ... timestamptz + interval ... END"],
        ),
        ("UPDATE challenge.t AS t SET a = CASE WHEN b THEN v_now - t.due_at END", []),
        ("UPDATE challenge.t AS t SET n = CASE WHEN b THEN t.n::bigint + v_count END", []),
        # comments and string literals are not code
        ("UPDATE challenge.t SET a = CASE WHEN b THEN 'now()' END -- CASE WHEN now()", []),
        ("UPDATE challenge.t SET a = /* CASE now() */ b", []),
        # IS DISTINCT FROM does not end the SET list; FROM does
        (
            "UPDATE challenge.t SET a = b IS DISTINCT FROM c, d = CASE WHEN e THEN now() END",
            ["UPDATE challenge.t SET d = CASE ... now() ... END"],
        ),
        # an UPDATE in a CTE
        (
            "WITH x AS (UPDATE challenge.t SET a = coalesce(a, now()) RETURNING a)"
            " SELECT coalesce(a, now()) FROM x",
            ["UPDATE challenge.t SET a = coalesce(... now() ...)"],
        ),
        # ON CONFLICT DO UPDATE: anywhere in the SET list, and in its WHERE
        (
            "INSERT INTO challenge.t AS t (k, a) VALUES (1, now())"
            " ON CONFLICT (k) DO UPDATE SET a = now(), b = excluded.b",
            ["INSERT INTO challenge.t ON CONFLICT DO UPDATE SET a = ... now() ..."],
        ),
        ("INSERT INTO challenge.t (k, a) VALUES (1, now()) ON CONFLICT (k) DO UPDATE SET a = excluded.a", []),
        ("INSERT INTO challenge.t (k) VALUES (1) ON CONFLICT (k) DO UPDATE SET a = excluded.a + p_lease", []),
        (
            "INSERT INTO challenge.t (k) VALUES (1)"
            " ON CONFLICT (k) DO UPDATE SET due_at = excluded.due_at + p_lease",
            ["INSERT INTO challenge.t ON CONFLICT DO UPDATE SET due_at = ... timestamptz + interval ..."],
        ),
        (
            "INSERT INTO challenge.t (k) VALUES (1)"
            " ON CONFLICT (k) DO UPDATE SET a = 1 WHERE t.a < now() RETURNING now()",
            ["INSERT INTO challenge.t ON CONFLICT DO UPDATE ... WHERE ... now() ..."],
        ),
        ("INSERT INTO challenge.t (k) VALUES (1) ON CONFLICT (k) DO NOTHING", []),
    ],
)
def test_scan_mutable_in_set(sql: str, expected: list[str]) -> None:
    assert scan_mutable_in_set(sql, TYPES) == expected


PER_PLAYER: Final = frozenset({"challenge.progress", "challenge.ledger"})


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "UPDATE challenge.progress AS p SET a = 1 WHERE p.user_id = p_user_id AND p.goal_id = p_goal_id",
            [],
        ),
        ("UPDATE challenge.progress SET a = 1 WHERE user_id = ANY (p_user_ids)", []),
        ("UPDATE challenge.progress SET a = 1 WHERE progress.user_id IN (SELECT u FROM x)", []),
        (
            "UPDATE challenge.progress AS p SET a = 1 FROM c"
            " WHERE c.user_id = p.user_id AND c.goal_id = p.goal_id",
            [],
        ),
        (
            "UPDATE challenge.progress AS p SET a = 1 WHERE p.goal_id = p_goal_id",
            ["UPDATE challenge.progress AS p WHERE p.goal_id = p_goal_id"],
        ),
        # user_id only in SET or RETURNING, or of another table, does not count
        (
            "UPDATE challenge.progress AS p SET user_id = p_user_id WHERE p.goal_id = $1 RETURNING p.user_id",
            ["UPDATE challenge.progress AS p WHERE p.goal_id = $1"],
        ),
        (
            "UPDATE challenge.progress AS p SET a = 1 FROM challenge.other AS o"
            " WHERE o.user_id = $1 AND p.k = o.k",
            ["UPDATE challenge.progress AS p FROM challenge.other AS o WHERE o.user_id = $1 AND p.k = o.k"],
        ),
        ("DELETE FROM challenge.ledger AS l USING d WHERE l.user_id = d.user_id AND l.n = d.n", []),
        (
            "DELETE FROM challenge.ledger WHERE recorded_at < $1",
            ["DELETE FROM challenge.ledger WHERE recorded_at < $1"],
        ),
        ("DELETE FROM challenge.ledger", ["DELETE FROM challenge.ledger"]),
        # not a per-player table
        ("UPDATE challenge.goals AS g SET a = 1 WHERE g.goal_id = $1", []),
        ("DELETE FROM challenge.goals WHERE goal_id = $1", []),
        # not statements: row locks, upserts, strings and comments
        ("SELECT 1 FROM challenge.progress AS p WHERE p.user_id = $1 FOR UPDATE OF p", []),
        ("INSERT INTO challenge.progress (k) VALUES (1) ON CONFLICT (k) DO UPDATE SET a = 1", []),
        ("SELECT 'DELETE FROM challenge.progress' -- UPDATE challenge.progress SET a = 1", []),
        # long conditions are cut short
        (
            "WITH x AS (UPDATE challenge.progress AS p SET a = 1"
            " WHERE p.state = 'pending' AND p.attempts < p.max_attempts AND p.available_at <= now()"
            " RETURNING 1) SELECT * FROM x",
            ["UPDATE challenge.progress AS p WHERE p.state = 'pending' AND p.attempts < p.max_attempts ..."],
        ),
    ],
)
def test_scan_dml_by_user_id(sql: str, expected: list[str]) -> None:
    assert scan_dml_by_user_id(sql, PER_PLAYER) == expected


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "SELECT p.a FROM challenge.progress AS p"
            " WHERE p.user_id = p_user_id AND p.goal_id = $2 FOR UPDATE",
            [],
        ),
        ("PERFORM FROM challenge.progress AS p WHERE p_user_id = p.user_id FOR NO KEY UPDATE OF p", []),
        ("SELECT a FROM challenge.progress WHERE user_id = $1 FOR SHARE", []),
        (
            "SELECT 1 FROM challenge.progress AS p WHERE p.state = 'x' FOR UPDATE SKIP LOCKED",
            ["challenge.progress AS p ... FOR UPDATE SKIP LOCKED"],
        ),
        (
            "SELECT 1 FROM challenge.progress AS p WHERE p.user_id = ANY (p_ids) FOR SHARE",
            ["challenge.progress AS p ... FOR SHARE"],
        ),
        (
            "SELECT 1 FROM challenge.progress AS p JOIN d ON d.user_id = p.user_id FOR KEY SHARE OF p",
            ["challenge.progress AS p ... FOR KEY SHARE OF p"],
        ),
        (
            "SELECT 1 FROM challenge.progress AS p WHERE p.goal_id = $1 FOR NO KEY UPDATE OF p NOWAIT",
            ["challenge.progress AS p ... FOR NO KEY UPDATE OF p NOWAIT"],
        ),
        # only the locked tables count: OF names them
        (
            "SELECT 1 FROM challenge.goals AS g JOIN challenge.progress AS p ON p.goal_id = g.goal_id"
            " FOR UPDATE OF g",
            [],
        ),
        (
            "SELECT 1 FROM challenge.goals AS g JOIN challenge.progress AS p ON p.goal_id = g.goal_id"
            " FOR UPDATE",
            ["challenge.progress AS p ... FOR UPDATE"],
        ),
        # a lock in a CTE; a PL/pgSQL FOR loop is not a lock
        (
            "WITH d AS (SELECT l.user_id FROM challenge.ledger AS l WHERE l.n < 5 LIMIT 10"
            " FOR UPDATE OF l SKIP LOCKED)"
            " DELETE FROM challenge.ledger AS l USING d WHERE l.user_id = d.user_id",
            ["challenge.ledger AS l ... FOR UPDATE OF l SKIP LOCKED"],
        ),
        ("FOR v_row IN SELECT * FROM challenge.progress AS p WHERE p.goal_id = $1 LOOP END LOOP", []),
        ("SELECT 1 FROM challenge.progress AS p -- FOR UPDATE", []),
    ],
)
def test_scan_row_locks(sql: str, expected: list[str]) -> None:
    assert scan_row_locks(sql, PER_PLAYER) == expected


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT p.ctid FROM challenge.progress AS p", ["SELECT p.ctid FROM challenge.progress AS p"]),
        ("DELETE FROM t\nWHERE ctid = ANY (v_rows);", ["WHERE ctid = ANY (v_rows);"]),
        (
            "EXECUTE format('DELETE FROM %I WHERE ctid = $1', v_table)",
            ["EXECUTE format('DELETE FROM %I WHERE ctid = $1', v_table)"],
        ),
        ("SELECT 1 -- not by ctid\n/* nor by ctid */", []),
        # a function body is code too
        (
            "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $f$\n SELECT 1; -- ctid\n"
            " SELECT x.ctid FROM x;\n$f$",
            ["SELECT x.ctid FROM x;"],
        ),
        ('SELECT v_ctid, ctidx, "ctid_of" FROM t', []),
    ],
)
def test_scan_ctid(sql: str, expected: list[str]) -> None:
    assert scan_ctid(sql) == expected


def test_dynamic_sql_is_scanned_too() -> None:
    source = """
    CREATE OR REPLACE FUNCTION challenge.f(p_day date)
    RETURNS void
    LANGUAGE plpgsql
    AS $function$
    DECLARE
        v_now timestamptz := now();
        v_limit CONSTANT integer DEFAULT 5;
        v_row challenge.progress%ROWTYPE;
    BEGIN
        -- 'UPDATE challenge.progress SET a = 1' in a comment is not SQL
        RAISE NOTICE 'no statement here: %', p_day;
        EXECUTE format('DELETE FROM challenge.progress WHERE goal_id = $1'
            || ' AND day = %L', p_day) USING 'g';
    END;
    $function$;
    """
    [function] = parse_functions(source)
    assert function.name == "f"
    assert function.variables == {
        "p_day": "date",
        "v_now": "timestamptz",
        "v_limit": "integer",
        "v_row": "challenge.progress",
    }
    assert dynamic_sql(function.body) == ["DELETE FROM challenge.progress WHERE goal_id = $1 AND day = %L"]
    assert [found for text in function.texts() for found in scan_dml_by_user_id(text, PER_PLAYER)] == [
        "DELETE FROM challenge.progress WHERE goal_id = $1 AND day = %L"
    ]


def test_tokens_keep_literals_whole_and_drop_comments() -> None:
    tokens = tokenize(
        "SELECT 'it''s -- not a comment', E'a\\'b', $q$x;y$q$, \"Mixed\" -- gone\n/* gone /* nested */ */ $1"
    )
    assert [(t.kind, t.text) for t in tokens] == [
        ("word", "select"),
        ("string", "it's -- not a comment"),
        ("op", ","),
        ("string", "a'b"),
        ("op", ","),
        ("string", "x;y"),
        ("op", ","),
        ("word", "Mixed"),
        ("param", "$1"),
    ]
    assert without_comments("a -- b\nc /* d */ 'e -- f'") == "a     \nc         'e -- f'"
