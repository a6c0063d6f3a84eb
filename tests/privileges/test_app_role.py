"""The three logins at work: each does what its role is for, and nothing more.

The app login runs every player write and read end to end through ``pgchallenge.Client``; the admin login
runs the outbox, the maintenance and the config; the reader reads and changes nothing. None of them may
touch a table, call a private function, create or replace anything in schema challenge, or become another
role.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from pgchallenge import Client, Event, IncrementItem, SetItem
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from tests.privileges.privhelpers import (
    CONFIG,
    DEFAULT_GOALS,
    INSUFFICIENT_PRIVILEGE,
    Connect,
    Deployment,
    Login,
    Relation,
    access_rules,
    denied,
    leaf_tables,
    relations,
    sqlstate_of,
    table_digest,
)

INCREMENT_PROGRESS_SIGNATURE = "challenge.increment_progress(text, text, integer, text, timestamptz)"


def _rotation(conn: psycopg.Connection[Any], challenge_id: str) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cursor:
        cursor.execute("SELECT * FROM challenge.get_rotation_status(%s::text)", [challenge_id])
        return cursor.fetchall()


def _complete_and_claim(app: Client, player: str, claim_id: str) -> None:
    """As the app: assign the default goals, complete kill-3 and claim it."""
    app.initialize_player(player)
    result = app.increment_progress(player, "kill-3", 3)
    assert result.newly_completed
    app.claim_goal(player, "kill-3", claim_id)


# --- the app login ---------------------------------------------------------------------------------------


def test_the_app_login_runs_every_player_write_and_read(
    connect_as: Connect, player: str, superuser: psycopg.Connection[Any]
) -> None:
    conn = connect_as("app")
    app = Client(conn)
    now = conn.execute("SELECT now()").fetchone()
    assert now is not None

    rows = app.initialize_player(player)
    assert sorted(r.goal_id for r in rows) == sorted(DEFAULT_GOALS)
    assert app.set_goal_active(player, "pick-a", True).is_active
    assert [r.goal_id for r in app.select_goals(player, "guard", ["pick-b"])] == ["pick-b"]
    picked = app.random_select_goals(player, "guard", 5, seed="privileges")
    assert [r.goal_id for r in picked] == ["pick-c"]  # the only guard goal not active yet

    first = app.increment_progress(player, "kill-3")
    assert (first.outcome, first.progress) == ("applied", 1)
    with_event = app.increment_progress(player, "kill-3", 1, event_id="inc-1", occurred_at=now[0])
    assert (with_event.outcome, with_event.progress) == ("applied", 2)
    again = app.increment_progress(player, "kill-3", 1, event_id="inc-1")
    assert (again.outcome, again.progress) == ("duplicate_event", 2)

    batch = app.increment_progress_batch(
        [IncrementItem(player, "kill-3", 1, "inc-2"), IncrementItem(player, "pick-a", 1)], detail=True
    )
    assert batch.applied == 2
    assert sorted(c.goal_id for c in batch.completed) == ["kill-3", "pick-a"]
    absolute = app.set_progress_batch([SetItem(player, "level-10", 10, "lvl-1")])
    assert (absolute.applied, [c.goal_id for c in absolute.completed]) == (1, ["level-10"])

    events = app.record_events(
        [Event("ev-1", player, "login"), Event("ev-2", player, "statistic", stat_code="swims", inc=1)]
    )
    assert (events.events, events.applied, events.duplicate_events) == (2, 2, 0)
    replay = app.record_events([Event("ev-1", player, "login")])
    assert (replay.events, replay.applied, replay.duplicate_events) == (1, 0, 1)

    source = f"src-{player}"
    position = app.acquire_source(source)
    assert (position.epoch, position.position) == (1, None)
    sourced = app.record_events(
        [Event(None, player, "statistic", stat_code="swims", inc=1, position=7)],
        source=source,
        epoch=position.epoch,
    )
    assert (sourced.applied, sourced.position) == (1, 7)
    redelivered = app.record_events(
        [Event(None, player, "statistic", stat_code="swims", inc=1, position=7)],
        source=source,
        epoch=position.epoch,
    )
    assert (redelivered.applied, redelivered.duplicate_events) == (0, 1)
    assert app.acquire_source(source).position == 7

    claim_id = f"claim-{player}"
    claim = app.claim_goal(player, "kill-3", claim_id)
    assert (claim.claim_id, claim.goal_id, claim.reward_id, claim.replayed) == (
        claim_id,
        "kill-3",
        "reward-kill-3",
        False,
    )
    assert app.claim_goal(player, "kill-3", claim_id).replayed

    kill = app.get_progress(player, "kill-3")
    assert kill is not None and kill.status == "claimed"
    assert app.get_progress(player, "no-such-goal") is None
    progress = {r.goal_id: (r.progress, r.status) for r in app.get_user_progress(player)}
    assert progress == {
        "kill-3": (3, "claimed"),
        "level-10": (10, "completed"),
        "login-daily": (1, "in_progress"),
        "swim-2": (2, "completed"),
        "pick-a": (1, "completed"),
        "pick-b": (0, "not_started"),
        "pick-c": (0, "not_started"),
    }
    assert [r.goal_id for r in app.get_user_progress(player, challenge_id="spare")] == ["swim-2"]
    rotation = _rotation(conn, "spare")
    assert [(r["enabled"], r["goal_id"], r["schedule"]) for r in rotation] == [(True, "swim-2", "monthly")]
    history = app.explain_progress(player, "kill-3")
    assert [e.progress_after for e in history if e.operation == "increment"] == [1, 2, 3]
    assert [e.operation for e in history][-1] == "claim"

    # The outbox row exists, pending, as the superuser sees it.
    row = superuser.execute(
        "SELECT user_id, goal_id, state FROM challenge.reward_grants WHERE claim_id = %s", [claim_id]
    ).fetchone()
    assert row == (player, "kill-3", "pending")


def test_the_app_login_may_not_run_the_admin_or_reader_only_functions(
    connect_as: Connect, player: str
) -> None:
    app = Client(connect_as("app"))
    calls: list[Callable[[], object]] = [
        lambda: app.load_config(CONFIG),
        lambda: app.lease_reward_grants("w", 1),
        lambda: app.finish_reward_grant(player, f"claim-{player}", True),
        lambda: app.delete_user_data(player),
        lambda: app.delete_expired_progress(),
        lambda: app.prune_processed_events(),
        lambda: app.create_ledger_partitions(),
        lambda: app.prune_ledger(),
        lambda: app.status(),
    ]
    for call in calls:
        with denied():
            call()


# --- the admin login -------------------------------------------------------------------------------------


def test_the_admin_login_runs_the_outbox_maintenance_and_config(
    connect_as: Connect, player: str, superuser: psycopg.Connection[Any]
) -> None:
    app = Client(connect_as("app"))
    admin = Client(connect_as("admin"))
    claim_id = f"claim-{player}"
    _complete_and_claim(app, player, claim_id)
    old = Event("old-1", player, "statistic", stat_code="swims")
    assert app.record_events([old]).applied == 1
    assert app.record_events([old]).duplicate_events == 1

    worker = f"worker-{player}"
    leased = admin.lease_reward_grants(worker, 10_000)
    mine = [g for g in leased if g.claim_id == claim_id]
    assert len(mine) == 1 and mine[0].leased_by == worker and mine[0].user_id == player
    for grant in leased:  # the others came from other tests: hand them back, untouched
        if grant.claim_id != claim_id:
            admin.finish_reward_grant(grant.user_id, grant.claim_id, False, "not this test's")
    finished = admin.finish_reward_grant(player, claim_id, True)
    assert finished.state == "granted"

    assert admin.delete_expired_progress() >= 0
    assert admin.prune_processed_events(older_than=timedelta(0)) >= 1
    # The event id is forgotten: a redelivery counts again.
    forgotten = app.record_events([old])
    assert (forgotten.duplicate_events, forgotten.applied) == (0, 1)
    assert admin.create_ledger_partitions(2) >= 0
    assert admin.create_ledger_partitions(2) == 0  # idempotent
    assert admin.prune_ledger() >= 0

    assert admin.set_ledger(False) is False
    assert admin.set_ledger(True) is True
    loaded = admin.load_config(CONFIG)
    assert loaded.updated == () and loaded.retired == ()
    metrics = {(m.metric, tuple(sorted(m.labels.items()))): m for m in admin.status()}
    assert metrics[("pgchallenge_config_version", (("digest", loaded.digest),))].value == loaded.version
    assert ("pgchallenge_outbox_grants", (("state", "pending"),)) in metrics

    assert admin.explain_progress(player, "kill-3")
    assert admin.delete_user_data(player) > 0
    assert app.get_progress(player, "kill-3") is None
    assert superuser.execute(
        "SELECT count(*) FROM challenge.ledger WHERE user_id = %s", [player]
    ).fetchone() == (0,)

    with denied():  # the admin does not play
        admin.initialize_player(player)


# --- the reader login ------------------------------------------------------------------------------------


def test_the_reader_login_reads_and_changes_nothing(
    connect_as: Connect, player: str, superuser: psycopg.Connection[Any]
) -> None:
    app = Client(connect_as("app"))
    claim_id = f"claim-{player}"
    _complete_and_claim(app, player, claim_id)
    conn = connect_as("reader")
    reader = Client(conn)

    kill = reader.get_progress(player, "kill-3")
    assert kill is not None and kill.status == "claimed"
    assert {r.goal_id for r in reader.get_user_progress(player)} == set(DEFAULT_GOALS)
    assert [e.operation for e in reader.explain_progress(player, "kill-3")][-1] == "claim"
    assert any(m.metric == "pgchallenge_progress_rows" for m in reader.status())
    assert _rotation(conn, "guard")[0]["enabled"] is False

    tables = leaf_tables(superuser)
    before = table_digest(superuser, tables)
    writes: list[tuple[str, Callable[[], object]]] = [
        ("initialize_player", lambda: reader.initialize_player(f"{player}-new")),
        ("set_goal_active", lambda: reader.set_goal_active(player, "pick-a", True)),
        ("select_goals", lambda: reader.select_goals(player, "guard", ["pick-a"])),
        ("random_select_goals", lambda: reader.random_select_goals(player, "guard", 1)),
        ("increment_progress", lambda: reader.increment_progress(player, "level-10", 1)),
        ("increment_progress", lambda: reader.increment_progress(player, "login-daily", 1, event_id="r-1")),
        (
            "increment_progress_batch",
            lambda: reader.increment_progress_batch([IncrementItem(player, "login-daily")]),
        ),
        ("set_progress_batch", lambda: reader.set_progress_batch([SetItem(player, "level-10", 10)])),
        ("record_events", lambda: reader.record_events([Event("r-2", player, "login")])),
        ("acquire_source", lambda: reader.acquire_source(f"src-{player}")),
        (
            "record_events",
            lambda: reader.record_events(
                [Event(None, player, "login", position=1)], source=f"src-{player}", epoch=1
            ),
        ),
        ("claim_goal", lambda: reader.claim_goal(player, "kill-3", claim_id)),
        ("load_config", lambda: reader.load_config(CONFIG)),
        ("set_ledger", lambda: reader.set_ledger(False)),
        ("lease_reward_grants", lambda: reader.lease_reward_grants("reader", 10)),
        ("finish_reward_grant", lambda: reader.finish_reward_grant(player, claim_id, True)),
        ("delete_user_data", lambda: reader.delete_user_data(player)),
        ("delete_expired_progress", lambda: reader.delete_expired_progress(timedelta(0))),
        ("prune_processed_events", lambda: reader.prune_processed_events(timedelta(0))),
        ("create_ledger_partitions", lambda: reader.create_ledger_partitions(30)),
        ("prune_ledger", lambda: reader.prune_ledger(timedelta(0))),
    ]
    # Every function the reader lacks is tried (a new write function must be added here).
    rules = access_rules(superuser)
    assert {name for name, _ in writes} == {name for name, kinds in rules.items() if "reader" not in kinds}
    for _, call in writes:
        with denied():
            call()
    assert table_digest(superuser, tables) == before


# --- no direct access ------------------------------------------------------------------------------------


def _direct_statements(relation: Relation) -> list[sql.Composed]:
    """Every way to reach a relation's rows without a function."""
    target = relation.identifier
    if relation.is_sequence:
        name = sql.Literal(relation.qualified)
        return [
            sql.SQL("SELECT * FROM {}").format(target),
            sql.SQL("SELECT nextval({})").format(name),
            sql.SQL("SELECT currval({})").format(name),
            sql.SQL("SELECT setval({}, 1)").format(name),
            sql.SQL("ALTER SEQUENCE {} RESTART").format(target),
        ]
    reads = [
        sql.SQL("SELECT * FROM {} LIMIT 1").format(target),
        sql.SQL("SELECT count(*) FROM {}").format(target),
    ]
    if relation.relkind == "v":  # its rules reject writes before any privilege check; no TRUNCATE
        return reads
    assert relation.first_column is not None
    column = sql.Identifier(relation.first_column)
    return [
        *reads,
        sql.SQL("INSERT INTO {} DEFAULT VALUES").format(target),
        sql.SQL("UPDATE {} SET {} = {}").format(target, column, column),
        sql.SQL("DELETE FROM {}").format(target),
        sql.SQL("TRUNCATE {}").format(target),
        sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE").format(target),
    ]


@pytest.mark.parametrize("login", ["app", "reader", "admin"])
def test_no_login_may_touch_a_table_view_partition_or_sequence(
    login: Login, connect_as: Connect, superuser: psycopg.Connection[Any]
) -> None:
    Client(connect_as("admin")).create_ledger_partitions(1)
    conn = connect_as(login)
    found = relations(superuser)
    assert any(r.name.startswith("ledger_") and r.name != "ledger_default" for r in found)
    problems: list[str] = []
    for relation in found:
        for statement in _direct_statements(relation):
            sqlstate = sqlstate_of(conn, statement)
            if sqlstate != INSUFFICIENT_PRIVILEGE:
                problems.append(f"{statement.as_string(conn)}: SQLSTATE {sqlstate}")
        if relation.relkind in ("r", "p", "v"):
            try:
                copy = sql.SQL("COPY (SELECT * FROM {}) TO STDOUT").format(relation.identifier)
                with (
                    conn.transaction(force_rollback=True),
                    conn.cursor() as cursor,
                    cursor.copy(copy) as rows,
                ):
                    for _ in rows:
                        pass
                problems.append(f"COPY {relation.qualified}: passed")
            except psycopg.errors.InsufficientPrivilege:
                pass
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("login", ["app", "reader", "admin"])
def test_no_login_may_call_a_private_function(login: Login, connect_as: Connect) -> None:
    conn = connect_as(login)
    for statement in (
        "SELECT challenge._limits()",
        "SELECT challenge._access_rules()",
        "SELECT challenge._apply_access()",
        "SELECT * FROM challenge._table_rows('challenge.progress'::regclass)",
        "SELECT challenge._ledger_enabled()",
    ):
        assert sqlstate_of(conn, statement) == INSUFFICIENT_PRIVILEGE, statement


def test_apply_writes_with_nulls_is_refused_before_anything_runs(connect_as: Connect) -> None:
    conn = connect_as("app")
    rows = conn.execute(
        "SELECT pg_catalog.format_type(t, NULL) FROM pg_catalog.pg_proc AS p,"
        " unnest(p.proargtypes::oid[]) WITH ORDINALITY AS a (t, n)"
        " WHERE p.oid = 'challenge._apply_writes'::regproc ORDER BY n"
    ).fetchall()
    arguments = ", ".join(f"NULL::{type_name}" for (type_name,) in rows)
    with denied():
        conn.execute(f"SELECT * FROM challenge._apply_writes({arguments})")


# --- no DDL ----------------------------------------------------------------------------------------------

DDL = [
    "CREATE TABLE challenge.intruder (a integer)",
    "CREATE VIEW challenge.intruder AS SELECT 1 AS a",
    "CREATE TYPE challenge.intruder AS (a integer)",
    "CREATE FUNCTION challenge.intruder() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$",
    "CREATE OR REPLACE FUNCTION challenge.increment_progress(p_user_id text, p_goal_id text,"
    " p_delta integer DEFAULT 1, p_event_id text DEFAULT NULL, p_occurred_at timestamptz DEFAULT now())"
    " RETURNS TABLE (outcome text, progress integer, status text, newly_completed boolean)"
    " LANGUAGE sql AS $$ SELECT 'applied'::text, 1000, 'completed'::text, true $$",
    f"ALTER FUNCTION {INCREMENT_PROGRESS_SIGNATURE} SET search_path = public",
    f"ALTER FUNCTION {INCREMENT_PROGRESS_SIGNATURE} SECURITY INVOKER",
    f"ALTER FUNCTION {INCREMENT_PROGRESS_SIGNATURE} RENAME TO intruder",
    f"DROP FUNCTION {INCREMENT_PROGRESS_SIGNATURE}",
    f"COMMENT ON FUNCTION {INCREMENT_PROGRESS_SIGNATURE} IS 'mine now'",
    "CREATE INDEX ON challenge.progress (updated_at)",
    "CREATE TRIGGER intruder BEFORE UPDATE ON challenge.progress"
    " FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()",
    "ALTER TABLE challenge.progress DISABLE TRIGGER ALL",
    "ALTER TABLE challenge.progress ADD COLUMN intruder integer",
    "CREATE RULE intruder AS ON INSERT TO challenge.progress DO INSTEAD NOTHING",
    "DROP TABLE challenge.ledger_default",
    "ALTER SCHEMA challenge RENAME TO intruder",
    "DROP SCHEMA challenge CASCADE",
    "CREATE SCHEMA intruder",
    "GRANT SELECT ON challenge.progress TO PUBLIC",
]


@pytest.mark.parametrize("statement", DDL, ids=lambda s: " ".join(s.split()[:4]))
def test_the_app_login_may_not_create_or_change_anything_in_the_schema(
    statement: str, connect_as: Connect
) -> None:
    conn = connect_as("app")
    assert sqlstate_of(conn, statement) == INSUFFICIENT_PRIVILEGE


def test_the_app_login_cannot_pass_its_execute_on(
    connect_as: Connect, deployment: Deployment, superuser: psycopg.Connection[Any]
) -> None:
    """No grant option: GRANT by the app gives the outsider nothing (PostgreSQL only warns), and REVOKE by
    the app takes nothing from the reader."""
    conn = connect_as("app")
    outsider = deployment.logins["outsider"]
    conn.execute(
        sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(
            sql.SQL(INCREMENT_PROGRESS_SIGNATURE), sql.Identifier(outsider)
        )
    )
    conn.execute(
        sql.SQL("REVOKE EXECUTE ON FUNCTION challenge.get_progress(text, text) FROM {}").format(
            sql.Identifier(deployment.groups["reader"])
        )
    )
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA challenge TO {}").format(sql.Identifier(outsider)))
    checks = superuser.execute(
        "SELECT has_function_privilege(%s, %s::regprocedure, 'EXECUTE'),"
        " has_function_privilege(%s, 'challenge.get_progress(text, text)'::regprocedure, 'EXECUTE'),"
        " has_schema_privilege(%s, 'challenge', 'USAGE')",
        [outsider, INCREMENT_PROGRESS_SIGNATURE, deployment.groups["reader"], outsider],
    ).fetchone()
    assert checks == (False, True, False)


# --- no other role ---------------------------------------------------------------------------------------


def test_the_app_login_cannot_become_another_role(connect_as: Connect, deployment: Deployment) -> None:
    conn = connect_as("app")
    superuser_name = conn.execute(
        "SELECT rolname::text FROM pg_catalog.pg_roles WHERE rolsuper ORDER BY oid LIMIT 1"
    ).fetchone()
    assert superuser_name is not None
    for role in (
        deployment.groups["admin"],
        deployment.groups["reader"],
        deployment.owner,
        superuser_name[0],
    ):
        for template in ("SET ROLE {}", "SET SESSION AUTHORIZATION {}", "GRANT {} TO CURRENT_USER"):
            statement = sql.SQL(template).format(sql.Identifier(role))
            assert sqlstate_of(conn, statement) == INSUFFICIENT_PRIVILEGE, statement.as_string(conn)
    others: list[sql.SQL | sql.Composed] = [
        sql.SQL("SET SESSION AUTHORIZATION {}").format(sql.Identifier(deployment.groups["app"])),
        sql.SQL("ALTER ROLE CURRENT_USER CREATEROLE"),
        sql.SQL("ALTER ROLE CURRENT_USER SUPERUSER"),
        sql.SQL("ALTER ROLE {} LOGIN").format(sql.Identifier(deployment.groups["app"])),
        sql.SQL("CREATE ROLE {}").format(sql.Identifier(f"intruder_{uuid.uuid4().hex[:8]}")),
        sql.SQL("ALTER DATABASE {} OWNER TO CURRENT_USER").format(sql.Identifier(deployment.dbname)),
    ]
    for other in others:
        assert sqlstate_of(conn, other) == INSUFFICIENT_PRIVILEGE, other.as_string(conn)
    row = conn.execute("SELECT current_user::text, session_user::text").fetchone()
    assert row == (deployment.logins["app"], deployment.logins["app"])


def test_set_role_to_its_own_group_works_and_still_reads_no_table(
    connect_as: Connect, deployment: Deployment, player: str
) -> None:
    conn = connect_as("app")
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(deployment.groups["app"])))
    row = conn.execute("SELECT current_user::text").fetchone()
    assert row == (deployment.groups["app"],)
    with denied():
        conn.execute("SELECT * FROM challenge.progress")
    with denied():
        conn.execute("SELECT challenge.load_config(%s::jsonb)", [Jsonb(CONFIG)])
    # As the group it is still the app: the functions work.
    assert len(Client(conn).initialize_player(player)) == len(DEFAULT_GOALS)
    conn.execute("RESET ROLE")
    assert conn.execute("SELECT current_user::text").fetchone() == (deployment.logins["app"],)
