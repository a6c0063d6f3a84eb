"""The synchronous client: one method per SQL function, typed results.

The caller owns the connection and its transaction. The client runs one statement per method and never
commits or rolls back, so several calls can share one transaction with the caller's own SQL (and, in
autocommit mode, each call is its own transaction, as every SQL function is atomic).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import psycopg
from psycopg.rows import RowFactory, RowMaker, class_row, scalar_row
from psycopg.types.json import Jsonb

from pgchallenge import _queries as q
from pgchallenge.errors import translated_errors
from pgchallenge.models import (
    BatchResult,
    ConfigResult,
    GoalProgress,
    IncrementItem,
    SetItem,
    WriteResult,
    iso_timestamp,
    item_json,
)

R = TypeVar("R")

__all__ = ["Client"]


class Client:
    """pgchallenge over a ``psycopg.Connection``."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    @property
    def connection(self) -> psycopg.Connection[Any]:
        return self._conn

    def load_config(self, config: Mapping[str, Any] | str | bytes) -> ConfigResult:
        """Load (or reload) the challenge catalog from a ``challenges.json``-shaped document."""
        data = self._one(q.LOAD_CONFIG, [config_param(config)], scalar_row)
        return ConfigResult.from_json(data)

    def initialize_player(self, user_id: str, namespace: str = "default") -> list[GoalProgress]:
        """Assign the default goals the player lacks; returns all the player's active goals."""
        return self._all(q.INITIALIZE_PLAYER, [user_id, namespace], class_row(GoalProgress))

    def set_goal_active(
        self, user_id: str, goal_id: str, active: bool, namespace: str = "default"
    ) -> GoalProgress:
        """Activate or deactivate one goal for a player, creating its row if missing."""
        return self._one(q.SET_GOAL_ACTIVE, [user_id, goal_id, active, namespace], class_row(GoalProgress))

    def increment_progress(
        self,
        user_id: str,
        goal_id: str,
        delta: int = 1,
        event_id: str | None = None,
        occurred_at: datetime | None = None,
    ) -> WriteResult:
        """Add ``delta`` to one goal; ``occurred_at`` defaults to the server's ``now()``."""
        params = [user_id, goal_id, delta, event_id, timestamp_param(occurred_at)]
        return self._one(q.INCREMENT_PROGRESS, params, class_row(WriteResult))

    def increment_progress_batch(self, items: Iterable[IncrementItem | Mapping[str, Any]]) -> BatchResult:
        """Apply many increments in one atomic call; per-item outcomes are counted, never raised."""
        data = self._one(q.INCREMENT_PROGRESS_BATCH, [items_param(items)], scalar_row)
        return BatchResult.from_json(data)

    def set_progress_batch(self, items: Iterable[SetItem | Mapping[str, Any]]) -> BatchResult:
        """Set absolute stat values on ``absolute`` goals in one atomic call."""
        data = self._one(q.SET_PROGRESS_BATCH, [items_param(items)], scalar_row)
        return BatchResult.from_json(data)

    def get_progress(self, user_id: str, goal_id: str) -> GoalProgress | None:
        """One player's row for one goal, or None when the goal is not assigned (or unknown)."""
        return self._one(q.GET_PROGRESS, [user_id, goal_id], optional_goal_progress)

    def get_user_progress(
        self, user_id: str, active_only: bool = False, challenge_id: str | None = None
    ) -> list[GoalProgress]:
        """All of a player's rows, ordered by challenge then goal."""
        params = [user_id, active_only, challenge_id]
        return self._all(q.GET_USER_PROGRESS, params, class_row(GoalProgress))

    def _all(self, query: str, params: Sequence[Any], row_factory: RowFactory[R]) -> list[R]:
        with translated_errors(), psycopg.RawCursor(self._conn, row_factory=row_factory) as cursor:
            cursor.execute(query, params)
            return cursor.fetchall()

    def _one(self, query: str, params: Sequence[Any], row_factory: RowFactory[R]) -> R:
        return single_row(query, self._all(query, params, row_factory))


# Helpers shared with aclient.py: argument encoding and result shaping, no I/O.


def config_param(config: Mapping[str, Any] | str | bytes) -> Jsonb | str:
    """A config document as the ``$1::jsonb`` argument (JSON text passes through for the server to parse)."""
    if isinstance(config, bytes):
        return config.decode("utf-8")
    if isinstance(config, str):
        return config
    return Jsonb(dict(config))


def items_param(items: Iterable[IncrementItem | SetItem | Mapping[str, Any]]) -> Jsonb:
    return Jsonb([item_json(item) for item in items])


def timestamp_param(occurred_at: datetime | None) -> datetime | None:
    if occurred_at is not None:
        iso_timestamp(occurred_at)  # refuses a naive datetime before any SQL runs
    return occurred_at


def optional_goal_progress(cursor: Any) -> RowMaker[GoalProgress | None]:  # Any: BaseCursor is private
    """class_row(GoalProgress), except that the all-NULL row becomes None.

    A function returning a composite type that returns NULL still yields one row from
    ``SELECT * FROM f()``, with every column NULL.
    """
    make = class_row(GoalProgress)(cursor)

    def make_row(values: Sequence[Any]) -> GoalProgress | None:
        return None if all(value is None for value in values) else make(values)

    return make_row


def single_row(query: str, rows: list[R]) -> R:
    if len(rows) != 1:
        # The contract promises exactly one row; anything else means the schema and client disagree.
        raise psycopg.InterfaceError(f"expected one row from {query!r}, got {len(rows)}")
    return rows[0]
