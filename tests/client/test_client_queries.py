"""The SQL text in _queries.py: $n placeholders only, one constant per client method."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest
from pgchallenge import Client, _queries

QUERIES = {name: value for name, value in vars(_queries).items() if name.isupper()}


def test_one_constant_per_client_method() -> None:
    methods = {name for name in vars(Client) if not name.startswith("_") and callable(vars(Client)[name])}
    assert {name.lower() for name in QUERIES} == methods


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_query_uses_dollar_placeholders(name: str) -> None:
    query = QUERIES[name]
    assert isinstance(query, str)
    assert "%s" not in query and "%(" not in query and "%b" not in query and "%t" not in query
    numbers = sorted({int(n) for n in re.findall(r"\$(\d+)", query)})
    assert numbers == list(range(1, len(numbers) + 1))
    # A query without parameters is a call without arguments, and the other way round.
    assert bool(numbers) == (f"challenge.{name.lower()}()" not in query)
    # Schema-qualified and named after the method, so psql/pgbench can send the same text.
    assert f"challenge.{name.lower()}(" in query
    assert query.startswith("SELECT ")


def test_every_public_sql_function_has_a_client_method(db: psycopg.Connection[Any]) -> None:
    """A public function of schema challenge without a method on Client is a part of the contract the
    Python client cannot reach (AsyncClient mirrors Client: tests/client/test_client_async.py)."""
    rows = db.execute(
        "SELECT DISTINCT p.proname FROM pg_catalog.pg_proc AS p"
        " WHERE p.pronamespace = 'challenge'::regnamespace AND left(p.proname, 1) <> '_'"
    ).fetchall()
    functions = {name for (name,) in rows}
    methods = {name for name in vars(Client) if not name.startswith("_")}
    assert functions - methods == set()
