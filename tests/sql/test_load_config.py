"""challenge.load_config: counts, idempotent reloads, updates in place, retirement, validation (CH001)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

if TYPE_CHECKING:
    from tests.sql.sqlhelpers import ALL_GOALS, Api, Row, assert_sqlstate, config, goal, outcome_of
else:
    from sqlhelpers import ALL_GOALS, Api, Row, assert_sqlstate, config, goal, outcome_of


def test_first_load_returns_counts_and_added(bare_api: Api) -> None:
    result = bare_api.load(config())
    assert result["challenges"] == 2
    assert result["goals"] == len(ALL_GOALS)
    assert sorted(result["added"]) == sorted(ALL_GOALS)
    assert result["updated"] == []
    assert result["retired"] == []


def test_reload_unchanged_is_idempotent(api: Api) -> None:
    before = api.catalog()
    result = api.load(config())
    assert result["challenges"] == 2
    assert result["goals"] == len(ALL_GOALS)
    assert (result["added"], result["updated"], result["retired"]) == ([], [], [])
    # Nothing changed (an implementation may refresh updated_at; every other column stays).
    assert _without_updated_at(api.catalog()) == _without_updated_at(before)


def _without_updated_at(catalog: tuple[list[Row], list[Row]]) -> list[list[Row]]:
    return [[{k: v for k, v in row.items() if k != "updated_at"} for row in rows] for rows in catalog]


def test_reload_with_new_target_applies_to_later_writes(api: Api) -> None:
    api.init("u1")
    assert api.inc("u1", "kill-10", 8)["outcome"] == "applied"

    doc = config()
    doc["challenges"][0]["goals"][0]["requirement"]["targetValue"] = 12
    result = api.load(doc)
    assert result["updated"] == ["kill-10"]
    assert (result["added"], result["retired"]) == ([], [])
    assert api.must_get("u1", "kill-10")["target"] == 12

    # 11 would have completed the old target of 10; the new target is 12.
    step = api.inc("u1", "kill-10", 3)
    assert (step["progress"], step["status"], step["newly_completed"]) == (11, "in_progress", False)
    step = api.inc("u1", "kill-10", 1)
    assert (step["progress"], step["status"], step["newly_completed"]) == (12, "completed", True)


def test_reload_adds_a_goal(api: Api) -> None:
    doc = config()
    doc["challenges"][1]["goals"].append(goal("spring-new", default=False))
    result = api.load(doc)
    assert result["added"] == ["spring-new"]
    assert result["goals"] == len(ALL_GOALS) + 1
    assert api.set_active("u1", "spring-new")["challenge_id"] == "spring"


def test_goal_missing_from_reload_is_retired(api: Api) -> None:
    api.init("u1")
    api.set_batch([{"user_id": "u1", "goal_id": "reach-lvl-20", "value": 7}])

    doc = config()
    del doc["challenges"][0]["goals"][2]  # reach-lvl-20
    result = api.load(doc)
    assert result["retired"] == ["reach-lvl-20"]
    assert result["added"] == []
    assert "reach-lvl-20" not in result["updated"]
    assert result["goals"] == len(ALL_GOALS) - 1

    # The progress row stays readable.
    row = api.must_get("u1", "reach-lvl-20")
    assert (row["progress"], row["challenge_id"]) == (7, "winter")

    # Writes report unknown_goal and change nothing.
    assert (
        outcome_of(api.set_batch([{"user_id": "u1", "goal_id": "reach-lvl-20", "value": 9}]))
        == "unknown_goal"
    )
    assert outcome_of(api.inc_batch([{"user_id": "u1", "goal_id": "reach-lvl-20"}])) == "unknown_goal"
    assert api.inc("u1", "reach-lvl-20")["outcome"] == "unknown_goal"
    assert api.must_get("u1", "reach-lvl-20")["progress"] == 7

    # It can no longer be assigned.
    with pytest.raises(psycopg.Error) as exc:
        api.set_active("u2", "reach-lvl-20")
    assert_sqlstate(exc.value, "CH010")
    with pytest.raises(psycopg.Error) as exc:
        api.set_active("u1", "reach-lvl-20", False)
    assert_sqlstate(exc.value, "CH010")
    assert api.get("u3", "reach-lvl-20") is None
    assert "reach-lvl-20" not in {r["goal_id"] for r in api.init("u3")}


def test_retiring_a_goal_reports_no_other_goal_updated(api: Api) -> None:
    """Only reach-lvl-20 left the document; the others' definitions are unchanged (their index moved)."""
    doc = config()
    del doc["challenges"][0]["goals"][2]
    result = api.load(doc)
    assert (result["added"], result["updated"], result["retired"]) == ([], [], ["reach-lvl-20"])


def test_retired_goal_comes_back_when_re_added(api: Api) -> None:
    doc = config()
    del doc["challenges"][0]["goals"][2]
    api.load(doc)
    result = api.load(config())
    assert "reach-lvl-20" in result["added"] + result["updated"]
    assert result["retired"] == []
    assert api.set_active("u1", "reach-lvl-20")["is_active"] is True


def test_goal_type_defaults_to_absolute(bare_api: Api) -> None:
    doc = config()
    del doc["challenges"][0]["goals"][2]["type"]  # reach-lvl-20
    bare_api.load(doc)
    bare_api.init("u1")
    assert (
        outcome_of(bare_api.set_batch([{"user_id": "u1", "goal_id": "reach-lvl-20", "value": 3}]))
        == "applied"
    )


# --- validation: one case per rule of api.md section 1 -------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    """Set a value at a dotted path, list indexes as numbers: "challenges.0.goals.1.requirement"."""

    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _replace_doc(new: dict[str, Any]) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        doc.clear()
        doc.update(new)

    return mutate


def _cycle(doc: dict[str, Any]) -> None:
    spring = doc["challenges"][1]["goals"]
    spring[0]["prerequisites"] = ["spring-boss"]  # spring-login -> spring-boss -> spring-login


def _append_spring_goal(new: dict[str, Any]) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        doc["challenges"][1]["goals"].append(new)

    return mutate


G = "challenges[0].goals"
INVALID_CONFIGS = [
    pytest.param(_replace_doc({"challenges": []}), ("challenges",), id="empty-challenges"),
    pytest.param(_replace_doc({}), ("challenges",), id="missing-challenges"),
    pytest.param(
        _set("challenges.0.challengeId", ""), ("challenges[0].challengeId",), id="empty-challenge-id"
    ),
    pytest.param(_set("challenges.0.name", ""), ("challenges[0].name",), id="empty-challenge-name"),
    pytest.param(_set("challenges.0.goals.1.goalId", ""), (f"{G}[1].goalId",), id="empty-goal-id"),
    pytest.param(_set("challenges.0.goals.1.name", ""), (f"{G}[1].name",), id="empty-goal-name"),
    pytest.param(
        _set("challenges.1.challengeId", "winter"),
        ("challenges[1].challengeId",),
        id="duplicate-challenge-id",
    ),
    pytest.param(
        _set("challenges.1.goals.0.goalId", "kill-10"),
        ("challenges[1].goals[0].goalId",),
        id="duplicate-goal-id-across-challenges",
    ),
    pytest.param(
        _set("challenges.0.goals.1.goalId", "kill-10"),
        (f"{G}[1].goalId",),
        id="duplicate-goal-id-in-challenge",
    ),
    pytest.param(_set("challenges.0.goals.0.type", "weekly"), (f"{G}[0].type",), id="bad-type"),
    pytest.param(
        _set("challenges.0.goals.2.daily", True), (f"{G}[2].daily", f"{G}[2].type"), id="daily-with-absolute"
    ),
    pytest.param(
        _set("challenges.0.goals.3.daily", True),
        (f"{G}[3].daily", f"{G}[3].type"),
        id="daily-with-type-daily",
    ),
    pytest.param(
        _set("challenges.0.goals.0.eventSource", "kafka"), (f"{G}[0].eventSource",), id="bad-event-source"
    ),
    pytest.param(
        _set("challenges.0.goals.0.requirement.statCode", ""),
        (f"{G}[0].requirement.statCode",),
        id="empty-stat-code",
    ),
    pytest.param(
        _set("challenges.0.goals.0.requirement.operator", ">"),
        (f"{G}[0].requirement.operator",),
        id="operator-not-gte",
    ),
    *[
        pytest.param(
            _set("challenges.0.goals.1.requirement.targetValue", bad),
            (f"{G}[1].requirement.targetValue",),
            id=f"target-{label}",
        )
        for label, bad in [("0", 0), ("minus-1", -1), ("1.5", 1.5), ("string-10", "10"), ("null", None)]
    ],
    pytest.param(
        _set("challenges.0.goals.0.reward.type", "GEM"), (f"{G}[0].reward.type",), id="bad-reward-type"
    ),
    pytest.param(
        _set("challenges.0.goals.0.reward.rewardId", ""), (f"{G}[0].reward.rewardId",), id="empty-reward-id"
    ),
    pytest.param(
        _set("challenges.0.goals.0.reward.quantity", 0), (f"{G}[0].reward.quantity",), id="quantity-0"
    ),
    pytest.param(
        _set("challenges.0.goals.0.reward.quantity", 1.5), (f"{G}[0].reward.quantity",), id="quantity-1.5"
    ),
    pytest.param(
        _set("challenges.1.goals.1.prerequisites", ["no-such-goal"]),
        ("challenges[1].goals[1].prerequisites",),
        id="unknown-prerequisite",
    ),
    pytest.param(
        _set("challenges.1.goals.1.prerequisites", ["spring-boss"]),
        ("challenges[1].goals[1].prerequisites",),
        id="self-prerequisite",
    ),
    pytest.param(
        _cycle,
        ("challenges[1].goals[0].prerequisites", "challenges[1].goals[1].prerequisites"),
        id="prerequisite-cycle-a-b-a",
    ),
    pytest.param(
        _append_spring_goal(goal("spring-c", prerequisites=["spring-d"])),
        ("challenges[1].goals[2].prerequisites",),
        id="prerequisite-forward-to-missing",
    ),
    pytest.param(
        _set(
            "challenges.1.goals.0.rotation",
            {
                "enabled": True,
                "schedule": "hourly",
                "onExpiry": {"resetProgress": True, "allowReselection": False},
            },
        ),
        ("challenges[1].goals[0].rotation.schedule",),
        id="bad-rotation-schedule",
    ),
]


@pytest.mark.parametrize(("mutate", "paths"), INVALID_CONFIGS)
def test_invalid_config_raises_ch001_naming_the_path(
    bare_api: Api, mutate: Mutation, paths: tuple[str, ...]
) -> None:
    doc = config()
    mutate(doc)
    with pytest.raises(psycopg.Error) as exc:
        bare_api.load(doc)
    error = assert_sqlstate(exc.value, "CH001")
    message = error.diag.message_primary or ""
    assert any(path in message for path in paths), f"message {message!r} names none of {paths}"


def test_three_goal_cycle_is_rejected(bare_api: Api) -> None:
    doc = config()
    spring = doc["challenges"][1]["goals"]
    spring.append(goal("spring-c", prerequisites=["spring-boss"]))
    spring[0]["prerequisites"] = ["spring-c"]  # login -> c -> boss -> login
    with pytest.raises(psycopg.Error) as exc:
        bare_api.load(doc)
    error = assert_sqlstate(exc.value, "CH001")
    assert "prerequisites" in (error.diag.message_primary or "")


def test_valid_prerequisite_chain_across_challenges_loads(bare_api: Api) -> None:
    doc = config()
    doc["challenges"][1]["goals"][1]["prerequisites"] = ["spring-login", "kill-10"]
    assert bare_api.load(doc)["goals"] == len(ALL_GOALS)


@pytest.mark.parametrize(("mutate", "paths"), INVALID_CONFIGS)
def test_failed_reload_changes_nothing(api: Api, mutate: Mutation, paths: tuple[str, ...]) -> None:
    api.init("u1")
    catalog_before = api.catalog()
    progress_before = api.snapshot()
    doc = config()
    doc["challenges"][0]["goals"][0]["requirement"]["targetValue"] = 99  # a change that must not land
    doc["challenges"][1]["goals"].append(goal("would-be-added"))
    mutate(doc)
    with pytest.raises(psycopg.Error) as exc:
        api.load(doc)
    assert_sqlstate(exc.value, "CH001")
    assert api.catalog() == catalog_before
    assert api.snapshot() == progress_before


def test_failed_first_load_leaves_an_empty_catalog(bare_api: Api) -> None:
    doc = config()
    doc["challenges"][1]["goals"][1]["prerequisites"] = ["nope"]
    with pytest.raises(psycopg.Error) as exc:
        bare_api.load(doc)
    assert_sqlstate(exc.value, "CH001")
    assert bare_api.catalog() == ([], [])


def test_config_not_an_object_raises_ch001(bare_api: Api) -> None:
    with pytest.raises(psycopg.Error) as exc:
        bare_api.scalar("SELECT challenge.load_config('[1, 2]'::jsonb)")
    assert_sqlstate(exc.value, "CH001")
