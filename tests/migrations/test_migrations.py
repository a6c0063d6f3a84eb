"""Drift guards for the migrations (house-style.md): the frozen snapshots, Alembic and plpgsql/ agree."""

from __future__ import annotations

import itertools
import re
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from pgchallenge import embedded, migrate
from pgchallenge.migrations.sqlfiles import EarlierFile, SnapshotFile, snapshot_path

from tests.migrations.migrationhelpers import NewDatabase, lists_in, revision_ids, revision_lists

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "plpgsql"
SNAPSHOTS = ROOT / "migrations" / "sql"


def function_files() -> list[Path]:
    return sorted((SOURCE / "functions").glob("*.sql"))


def load_sources(url: str) -> None:
    """Build the schema straight from plpgsql/ (schema.sql, then every function file in name order).

    Bodies are checked when called, not when created (as pg_dump restores them): a SQL function may use
    one whose file sorts after its own."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SET check_function_bodies = off")
        connection.execute((SOURCE / "schema.sql").read_text(encoding="utf-8"))
        for path in function_files():
            connection.execute(path.read_text(encoding="utf-8"))


def schema_dump(url: str) -> str:
    command = [
        str(embedded.bin_dir() / "pg_dump"),
        "--schema-only",
        "--no-owner",
        "--no-privileges",
        "--exclude-table=challenge.alembic_version",
        "--dbname",
        url,
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    # pg_dump 17.6+ writes \restrict / \unrestrict lines with a random key: not part of the schema.
    lines = [line for line in output.splitlines() if not re.match(r"\\(un)?restrict\b", line)]
    return "\n".join(lines)


def challenge_objects(url: str) -> int:
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'challenge')"
            " + (SELECT count(*) FROM pg_class WHERE relnamespace::regnamespace::text = 'challenge')"
            " + (SELECT count(*) FROM pg_proc WHERE pronamespace::regnamespace::text = 'challenge')"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_upgrade_head_matches_the_sources(new_database: NewDatabase) -> None:
    migrated, from_sources = new_database(), new_database()
    migrate.upgrade(migrated)
    load_sources(from_sources)
    assert schema_dump(migrated) == schema_dump(from_sources)


def newest_snapshot(relative: str) -> Path:
    for revision in sorted((p.name for p in SNAPSHOTS.iterdir() if p.is_dir()), reverse=True):
        candidate = SNAPSHOTS / revision / relative
        if candidate.exists():
            return candidate
    raise AssertionError(f"{relative} is in no migration snapshot: run scripts/new_revision.py")


@pytest.mark.parametrize("path", function_files(), ids=lambda p: p.name)
def test_function_source_equals_its_newest_snapshot(path: Path) -> None:
    snapshot = newest_snapshot(f"functions/{path.name}")
    assert path.read_bytes() == snapshot.read_bytes(), (
        f"plpgsql/functions/{path.name} changed since {snapshot.parent.parent.name}:"
        " freeze it in a new revision (scripts/new_revision.py)"
    )


def test_revisions_list_files_that_exist() -> None:
    listed: set[Path] = set()
    for revision in revision_ids():
        upgrade, downgrade = revision_lists(revision)
        for entry in upgrade + downgrade:
            path = snapshot_path(revision, entry)
            assert path.exists(), f"{revision} lists missing {entry}"
            listed.add(path.resolve())
    # A snapshot file no revision runs is a copy left behind (or a step forgotten in a list).
    unlisted = sorted(
        str(path.relative_to(SNAPSHOTS)) for path in SNAPSHOTS.rglob("*.sql") if path.resolve() not in listed
    )
    assert unlisted == [], f"snapshot files no revision runs: {unlisted}"


def test_a_downgrade_references_earlier_snapshots_instead_of_copying_them() -> None:
    """A downgrade that puts a function back runs the earlier revision's frozen file (earlier(...)): a
    file of its own would be a copy, which nothing keeps equal to the file it copies."""
    copies = []
    for revision in revision_ids():
        _, downgrade = revision_lists(revision)
        for entry in downgrade:
            if isinstance(entry, str) and entry.startswith("downgrade/functions/"):
                text = snapshot_path(revision, entry).read_text(encoding="utf-8")
                if "CREATE OR REPLACE FUNCTION" in text:
                    copies.append(f"{revision}/{entry}")
    assert copies == []


def test_single_head() -> None:
    config = Config(str(ROOT / "alembic.ini"))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, heads


# A downgrade that adds back a column the revision dropped can only add it last (ALTER TABLE has no
# position): the one such difference, which changes no column's definition.
COLUMN_PUT_BACK_LAST = {"0003_rotation_periods": ("challenge.goals", "counts_once_per_day")}


def column_line(dump: str, table: str, column: str) -> tuple[str, str]:
    """The column's line in ``CREATE TABLE table``, and the dump without it."""
    lines = dump.split("\n")
    start = lines.index(f"CREATE TABLE {table} (")
    end = lines.index(");", start)
    (index,) = [i for i in range(start, end) if lines[i].startswith(f"    {column} ")]
    return lines[index], "\n".join(lines[:index] + lines[index + 1 :])


def test_downgrading_one_step_gives_the_previous_schema(new_database: NewDatabase) -> None:
    """For every revision: its downgrade leaves exactly the schema the revision before it built, the
    function bodies included (pg_dump writes them)."""
    url = new_database()
    # Roles of this test's own: the revision that creates roles drops them again on its downgrade.
    prefix = f"mig_{uuid.uuid4().hex[:8]}"
    previous: tuple[str, str] | None = None
    for revision in revision_ids():
        migrate.upgrade(url, revision, role_prefix=prefix)
        dump = schema_dump(url)
        if previous is not None:
            migrate.downgrade(url, previous[0])
            after, before = schema_dump(url), previous[1]
            if revision in COLUMN_PUT_BACK_LAST:
                table, column = COLUMN_PUT_BACK_LAST[revision]
                after_line, after = column_line(after, table, column)
                before_line, before = column_line(before, table, column)
                assert after_line == before_line, f"downgrading {revision} changed {table}.{column}"
            assert after == before, f"downgrading {revision} did not give {previous[0]}"
            migrate.upgrade(url, revision, role_prefix=prefix)
        previous = (revision, dump)
    migrate.downgrade(url, "base")
    assert challenge_objects(url) == 0


def test_upgrade_downgrade_upgrade(new_database: NewDatabase) -> None:
    url = new_database()
    migrate.upgrade(url)
    first = schema_dump(url)
    migrate.downgrade(url, "base")
    assert challenge_objects(url) == 0, "downgrade to base left objects in schema challenge"
    migrate.upgrade(url)
    assert schema_dump(url) == first


def test_offline_sql_renders_and_builds_the_same_schema(new_database: NewDatabase) -> None:
    url = migrate.sqlalchemy_url("postgresql://example/db")
    script = migrate.upgrade_sql(url)
    assert "CREATE TABLE challenge.progress" in script
    for path in function_files():
        assert f"FUNCTION challenge.{path.stem}(" in script, path.name
    # A DBA runs the rendered script with psql: it must build exactly what online migration builds.
    rendered, migrated = new_database(), new_database()
    subprocess.run(
        [str(embedded.bin_dir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--dbname", rendered],
        input=script,
        check=True,
        capture_output=True,
        text=True,
    )
    migrate.upgrade(migrated)
    assert schema_dump(rendered) == schema_dump(migrated)


def test_alembic_cli_uses_x_url(new_database: NewDatabase) -> None:
    url = new_database()
    subprocess.run(
        ["alembic", "-x", f"url={url}", "upgrade", "head"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT version_num FROM challenge.alembic_version").fetchone()
    heads = ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini"))).get_heads()
    assert row is not None and row[0] == heads[0]


def test_current_on_a_database_never_migrated_leaves_nothing(new_database: NewDatabase) -> None:
    url = new_database()
    subprocess.run(
        ["alembic", "-x", f"url={url}", "current"], cwd=ROOT, check=True, capture_output=True, text=True
    )
    assert challenge_objects(url) == 0


# A revision's snapshot freezes when the next revision is made (scripts/new_revision.py, run once the
# revision before has landed). 0009 was still being reviewed when 0010 was made, in the same session, and
# took its last edit there, before either landed.
FROZEN_FROM = {"0009_privileges": "24ce65189f5f523cca99c60899aaeb10864fc401"}


def git(*args: str) -> bytes:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True).stdout


def sql_run_by(revision: str, commit: str | None) -> tuple[list[bytes], list[bytes]]:
    """The bytes of each file a revision's upgrade and downgrade run, at ``commit`` (None: checked out)."""
    if commit is None:
        upgrade, downgrade = revision_lists(revision)
        return [snapshot_path(revision, e).read_bytes() for e in upgrade], [
            snapshot_path(revision, e).read_bytes() for e in downgrade
        ]
    upgrade, downgrade = lists_in(git("show", f"{commit}:migrations/versions/{revision}.py").decode())

    def at_commit(entry: SnapshotFile) -> bytes:
        owner, relative = (
            (entry.revision, entry.relative) if isinstance(entry, EarlierFile) else (revision, entry)
        )
        return git("show", f"{commit}:migrations/sql/{owner}/{relative}")

    return [at_commit(e) for e in upgrade], [at_commit(e) for e in downgrade]


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout: no history to compare with")
def test_a_landed_revision_runs_the_sql_it_ran_when_it_froze() -> None:
    """Once the next revision exists, a revision's SQL never changes: upgrading an old database must replay
    each step as it ran everywhere else. Its lists may change form (a copy replaced by earlier(...)), but
    the bytes they run, in their order, stay the ones of the commit that froze it."""
    revisions = revision_ids()
    for revision, successor in itertools.pairwise(revisions):
        made = git("log", "--diff-filter=A", "--format=%H", "--", f"migrations/versions/{successor}.py")
        # A successor not committed yet is being made now: the revision froze at the last commit.
        frozen = FROZEN_FROM.get(revision) or (made.decode().split() or ["HEAD"])[-1]
        then_up, then_down = sql_run_by(revision, frozen)
        now_up, now_down = sql_run_by(revision, None)
        assert now_up == then_up, f"{revision}'s upgrade no longer runs what it ran at {frozen[:8]}"
        assert now_down == then_down, f"{revision}'s downgrade no longer runs what it ran at {frozen[:8]}"
