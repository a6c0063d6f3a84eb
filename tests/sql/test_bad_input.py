"""Malformed calls raise (CH002 for batches, CH003 for the single function) and change nothing at all."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.sql.sqlhelpers import OMIT, Api, assert_sqlstate, detail_names_item, skipped

GOOD_INC = {"user_id": "u1", "goal_id": "kill-10", "delta": 1, "event_id": "ok-0"}
GOOD_SET = {"user_id": "u1", "goal_id": "reach-lvl-20", "value": 3, "event_id": "ok-0"}
LONG = "x" * 101


MONTH_13 = "2026-13-01T00:00:00Z"  # invalid-date: month 13
ZONELESS = "2026-11-27T10:00:00"  # invalid-date: no zone
DATE_ONLY = "2026-11-27"  # invalid-date: no time


def _without(item: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != key}


def _bad_items(good: dict[str, Any], amount_key: str) -> list[Any]:
    """Item faults shared by both batch functions (placed at index 1, after a good item)."""
    return [
        pytest.param(5, id="item-not-object-number"),
        pytest.param([good], id="item-not-object-array"),
        pytest.param("item", id="item-not-object-string"),
        pytest.param(None, id="item-null"),
        pytest.param(_without(good, "user_id"), id="missing-user_id"),
        pytest.param({**good, "user_id": ""}, id="empty-user_id"),
        pytest.param({**good, "user_id": None}, id="null-user_id"),
        pytest.param({**good, "user_id": 7}, id="number-user_id"),
        pytest.param({**good, "user_id": LONG}, id="user_id-101-chars"),
        pytest.param(_without(good, "goal_id"), id="missing-goal_id"),
        pytest.param({**good, "goal_id": ""}, id="empty-goal_id"),
        pytest.param({**good, "goal_id": LONG}, id="goal_id-101-chars"),
        pytest.param({**good, "occurred_at": "yesterday"}, id="occurred_at-yesterday"),
        pytest.param({**good, "occurred_at": MONTH_13}, id="occurred_at-month-13"),
        pytest.param({**good, "occurred_at": ZONELESS}, id="occurred_at-zoneless"),
        pytest.param({**good, "occurred_at": DATE_ONLY}, id="occurred_at-date-only"),
        pytest.param({**good, "occurred_at": 1764237600}, id="occurred_at-number"),
        pytest.param({**good, "dleta": 2}, id="unknown-key"),
        pytest.param({**good, "event_id": ""}, id="event_id-empty"),
        pytest.param({**good, "event_id": LONG}, id="event_id-101-chars"),
        pytest.param({**good, "event_id": 42}, id="event_id-number"),
        pytest.param({**good, amount_key: True}, id=f"{amount_key}-boolean"),
    ]


BAD_INC_ITEMS = [
    *_bad_items(GOOD_INC, "delta"),
    *[
        pytest.param({**GOOD_INC, "delta": bad}, id=f"delta-{label}")
        for label, bad in [
            ("0", 0),
            ("minus-1", -1),
            ("1.5", 1.5),
            ("string-2", "2"),
            ("1000001", 1000001),
            ("2147483648", 2147483648),
        ]
    ],
    pytest.param({**GOOD_INC, "value": 3}, id="value-key-in-increment"),
]
BAD_SET_ITEMS = [
    *_bad_items(GOOD_SET, "value"),
    *[
        pytest.param({**GOOD_SET, "value": bad}, id=f"value-{label}")
        for label, bad in [
            ("minus-1", -1),
            ("2147483648", 2147483648),
            ("1.5", 1.5),
            ("string-3", "3"),
            ("null", None),
        ]
    ],
    pytest.param(_without(GOOD_SET, "value"), id="missing-value"),
    pytest.param({**GOOD_SET, "delta": 1}, id="delta-key-in-set"),
]


def _second_item(good: dict[str, Any]) -> dict[str, Any]:
    return {**good, "event_id": "ok-1"}


@pytest.mark.parametrize("bad", BAD_INC_ITEMS)
def test_increment_batch_malformed_item_raises_ch002(api: Api, bad: Any) -> None:
    api.init("u1")
    before = api.snapshot()
    with pytest.raises(psycopg.Error) as exc:
        api.inc_batch([GOOD_INC, bad, _second_item(GOOD_INC)])
    error = assert_sqlstate(exc.value, "CH002")
    assert detail_names_item(error, 1), f"DETAIL {error.diag.message_detail!r} does not name item 1"
    assert api.snapshot() == before


@pytest.mark.parametrize("bad", BAD_SET_ITEMS)
def test_set_batch_malformed_item_raises_ch002(api: Api, bad: Any) -> None:
    api.init("u1")
    before = api.snapshot()
    with pytest.raises(psycopg.Error) as exc:
        api.set_batch([GOOD_SET, bad, _second_item(GOOD_SET)])
    error = assert_sqlstate(exc.value, "CH002")
    assert detail_names_item(error, 1), f"DETAIL {error.diag.message_detail!r} does not name item 1"
    assert api.snapshot() == before


NOT_ARRAYS = [
    pytest.param({"user_id": "u1", "goal_id": "kill-10"}, id="object"),
    pytest.param("[]", id="string"),
    pytest.param(3, id="number"),
    pytest.param(None, id="json-null"),
]


@pytest.mark.parametrize("fn", ["increment-batch", "set-batch"])
@pytest.mark.parametrize("payload", NOT_ARRAYS)
def test_batch_not_an_array_raises_ch002(api: Api, fn: str, payload: Any) -> None:
    with pytest.raises(psycopg.Error) as exc:
        if fn == "increment-batch":
            api.inc_batch(payload)
        else:
            api.set_batch(payload)
    assert_sqlstate(exc.value, "CH002")


@pytest.mark.parametrize("fn", ["increment_progress_batch", "set_progress_batch"])
def test_batch_sql_null_raises_ch002(api: Api, fn: str) -> None:
    with pytest.raises(psycopg.Error) as exc:
        api.scalar(f"SELECT challenge.{fn}(NULL::jsonb)")
    assert_sqlstate(exc.value, "CH002")


@pytest.mark.parametrize("fn", ["increment-batch", "set-batch"])
def test_more_than_50000_items_raises_ch002(api: Api, fn: str) -> None:
    api.init("u1")
    good = GOOD_INC if fn == "increment-batch" else GOOD_SET
    items = [_without(good, "event_id")] * 50_001
    before = api.snapshot()
    with pytest.raises(psycopg.Error) as exc:
        if fn == "increment-batch":
            api.inc_batch(items)
        else:
            api.set_batch(items)
    assert_sqlstate(exc.value, "CH002")
    assert api.snapshot() == before


def test_exactly_50000_items_are_accepted(api: Api) -> None:
    api.init("u1")
    result = api.inc_batch([{"user_id": "u1", "goal_id": "kill-10"}] * 50_000)
    assert result["applied"] == 50_000
    assert result["skipped"] == skipped()
    assert api.must_get("u1", "kill-10")["progress"] == 50_000


def test_delta_bounds_are_accepted(api: Api) -> None:
    api.init("u1")
    result = api.inc_batch(
        [{**GOOD_INC, "event_id": "a", "delta": 1}, {**GOOD_INC, "event_id": "b", "delta": 1000000}]
    )
    assert result["applied"] == 2
    assert api.must_get("u1", "kill-10")["progress"] == 1000001


@pytest.mark.parametrize("fn", ["increment-batch", "set-batch"])
def test_failed_1000_item_batch_changes_nothing(api: Api, fn: str) -> None:
    """The LAST item is bad: nothing of the 999 good items is applied and no event id is remembered."""
    for user in ("u1", "u2", "u3"):
        api.init(user)
    api.inc_batch([{"user_id": "u1", "goal_id": "kill-10", "event_id": "old-1"}])
    api.set_batch([{"user_id": "u2", "goal_id": "reach-lvl-20", "value": 2, "event_id": "old-2"}])
    before = api.snapshot()
    assert before[0] and before[1]

    if fn == "increment-batch":
        items: list[Any] = [
            {
                "user_id": f"u{1 + i % 3}",
                "goal_id": ("kill-10", "login-daily", "play-3")[i % 3],
                "event_id": f"e-{i}",
            }
            for i in range(999)
        ]
        items.append({"user_id": "u1", "goal_id": "kill-10", "delta": 0})
    else:
        items = [
            {"user_id": f"u{1 + i % 3}", "goal_id": "reach-lvl-20", "value": i, "event_id": f"e-{i}"}
            for i in range(999)
        ]
        items.append({"user_id": "u1", "goal_id": "reach-lvl-20", "value": -1})
    with pytest.raises(psycopg.Error) as exc:
        if fn == "increment-batch":
            api.inc_batch(items)
        else:
            api.set_batch(items)
    error = assert_sqlstate(exc.value, "CH002")
    assert detail_names_item(error, 999)
    assert api.snapshot() == before
    # The event ids of the rejected call are still free.
    assert api.inc("u3", "kill-10", event_id="e-5")["outcome"] == "applied"


# --- single increment_progress: CH003 --------------------------------------------------------------------

BAD_SINGLE: list[Any] = [
    pytest.param({"delta": 0}, id="delta-0"),
    pytest.param({"delta": -1}, id="delta-minus-1"),
    pytest.param({"delta": 1000001}, id="delta-1000001"),
    pytest.param({"delta": None}, id="delta-null"),
    pytest.param({"user_id": ""}, id="empty-user_id"),
    pytest.param({"user_id": None}, id="null-user_id"),
    pytest.param({"user_id": LONG}, id="user_id-101-chars"),
    pytest.param({"goal_id": ""}, id="empty-goal_id"),
    pytest.param({"goal_id": None}, id="null-goal_id"),
    pytest.param({"occurred_at": None}, id="null-occurred_at"),
    pytest.param({"event_id": ""}, id="empty-event_id"),
    pytest.param({"event_id": LONG}, id="event_id-101-chars"),
]


@pytest.mark.parametrize("fault", BAD_SINGLE)
def test_single_increment_bad_argument_raises_ch003(api: Api, fault: dict[str, Any]) -> None:
    api.init("u1")
    before = api.snapshot()
    args: dict[str, Any] = {
        "user_id": "u1",
        "goal_id": "kill-10",
        "delta": 1,
        "event_id": "s-1",
        "occurred_at": OMIT,
    }
    args.update(fault)
    with pytest.raises(psycopg.Error) as exc:
        api.inc(**args)
    assert_sqlstate(exc.value, "CH003")
    assert api.snapshot() == before


def test_single_increment_null_event_id_is_allowed(api: Api) -> None:
    api.init("u1")
    assert api.inc("u1", "kill-10", 1, event_id=None)["outcome"] == "applied"
    assert api.inc("u1", "kill-10", 1, event_id=None)["outcome"] == "applied"


def test_batch_is_one_atomic_unit_with_jsonb_param(api: Api) -> None:
    """The same guarantee through a prepared statement with a jsonb parameter (what the client sends)."""
    api.init("u1")
    before = api.snapshot()
    with pytest.raises(psycopg.Error) as exc:
        api.conn.execute(
            "SELECT challenge.increment_progress_batch(%s)",
            [Jsonb([GOOD_INC, {**GOOD_INC, "event_id": "x", "delta": "2"}])],
            prepare=True,
        )
    assert_sqlstate(exc.value, "CH002")
    assert api.snapshot() == before
