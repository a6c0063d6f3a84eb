"""Typed values going into and coming out of the SQL functions.

Results are frozen dataclasses whose fields match the SQL column names, so psycopg's ``class_row`` builds
them directly. Inputs are dataclasses serialised to the exact item objects of docs/api.md section 3.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal, get_args

Status = Literal["not_started", "in_progress", "completed", "claimed"]

Outcome = Literal[
    "applied",
    "inactive",
    "not_assigned",
    "claimed",
    "unknown_goal",
    "duplicate_event",
    "already_counted_today",
    "stale_event",
    "type_mismatch",
]

GrantState = Literal["pending", "granted", "failed"]

RewardType = Literal["ITEM", "WALLET"]

LedgerOperation = Literal["assign", "unassign", "increment", "set", "rotate", "claim", "expire"]

STATUSES: tuple[Status, ...] = get_args(Status)
GRANT_STATES: tuple[GrantState, ...] = get_args(GrantState)
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)


@dataclass(frozen=True, slots=True)
class GoalProgress:
    """One row of ``challenge.goal_progress`` (docs/api.md section 2), columns in the same order."""

    user_id: str
    goal_id: str
    challenge_id: str
    namespace: str
    progress: int
    target: int
    status: Status
    is_active: bool
    # NULL until the goal is first activated (a row can be created inactive by set_goal_active).
    assigned_at: datetime | None
    completed_at: datetime | None
    claimed_at: datetime | None
    expires_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What ``increment_progress`` did to one row; progress and status are NULL when there is no row."""

    outcome: Outcome
    progress: int | None
    status: Status | None
    newly_completed: bool

    @property
    def applied(self) -> bool:
        return self.outcome == "applied"


@dataclass(frozen=True, slots=True)
class Claim:
    """What ``claim_goal`` returns: the claim and the reward it grants (copied at claim time).

    ``replayed`` is true when the claim id had already been recorded: this is the original claim, and no
    second reward is owed.
    """

    claim_id: str
    user_id: str
    goal_id: str
    reward_type: RewardType
    reward_id: str
    quantity: int
    claimed_at: datetime
    replayed: bool


@dataclass(frozen=True, slots=True)
class RewardGrant:
    """One row of the reward-grant outbox (``challenge.reward_grant``): a claim and its delivery state."""

    claim_id: str
    user_id: str
    goal_id: str
    namespace: str
    reward_type: RewardType
    reward_id: str
    quantity: int
    claimed_at: datetime
    state: GrantState
    attempts: int
    max_attempts: int
    # Pending: when the grant can be leased next (the end of the current lease or retry backoff).
    available_at: datetime
    leased_by: str | None
    leased_until: datetime | None
    last_error: str | None
    finished_at: datetime | None
    # The key to send to the game platform with the grant, the same on every attempt: the player and the
    # claim id, length-prefixed ("8:player-1:c-1"), as claim ids are unique per player only (the bare
    # claim id for grants claimed before revision 0010, whose ids were unique across players).
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One change of a player's goal, from the audit ledger (``challenge.explain_progress``)."""

    change_id: int
    recorded_at: datetime
    # The transaction that made the change: entries of one call share it.
    txid: int
    operation: LedgerOperation
    # Event ids of the applied items behind the change, in order; None when they carried none.
    event_ids: list[str] | None
    # None before: the row was created; None after: the row was deleted (expired).
    progress_before: int | None
    progress_after: int | None
    status_before: Status | None
    status_after: Status | None
    # The change first moved the row into a later rotation period (the goal's onExpiry rule).
    rotated: bool
    period_start: datetime | None
    occurred_at: datetime | None


@dataclass(frozen=True, slots=True)
class CompletedGoal:
    user_id: str
    goal_id: str


@dataclass(frozen=True, slots=True)
class SkippedCounts:
    """Items a batch reported but did not apply, by reason (every outcome except ``applied``)."""

    inactive: int = 0
    not_assigned: int = 0
    claimed: int = 0
    unknown_goal: int = 0
    duplicate_event: int = 0
    already_counted_today: int = 0
    stale_event: int = 0
    type_mismatch: int = 0

    @property
    def total(self) -> int:
        return sum(getattr(self, field.name) for field in fields(self))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SkippedCounts:
        # Every known reason must be present (KeyError otherwise): a missing count would silently
        # break ``applied + skipped.total == len(items)``.
        return cls(**{field.name: int(data[field.name]) for field in fields(cls)})


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """What happened to one item of a batch write, or to one event on one goal (``detail=True``).

    ``index`` is the item's (or event's) 0-based position in the call. ``completed``: this call completed
    the row and the item was applied. A duplicate event of ``record_events`` has one entry with
    ``goal_id`` None and outcome ``duplicate_event``.
    """

    index: int
    event_id: str | None
    goal_id: str | None
    outcome: Outcome
    completed: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ItemOutcome:
        return cls(
            index=int(data["index"]),
            event_id=data["event_id"],
            goal_id=data["goal_id"],
            outcome=data["outcome"],
            completed=bool(data["completed"]),
        )


def _item_outcomes(items: Iterable[Mapping[str, Any]]) -> tuple[ItemOutcome, ...]:
    return tuple(ItemOutcome.from_json(item) for item in items)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The jsonb returned by ``increment_progress_batch`` and ``set_progress_batch``.

    ``items``: one outcome per item, in item order, when the call asked for ``detail``; empty otherwise.
    """

    applied: int
    completed: tuple[CompletedGoal, ...]
    skipped: SkippedCounts
    items: tuple[ItemOutcome, ...] = ()

    @property
    def total(self) -> int:
        """Number of items the call received: every item gets exactly one outcome."""
        return self.applied + self.skipped.total

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str | bytes) -> BatchResult:
        doc = _document(data)
        return cls(
            applied=int(doc["applied"]),
            completed=tuple(
                CompletedGoal(user_id=item["user_id"], goal_id=item["goal_id"]) for item in doc["completed"]
            ),
            skipped=SkippedCounts.from_json(doc["skipped"]),
            items=_item_outcomes(doc.get("items", ())),
        )


@dataclass(frozen=True, slots=True)
class EventsResult:
    """The jsonb returned by ``record_events``.

    ``events`` counts the events received, ``duplicate_events`` those whose id was seen before (skipped
    whole). ``applied`` and ``skipped`` count (event, goal) applications of the fresh events, so
    ``total`` can be more or less than ``events``: an event reaching three goals is three applications,
    an event matching no goal is none. ``skipped.duplicate_event`` is always 0 here (duplicates are
    counted per event, in ``duplicate_events``).

    ``position``: by source position only, the partition's watermark after the call (the highest position
    applied; None before anything was). ``items`` (``detail=True``, else empty): in event order, one
    outcome per goal an event reached, ``index`` naming the event; a duplicate event has one entry with
    ``goal_id`` None, an event that reached no goal has none.
    """

    events: int
    duplicate_events: int
    applied: int
    completed: tuple[CompletedGoal, ...]
    skipped: SkippedCounts
    position: int | None = None
    items: tuple[ItemOutcome, ...] = ()

    @property
    def total(self) -> int:
        """Number of (fresh event, goal) applications: every one gets exactly one outcome."""
        return self.applied + self.skipped.total

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str | bytes) -> EventsResult:
        doc = _document(data)
        return cls(
            events=int(doc["events"]),
            duplicate_events=int(doc["duplicate_events"]),
            applied=int(doc["applied"]),
            completed=tuple(
                CompletedGoal(user_id=item["user_id"], goal_id=item["goal_id"]) for item in doc["completed"]
            ),
            skipped=SkippedCounts.from_json(doc["skipped"]),
            position=None if doc.get("position") is None else int(doc["position"]),
            items=_item_outcomes(doc.get("items", ())),
        )


@dataclass(frozen=True, slots=True)
class GoalOutcome:
    """What one event did to one goal it reached."""

    goal_id: str
    outcome: Outcome
    completed: bool

    @property
    def applied(self) -> bool:
        return self.outcome == "applied"


@dataclass(frozen=True, slots=True)
class EventOutcome:
    """What one event did, once its batch committed: what an ``EventWriter`` future resolves with.

    ``duplicate``: the event was recorded before (its id for its player, or its source position at or below
    the watermark) and was skipped whole, so ``goals`` is empty. Otherwise ``goals`` holds one outcome per
    goal the event reached (empty when it matched none). ``position`` is the event's source position (None
    without a source).
    """

    event_id: str | None
    position: int | None
    duplicate: bool
    goals: tuple[GoalOutcome, ...]

    @property
    def applied(self) -> int:
        """Goals the event changed."""
        return sum(1 for goal in self.goals if goal.applied)

    @property
    def completed_goals(self) -> tuple[str, ...]:
        """Goals the event completed."""
        return tuple(goal.goal_id for goal in self.goals if goal.completed)


def event_outcomes(events: Sequence[Mapping[str, Any]], result: EventsResult) -> list[EventOutcome]:
    """Each event's own outcome, from the result of ``record_events(events, detail=True)``.

    The detail entries name their event by index; an event with no entry reached no goal.
    """
    duplicate = [False] * len(events)
    goals: list[list[GoalOutcome]] = [[] for _ in events]
    for item in result.items:
        if item.goal_id is None:
            duplicate[item.index] = True
        else:
            goals[item.index].append(GoalOutcome(item.goal_id, item.outcome, item.completed))
    return [
        EventOutcome(
            event_id=event.get("event_id"),
            position=None if event.get("position") is None else int(event["position"]),
            duplicate=duplicate[index],
            goals=tuple(goals[index]),
        )
        for index, event in enumerate(events)
    ]


@dataclass(frozen=True, slots=True)
class SourcePosition:
    """What ``acquire_source`` returns: the consumer's new ``epoch`` for the partition, and the position to
    resume after (the highest applied; None when nothing from the partition was applied yet)."""

    epoch: int
    position: int | None


@dataclass(frozen=True, slots=True)
class ConfigResult:
    """The jsonb returned by ``load_config``: counts of the loaded catalog and the goal ids that changed."""

    challenges: int
    goals: int
    added: tuple[str, ...]
    updated: tuple[str, ...]
    retired: tuple[str, ...]
    # The number of this load (1 for the first) and the document's SHA-256, as challenge.status reports them.
    version: int
    digest: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str | bytes) -> ConfigResult:
        doc = _document(data)
        return cls(
            challenges=int(doc["challenges"]),
            goals=int(doc["goals"]),
            added=tuple(doc["added"]),
            updated=tuple(doc["updated"]),
            retired=tuple(doc["retired"]),
            version=int(doc["version"]),
            digest=str(doc["digest"]),
        )


@dataclass(frozen=True, slots=True)
class RotationStatus:
    """What ``get_rotation_status`` returns: a challenge's current rotation period.

    ``enabled`` is False (and the rest None) when no goal of the challenge rotates; otherwise the period
    is that of its first rotating goal, and ``seconds_left`` counts down to ``period_end``."""

    challenge_id: str
    enabled: bool
    goal_id: str | None
    schedule: str | None
    period_start: datetime | None
    period_end: datetime | None
    seconds_left: int | None
    next_period_start: datetime | None
    next_period_end: datetime | None


@dataclass(frozen=True, slots=True)
class StatusMetric:
    """One row of ``challenge.status``: a metric named for Prometheus, its labels and value.

    ``exact`` is False where the value comes from the planner's statistics (a large table is not counted);
    ``value`` is None where a large table has never been analysed."""

    metric: str
    labels: Mapping[str, str]
    value: float | None
    exact: bool
    help: str


@dataclass(frozen=True, slots=True)
class IncrementItem:
    """One item of ``increment_progress_batch``."""

    user_id: str
    goal_id: str
    delta: int = 1
    event_id: str | None = None
    occurred_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.occurred_at is not None:
            iso_timestamp(self.occurred_at)

    def to_json(self) -> dict[str, Any]:
        return _item_json(
            {
                "user_id": self.user_id,
                "goal_id": self.goal_id,
                "delta": self.delta,
                "event_id": self.event_id,
                "occurred_at": self.occurred_at,
            }
        )


@dataclass(frozen=True, slots=True)
class SetItem:
    """One item of ``set_progress_batch``: an absolute stat value."""

    user_id: str
    goal_id: str
    value: int
    event_id: str | None = None
    occurred_at: datetime | None = None
    # The value's change since the last report (0..1,000,000), when the platform sends it: a goal with
    # progressMode relative takes its baseline from it (value - inc) instead of from the first value.
    inc: int | None = None

    def __post_init__(self) -> None:
        if self.occurred_at is not None:
            iso_timestamp(self.occurred_at)

    def to_json(self) -> dict[str, Any]:
        return _item_json(
            {
                "user_id": self.user_id,
                "goal_id": self.goal_id,
                "value": self.value,
                "inc": self.inc,
                "event_id": self.event_id,
                "occurred_at": self.occurred_at,
            }
        )


EventKind = Literal["login", "statistic"]


@dataclass(frozen=True, slots=True)
class Event:
    """One raw game event for ``record_events``.

    ``event_id`` identifies the event within its player: an id seen before for the same player (within
    the dedup window) is skipped whole. A ``statistic`` event names its ``stat_code`` and carries the stat's
    latest ``value`` and/or the increment ``inc`` (default 1); a ``login`` event carries neither.
    ``position`` is for ``record_events`` by source position only, where it is required and ``event_id``
    may be None (it then only labels the audit ledger).
    """

    event_id: str | None
    user_id: str
    kind: EventKind
    stat_code: str | None = None
    value: int | None = None
    inc: int | None = None
    occurred_at: datetime | None = None
    position: int | None = None

    def __post_init__(self) -> None:
        if self.occurred_at is not None:
            iso_timestamp(self.occurred_at)

    def to_json(self) -> dict[str, Any]:
        return _item_json(
            {
                "event_id": self.event_id,
                "user_id": self.user_id,
                "kind": self.kind,
                "stat_code": self.stat_code,
                "value": self.value,
                "inc": self.inc,
                "occurred_at": self.occurred_at,
                "position": self.position,
            }
        )


def event_json(event: Event | Mapping[str, Any]) -> dict[str, Any]:
    """An event as the JSON object ``record_events`` takes (mappings pass through, datetimes formatted)."""
    if isinstance(event, Event):
        return event.to_json()
    return _item_json(event)


def iso_timestamp(value: datetime) -> str:
    """ISO 8601 with its UTC offset; a naive datetime is refused.

    The SQL rejects zone-less timestamps (their meaning would depend on the session TimeZone); failing
    here names the Python value instead of an item index.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"occurred_at must be timezone-aware, got naive datetime {value.isoformat()}")
    return value.isoformat()


def item_json(item: IncrementItem | SetItem | Mapping[str, Any]) -> dict[str, Any]:
    """A batch item as the JSON object docs/api.md describes (mappings pass through, datetimes formatted)."""
    if isinstance(item, (IncrementItem, SetItem)):
        return item.to_json()
    return _item_json(item)


def _item_json(item: Mapping[str, Any]) -> dict[str, Any]:
    # None means "absent" (the SQL's default applies), so it is left out rather than sent as null.
    return {
        key: iso_timestamp(value) if isinstance(value, datetime) else value
        for key, value in item.items()
        if value is not None
    }


def _document(data: Mapping[str, Any] | str | bytes) -> Mapping[str, Any]:
    if isinstance(data, (str, bytes)):
        loaded: Mapping[str, Any] = json.loads(data)
        return loaded
    return data
