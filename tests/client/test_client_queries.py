"""The SQL text in _queries.py: $n placeholders only, one constant per client method."""

from __future__ import annotations

import inspect
import re

import pytest
from pgchallenge import Client, _queries

QUERIES = {name: value for name, value in vars(_queries).items() if name.isupper()}


def test_one_constant_per_client_method() -> None:
    # Functions only: from_sqlalchemy (a classmethod) makes a client, it calls no SQL function.
    members = vars(Client).items()
    methods = {name for name, member in members if not name.startswith("_") and inspect.isfunction(member)}
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
