"""challenge.load_config: counts, idempotent reloads, updates in place, retirement, validation (CH001)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.sql.sqlhelpers import ALL_GOALS, Api, Row, assert_sqlstate, challenge, config, goal, outcome_of


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


# --- validation: one case per rule of docs/api.md section 1 -------------------------------------------------

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
    pytest.param(
        _set("challenges.1.goals.0.rotation", {"enabled": True, "schedule": ""}),
        ("challenges[1].goals[0].rotation.schedule",),
        id="enabled-rotation-empty-schedule",
    ),
    pytest.param(
        _set("challenges.1.goals.0.rotation.schedule", 7),
        ("challenges[1].goals[0].rotation.schedule",),
        id="rotation-schedule-number",
    ),
    pytest.param(
        _set("challenges.0.goals.1.requirement.progressMode", 0),
        (f"{G}[1].requirement.progressMode",),
        id="progress-mode-number",
    ),
    # Per-user rotations do not exist: loading one as a global rotation would change its meaning.
    *[
        pytest.param(
            _set(
                "challenges.1.goals.0.rotation",
                {"enabled": enabled, "type": bad, "schedule": "daily"},
            ),
            ("challenges[1].goals[0].rotation.type",),
            id=f"rotation-type-{label}",
        )
        for label, bad, enabled in [
            ("per-user", "per_user", True),
            ("per-user-disabled", "per_user", False),
            ("Global", "Global", True),
            ("number", 1, True),
            ("object", {"kind": "global"}, True),
        ]
    ],
    # Unknown keys, one per level of the document, each reported at its own path.
    *[
        pytest.param(_set(path, value), (expected,), id=f"unknown-key-{label}")
        for label, path, value, expected in [
            ("top", "schemaVersion", 2, "invalid config: schemaVersion is not a known key"),
            ("challenge", "challenges.1.startsAt", "soon", "challenges[1].startsAt is not a known key"),
            ("goal", "challenges.0.goals.1.rewards", [], f"{G}[1].rewards is not a known key"),
            ("goal-snake-case", "challenges.0.goals.1.event_source", "login", f"{G}[1].event_source is not"),
            (
                "requirement",
                "challenges.0.goals.1.requirement.targetVlaue",
                3,
                f"{G}[1].requirement.targetVlaue is not a known key",
            ),
            ("reward", "challenges.0.goals.1.reward.amount", 5, f"{G}[1].reward.amount is not a known key"),
            (
                "rotation",
                "challenges.1.goals.0.rotation.timezone",
                "Europe/Paris",
                "challenges[1].goals[0].rotation.timezone is not a known key",
            ),
            (
                "on-expiry",
                "challenges.1.goals.0.rotation.onExpiry.keepProgress",
                True,
                "challenges[1].goals[0].rotation.onExpiry.keepProgress is not a known key",
            ),
            ("quoted", "challenges.0.goals.1.max count", 3, f'{G}[1]["max count"] is not a known key'),
        ]
    ],
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


def test_two_goal_cycle_message_lists_the_cycle(bare_api: Api) -> None:
    doc = config()
    _cycle(doc)
    with pytest.raises(psycopg.Error) as exc:
        bare_api.load(doc)
    error = assert_sqlstate(exc.value, "CH001")
    assert error.diag.message_primary == (
        "invalid config: challenges[1].goals[0].prerequisites form a cycle: "
        "spring-login -> spring-boss -> spring-login"
    )
    assert error.diag.message_detail == "At challenges[1].goals[0].prerequisites."


def test_self_prerequisite_is_named(bare_api: Api) -> None:
    doc = config()
    doc["challenges"][1]["goals"][1]["prerequisites"] = ["spring-login", "spring-boss"]
    with pytest.raises(psycopg.Error) as exc:
        bare_api.load(doc)
    error = assert_sqlstate(exc.value, "CH001")
    assert error.diag.message_primary == (
        "invalid config: challenges[1].goals[1].prerequisites must not name the goal itself (spring-boss)"
    )


def test_cycle_across_challenges_is_rejected(bare_api: Api) -> None:
    doc = config()
    doc["challenges"][0]["goals"][0]["prerequisites"] = ["spring-boss"]  # winter's kill-10
    doc["challenges"][1]["goals"][0]["prerequisites"] = ["kill-10"]  # spring-login; spring-boss needs it
    with pytest.raises(psycopg.Error) as exc:
        bare_api.load(doc)
    error = assert_sqlstate(exc.value, "CH001")
    assert error.diag.message_primary == (
        "invalid config: challenges[0].goals[0].prerequisites form a cycle: "
        "kill-10 -> spring-boss -> spring-login -> kill-10"
    )
    assert bare_api.catalog() == ([], [])


# --- large prerequisite graphs: the cycle check is linear (a walk over every path was exponential) ---------


def _chain_goals(count: int, prefix: str = "step") -> list[dict[str, Any]]:
    """A quest line: each goal requires the one before it."""
    return [
        goal(f"{prefix}-{i}", default=False, prerequisites=[f"{prefix}-{i - 1}"] if i else [])
        for i in range(count)
    ]


def _document(goals: list[dict[str, Any]], per_challenge: int = 250) -> dict[str, Any]:
    """The goals, in order, over challenges of per_challenge goals (prerequisites cross challenges)."""
    return {
        "challenges": [
            challenge(f"part-{n}", goals[start : start + per_challenge])
            for n, start in enumerate(range(0, len(goals), per_challenge))
        ]
    }


def test_deep_prerequisite_chain_loads(bare_api: Api) -> None:
    result = bare_api.load(_document(_chain_goals(1500)))
    assert (result["goals"], len(result["added"])) == (1500, 1500)
    prerequisites = bare_api.scalar("SELECT prerequisites FROM challenge.goals WHERE goal_id = 'step-1499'")
    assert prerequisites == ["step-1498"]


def test_wide_prerequisite_dag_loads(bare_api: Api) -> None:
    """A 200-deep chain, then 1,800 goals each requiring four earlier goals (chain and wide ones)."""
    goals = _chain_goals(200)
    for i in range(1800):
        earlier = [
            goals[j]["goalId"] for j in sorted({len(goals) - 1, len(goals) // 2, (i * 7) % len(goals), 199})
        ]
        goals.append(goal(f"wide-{i}", default=False, prerequisites=earlier))
    result = bare_api.load(_document(goals))
    assert result["goals"] == 2000


def test_layered_quest_line_loads(bare_api: Api) -> None:
    """20 steps of two goals, each requiring both goals of the step below: 2^20 paths, one graph of 40."""
    goals = [
        goal(
            f"q-{i}",
            default=False,
            prerequisites=[f"q-{j}" for j in range(i // 2 * 2 - 2, i // 2 * 2)] if i > 1 else [],
        )
        for i in range(40)
    ]
    assert bare_api.load(_document(goals))["goals"] == 40


def test_cycle_deep_in_a_long_chain_is_reported(bare_api: Api) -> None:
    """step-250 also requires step-290: a 41-goal cycle in a 1,000-goal chain, named from step-250."""
    goals = _chain_goals(1000)
    goals[250]["prerequisites"].append("step-290")
    with pytest.raises(psycopg.Error) as exc:
        bare_api.load(_document(goals))
    error = assert_sqlstate(exc.value, "CH001")
    steps = " -> ".join(f"step-{i}" for i in [250, *range(290, 281, -1)])
    assert error.diag.message_primary == (
        f"invalid config: challenges[1].goals[0].prerequisites form a cycle: "
        f"{steps} -> ... (30 more) -> step-251 -> step-250"
    )
    assert bare_api.catalog() == ([], [])


def test_cycle_is_named_from_a_goal_on_it_not_from_one_requiring_it(bare_api: Api) -> None:
    """The document lists the chain backwards, so its first goals only depend on the cycle."""
    goals = _chain_goals(300)
    goals[100]["prerequisites"].append("step-102")  # step-100 -> step-102 -> step-101 -> step-100
    goals.reverse()
    with pytest.raises(psycopg.Error) as exc:
        bare_api.load(_document(goals, per_challenge=300))
    error = assert_sqlstate(exc.value, "CH001")
    assert error.diag.message_primary == (
        "invalid config: challenges[0].goals[197].prerequisites form a cycle: "
        "step-102 -> step-101 -> step-100 -> step-102"
    )


def test_unknown_prerequisite_after_a_long_chain_is_named(bare_api: Api) -> None:
    goals = _chain_goals(1000)
    goals[900]["prerequisites"] = ["step-899", "step-9999"]
    with pytest.raises(psycopg.Error) as exc:
        bare_api.load(_document(goals))
    error = assert_sqlstate(exc.value, "CH001")
    assert error.diag.message_primary == (
        "invalid config: challenges[3].goals[150].prerequisites names unknown goal step-9999"
    )


# --- keys: what is accepted without a meaning of its own, and the reference's empty strings ---------------


def _reference_shaped_goal() -> dict[str, Any]:
    """A goal with every key the reference's own challenges.json files use, as they use them."""
    return {
        "goalId": "weekly-wins",
        "name": "Weekly Wins",
        "description": "Win 5 matches this week",
        "type": "absolute",
        "eventSource": "statistic",
        "defaultAssigned": False,
        "requirement": {"statCode": "wins", "operator": ">=", "targetValue": 5, "progressMode": "relative"},
        "reward": {"type": "WALLET", "rewardId": "GEMS", "quantity": 20},
        "prerequisites": ["spring-login"],
        "rotation": {
            "enabled": True,
            "type": "global",
            "schedule": "weekly",
            "onExpiry": {"resetProgress": True, "allowReselection": True},
        },
    }


def test_reference_shaped_goal_loads(bare_api: Api) -> None:
    doc = config()
    doc["challenges"][1]["goals"].append(_reference_shaped_goal())
    assert "weekly-wins" in bare_api.load(doc)["added"]
    row = bare_api.row("SELECT * FROM challenge.goals WHERE goal_id = 'weekly-wins'")
    assert (row["progress_mode"], row["rotation_enabled"], row["rotation_schedule"]) == (
        "relative",
        True,
        "weekly",
    )


# Accepted without changing what the goal does: display text, the only comparison, the only rotation kind.
IGNORED_ON_PURPOSE = [
    pytest.param("challenges.1.name", "Another name", id="challenge-name"),
    pytest.param("challenges.1.description", "Shown to players only", id="challenge-description"),
    pytest.param("challenges.1.description", None, id="challenge-description-null"),
    pytest.param("challenges.1.goals.2.name", "Another goal name", id="goal-name"),
    pytest.param("challenges.1.goals.2.description", "Shown to players only", id="goal-description"),
    pytest.param("challenges.1.goals.2.requirement.operator", ">=", id="requirement-operator"),
    pytest.param("challenges.1.goals.2.rotation.type", "global", id="rotation-type-global"),
    pytest.param("challenges.1.goals.2.rotation.type", "", id="rotation-type-empty"),
    pytest.param("challenges.1.goals.2.rotation.type", None, id="rotation-type-null"),
]


@pytest.mark.parametrize(("path", "value"), IGNORED_ON_PURPOSE)
def test_key_ignored_on_purpose_is_accepted(bare_api: Api, path: str, value: Any) -> None:
    doc = config()
    doc["challenges"][1]["goals"].append(_reference_shaped_goal())
    _set(path, value)(doc)
    assert bare_api.load(doc)["goals"] == len(ALL_GOALS) + 1


def test_rotation_without_type_is_global(bare_api: Api) -> None:
    doc = config()
    added = _reference_shaped_goal()
    del added["rotation"]["type"]
    doc["challenges"][1]["goals"].append(added)
    bare_api.load(doc)
    row = bare_api.row("SELECT * FROM challenge.goals WHERE goal_id = 'weekly-wins'")
    assert (row["rotation_enabled"], row["rotation_schedule"]) == (True, "weekly")


def test_empty_progress_mode_means_absolute(bare_api: Api) -> None:
    """As the reference does (and as load_config does for an empty "type")."""
    doc = config()
    doc["challenges"][0]["goals"][2]["requirement"]["progressMode"] = ""  # reach-lvl-20
    doc["challenges"][0]["goals"][3]["type"] = ""  # play-3
    bare_api.load(doc)
    row = bare_api.row("SELECT * FROM challenge.goals WHERE goal_id = 'reach-lvl-20'")
    assert row["progress_mode"] == "absolute"
    assert bare_api.scalar("SELECT goal_type FROM challenge.goals WHERE goal_id = 'play-3'") == "absolute"


def test_empty_schedule_of_a_disabled_rotation_means_absent(bare_api: Api) -> None:
    doc = config()
    doc["challenges"][1]["goals"][0]["rotation"]["schedule"] = ""  # spring-login, rotation disabled
    bare_api.load(doc)
    row = bare_api.row("SELECT * FROM challenge.goals WHERE goal_id = 'spring-login'")
    assert (row["rotation_enabled"], row["rotation_schedule"]) == (False, None)


def test_bad_progress_mode_is_still_rejected(bare_api: Api) -> None:
    doc = config()
    doc["challenges"][0]["goals"][2]["requirement"]["progressMode"] = "Absolute"
    with pytest.raises(psycopg.Error) as exc:
        bare_api.load(doc)
    error = assert_sqlstate(exc.value, "CH001")
    assert "challenges[0].goals[2].requirement.progressMode must be one of" in (
        error.diag.message_primary or ""
    )


def test_unknown_key_message_lists_the_known_keys(bare_api: Api) -> None:
    doc = config()
    doc["challenges"][0]["goals"][0]["reward"]["amount"] = 3
    with pytest.raises(psycopg.Error) as exc:
        bare_api.load(doc)
    error = assert_sqlstate(exc.value, "CH001")
    assert error.diag.message_primary == (
        "invalid config: challenges[0].goals[0].reward.amount is not a known key "
        "(known: type, rewardId, quantity)"
    )


def test_misspelt_key_is_named_rather_than_the_missing_one(bare_api: Api) -> None:
    doc = config()
    requirement = doc["challenges"][0]["goals"][1]["requirement"]
    requirement["targetVlaue"] = requirement.pop("targetValue")
    with pytest.raises(psycopg.Error) as exc:
        bare_api.load(doc)
    error = assert_sqlstate(exc.value, "CH001")
    assert (error.diag.message_primary or "").startswith(
        "invalid config: challenges[0].goals[1].requirement.targetVlaue is not a known key"
    )
