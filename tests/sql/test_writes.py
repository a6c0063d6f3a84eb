"""Progress writes (docs/api.md section 3): outcomes, guard matrix, rule order, batch shape, event ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.serverclock import HOUR, ServerClock, iso
from tests.sql.sqlhelpers import (
    SKIPPED_KEYS,
    Api,
    batch_total,
    completed_pairs,
    outcome_of,
    skipped,
)

WRITE_FUNCTIONS = ["increment", "increment-batch", "set-batch"]


@dataclass(frozen=True)
class Times:
    """Explicit occurred_at values, an hour apart, on one UTC day after any the test runs in (so later than
    the now() of items without one)."""

    t1: str
    t2: str
    t3: str


@pytest.fixture
def t(server_clock: ServerClock) -> Times:
    day = server_clock.future_day
    return Times(iso(day + 10 * HOUR), iso(day + 11 * HOUR), iso(day + 12 * HOUR))


def write_one(
    api: Api,
    fn: str,
    user_id: str,
    goal_id: str,
    *,
    amount: int = 1,
    event_id: str | None = None,
    occurred_at: str | None = None,
) -> str:
    """One item through one write function; returns its outcome."""
    if fn == "increment":
        kwargs: dict[str, Any] = {"delta": amount}
        if event_id is not None:
            kwargs["event_id"] = event_id
        if occurred_at is not None:
            kwargs["occurred_at"] = occurred_at
        outcome: str = api.inc(user_id, goal_id, **kwargs)["outcome"]
        return outcome
    item: dict[str, Any] = {"user_id": user_id, "goal_id": goal_id}
    if event_id is not None:
        item["event_id"] = event_id
    if occurred_at is not None:
        item["occurred_at"] = occurred_at
    if fn == "increment-batch":
        item["delta"] = amount
        return outcome_of(api.inc_batch([item]))
    item["value"] = amount
    return outcome_of(api.set_batch([item]))


def goal_for(fn: str) -> str:
    """A goal each write function applies to: increments on kill-10, absolute values on reach-lvl-20."""
    return "reach-lvl-20" if fn == "set-batch" else "kill-10"


def prepare_row(api: Api, state: str, user_id: str, goal_id: str) -> None:
    """Bring (user, goal) into one guard state."""
    if state == "not-assigned":
        return
    api.set_active(user_id, goal_id, True)
    if state.endswith("claimed"):
        api.make_claimed(user_id, goal_id)
    if state.startswith("inactive"):
        api.set_active(user_id, goal_id, False)


# --- guard matrix: assigned x active x claimed, for every write function ------------------------------

GUARD_STATES = [
    ("not-assigned", "not_assigned"),
    ("active", "applied"),
    ("inactive", "inactive"),
    ("active-claimed", "claimed"),
    ("inactive-claimed", "inactive"),
]


@pytest.mark.parametrize("fn", WRITE_FUNCTIONS)
@pytest.mark.parametrize(("state", "expected"), GUARD_STATES, ids=[s for s, _ in GUARD_STATES])
def test_guard_matrix(api: Api, fn: str, state: str, expected: str) -> None:
    goal_id = goal_for(fn)
    prepare_row(api, state, "u1", goal_id)
    before = api.get("u1", goal_id)
    assert write_one(api, fn, "u1", goal_id, amount=3) == expected
    after = api.get("u1", goal_id)
    if expected == "applied":
        assert after is not None
        assert (after["progress"], after["status"]) == (3, "in_progress")
    else:
        assert after == before


@pytest.mark.parametrize("fn", WRITE_FUNCTIONS)
def test_unknown_goal(api: Api, fn: str) -> None:
    api.init("u1")
    assert write_one(api, fn, "u1", "no-such-goal") == "unknown_goal"


# --- rule order ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", WRITE_FUNCTIONS)
def test_unknown_goal_before_duplicate_event(api: Api, fn: str) -> None:
    api.init("u1")
    assert write_one(api, fn, "u1", goal_for(fn), event_id="e-1") == "applied"
    assert write_one(api, fn, "u1", "no-such-goal", event_id="e-1") == "unknown_goal"


@pytest.mark.parametrize("fn", WRITE_FUNCTIONS)
@pytest.mark.parametrize("state", [s for s, _ in GUARD_STATES])
def test_duplicate_event_before_row_guards(api: Api, fn: str, state: str) -> None:
    goal_id = goal_for(fn)
    prepare_row(api, state, "u1", goal_id)
    # Every well-formed event id is remembered, whatever the outcome (ids are unique per player).
    assert write_one(api, fn, "u1", "no-such-goal", event_id="e-1") == "unknown_goal"
    assert write_one(api, fn, "u1", goal_id, event_id="e-1") == "duplicate_event"


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("not-assigned", "not_assigned"),
        ("inactive", "inactive"),
        ("active-claimed", "claimed"),
        ("active", "type_mismatch"),
    ],
)
@pytest.mark.parametrize("goal_id", ["kill-10", "login-daily", "play-3"])
def test_row_guards_before_type_mismatch(api: Api, state: str, expected: str, goal_id: str) -> None:
    prepare_row(api, state, "u1", goal_id)
    before = api.get("u1", goal_id)
    assert outcome_of(api.set_batch([{"user_id": "u1", "goal_id": goal_id, "value": 4}])) == expected
    assert api.get("u1", goal_id) == before


def test_duplicate_event_before_type_mismatch(api: Api) -> None:
    api.init("u1")
    assert (
        outcome_of(api.inc_batch([{"user_id": "u1", "goal_id": "kill-10", "event_id": "e-1"}])) == "applied"
    )
    result = api.set_batch([{"user_id": "u1", "goal_id": "kill-10", "value": 4, "event_id": "e-1"}])
    assert outcome_of(result) == "duplicate_event"


def test_increments_apply_to_absolute_goals(api: Api) -> None:
    api.init("u1")
    assert api.inc("u1", "reach-lvl-20", 3)["outcome"] == "applied"
    assert api.must_get("u1", "reach-lvl-20")["progress"] == 3


@pytest.mark.parametrize("state", ["inactive", "active-claimed"])
def test_row_guards_before_already_counted_today(api: Api, t: Times, state: str) -> None:
    api.init("u1")
    assert api.inc("u1", "login-daily", occurred_at=t.t1)["outcome"] == "applied"
    if state == "inactive":
        api.set_active("u1", "login-daily", False)
        expected = "inactive"
    else:
        api.make_claimed("u1", "login-daily")
        expected = "claimed"
    assert api.inc("u1", "login-daily", occurred_at=t.t2)["outcome"] == expected


def test_row_guards_before_stale_event(api: Api, t: Times) -> None:
    api.init("u1")
    assert outcome_of(
        api.set_batch([{"user_id": "u1", "goal_id": "reach-lvl-20", "value": 5, "occurred_at": t.t2}])
    ) == ("applied")
    api.set_active("u1", "reach-lvl-20", False)
    result = api.set_batch([{"user_id": "u1", "goal_id": "reach-lvl-20", "value": 4, "occurred_at": t.t1}])
    assert outcome_of(result) == "inactive"


# --- batch result shape ------------------------------------------------------------------------------


def test_increment_batch_every_outcome(api: Api, t: Times) -> None:
    for user in ("u1", "u2"):
        api.init(user)
    api.set_active("u1", "not-default", False)
    api.make_claimed("u2", "kill-10")
    items = [
        {"user_id": "u1", "goal_id": "kill-10", "event_id": "e-a"},  # applied
        {"user_id": "u1", "goal_id": "no-such-goal"},  # unknown_goal
        {"user_id": "u1", "goal_id": "kill-10", "event_id": "e-a"},  # duplicate_event
        {"user_id": "ghost", "goal_id": "kill-10"},  # not_assigned
        {"user_id": "u1", "goal_id": "not-default"},  # inactive
        {"user_id": "u2", "goal_id": "kill-10"},  # claimed
        {"user_id": "u1", "goal_id": "login-daily", "occurred_at": t.t1},  # applied
        {"user_id": "u1", "goal_id": "login-daily", "occurred_at": t.t2},  # already_counted_today
    ]
    result = api.inc_batch(items)
    assert set(result) == {"applied", "completed", "skipped"}
    assert result["applied"] == 2
    assert result["completed"] == []
    assert result["skipped"] == skipped(
        unknown_goal=1, duplicate_event=1, not_assigned=1, inactive=1, claimed=1, already_counted_today=1
    )
    assert batch_total(result) == len(items)
    assert api.must_get("u1", "kill-10")["progress"] == 1
    assert api.must_get("u1", "login-daily")["progress"] == 1


def test_set_batch_every_outcome(api: Api, t: Times) -> None:
    for user in ("u1", "u2", "u3"):
        api.init(user)
    api.set_active("u1", "spring-boss", False)
    api.make_claimed("u2", "reach-lvl-20")
    assert outcome_of(
        api.set_batch([{"user_id": "u3", "goal_id": "reach-lvl-20", "value": 9, "occurred_at": t.t2}])
    ) == ("applied")
    items = [
        {"user_id": "u1", "goal_id": "reach-lvl-20", "value": 7, "event_id": "e-a"},  # applied
        {"user_id": "u1", "goal_id": "no-such-goal", "value": 1},  # unknown_goal
        {"user_id": "u1", "goal_id": "kill-10", "value": 7, "event_id": "e-a"},  # duplicate_event
        {"user_id": "ghost", "goal_id": "reach-lvl-20", "value": 1},  # not_assigned
        {"user_id": "u1", "goal_id": "spring-boss", "value": 1},  # inactive
        {"user_id": "u2", "goal_id": "reach-lvl-20", "value": 1},  # claimed
        {"user_id": "u1", "goal_id": "kill-10", "value": 3},  # type_mismatch
        {"user_id": "u3", "goal_id": "reach-lvl-20", "value": 8, "occurred_at": t.t1},  # stale_event
    ]
    result = api.set_batch(items)
    assert set(result) == {"applied", "completed", "skipped"}
    assert result["applied"] == 1
    assert result["completed"] == []
    assert result["skipped"] == skipped(
        unknown_goal=1,
        duplicate_event=1,
        not_assigned=1,
        inactive=1,
        claimed=1,
        type_mismatch=1,
        stale_event=1,
    )
    assert batch_total(result) == len(items)
    assert api.must_get("u1", "reach-lvl-20")["progress"] == 7
    assert api.must_get("u1", "kill-10")["progress"] == 0
    assert api.must_get("u3", "reach-lvl-20")["progress"] == 9


@pytest.mark.parametrize("fn", ["increment-batch", "set-batch"])
def test_empty_array_is_a_noop_returning_zeros(api: Api, fn: str) -> None:
    api.init("u1")
    before = api.snapshot()
    result = api.inc_batch([]) if fn == "increment-batch" else api.set_batch([])
    assert result == {"applied": 0, "completed": [], "skipped": skipped()}
    assert set(result["skipped"]) == SKIPPED_KEYS
    assert api.snapshot() == before


def test_completed_lists_each_pair_once(api: Api) -> None:
    for user in ("u1", "u2", "u3"):
        api.init(user)
    api.inc("u1", "kill-10", 8)
    api.inc("u3", "kill-10", 10)  # already completed before the call: not listed again
    items = [
        {"user_id": "u1", "goal_id": "kill-10"},
        {"user_id": "u1", "goal_id": "kill-10"},  # reaches 10
        {"user_id": "u1", "goal_id": "kill-10"},  # 11, still the same completion
        {"user_id": "u2", "goal_id": "kill-10", "delta": 12},
        {"user_id": "u2", "goal_id": "spring-login"},
        {"user_id": "u3", "goal_id": "kill-10"},
        {"user_id": "u1", "goal_id": "reach-lvl-20"},  # not completed
    ]
    result = api.inc_batch(items)
    assert result["applied"] == len(items)
    assert completed_pairs(result) == [("u1", "kill-10"), ("u2", "kill-10"), ("u2", "spring-login")]
    assert api.inc_batch([{"user_id": "u1", "goal_id": "kill-10"}])["completed"] == []


def test_set_batch_completed_once(api: Api, t: Times) -> None:
    api.init("u1")
    items = [
        {"user_id": "u1", "goal_id": "reach-lvl-20", "value": 20, "occurred_at": t.t1},
        {"user_id": "u1", "goal_id": "reach-lvl-20", "value": 21, "occurred_at": t.t2},
    ]
    result = api.set_batch(items)
    assert batch_total(result) == 2
    assert completed_pairs(result) == [("u1", "reach-lvl-20")]
    assert api.must_get("u1", "reach-lvl-20")["progress"] == 21
    later = api.set_batch([{"user_id": "u1", "goal_id": "reach-lvl-20", "value": 25, "occurred_at": t.t3}])
    assert later["completed"] == []


# --- increments: sums, users, status -------------------------------------------------------------------


def test_duplicate_keys_in_one_batch_are_summed(api: Api) -> None:
    api.init("u1")
    result = api.inc_batch(
        [
            {"user_id": "u1", "goal_id": "kill-10", "delta": 2},
            {"user_id": "u1", "goal_id": "kill-10", "delta": 3},
            {"user_id": "u1", "goal_id": "kill-10"},
        ]
    )
    assert result["applied"] == 3
    assert api.must_get("u1", "kill-10")["progress"] == 6


def test_two_users_same_goal_get_their_own_deltas(api: Api) -> None:
    """The reference applied one user's delta to another's row (bug B-2)."""
    for user in ("u1", "u2", "u3"):
        api.init(user)
    result = api.inc_batch(
        [
            {"user_id": "u1", "goal_id": "kill-10", "delta": 2},
            {"user_id": "u2", "goal_id": "kill-10", "delta": 5},
            {"user_id": "u1", "goal_id": "kill-10", "delta": 1},
            {"user_id": "u3", "goal_id": "reach-lvl-20", "delta": 4},
            {"user_id": "u2", "goal_id": "reach-lvl-20", "delta": 7},
        ]
    )
    assert result["applied"] == 5
    assert api.must_get("u1", "kill-10")["progress"] == 3
    assert api.must_get("u2", "kill-10")["progress"] == 5
    assert api.must_get("u3", "kill-10")["progress"] == 0
    assert api.must_get("u3", "reach-lvl-20")["progress"] == 4
    assert api.must_get("u2", "reach-lvl-20")["progress"] == 7
    assert api.must_get("u1", "reach-lvl-20")["progress"] == 0


def test_delta_defaults_to_one_and_null_means_absent(api: Api) -> None:
    api.init("u1")
    result = api.inc_batch(
        [
            {"user_id": "u1", "goal_id": "kill-10"},
            {"user_id": "u1", "goal_id": "kill-10", "delta": None, "event_id": None, "occurred_at": None},
        ]
    )
    assert result["applied"] == 2
    assert api.must_get("u1", "kill-10")["progress"] == 2
    assert api.inc("u1", "kill-10")["progress"] == 3


@pytest.mark.parametrize("fn", WRITE_FUNCTIONS)
def test_status_progression_and_overshoot(api: Api, t: Times, fn: str) -> None:
    api.init("u1")
    goal_id = goal_for(fn)
    target = api.must_get("u1", goal_id)["target"]
    assert api.must_get("u1", goal_id)["status"] == "not_started"
    write_one(api, fn, "u1", goal_id, amount=1, occurred_at=t.t1)
    row = api.must_get("u1", goal_id)
    assert (row["progress"], row["status"], row["completed_at"]) == (1, "in_progress", None)
    # Past the target in one step: overshoot kept.
    amount = target + 5 if fn == "set-batch" else target + 4
    write_one(api, fn, "u1", goal_id, amount=amount, occurred_at=t.t2)
    row = api.must_get("u1", goal_id)
    assert (row["progress"], row["status"]) == (target + 5, "completed")
    assert row["completed_at"] is not None
    assert row["claimed_at"] is None


@pytest.mark.parametrize("fn", WRITE_FUNCTIONS)
def test_completed_at_is_set_once(api: Api, t: Times, fn: str) -> None:
    api.init("u1")
    goal_id = goal_for(fn)
    target = api.must_get("u1", goal_id)["target"]
    write_one(api, fn, "u1", goal_id, amount=target, occurred_at=t.t1)
    first = api.must_get("u1", goal_id)
    assert first["status"] == "completed"
    write_one(api, fn, "u1", goal_id, amount=target + 1 if fn == "set-batch" else 1, occurred_at=t.t2)
    second = api.must_get("u1", goal_id)
    assert second["progress"] == target + 1
    assert second["completed_at"] == first["completed_at"]
    assert second["updated_at"] > first["updated_at"]


def test_value_zero_keeps_not_started(api: Api) -> None:
    api.init("u1")
    assert outcome_of(api.set_batch([{"user_id": "u1", "goal_id": "reach-lvl-20", "value": 0}])) == "applied"
    row = api.must_get("u1", "reach-lvl-20")
    assert (row["progress"], row["status"]) == (0, "not_started")


def test_updated_at_moves_only_on_applied_writes(api: Api, t: Times) -> None:
    api.init("u1")
    api.inc("u1", "login-daily", occurred_at=t.t1)
    counted = api.must_get("u1", "login-daily")
    assert api.inc("u1", "login-daily", occurred_at=t.t2)["outcome"] == "already_counted_today"
    assert api.must_get("u1", "login-daily") == counted
    api.inc("u1", "kill-10")
    applied = api.must_get("u1", "kill-10")
    assert applied["updated_at"] >= applied["assigned_at"]


def test_progress_saturates_at_integer_max(api: Api) -> None:
    api.set_active("u1", "not-default", True)
    api.conn.execute(
        "UPDATE challenge.progress SET progress = 2147483000, status = 'completed', completed_at = now()"
        " WHERE user_id = 'u1' AND goal_id = 'not-default'"
    )
    result = api.inc_batch([{"user_id": "u1", "goal_id": "not-default", "delta": 1000}] * 3)
    assert batch_total(result) == 3
    assert api.must_get("u1", "not-default")["progress"] == 2147483647
    assert api.inc("u1", "not-default", 1000000)["progress"] == 2147483647


# --- single increment_progress -------------------------------------------------------------------------


def test_single_increment_returns_outcome_progress_status_newly_completed(api: Api) -> None:
    api.init("u1")
    steps = [api.inc("u1", "kill-10", d) for d in (9, 1, 1)]
    assert [list(s) for s in steps] == [["outcome", "progress", "status", "newly_completed"]] * 3
    assert [tuple(s.values()) for s in steps] == [
        ("applied", 9, "in_progress", False),
        ("applied", 10, "completed", True),
        ("applied", 11, "completed", False),
    ]


def test_single_increment_delta_defaults_to_one(api: Api) -> None:
    api.init("u1")
    assert tuple(api.inc("u1", "kill-10").values()) == ("applied", 1, "in_progress", False)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("not-assigned", ("not_assigned", None, None)),
        ("inactive", ("inactive", 4, "in_progress")),
        ("active-claimed", ("claimed", 10, "claimed")),
    ],
    ids=["not-assigned", "inactive", "claimed"],
)
def test_single_increment_skips_report_the_row(api: Api, state: str, expected: tuple[Any, ...]) -> None:
    if state != "not-assigned":
        api.set_active("u1", "kill-10", True)
        api.inc("u1", "kill-10", 4)
    if state == "inactive":
        api.set_active("u1", "kill-10", False)
    if state == "active-claimed":
        api.make_claimed("u1", "kill-10")
    result = api.inc("u1", "kill-10", 3)
    assert (result["outcome"], result["progress"], result["status"]) == expected
    assert not result["newly_completed"]


def test_single_increment_unknown_goal_is_an_outcome(api: Api) -> None:
    result = api.inc("u1", "no-such-goal")
    assert (result["outcome"], result["progress"], result["status"]) == ("unknown_goal", None, None)
    assert not result["newly_completed"]


def test_single_increment_duplicate_event(api: Api) -> None:
    api.init("u1")
    assert api.inc("u1", "kill-10", 2, event_id="e-1")["outcome"] == "applied"
    result = api.inc("u1", "kill-10", 2, event_id="e-1")
    assert (result["outcome"], result["progress"], result["status"]) == ("duplicate_event", 2, "in_progress")
    assert result["newly_completed"] is False


# --- event ids -------------------------------------------------------------------------------------------


def test_event_id_replayed_inside_one_batch(api: Api) -> None:
    api.init("u1")
    result = api.inc_batch(
        [
            {"user_id": "u1", "goal_id": "kill-10", "event_id": "e-1", "delta": 2},
            {"user_id": "u1", "goal_id": "kill-10", "event_id": "e-1", "delta": 3},
            {"user_id": "u1", "goal_id": "kill-10", "event_id": "e-2", "delta": 4},
        ]
    )
    assert (result["applied"], result["skipped"]["duplicate_event"]) == (2, 1)
    assert api.must_get("u1", "kill-10")["progress"] == 6  # the first e-1 item counts, not the later one


def test_event_id_replayed_across_calls(api: Api) -> None:
    api.init("u1")
    api.inc_batch([{"user_id": "u1", "goal_id": "kill-10", "event_id": e} for e in ("e-1", "e-2")])
    result = api.inc_batch([{"user_id": "u1", "goal_id": "kill-10", "event_id": e} for e in ("e-2", "e-3")])
    assert (result["applied"], result["skipped"]["duplicate_event"]) == (1, 1)
    assert api.must_get("u1", "kill-10")["progress"] == 3


def test_items_without_event_id_are_never_duplicates(api: Api) -> None:
    api.init("u1")
    result = api.inc_batch([{"user_id": "u1", "goal_id": "kill-10"}] * 4)
    assert result["applied"] == 4


def test_event_ids_are_per_player_across_functions_and_goals(api: Api) -> None:
    api.init("u1")
    api.init("u2")
    assert outcome_of(
        api.set_batch([{"user_id": "u1", "goal_id": "reach-lvl-20", "value": 3, "event_id": "g"}])
    ) == ("applied")
    assert (
        outcome_of(api.inc_batch([{"user_id": "u1", "goal_id": "kill-10", "event_id": "g"}]))
        == "duplicate_event"
    )
    assert api.inc("u1", "spring-login", event_id="g")["outcome"] == "duplicate_event"
    # Another player's event with the same id is another event.
    assert api.inc("u2", "spring-login", event_id="g")["outcome"] == "applied"
    assert api.inc("u2", "play-3", event_id="h")["outcome"] == "applied"
    assert outcome_of(
        api.set_batch([{"user_id": "u2", "goal_id": "reach-lvl-20", "value": 3, "event_id": "h"}])
    ) == ("duplicate_event")


# (first outcome, function, item, the item's occurred_at: the Times field named, or none).
SKIPPED_FIRST_SENDS: list[tuple[str, str, dict[str, Any], str | None]] = [
    ("unknown_goal", "increment-batch", {"user_id": "u1", "goal_id": "no-such-goal"}, None),
    ("not_assigned", "increment-batch", {"user_id": "ghost", "goal_id": "kill-10"}, None),
    ("inactive", "increment-batch", {"user_id": "u1", "goal_id": "not-default"}, None),
    ("claimed", "increment-batch", {"user_id": "u2", "goal_id": "kill-10"}, None),
    ("type_mismatch", "set-batch", {"user_id": "u1", "goal_id": "kill-10", "value": 3}, None),
    ("already_counted_today", "increment-batch", {"user_id": "u1", "goal_id": "login-daily"}, "t2"),
    ("stale_event", "set-batch", {"user_id": "u1", "goal_id": "reach-lvl-20", "value": 3}, "t1"),
    ("inactive-single", "increment", {"user_id": "u1", "goal_id": "not-default"}, None),
]


@pytest.mark.parametrize(
    ("first_outcome", "fn", "item", "when"), SKIPPED_FIRST_SENDS, ids=[c[0] for c in SKIPPED_FIRST_SENDS]
)
def test_event_id_of_a_skipped_item_is_remembered(
    api: Api, t: Times, first_outcome: str, fn: str, item: dict[str, Any], when: str | None
) -> None:
    api.init("u1")
    api.init("u2")
    api.set_active("u1", "not-default", False)
    api.make_claimed("u2", "kill-10")
    api.inc("u1", "login-daily", occurred_at=t.t1)
    api.set_batch([{"user_id": "u1", "goal_id": "reach-lvl-20", "value": 5, "occurred_at": t.t2}])

    item = {**item, "event_id": "e-skip"}
    if when is not None:
        item["occurred_at"] = getattr(t, when)
    if fn == "increment":
        got = api.inc(item["user_id"], item["goal_id"], event_id="e-skip")["outcome"]
    elif fn == "increment-batch":
        got = outcome_of(api.inc_batch([item]))
    else:
        got = outcome_of(api.set_batch([item]))
    assert got == first_outcome.removesuffix("-single")

    # The same id (the same player's) on a row that would apply is now a duplicate, even once the first
    # row is writable.
    user_id = item["user_id"]
    api.set_active("u1", "not-default", True)
    assert outcome_of(api.inc_batch([{"user_id": user_id, "goal_id": "kill-10", "event_id": "e-skip"}])) == (
        "duplicate_event"
    )
    assert api.inc(user_id, "not-default", event_id="e-skip")["outcome"] == "duplicate_event"
    if user_id == "u1":
        assert api.must_get("u1", "kill-10")["progress"] == 0


def test_inactive_item_event_id_remembered_then_replayed_after_activation(api: Api) -> None:
    api.set_active("u1", "not-default", False)
    assert (
        outcome_of(api.inc_batch([{"user_id": "u1", "goal_id": "not-default", "event_id": "e-5"}]))
        == "inactive"
    )
    api.set_active("u1", "not-default", True)
    assert outcome_of(api.inc_batch([{"user_id": "u1", "goal_id": "not-default", "event_id": "e-5"}])) == (
        "duplicate_event"
    )
    assert api.must_get("u1", "not-default")["progress"] == 0
