"""Drift guards for the migrations (house-style.md): the frozen snapshots, Alembic and plpgsql/ agree."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import psycopg
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from pgchallenge import embedded, migrate

from tests.migrations.migrationhelpers import NewDatabase

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
    params = psycopg.conninfo.conninfo_to_dict(url)
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
    del params
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
    for version in (ROOT / "migrations" / "versions").glob("[0-9]*.py"):
        text = version.read_text(encoding="utf-8")
        revision = version.stem
        for name in re.findall(r'^\s+"([^"]+\.sql)",$', text, re.M):
            assert (SNAPSHOTS / revision / name).exists(), f"{version.name} lists missing {name}"


def test_single_head() -> None:
    config = Config(str(ROOT / "alembic.ini"))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, heads


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
