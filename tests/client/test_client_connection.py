"""resolve_database_url: explicit URL, then PGCHALLENGE_DATABASE_URL, DATABASE_URL, libpq PG*, embedded."""

from __future__ import annotations

import pytest
from pgchallenge import connection, embedded, resolve_database_url

ALL_VARS = (*connection.URL_ENV_VARS, *connection.LIBPQ_ENV_VARS)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ALL_VARS:
        monkeypatch.delenv(name, raising=False)
    # Starting a real embedded server is the conftest's job; here only the choice matters.
    monkeypatch.setattr(embedded, "start", lambda *args, **kwargs: "postgresql://embedded/postgres")
    return monkeypatch


def test_explicit_url_wins(clean_env: pytest.MonkeyPatch) -> None:
    for name in ALL_VARS:
        clean_env.setenv(name, "from-env")
    assert resolve_database_url("postgresql://explicit/db") == "postgresql://explicit/db"


def test_pgchallenge_variable_before_database_url(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PGCHALLENGE_DATABASE_URL", "postgresql://ours/db")
    clean_env.setenv("DATABASE_URL", "postgresql://generic/db")
    clean_env.setenv("PGHOST", "libpq-host")
    assert resolve_database_url() == "postgresql://ours/db"


def test_database_url_before_libpq(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DATABASE_URL", "postgresql://generic/db")
    clean_env.setenv("PGHOST", "libpq-host")
    assert resolve_database_url() == "postgresql://generic/db"


@pytest.mark.parametrize("name", ["PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"])
def test_libpq_variables_mean_empty_conninfo(clean_env: pytest.MonkeyPatch, name: str) -> None:
    clean_env.setenv(name, "x")
    assert resolve_database_url() == ""


def test_empty_values_are_ignored(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PGCHALLENGE_DATABASE_URL", "")
    clean_env.setenv("DATABASE_URL", "postgresql://generic/db")
    assert resolve_database_url("") == "postgresql://generic/db"


def test_embedded_server_last(clean_env: pytest.MonkeyPatch) -> None:
    assert resolve_database_url() == "postgresql://embedded/postgres"
    assert resolve_database_url(None) == "postgresql://embedded/postgres"
