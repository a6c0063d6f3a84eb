"""Fixtures for the client tests: a small catalog loaded through ``Client.load_config``."""

from __future__ import annotations

import copy
from typing import Any

import psycopg
import pytest
from pgchallenge import Client


def _goal(
    goal_id: str, *, type: str, target: int, daily: bool = False, default: bool = True
) -> dict[str, Any]:
    return {
        "goalId": goal_id,
        "name": f"Goal {goal_id}",
        "description": f"Description of {goal_id}",
        "type": type,
        "daily": daily,
        "eventSource": "login" if daily else "statistic",
        "defaultAssigned": default,
        "requirement": {
            "statCode": "kills",
            "operator": ">=",
            "targetValue": target,
            "progressMode": "absolute",
        },
        "reward": {"type": "ITEM", "rewardId": f"reward-{goal_id}", "quantity": 1},
        "prerequisites": [],
        "rotation": {
            "enabled": False,
            "schedule": "daily",
            "onExpiry": {"resetProgress": True, "allowReselection": False},
        },
    }


# winter: increment target 3, absolute target 10, once-per-day increment, one goal not assigned by default.
# summer: a second challenge, so that filtering by challenge has something to filter out.
CONFIG: dict[str, Any] = {
    "challenges": [
        {
            "challengeId": "winter",
            "name": "Winter Challenge",
            "description": "Client test catalog",
            "goals": [
                _goal("kill-3", type="increment", target=3),
                _goal("level-10", type="absolute", target=10),
                _goal("login-daily", type="increment", target=5, daily=True),
                _goal("optional-1", type="increment", target=1, default=False),
            ],
        },
        {
            "challengeId": "summer",
            "name": "Summer Challenge",
            "description": "Client test catalog",
            "goals": [_goal("swim-2", type="increment", target=2)],
        },
    ]
}

DEFAULT_GOALS = ("kill-3", "level-10", "login-daily", "swim-2")


@pytest.fixture
def config() -> dict[str, Any]:
    return copy.deepcopy(CONFIG)


@pytest.fixture
def client(db: psycopg.Connection[Any], config: dict[str, Any]) -> Client:
    """A Client over the autocommit test connection, with CONFIG loaded."""
    client = Client(db)
    client.load_config(config)
    return client
