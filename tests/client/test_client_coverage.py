"""Every public SQL function has a method on both clients, and the two clients have the same public API.

Public means what _apply_access may grant: a function of schema ``challenge`` whose name does not start
with "_" (plpgsql/functions/_access_rules.sql; private functions run inside the public ones and are never
granted). The first test pins that this is also the list of challenge._access_rules, which
_apply_access enforces.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import psycopg
import pytest
from pgchallenge import AsyncClient, Client

# Public members that make a client rather than call a SQL function.
CONSTRUCTORS = {"from_sqlalchemy"}


def public_functions(db: psycopg.Connection[Any]) -> set[str]:
    rows = db.execute(
        "SELECT DISTINCT p.proname FROM pg_catalog.pg_proc AS p"
        " WHERE p.pronamespace = 'challenge'::regnamespace AND left(p.proname, 1) <> '_'"
    ).fetchall()
    return {name for (name,) in rows}


def public_members(cls: type) -> dict[str, Any]:
    return {name: member for name, member in vars(cls).items() if not name.startswith("_")}


def methods(cls: type) -> set[str]:
    """The public names callable on an instance or the class (the ``connection`` property aside)."""
    return {name for name, member in public_members(cls).items() if not isinstance(member, property)}


def test_public_functions_are_those_with_an_access_rule(db: psycopg.Connection[Any]) -> None:
    rules = {name for (name,) in db.execute("SELECT function_name FROM challenge._access_rules()")}
    assert public_functions(db) == rules


@pytest.mark.parametrize("cls", [Client, AsyncClient], ids=lambda cls: cls.__name__)
def test_every_public_sql_function_has_a_method(db: psycopg.Connection[Any], cls: type) -> None:
    """A public function without a method is a part of the contract that Python cannot reach; a method
    without a function calls nothing that exists."""
    functions = public_functions(db)
    assert functions - methods(cls) == set(), "add the method to aclient.py and regenerate client.py"
    assert methods(cls) - functions == CONSTRUCTORS


def test_same_public_members() -> None:
    assert public_members(Client).keys() == public_members(AsyncClient).keys()
    assert isinstance(vars(Client)["connection"], property)
    assert isinstance(vars(AsyncClient)["connection"], property)


def unwrapped(member: Any) -> Any:
    return member.__func__ if isinstance(member, classmethod | staticmethod) else member


def described(function: Any, *, from_async: bool) -> list[tuple[str, Any, Any, Any]]:
    """(name, kind, default, annotation) per parameter, then the return annotation, with the async names
    (``AsyncSession``, ``AsyncClient``...) read as their sync twins: the one difference allowed."""

    def sync(annotation: Any) -> Any:
        # Annotations are strings (from __future__ import annotations), or empty for self and cls.
        if not from_async or not isinstance(annotation, str):
            return annotation
        return re.sub(r"\bAsync(?=[A-Z])", "", annotation)

    signature = inspect.signature(function)
    parameters = [(p.name, p.kind, p.default, sync(p.annotation)) for p in signature.parameters.values()]
    return [*parameters, ("return", None, None, sync(signature.return_annotation))]


@pytest.mark.parametrize("name", sorted(methods(Client)))
def test_same_signature_sync_and_async(name: str) -> None:
    sync_member, async_member = vars(Client)[name], vars(AsyncClient)[name]
    assert type(sync_member) is type(async_member)  # both functions, or both classmethods
    sync_function, async_function = unwrapped(sync_member), unwrapped(async_member)
    assert not inspect.iscoroutinefunction(sync_function)
    assert inspect.iscoroutinefunction(async_function)
    assert described(sync_function, from_async=False) == described(async_function, from_async=True)
    assert sync_function.__doc__ and async_function.__doc__
