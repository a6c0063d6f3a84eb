"""Helpers for the privilege tests: a deployment's roles and connections, a catalog, catalog queries.

A ``Deployment`` is a database migrated by a non-superuser owner role, with the three group roles of
revision 0009 (``<prefix>_app``, ``_reader``, ``_admin``), one login role in each group and an ``outsider``
login in none (tests/privileges/conftest.py builds it). Every name is unique to the test run: roles are
cluster-wide and the test server is shared.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from tests.sql.sqlhelpers import goal, rotation

ROOT: Final = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR: Final = ROOT / "plpgsql" / "functions"
# The SQL contract, whose "### Roles and privileges" table says who may execute what.
CONTRACT: Final = ROOT / "docs" / "api.md"

Kind = Literal["app", "reader", "admin"]
KINDS: Final[tuple[Kind, ...]] = ("app", "reader", "admin")
# The logins the tests connect as: one per group, and one in no group.
Login = Literal["app", "reader", "admin", "outsider"]
LOGINS: Final[tuple[Login, ...]] = ("app", "reader", "admin", "outsider")

INSUFFICIENT_PRIVILEGE: Final = "42501"


@dataclass(frozen=True)
class Deployment:
    """A migrated database, its roles, and how to connect as each of them."""

    dbname: str
    prefix: str
    owner: str
    groups: dict[Kind, str]
    logins: dict[Login, str]
    superuser_url: str
    owner_url: str
    login_urls: dict[Login, str]

    def url(self, login: Login) -> str:
        return self.login_urls[login]


# Opens a connection (autocommit unless told otherwise) as a login, closed after the test.
Connect = Callable[..., psycopg.Connection[Any]]


# guard: increments (kills, target 3), an absolute stat (level, target 10), a once-a-day login goal, and
# three goals no player gets by default, for select_goals and random_select_goals.
# spare: a second challenge, so that filtering by challenge has something to filter out; its goal rotates
# monthly (get_rotation_status has a clock to show).
CONFIG: Final[dict[str, Any]] = {
    "challenges": [
        {
            "challengeId": "guard",
            "name": "Guard Challenge",
            "description": "Privilege test catalog",
            "goals": [
                goal("kill-3", type="increment", target=3),
                goal("level-10", type="absolute", target=10, stat="level"),
                goal("login-daily", type="increment", target=5, stat="login", source="login", daily=True),
                goal("pick-a", type="increment", target=1, default=False),
                goal("pick-b", type="increment", target=1, default=False),
                goal("pick-c", type="increment", target=1, default=False),
            ],
        },
        {
            "challengeId": "spare",
            "name": "Spare Challenge",
            "description": "Privilege test catalog",
            "goals": [goal("swim-2", type="increment", target=2, stat="swims", rotation=rotation("monthly"))],
        },
    ]
}
DEFAULT_GOALS: Final = ("kill-3", "level-10", "login-daily", "swim-2")


# --- the functions and relations of schema challenge ---------------------------------------------------


@dataclass(frozen=True)
class Function:
    """One function of schema challenge, as the catalog knows it."""

    oid: int
    name: str
    signature: str  # regprocedure text: challenge.name(argtype, ...)
    arg_types: tuple[str, ...]  # format_type of each input argument, schema-qualified where needed

    @property
    def private(self) -> bool:
        return self.name.startswith("_")

    def null_call(self) -> sql.Composed:
        """``SELECT challenge.name(NULL::type, ...)``: a call that resolves to exactly this function."""
        arguments = sql.SQL(", ").join(sql.SQL("NULL::" + arg) for arg in self.arg_types)
        return sql.SQL("SELECT {}.{}({})").format(
            sql.Identifier("challenge"), sql.Identifier(self.name), arguments
        )


def functions(conn: psycopg.Connection[Any]) -> list[Function]:
    """Every function of schema challenge (pg_proc), by name then oid."""
    rows = conn.execute(
        "SELECT p.oid::bigint, p.proname::text, p.oid::regprocedure::text,"
        " coalesce((SELECT array_agg(pg_catalog.format_type(t.type, NULL) ORDER BY t.n)"
        "           FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS t (type, n)), '{}')"
        " FROM pg_catalog.pg_proc AS p"
        " WHERE p.pronamespace = 'challenge'::regnamespace"
        " ORDER BY p.proname, p.oid"
    ).fetchall()
    return [Function(int(oid), name, signature, tuple(types)) for oid, name, signature, types in rows]


@dataclass(frozen=True)
class Relation:
    oid: int
    name: str  # unqualified
    qualified: str  # regclass text (challenge.name)
    relkind: str
    first_column: str | None  # one that an UPDATE may name (not an identity or generated column)

    @property
    def is_sequence(self) -> bool:
        return self.relkind == "S"

    @property
    def identifier(self) -> sql.Identifier:
        return sql.Identifier("challenge", self.name)


# Tables, partitioned tables, views, materialized views, foreign tables and sequences: the relations that
# carry privileges (indexes and composite types have none).
RELATION_KINDS: Final = ("r", "p", "v", "m", "f", "S")


def relations(conn: psycopg.Connection[Any]) -> list[Relation]:
    rows = conn.execute(
        "SELECT c.oid::bigint, c.relname::text, c.oid::regclass::text, c.relkind::text,"
        " (SELECT a.attname::text FROM pg_catalog.pg_attribute AS a"
        "  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
        "   AND a.attidentity = '' AND a.attgenerated = ''"
        "  ORDER BY a.attnum LIMIT 1)"
        " FROM pg_catalog.pg_class AS c"
        " WHERE c.relnamespace = 'challenge'::regnamespace AND c.relkind = ANY(%s)"
        " ORDER BY c.relname",
        [list(RELATION_KINDS)],
    ).fetchall()
    return [Relation(int(oid), name, qualified, kind, column) for oid, name, qualified, kind, column in rows]


def access_rules(conn: psycopg.Connection[Any]) -> dict[str, frozenset[str]]:
    """challenge._access_rules(), function name -> role kinds (read as the owner or a superuser)."""
    rows = conn.execute("SELECT function_name, roles FROM challenge._access_rules()").fetchall()
    return {str(name): frozenset(kinds) for name, kinds in rows}


def readme_privileges() -> dict[str, frozenset[str]]:
    """docs/api.md's table under "### Roles and privileges": function name -> the kinds with a check mark."""
    text = CONTRACT.read_text(encoding="utf-8")
    start = text.index("### Roles and privileges")
    section = text[start : text.find("\n#", start + 1)]
    header: list[str] | None = None
    table: dict[str, frozenset[str]] = {}
    for line in section.splitlines():
        if not line.startswith("|"):
            if header is not None and table:
                break  # the table ended
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
            assert header[0] == "function" and header[1:] == list(KINDS), header
            continue
        if set("".join(cells)) <= set("-: "):
            continue  # the alignment row
        match = re.fullmatch(r"`([a-z_]+)`", cells[0])
        assert match, f"docs/api.md privilege table: bad function cell {cells[0]!r}"
        assert all(cell in ("", "✓") for cell in cells[1:]), line
        assert match.group(1) not in table, f"docs/api.md privilege table names {match.group(1)} twice"
        table[match.group(1)] = frozenset(
            kind for kind, cell in zip(KINDS, cells[1:], strict=True) if cell == "✓"
        )
    assert table, "docs/api.md: no privilege table under ### Roles and privileges"
    return table


# --- calls and their outcome ---------------------------------------------------------------------------


def sqlstate_of(
    conn: psycopg.Connection[Any], statement: str | sql.SQL | sql.Composed, params: Any = None
) -> str | None:
    """The SQLSTATE a statement raises, or None when it passes; rolled back either way."""
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(statement, params)
    except psycopg.Error as error:
        return error.diag.sqlstate
    return None


@contextmanager
def denied() -> Iterator[None]:
    """Expect the block to raise psycopg.errors.InsufficientPrivilege (42501)."""
    try:
        yield
    except psycopg.errors.InsufficientPrivilege:
        return
    raise AssertionError("expected InsufficientPrivilege (42501), the statement passed")


def table_digest(conn: psycopg.Connection[Any], names: Sequence[str]) -> dict[str, str]:
    """An md5 of every row of each table (by text form, sorted): equal digests, equal contents."""
    digests: dict[str, str] = {}
    for name in names:
        row = conn.execute(
            sql.SQL(
                "SELECT count(*), coalesce(string_agg(t::text, '|' ORDER BY t::text), '') FROM {} AS t"
            ).format(sql.Identifier("challenge", name))
        ).fetchone()
        assert row is not None
        digests[name] = f"{row[0]}:{hashlib.md5(str(row[1]).encode()).hexdigest()}"
    return digests


def leaf_tables(conn: psycopg.Connection[Any]) -> list[str]:
    """The tables of schema challenge that hold rows (partitioned parents excluded)."""
    rows = conn.execute(
        "SELECT c.relname::text FROM pg_catalog.pg_class AS c"
        " WHERE c.relnamespace = 'challenge'::regnamespace AND c.relkind = 'r' ORDER BY c.relname"
    ).fetchall()
    return [name for (name,) in rows]


# --- a workload in raw SQL that names no type or function through the caller's search_path -------------


class Calls:
    """One method per public function the app may call, as raw SQL whose every cast is pg_catalog-qualified:
    the caller's own statements resolve the same under a hostile search_path (only the functions' insides
    are under test there)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def rows(self, statement: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        with self.conn.cursor(row_factory=dict_row) as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall()

    def value(self, statement: str, params: Sequence[Any]) -> Any:
        rows = self.rows(statement, params)
        assert len(rows) == 1, rows
        return next(iter(rows[0].values()))

    def init(self, user: str) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM challenge.initialize_player(%s::pg_catalog.text)", [user])

    def set_active(self, user: str, goal: str, active: bool) -> list[dict[str, Any]]:
        return self.rows(
            "SELECT * FROM challenge.set_goal_active(%s::pg_catalog.text, %s::pg_catalog.text,"
            " %s::pg_catalog.bool)",
            [user, goal, active],
        )

    def select_goals(self, user: str, challenge_id: str, goals: Sequence[str]) -> list[dict[str, Any]]:
        return self.rows(
            "SELECT * FROM challenge.select_goals(%s::pg_catalog.text, %s::pg_catalog.text,"
            " %s::pg_catalog.text[])",
            [user, challenge_id, list(goals)],
        )

    def random_select(self, user: str, challenge_id: str, count: int, seed: str) -> list[dict[str, Any]]:
        return self.rows(
            "SELECT * FROM challenge.random_select_goals(%s::pg_catalog.text, %s::pg_catalog.text,"
            " %s::pg_catalog.int4, p_seed => %s::pg_catalog.text)",
            [user, challenge_id, count, seed],
        )

    def inc(self, user: str, goal: str, delta: int, event_id: str | None = None) -> list[dict[str, Any]]:
        """increment_progress with occurred_at left to its default (now())."""
        return self.rows(
            "SELECT * FROM challenge.increment_progress(%s::pg_catalog.text, %s::pg_catalog.text,"
            " %s::pg_catalog.int4, %s::pg_catalog.text)",
            [user, goal, delta, event_id],
        )

    def inc_batch(self, items: list[dict[str, Any]]) -> Any:
        return self.value(
            "SELECT challenge.increment_progress_batch(%s::pg_catalog.jsonb, p_detail => true)",
            [Jsonb(items)],
        )

    def set_batch(self, items: list[dict[str, Any]]) -> Any:
        return self.value(
            "SELECT challenge.set_progress_batch(%s::pg_catalog.jsonb, p_detail => true)", [Jsonb(items)]
        )

    def record(self, events: list[dict[str, Any]]) -> Any:
        return self.value(
            "SELECT challenge.record_events(%s::pg_catalog.jsonb, p_detail => true)", [Jsonb(events)]
        )

    def record_sourced(self, events: list[dict[str, Any]], source: str, epoch: int) -> Any:
        return self.value(
            "SELECT challenge.record_events(%s::pg_catalog.jsonb, p_detail => true,"
            " p_source => %s::pg_catalog.text, p_epoch => %s::pg_catalog.int8)",
            [Jsonb(events), source, epoch],
        )

    def acquire(self, source: str) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM challenge.acquire_source(%s::pg_catalog.text)", [source])

    def claim(self, user: str, goal: str, claim_id: str) -> list[dict[str, Any]]:
        return self.rows(
            "SELECT * FROM challenge.claim_goal(%s::pg_catalog.text, %s::pg_catalog.text,"
            " %s::pg_catalog.text)",
            [user, goal, claim_id],
        )

    def get(self, user: str, goal: str) -> list[dict[str, Any]]:
        return self.rows(
            "SELECT * FROM challenge.get_progress(%s::pg_catalog.text, %s::pg_catalog.text)", [user, goal]
        )

    def user_progress(self, user: str) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM challenge.get_user_progress(%s::pg_catalog.text)", [user])

    def rotation(self, challenge_id: str) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM challenge.get_rotation_status(%s::pg_catalog.text)", [challenge_id])

    def explain(self, user: str, goal: str) -> list[dict[str, Any]]:
        return self.rows(
            "SELECT * FROM challenge.explain_progress(%s::pg_catalog.text, %s::pg_catalog.text)", [user, goal]
        )
