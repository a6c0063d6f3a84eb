"""pgchallenge: game challenge progress in PostgreSQL, with a thin typed Python client."""

from __future__ import annotations

from pgchallenge.aclient import AsyncClient
from pgchallenge.client import Client
from pgchallenge.connection import async_connect, connect, resolve_database_url
from pgchallenge.errors import (
    ERROR_CLASSES,
    ChallengeError,
    ChallengeNotFound,
    GoalAlreadyClaimed,
    GoalNotActive,
    GoalNotCompleted,
    GoalNotFound,
    InsufficientGoals,
    InvalidArgument,
    InvalidBatch,
    InvalidConfig,
    PrerequisitesNotMet,
    RewardGrantPending,
)
from pgchallenge.models import (
    BatchResult,
    Claim,
    CompletedGoal,
    ConfigResult,
    GoalProgress,
    GrantState,
    IncrementItem,
    Outcome,
    RewardGrant,
    RewardType,
    SetItem,
    SkippedCounts,
    Status,
    WriteResult,
)
from pgchallenge.worker import RewardWorker, WorkerPass

__version__ = "0.1.0"

__all__ = [
    "ERROR_CLASSES",
    "AsyncClient",
    "BatchResult",
    "ChallengeError",
    "ChallengeNotFound",
    "Claim",
    "Client",
    "CompletedGoal",
    "ConfigResult",
    "GoalAlreadyClaimed",
    "GoalNotActive",
    "GoalNotCompleted",
    "GoalNotFound",
    "GoalProgress",
    "GrantState",
    "IncrementItem",
    "InsufficientGoals",
    "InvalidArgument",
    "InvalidBatch",
    "InvalidConfig",
    "Outcome",
    "PrerequisitesNotMet",
    "RewardGrant",
    "RewardGrantPending",
    "RewardType",
    "RewardWorker",
    "SetItem",
    "SkippedCounts",
    "Status",
    "WorkerPass",
    "WriteResult",
    "__version__",
    "async_connect",
    "connect",
    "resolve_database_url",
]
