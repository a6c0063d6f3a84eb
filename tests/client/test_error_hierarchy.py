"""One hierarchy for every exception the package raises on purpose: ``PgChallengeError`` at its root, the
compatibility bases kept, and the hierarchy documented in ``pgchallenge.errors``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pgchallenge
import psycopg
import psycopg.errors
import pytest
from pgchallenge import (
    ERROR_CLASSES,
    BufferFull,
    ChallengeError,
    InvalidEvent,
    PgChallengeError,
    WriterClosed,
    errors,
    writer,
)
from pgchallenge._event_rules import prepare
from pgchallenge.citus import DistributionError
from pgchallenge.embedded import EmbeddedUnavailableError
from pgchallenge.roles import RolesNotMigrated


def exported_exceptions() -> dict[str, type[BaseException]]:
    names = {name: getattr(pgchallenge, name) for name in pgchallenge.__all__}
    return {
        name: value
        for name, value in names.items()
        if inspect.isclass(value) and issubclass(value, BaseException)
    }


def defined_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined in a module of the package (``__main__`` runs the CLI: skipped)."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.iter_modules(pgchallenge.__path__):
        if info.name == "__main__":
            continue
        module = importlib.import_module(f"pgchallenge.{info.name}")
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[f"{module.__name__}.{name}"] = value
    return found


def test_every_exported_exception_derives_from_the_root() -> None:
    exported = exported_exceptions()
    expected = {"PgChallengeError", "ChallengeError", "BufferFull", "InvalidEvent", "WriterClosed"}
    assert expected <= set(exported)
    assert [name for name, cls in exported.items() if not issubclass(cls, PgChallengeError)] == []


def test_every_exception_the_package_defines_derives_from_the_root() -> None:
    defined = defined_exceptions()
    assert {
        "pgchallenge.citus.DistributionError",
        "pgchallenge.embedded.EmbeddedUnavailableError",
        "pgchallenge.roles.RolesNotMigrated",
        "pgchallenge.errors.SourceFenced",
    } <= set(defined)
    assert [name for name, cls in defined.items() if not issubclass(cls, PgChallengeError)] == []


def test_the_root_is_a_plain_exception() -> None:
    assert PgChallengeError.__bases__ == (Exception,)
    assert issubclass(ChallengeError, PgChallengeError)
    assert all(issubclass(cls, ChallengeError) for cls in ERROR_CLASSES.values())


@pytest.mark.parametrize(
    ("cls", "compatible"),
    [
        (InvalidEvent, ValueError),
        (WriterClosed, RuntimeError),
        (EmbeddedUnavailableError, RuntimeError),
        (BufferFull, Exception),
        (DistributionError, Exception),
        (RolesNotMigrated, Exception),
    ],
)
def test_the_former_bases_are_kept(cls: type[Exception], compatible: type[Exception]) -> None:
    assert issubclass(cls, PgChallengeError) and issubclass(cls, compatible)


def test_writer_errors_are_the_same_classes_from_every_module() -> None:
    assert (writer.BufferFull, writer.InvalidEvent, writer.WriterClosed) == (
        errors.BufferFull,
        errors.InvalidEvent,
        errors.WriterClosed,
    )


def test_code_catching_a_former_base_still_catches_the_error() -> None:
    with pytest.raises(ValueError, match="kind must be"):
        prepare({"event_id": "e1", "user_id": "u1", "kind": "logout"}, False)
    with pytest.raises(PgChallengeError):
        prepare({"event_id": "e1", "user_id": "u1", "kind": "logout"}, False)


def test_psycopg_errors_stay_outside_the_hierarchy() -> None:
    error = psycopg.errors.RaiseException("no CH code")
    assert errors.from_psycopg(error) is None  # passed through untouched
    assert not issubclass(psycopg.Error, PgChallengeError)
    assert isinstance(ERROR_CLASSES["CH002"](error), PgChallengeError)


def test_the_hierarchy_is_documented_in_one_place() -> None:
    doc = errors.__doc__
    assert doc is not None
    names = set(exported_exceptions()) | {cls.__name__ for cls in defined_exceptions().values()}
    assert sorted(name for name in names if name not in doc) == []
    assert all(f"{code} {cls.name}" in doc for code, cls in ERROR_CLASSES.items())
