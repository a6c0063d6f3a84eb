"""The asyncio client: one method per SQL function, typed results.

The caller owns the connection and its transaction. The client runs one statement per method and never
commits or rolls back, so several calls can share one transaction with the caller's own SQL (and, in
autocommit mode, each call is its own transaction, as every SQL function is atomic). ``from_sqlalchemy``
runs the calls in a SQLAlchemy session's transaction.

aclient.py is the one hand-written source of both clients: scripts/generate_sync_client.py derives
client.py from it (``async`` and ``await`` dropped, ``Async`` names made sync, and a line ending in a
``# sync:`` comment replaced by that comment's code), so that the two cannot drift apart and differ only
in I/O. Edit aclient.py and run the script; a test fails while client.py is stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from psycopg.rows import AsyncRowFactory, RowMaker, class_row, scalar_row
from psycopg.types.json import Jsonb

from pgchallenge import _queries as q
from pgchallenge.errors import translated_errors
from pgchallenge.models import (
    BatchResult,
    Claim,
    ConfigResult,
    Event,
    EventsResult,
    GoalProgress,
    IncrementItem,
    LedgerEntry,
    RewardGrant,
    RotationStatus,
    SetItem,
    SourcePosition,
    StatusMetric,
    WriteResult,
    event_json,
    iso_timestamp,
    item_json,
)

if TYPE_CHECKING:  # for the annotations only: importing pgchallenge does not load SQLAlchemy
    from sqlalchemy.ext.asyncio import AsyncSession

R = TypeVar("R")

__all__ = ["AsyncClient"]

# The SQL defaults, repeated so that a Python caller sees them in the signature.
DEFAULT_LEASE = timedelta(minutes=1)
DEFAULT_RETENTION = timedelta(days=7)
DEFAULT_EXPIRED_BATCH = 1000
DEFAULT_EVENTS_BATCH = 10_000
DEFAULT_LEDGER_DAYS_AHEAD = 7
DEFAULT_LEDGER_RETENTION = timedelta(days=90)


class AsyncClient:
    """pgchallenge over a ``psycopg.AsyncConnection``."""

    def __init__(self, aconn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = aconn

    @classmethod
    async def from_sqlalchemy(cls, session: AsyncSession) -> AsyncClient:
        """A client inside a SQLAlchemy session's transaction: ``await AsyncClient.from_sqlalchemy(session)``.

        The calls run on the session's own connection, in the transaction the session has begun (or
        begins now), so ``session.commit()`` commits them together with the session's other work and
        ``session.rollback()`` undoes them. Make one per transaction: when it ends the session hands the
        connection back to its pool. The engine must run on psycopg 3 (a ``postgresql+psycopg://`` URL;
        TypeError otherwise), and not with ``isolation_level="AUTOCOMMIT"``, where every call commits.
        """
        connection = await session.connection()
        pooled = await connection.get_raw_connection()  # sync: pooled = connection.connection
        driver = pooled.driver_connection
        if not isinstance(driver, psycopg.AsyncConnection):
            dialect = connection.dialect
            raise TypeError(
                f"{cls.__name__}.from_sqlalchemy needs a session on psycopg 3 (a postgresql+psycopg:// URL,"
                f" connections of type psycopg.AsyncConnection); this one is {dialect.name}+{dialect.driver},"
                f" connections of type {type(driver).__module__}.{type(driver).__qualname__}"
            )
        return cls(driver)

    @property
    def connection(self) -> psycopg.AsyncConnection[Any]:
        return self._conn

    async def load_config(self, config: Mapping[str, Any] | str | bytes) -> ConfigResult:
        """Load (or reload) the challenge catalog from a ``challenges.json``-shaped document."""
        data = await self._one(q.LOAD_CONFIG, [config_param(config)], scalar_row)
        return ConfigResult.from_json(data)

    async def initialize_player(self, user_id: str, namespace: str = "default") -> list[GoalProgress]:
        """Assign the default goals the player lacks; returns all the player's active goals."""
        return await self._all(q.INITIALIZE_PLAYER, [user_id, namespace], class_row(GoalProgress))

    async def set_goal_active(
        self, user_id: str, goal_id: str, active: bool, namespace: str = "default"
    ) -> GoalProgress:
        """Activate or deactivate one goal for a player, creating its row if missing."""
        params = [user_id, goal_id, active, namespace]
        return await self._one(q.SET_GOAL_ACTIVE, params, class_row(GoalProgress))

    async def increment_progress(
        self,
        user_id: str,
        goal_id: str,
        delta: int = 1,
        event_id: str | None = None,
        occurred_at: datetime | None = None,
    ) -> WriteResult:
        """Add ``delta`` to one goal; ``occurred_at`` defaults to the server's ``now()``."""
        params = [user_id, goal_id, delta, event_id, timestamp_param(occurred_at)]
        return await self._one(q.INCREMENT_PROGRESS, params, class_row(WriteResult))

    async def increment_progress_batch(
        self, items: Iterable[IncrementItem | Mapping[str, Any]], *, detail: bool = False
    ) -> BatchResult:
        """Apply many increments in one atomic call; per-item outcomes are counted, never raised.

        ``detail=True`` also returns each item's outcome (``BatchResult.items``, in item order).
        """
        data = await self._one(q.INCREMENT_PROGRESS_BATCH, [items_param(items), detail], scalar_row)
        return BatchResult.from_json(data)

    async def set_progress_batch(
        self, items: Iterable[SetItem | Mapping[str, Any]], *, detail: bool = False
    ) -> BatchResult:
        """Set absolute stat values on ``absolute`` goals in one atomic call (``detail``: as above)."""
        data = await self._one(q.SET_PROGRESS_BATCH, [items_param(items), detail], scalar_row)
        return BatchResult.from_json(data)

    async def record_events(
        self,
        events: Iterable[Event | Mapping[str, Any]],
        *,
        detail: bool = False,
        source: str | None = None,
        partition: str = "",
        epoch: int = 0,
    ) -> EventsResult:
        """Record raw game events exactly once, routed by event source and stat code to their goals.

        Exactly once by ``(user_id, event_id)``, or, with ``source``, by source position: every event
        carries an increasing ``"position"`` and the watermark of (``source``, ``partition``) advances in
        the same transaction (``EventsResult.position``); a call with an ``epoch`` below the partition's
        raises ``SourceFenced``. ``detail=True`` also returns each event's outcomes (``items``).
        """
        params = [events_param(events), detail, source, partition, epoch]
        data = await self._one(q.RECORD_EVENTS, params, scalar_row)
        return EventsResult.from_json(data)

    async def acquire_source(self, source: str, partition: str = "") -> SourcePosition:
        """Take a source partition over for ``record_events(source=...)``: its new epoch (pass it as
        ``epoch``; older consumers are fenced off) and the position to resume after (None: nothing yet)."""
        return await self._one(q.ACQUIRE_SOURCE, [source, partition], class_row(SourcePosition))

    async def get_progress(self, user_id: str, goal_id: str) -> GoalProgress | None:
        """One player's row for one goal, or None when the goal is not assigned (or unknown)."""
        return await self._one(q.GET_PROGRESS, [user_id, goal_id], optional_goal_progress)

    async def get_user_progress(
        self, user_id: str, active_only: bool = False, challenge_id: str | None = None
    ) -> list[GoalProgress]:
        """All of a player's rows, ordered by challenge then goal."""
        params = [user_id, active_only, challenge_id]
        return await self._all(q.GET_USER_PROGRESS, params, class_row(GoalProgress))

    async def claim_goal(self, user_id: str, goal_id: str, claim_id: str | None = None) -> Claim:
        """Claim a completed goal's reward; the same ``claim_id`` again returns the original (replayed)."""
        return await self._one(q.CLAIM_GOAL, [user_id, goal_id, claim_id], class_row(Claim))

    async def lease_reward_grants(
        self, worker: str, limit: int, lease: timedelta = DEFAULT_LEASE
    ) -> list[RewardGrant]:
        """Lease up to ``limit`` due reward grants to ``worker`` (see ``RewardWorker``)."""
        return await self._all(q.LEASE_REWARD_GRANTS, [worker, limit, lease], class_row(RewardGrant))

    async def finish_reward_grant(
        self, user_id: str, claim_id: str, granted: bool, error: str | None = None
    ) -> RewardGrant:
        """Record a grant attempt's result: granted, or retried later (failed after the last attempt).

        The grant is the player's claim ``claim_id`` (claim ids are unique per player)."""
        params = [user_id, claim_id, granted, error]
        return await self._one(q.FINISH_REWARD_GRANT, params, class_row(RewardGrant))

    async def select_goals(
        self, user_id: str, challenge_id: str, goal_ids: Sequence[str], replace_existing: bool = False
    ) -> list[GoalProgress]:
        """Activate exactly these goals of a challenge (all or nothing); returns their rows."""
        params = [user_id, challenge_id, list(goal_ids), replace_existing]
        return await self._all(q.SELECT_GOALS, params, class_row(GoalProgress))

    async def random_select_goals(
        self,
        user_id: str,
        challenge_id: str,
        count: int,
        replace_existing: bool = False,
        exclude_active: bool = True,
        seed: str | None = None,
    ) -> list[GoalProgress]:
        """Activate up to ``count`` goals picked from the player's pool (same seed, same pick)."""
        params = [user_id, challenge_id, count, replace_existing, exclude_active, seed]
        return await self._all(q.RANDOM_SELECT_GOALS, params, class_row(GoalProgress))

    async def delete_expired_progress(
        self, retention: timedelta = DEFAULT_RETENTION, batch_size: int = DEFAULT_EXPIRED_BATCH
    ) -> int:
        """Delete one batch of rows expired more than ``retention`` ago; returns how many."""
        return int(await self._one(q.DELETE_EXPIRED_PROGRESS, [retention, batch_size], scalar_row))

    async def prune_processed_events(
        self, older_than: timedelta = DEFAULT_RETENTION, batch_size: int = DEFAULT_EVENTS_BATCH
    ) -> int:
        """Forget one batch of event ids remembered more than ``older_than`` ago; returns how many."""
        return int(await self._one(q.PRUNE_PROCESSED_EVENTS, [older_than, batch_size], scalar_row))

    async def delete_user_data(self, user_id: str) -> int:
        """Erase one player's rows in all tables; raises ``RewardGrantPending`` while a grant is pending."""
        return int(await self._one(q.DELETE_USER_DATA, [user_id], scalar_row))

    async def explain_progress(self, user_id: str, goal_id: str) -> list[LedgerEntry]:
        """The goal's history from the audit ledger, oldest first: "why is my quest at 7/10?"."""
        return await self._all(q.EXPLAIN_PROGRESS, [user_id, goal_id], class_row(LedgerEntry))

    async def set_ledger(self, enabled: bool) -> bool:
        """Switch the audit ledger on or off for the whole deployment (role admin); returns the new state."""
        return bool(await self._one(q.SET_LEDGER, [enabled], scalar_row))

    async def get_rotation_status(self, challenge_id: str) -> RotationStatus:
        """The challenge's current rotation period (``enabled`` False when none of its goals rotates)."""
        return await self._one(q.GET_ROTATION_STATUS, [challenge_id], class_row(RotationStatus))

    async def status(self) -> list[StatusMetric]:
        """The system's health, one metric per row (``challenge.status``; roles reader and admin)."""
        return await self._all(q.STATUS, [], class_row(StatusMetric))

    async def create_ledger_partitions(self, days_ahead: int = DEFAULT_LEDGER_DAYS_AHEAD) -> int:
        """Create the ledger's day partitions from today to ``days_ahead`` days ahead; returns how many."""
        return int(await self._one(q.CREATE_LEDGER_PARTITIONS, [days_ahead], scalar_row))

    async def prune_ledger(
        self, older_than: timedelta = DEFAULT_LEDGER_RETENTION, batch_size: int = DEFAULT_EVENTS_BATCH
    ) -> int:
        """Drop ledger days older than ``older_than`` (and old default-partition rows, one batch)."""
        return int(await self._one(q.PRUNE_LEDGER, [older_than, batch_size], scalar_row))

    async def _all(self, query: str, params: Sequence[Any], row_factory: AsyncRowFactory[R]) -> list[R]:
        with translated_errors():
            async with psycopg.AsyncRawCursor(self._conn, row_factory=row_factory) as cursor:
                await cursor.execute(query, params)
                return await cursor.fetchall()

    async def _one(self, query: str, params: Sequence[Any], row_factory: AsyncRowFactory[R]) -> R:
        return single_row(query, await self._all(query, params, row_factory))


# Argument encoding and result shaping, without I/O (client.py has the generated copy of each).


def config_param(config: Mapping[str, Any] | str | bytes) -> Jsonb | str:
    """A config document as the ``$1::jsonb`` argument (JSON text passes through for the server to parse)."""
    if isinstance(config, bytes):
        return config.decode("utf-8")
    if isinstance(config, str):
        return config
    return Jsonb(dict(config))


def items_param(items: Iterable[IncrementItem | SetItem | Mapping[str, Any]]) -> Jsonb:
    return Jsonb([item_json(item) for item in items])


def events_param(events: Iterable[Event | Mapping[str, Any]]) -> Jsonb:
    return Jsonb([event_json(event) for event in events])


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
