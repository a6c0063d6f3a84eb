"""The app login attacks the functions' insides, and changes nothing.

SECURITY DEFINER functions run with the owner's rights, so whatever name they resolve through the
caller's search_path would run with those rights too. The app login gets a schema of its own, fills it with
decoys (functions shadowing built-ins, spying operators, types named like built-in ones) and temp tables
named like every challenge table, puts them first on its search_path, and runs a workload: the results
equal a clean session's, no decoy is ever called, no temp table is written. Then SQL-looking payloads as
ids (stored as data, never run), error messages that must not name other players, and the ledger switch.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import psycopg
import pytest
from pgchallenge import ChallengeError, Client, Event, InvalidArgument, SetItem
from psycopg import sql

from tests.privileges.privhelpers import Calls, Connect, Deployment
from tests.serverclock import iso

DECOY_TIME = "2001-01-01T00:00:00Z"  # pure: what the decoy clocks return; a function that read one fails

# Every decoy records its call in evil.calls (as the app login, its owner: SECURITY DEFINER) and lies.
DECOYS = f"""
CREATE TABLE evil.calls (name pg_catalog.text, args pg_catalog.text);
GRANT USAGE ON SCHEMA evil TO PUBLIC;
GRANT ALL ON evil.calls TO PUBLIC;
CREATE FUNCTION evil.spy(p_name pg_catalog.text, p_args pg_catalog.text) RETURNS void
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$ INSERT INTO evil.calls (name, args) VALUES (p_name, p_args) $$;
GRANT EXECUTE ON FUNCTION evil.spy(pg_catalog.text, pg_catalog.text) TO PUBLIC;
CREATE FUNCTION evil.now() RETURNS pg_catalog.timestamptz
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN PERFORM evil.spy('now', ''); RETURN '{DECOY_TIME}'; END $$;
CREATE FUNCTION evil.clock_timestamp() RETURNS pg_catalog.timestamptz
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN PERFORM evil.spy('clock_timestamp', ''); RETURN '{DECOY_TIME}'; END $$;
CREATE FUNCTION evil.statement_timestamp() RETURNS pg_catalog.timestamptz
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN PERFORM evil.spy('statement_timestamp', ''); RETURN '{DECOY_TIME}'; END $$;
CREATE FUNCTION evil.lower(p pg_catalog.text) RETURNS pg_catalog.text
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN PERFORM evil.spy('lower', p); RETURN 'hijacked'; END $$;
CREATE FUNCTION evil.btrim(p pg_catalog.text) RETURNS pg_catalog.text
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN PERFORM evil.spy('btrim', p); RETURN 'hijacked'; END $$;
CREATE FUNCTION evil.length(p pg_catalog.text) RETURNS pg_catalog.int4
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN PERFORM evil.spy('length', p); RETURN 1; END $$;
CREATE FUNCTION evil.md5(p pg_catalog.text) RETURNS pg_catalog.text
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN PERFORM evil.spy('md5', p); RETURN 'hijacked'; END $$;
CREATE FUNCTION evil.format(p pg_catalog.text, q pg_catalog.text) RETURNS pg_catalog.text
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN PERFORM evil.spy('format', p); RETURN 'hijacked'; END $$;
CREATE FUNCTION evil.random() RETURNS pg_catalog.float8
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN PERFORM evil.spy('random', ''); RETURN 0; END $$;
CREATE FUNCTION evil.jsonb_array_length(p pg_catalog.jsonb) RETURNS pg_catalog.int4
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN PERFORM evil.spy('jsonb_array_length', p::pg_catalog.text); RETURN 0; END $$;
CREATE FUNCTION evil.jsonb_typeof(p pg_catalog.jsonb) RETURNS pg_catalog.text
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN PERFORM evil.spy('jsonb_typeof', p::pg_catalog.text); RETURN 'array'; END $$;
CREATE FUNCTION evil.gen_random_uuid() RETURNS pg_catalog.uuid
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN PERFORM evil.spy('gen_random_uuid', '');
        RETURN '00000000-0000-0000-0000-00000000000a'; END $$;
CREATE FUNCTION evil.texteq(a pg_catalog.text, b pg_catalog.text) RETURNS pg_catalog.bool
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN PERFORM evil.spy('=', a || ' = ' || b); RETURN NOT pg_catalog.texteq(a, b); END $$;
CREATE OPERATOR evil.= (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text, FUNCTION = evil.texteq);
CREATE FUNCTION evil.int4pl(a pg_catalog.int4, b pg_catalog.int4) RETURNS pg_catalog.int4
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN PERFORM evil.spy('+', a || ' + ' || b); RETURN 1000000; END $$;
CREATE OPERATOR evil.+ (LEFTARG = pg_catalog.int4, RIGHTARG = pg_catalog.int4, FUNCTION = evil.int4pl);
CREATE FUNCTION evil.field(a pg_catalog.jsonb, b pg_catalog.text) RETURNS pg_catalog.text
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN PERFORM evil.spy('->>', b); RETURN 'hijacked'; END $$;
CREATE OPERATOR evil.->> (LEFTARG = pg_catalog.jsonb, RIGHTARG = pg_catalog.text, FUNCTION = evil.field);
CREATE FUNCTION evil.tslt(a pg_catalog.timestamptz, b pg_catalog.timestamptz) RETURNS pg_catalog.bool
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN PERFORM evil.spy('<', ''); RETURN true; END $$;
CREATE OPERATOR evil.< (LEFTARG = pg_catalog.timestamptz, RIGHTARG = pg_catalog.timestamptz,
    FUNCTION = evil.tslt);
CREATE DOMAIN evil.jsonb AS pg_catalog.int4;
CREATE DOMAIN evil.text AS pg_catalog.int4;
CREATE DOMAIN evil.timestamptz AS pg_catalog.int4;
CREATE DOMAIN evil.int4 AS pg_catalog.text;
CREATE FUNCTION pg_temp.now() RETURNS pg_catalog.timestamptz
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$ BEGIN PERFORM evil.spy('pg_temp.now', ''); RETURN '{DECOY_TIME}'; END $$;
"""

SEARCH_PATHS = ["pg_temp, evil, pg_catalog", "evil, pg_catalog, pg_temp"]


@pytest.fixture
def evil(deployment: Deployment, superuser: psycopg.Connection[Any]) -> Iterator[str]:
    """Schema evil, owned by the app login (made by the superuser: the app may not create schemas)."""
    superuser.execute(
        sql.SQL("CREATE SCHEMA evil AUTHORIZATION {}").format(sql.Identifier(deployment.logins["app"]))
    )
    yield "evil"
    superuser.execute("DROP SCHEMA evil CASCADE")


def _temp_decoys(conn: psycopg.Connection[Any], superuser: psycopg.Connection[Any]) -> list[str]:
    """As the app: a temp table named like every table, partition and view of schema challenge, with its
    columns, writable by anyone (a function that reached one would read or write it silently), and a temp
    composite type named like each of the schema's own (reward_grant, _write). Returns the tables."""
    names: list[str] = []
    rows = superuser.execute(
        "SELECT c.oid::bigint, c.relname::text, c.relkind::text FROM pg_catalog.pg_class AS c"
        " WHERE c.relnamespace = 'challenge'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'c')"
        " ORDER BY c.relname"
    ).fetchall()
    for oid, relname, relkind in rows:
        columns = superuser.execute(
            "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod)"
            " FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped"
            " ORDER BY a.attnum",
            [oid],
        ).fetchall()
        definition = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(type_name)) for name, type_name in columns
        )
        decoy = sql.Identifier("pg_temp", relname)
        if relkind == "c":
            conn.execute(sql.SQL("CREATE TYPE {} AS ({})").format(decoy, definition))
            continue
        conn.execute(sql.SQL("CREATE TABLE {} ({})").format(decoy, definition))
        conn.execute(sql.SQL("GRANT ALL ON {} TO PUBLIC").format(decoy))
        names.append(relname)
    assert {"progress", "goals", "challenges", "ledger", "ledger_default", "reward_grants"} <= set(names)
    assert {"reward_grant", "_write"} <= {relname for _, relname, relkind in rows if relkind == "c"}
    return names


def _normalise(value: Any, player: str) -> Any:
    """A result with what differs between two players taken out: their ids, instants, change ids."""
    if isinstance(value, dict):
        return {
            key: "<id>" if key in ("change_id", "txid", "seconds_left") else _normalise(item, player)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_normalise(item, player) for item in value]
    if isinstance(value, datetime):
        return "<time>"
    if isinstance(value, str):
        return value.replace(player, "<player>")
    return value


def _attempt(call: Callable[[], Any]) -> Any:
    """The call's result, or its SQLSTATE and message (the workload includes refused claims)."""
    try:
        return call()
    except psycopg.Error as error:
        return {"sqlstate": error.diag.sqlstate, "message": error.diag.message_primary}


def workload(calls: Calls, player: str, at: datetime) -> dict[str, Any]:
    """Player writes, reads and claims: every app function, with duplicates and refusals, step by step."""
    stamp = iso(at)
    source = f"src-{player}"
    out: dict[str, Any] = {}
    out["init"] = calls.init(player)
    out["set_active"] = calls.set_active(player, "pick-a", True)
    out["select"] = calls.select_goals(player, "guard", ["pick-b"])
    out["random_select"] = calls.random_select(player, "guard", 5, "hijack")
    out["inc"] = calls.inc(player, "kill-3", 1)
    out["inc_event"] = calls.inc(player, "kill-3", 1, "e-1")
    out["inc_duplicate"] = calls.inc(player, "kill-3", 1, "e-1")
    out["inc_batch"] = calls.inc_batch(
        [
            {"user_id": player, "goal_id": "kill-3", "event_id": "e-2", "occurred_at": stamp},
            {"user_id": player, "goal_id": "kill-3", "event_id": "e-1"},
            {"user_id": player, "goal_id": "pick-a"},
            {"user_id": player, "goal_id": "no-such-goal"},
        ]
    )
    out["set_batch"] = calls.set_batch(
        [
            {"user_id": player, "goal_id": "level-10", "value": 4, "occurred_at": stamp},
            {"user_id": player, "goal_id": "level-10", "value": 10, "event_id": "lvl-1"},
            {"user_id": player, "goal_id": "kill-3", "value": 1},
        ]
    )
    out["record"] = calls.record(
        [
            {"event_id": "ev-1", "user_id": player, "kind": "login"},
            {"event_id": "ev-2", "user_id": player, "kind": "statistic", "stat_code": "swims", "inc": 1},
            {"event_id": "ev-1", "user_id": player, "kind": "login", "occurred_at": stamp},
        ]
    )
    out["acquire"] = calls.acquire(source)
    out["sourced"] = calls.record_sourced(
        [
            {"position": 3, "user_id": player, "kind": "statistic", "stat_code": "swims"},
            {"position": 5, "user_id": player, "kind": "login"},
        ],
        source,
        1,
    )
    login_at_5 = [{"position": 5, "user_id": player, "kind": "login"}]
    out["sourced_fenced"] = _attempt(lambda: calls.record_sourced(login_at_5, source, 0))  # epoch 0 < 1
    out["sourced_duplicate"] = calls.record_sourced(login_at_5, source, 1)
    out["claim_not_completed"] = _attempt(lambda: calls.claim(player, "pick-b", f"{player}-c0"))
    out["claim"] = calls.claim(player, "kill-3", f"{player}-c1")
    out["claim_replay"] = calls.claim(player, "kill-3", f"{player}-c1")
    out["claim_again"] = _attempt(lambda: calls.claim(player, "kill-3", f"{player}-c2"))
    out["claim_absolute"] = calls.claim(player, "level-10", f"{player}-c3")
    out["get"] = calls.get(player, "kill-3")
    out["user_progress"] = calls.user_progress(player)
    out["rotation_spare"] = calls.rotation("spare")
    out["rotation_guard"] = calls.rotation("guard")
    for goal in ("kill-3", "level-10", "login-daily", "swim-2"):
        out[f"explain {goal}"] = calls.explain(player, goal)
    return out


@pytest.mark.parametrize("search_path", SEARCH_PATHS)
def test_decoys_on_the_callers_search_path_change_nothing(
    search_path: str,
    evil: str,
    connect_as: Connect,
    superuser: psycopg.Connection[Any],
) -> None:
    tag = uuid.uuid4().hex[:10]
    hostile_player, clean_player = f"h-{tag}", f"c-{tag}"
    hostile = connect_as("app")
    hostile.execute(DECOYS)
    temp_tables = _temp_decoys(hostile, superuser)
    hostile.execute(sql.SQL("SET search_path = {}").format(sql.SQL(search_path)))
    hostile.execute("SET TimeZone = 'Pacific/Kiritimati'")  # and a session clock far from UTC
    # The decoys are live for this session's own statements.
    assert hostile.execute("SELECT now()::pg_catalog.text").fetchone() == (
        hostile.execute(f"SELECT '{DECOY_TIME}'::pg_catalog.timestamptz::pg_catalog.text").fetchone()
    )
    assert hostile.execute("SELECT lower('ABC'), 'a' = 'a'").fetchone() == ("hijacked", False)
    # An unqualified table name reaches the temp decoy (pg_temp is searched for relations wherever listed).
    resolved = hostile.execute(
        "SELECT c.relnamespace = pg_catalog.pg_my_temp_schema() FROM pg_catalog.pg_class AS c"
        " WHERE c.oid = 'progress'::pg_catalog.regclass"
    ).fetchone()
    assert resolved == (True,)
    hostile.execute("TRUNCATE evil.calls")

    start_row = superuser.execute("SELECT now()").fetchone()
    assert start_row is not None
    start: datetime = start_row[0]
    hostile_result = workload(Calls(hostile), hostile_player, start)
    clean_result = workload(Calls(connect_as("app")), clean_player, start)

    assert _normalise(hostile_result, hostile_player) == _normalise(clean_result, clean_player)
    spied = superuser.execute("SELECT name, args FROM evil.calls").fetchall()
    assert spied == [], f"a decoy ran inside a function: {spied}"
    for name in temp_tables:
        count = hostile.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("pg_temp", name)))
        assert count.fetchone() == (0,), f"pg_temp.{name} was written"

    # The workload did something: claims, a replay, the refusals, duplicates, the ledger's instants.
    assert [clean_result[step][0]["replayed"] for step in ("claim", "claim_replay", "claim_absolute")] == [
        False,
        True,
        False,
    ]
    refusals = ("sourced_fenced", "claim_not_completed", "claim_again")
    assert [clean_result[step]["sqlstate"] for step in refusals] == ["CH030", "CH021", "CH022"]
    assert clean_result["inc_duplicate"][0]["outcome"] == "duplicate_event"
    assert clean_result["sourced_duplicate"]["duplicate_events"] == 1
    assert clean_result["record"]["duplicate_events"] == 1
    history = [row for step, rows in hostile_result.items() if step.startswith("explain") for row in rows]
    assert history and all(row["recorded_at"] >= start for row in history)
    assert all(row["occurred_at"] is None or row["occurred_at"] >= start for row in history)
    progress = {r["goal_id"]: (r["progress"], r["status"]) for r in hostile_result["user_progress"]}
    assert progress["kill-3"] == (3, "claimed") and progress["level-10"] == (10, "claimed")
    assert progress["swim-2"] == (2, "completed") and progress["login-daily"] == (1, "in_progress")


# --- payloads that look like SQL -------------------------------------------------------------------------

PAYLOADS = [
    "x'); DROP TABLE challenge.progress; --",
    "$$; DROP TABLE challenge.goals; $$",
    "$function$ BEGIN DROP SCHEMA challenge CASCADE; END $function$",
    "'||(SELECT string_agg(user_id, ',') FROM challenge.progress)||'",
    "%I %L %s %% \\' \" ; TRUNCATE challenge.ledger; --",
    "'; SET ROLE postgres; --",
]


def _schema_objects(superuser: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    rows = superuser.execute(
        "SELECT c.relname::text, c.relkind::text FROM pg_catalog.pg_class AS c"
        " WHERE c.relnamespace = 'challenge'::regnamespace AND c.relname !~ '^ledger_[0-9]{8}$'"
        " UNION ALL SELECT p.oid::regprocedure::text, 'f' FROM pg_catalog.pg_proc AS p"
        " WHERE p.pronamespace = 'challenge'::regnamespace ORDER BY 1"
    ).fetchall()
    return [(str(name), str(kind)) for name, kind in rows]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sql_in_an_id_is_stored_as_data(
    payload: str, connect_as: Connect, superuser: psycopg.Connection[Any]
) -> None:
    before = _schema_objects(superuser)
    user = f"{payload} {uuid.uuid4().hex[:8]}"
    app = Client(connect_as("app"))
    assert {r.user_id for r in app.initialize_player(user)} == {user}
    assert app.increment_progress(user, "kill-3", 1, event_id=payload).outcome == "applied"
    assert app.increment_progress(user, "kill-3", 1, event_id=payload).outcome == "duplicate_event"
    assert app.record_events([Event(user, user, "login")]).applied == 1
    assert app.set_progress_batch([SetItem(user, "level-10", 3, f"{payload}-set")]).applied == 1
    assert app.increment_progress(user, payload, 1).outcome == "unknown_goal"
    with pytest.raises(ChallengeError) as raised:  # rejected as data: an unknown goal
        app.select_goals(user, "guard", [payload])
    assert raised.value.sqlstate == "CH010"
    with pytest.raises(ChallengeError) as raised:
        app.select_goals(user, payload, ["kill-3"])
    assert raised.value.sqlstate == "CH011"
    position = app.acquire_source(user, payload)
    assert position.epoch == 1
    app.increment_progress(user, "kill-3", 1)
    app.increment_progress(user, "kill-3", 1)
    claim_id = user  # unique to this test, and the payload
    claim = app.claim_goal(user, "kill-3", claim_id)
    assert (claim.claim_id, claim.user_id, claim.replayed) == (claim_id, user, False)
    assert app.claim_goal(user, "kill-3", claim_id).replayed
    with pytest.raises(InvalidArgument):  # too long: refused before anything runs
        app.initialize_player(payload * 20)

    assert _schema_objects(superuser) == before
    stored = superuser.execute(
        "SELECT (SELECT count(*) FROM challenge.progress WHERE user_id = %(u)s),"
        " (SELECT array_agg(e.event_id ORDER BY e.event_id) FROM challenge.processed_events AS e"
        "  WHERE e.user_id = %(u)s),"
        " (SELECT user_id FROM challenge.reward_grants WHERE claim_id = %(u)s),"
        " (SELECT epoch FROM challenge.source_positions WHERE source = %(u)s AND partition = %(p)s)",
        {"u": user, "p": payload},
    ).fetchone()
    assert stored is not None
    assert stored[0] == 4
    assert sorted(stored[1]) == sorted([payload, f"{payload}-set", user])
    assert stored[2:] == (user, 1)


# --- error messages name no other player -----------------------------------------------------------------


def _assert_names_nobody(error: ChallengeError, *secrets: str) -> None:
    assert error.sqlstate == "CH003"
    for text in (error.message, error.detail, error.hint, str(error)):
        for secret in secrets:
            assert secret not in (text or ""), f"{secret!r} leaked in {text!r}"


def _two_players(app: Client, tag: str) -> tuple[str, str]:
    first, second = f"alice-{tag}", f"bob-{tag}"
    for player in (first, second):
        app.initialize_player(player)
    app.set_goal_active(first, "pick-a", True)
    app.increment_progress(first, "pick-a", 1)
    app.set_progress_batch([SetItem(second, "level-10", 10)])
    return first, second


def test_a_claim_id_another_player_used_is_a_claim_of_its_own(connect_as: Connect) -> None:
    """Claim ids are unique per player: reusing another player's id reveals nothing and takes nothing."""
    tag = uuid.uuid4().hex[:10]
    app = Client(connect_as("app"))
    first, second = _two_players(app, tag)
    claim_id = f"shared-{tag}"
    app.claim_goal(first, "pick-a", claim_id)
    claim = app.claim_goal(second, "level-10", claim_id)
    assert (claim.user_id, claim.goal_id, claim.replayed) == (second, "level-10", False)
    after = app.get_progress(second, "level-10")
    assert after is not None and after.status == "claimed"
    first_row = app.get_progress(first, "pick-a")
    assert first_row is not None and first_row.status == "claimed"  # untouched by the second claim


def test_a_claim_id_of_another_goal_names_only_the_players_own_goal(connect_as: Connect) -> None:
    tag = uuid.uuid4().hex[:10]
    app = Client(connect_as("app"))
    first, second = _two_players(app, tag)
    claim_id = f"mine-{tag}"
    app.claim_goal(first, "pick-a", f"other-{tag}")
    app.set_progress_batch([SetItem(first, "level-10", 10)])
    app.claim_goal(first, "level-10", claim_id)
    app.set_goal_active(first, "pick-b", True)
    app.increment_progress(first, "pick-b", 1)
    with pytest.raises(InvalidArgument) as raised:
        app.claim_goal(first, "pick-b", claim_id)
    assert raised.value.detail == "It claimed goal level-10 for this player."
    _assert_names_nobody(raised.value, second)


def test_a_claim_id_another_player_holds_uncommitted_does_not_make_the_claim_wait(
    connect_as: Connect, superuser: psycopg.Connection[Any]
) -> None:
    """The keys differ ((player, claim id)), so a claim cannot wait on, or learn of, another player's."""
    tag = uuid.uuid4().hex[:10]
    setup = Client(connect_as("app"))
    first, second = _two_players(setup, tag)
    claim_id = f"race-{tag}"
    holder = connect_as("app", autocommit=False)
    Client(holder).claim_goal(first, "pick-a", claim_id)  # open transaction: the first player's key
    try:
        waiter = connect_as("app")
        waiter.execute("SET lock_timeout = '5s'")
        claim = Client(waiter).claim_goal(second, "level-10", claim_id)
        assert (claim.user_id, claim.replayed) == (second, False)
    finally:
        holder.rollback()
    rows = superuser.execute(
        "SELECT user_id FROM challenge.reward_grants WHERE claim_id = %s ORDER BY user_id", [claim_id]
    ).fetchall()
    assert rows == [(second,)]


# --- the audit trail -------------------------------------------------------------------------------------


def test_the_app_login_cannot_switch_the_audit_ledger_off(
    connect_as: Connect, superuser: psycopg.Connection[Any], player: str
) -> None:
    conn = connect_as("app")
    app = Client(conn)
    app.initialize_player(player)
    conn.execute("SET pgchallenge.ledger = off")
    app.increment_progress(player, "kill-3", 2)
    increments = superuser.execute(
        "SELECT count(*) FROM challenge.ledger WHERE user_id = %s AND operation = 'increment'", [player]
    ).fetchone()
    assert increments == (1,)
