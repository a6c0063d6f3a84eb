"""pgchallenge: game challenge progress in PostgreSQL, with a thin typed Python client."""

from __future__ import annotations

from pgchallenge.aclient import AsyncClient
from pgchallenge.client import Client
from pgchallenge.connection import async_connect, connect, resolve_database_url
from pgchallenge.errors import (
    ERROR_CLASSES,
    ChallengeError,
    ChallengeNotFound,
    GoalNotFound,
    InvalidArgument,
    InvalidBatch,
    InvalidConfig,
)
from pgchallenge.models import (
    BatchResult,
    CompletedGoal,
    ConfigResult,
    GoalProgress,
    IncrementItem,
    Outcome,
    SetItem,
    SkippedCounts,
    Status,
    WriteResult,
)

__version__ = "0.1.0"

__all__ = [
    "ERROR_CLASSES",
    "AsyncClient",
    "BatchResult",
    "ChallengeError",
    "ChallengeNotFound",
    "Client",
    "CompletedGoal",
    "ConfigResult",
    "GoalNotFound",
    "GoalProgress",
    "IncrementItem",
    "InvalidArgument",
    "InvalidBatch",
    "InvalidConfig",
    "Outcome",
    "SetItem",
    "SkippedCounts",
    "Status",
    "WriteResult",
    "__version__",
    "async_connect",
    "connect",
    "resolve_database_url",
]
