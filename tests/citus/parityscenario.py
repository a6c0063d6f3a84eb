"""A deterministic scenario over the public API, run on the cluster and on plain PostgreSQL and compared.

Thirty players on the example catalog (client/pgchallenge/examples/challenges.json), so their rows spread
over the shards: batches of increments, absolute values and raw events spanning every player, each with
event ids and replayed (duplicate_event), events by source position with a fenced consumer, single
increments, claims with their replays and refusals, selection, reads, the ledger's history, rotation and
erasure. Every call goes through ``attempt``: an error is a result too (its SQLSTATE and messages), so a
function failing on one server shows as a difference, and the rest of the scenario still runs.

The same ids are used on both servers (the run's prefix keeps them unique on the shared cluster database);
the results are compared after ``citushelpers.normalise`` (instants named relative to each server's own
clock, generated change ids and transaction ids dropped).
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

from tests.citus.citushelpers import Api, Steps, attempt, example_config
from tests.serverclock import ServerClock

PLAYERS = 30
CHALLENGES = ("combat", "loyalty", "matches", "progression")


def players(run: str) -> list[str]:
    return [f"{run}-p{i:02d}" for i in range(PLAYERS)]


def increments(users: list[str]) -> list[dict[str, Any]]:
    """kill-10 for every player (two items for a row every third player: deltas summed), win-1 for the
    even ones, an unknown goal, a goal not assigned, and an event id repeated within the batch."""
    items: list[dict[str, Any]] = []
    for i, user in enumerate(users):
        items.append({"user_id": user, "goal_id": "kill-10", "delta": 1 + i % 4, "event_id": f"inc-{i}"})
        if i % 3 == 0:
            items.append({"user_id": user, "goal_id": "kill-10", "delta": 2, "event_id": f"inc-{i}-b"})
        if i % 2 == 0:
            items.append({"user_id": user, "goal_id": "win-1", "event_id": f"win-{i}"})
    items.append({"user_id": users[1], "goal_id": "no-such-goal", "event_id": "unknown-0"})
    items.append({"user_id": users[2], "goal_id": "kill-1000", "delta": 3, "event_id": "not-assigned-0"})
    items.append({"user_id": users[4], "goal_id": "kill-10", "delta": 5, "event_id": "inc-4"})
    return items


def levels(users: list[str]) -> list[dict[str, Any]]:
    """Absolute values on the level goals of every player, and one on an increment goal (type_mismatch)."""
    items: list[dict[str, Any]] = []
    for i, user in enumerate(users):
        items.append({"user_id": user, "goal_id": "reach-level-5", "value": i + 1, "event_id": f"lvl-{i}"})
        items.append({"user_id": user, "goal_id": "reach-level-20", "value": i, "event_id": f"lvl20-{i}"})
    items.append({"user_id": users[5], "goal_id": "kill-10", "value": 3, "event_id": "mismatch-0"})
    return items


def events(users: list[str]) -> list[dict[str, Any]]:
    """Raw events for every player: a login, a match played, wins, kills and level values for some, a
    second login the same day (already_counted_today) and an event that reaches no goal."""
    found: list[dict[str, Any]] = []
    for i, user in enumerate(users):
        found.append({"event_id": f"login-{i}", "user_id": user, "kind": "login"})
        found.append(
            {"event_id": f"mp-{i}", "user_id": user, "kind": "statistic", "stat_code": "matches-played"}
        )
        wins = 12 if i % 5 == 0 else i % 3
        if wins:
            found.append(
                {
                    "event_id": f"won-{i}",
                    "user_id": user,
                    "kind": "statistic",
                    "stat_code": "matches-won",
                    "inc": wins,
                }
            )
        if i % 2 == 1:
            found.append(
                {"event_id": f"k-{i}", "user_id": user, "kind": "statistic", "stat_code": "kills", "inc": 5}
            )
        if i % 4 == 0:
            found.append(
                {
                    "event_id": f"lv-{i}",
                    "user_id": user,
                    "kind": "statistic",
                    "stat_code": "level",
                    "value": i + 5,
                    "inc": 1,
                }
            )
    found.append({"event_id": "login-0-again", "user_id": users[0], "kind": "login"})
    found.append(
        {"event_id": "nothing-0", "user_id": users[3], "kind": "statistic", "stat_code": "nothing", "inc": 1}
    )
    return found


def positioned(users: list[str]) -> list[dict[str, Any]]:
    """Events of an ordered source: positions 1..5 with gaps, no event ids."""
    return [
        {"position": 2 * n + 1, "user_id": users[n], "kind": "statistic", "stat_code": "kills", "inc": 1}
        for n in range(5)
    ]


def rotation_rows(api: Api, challenge_id: str, clock: ServerClock) -> Any:
    """get_rotation_status with seconds_left checked against the server's clock (it moves during a run)."""
    rows = api.rotation(challenge_id)
    for row in rows:
        if row["seconds_left"] is not None:
            expected = (row["period_end"] - clock.now).total_seconds()
            row["seconds_left"] = abs(row["seconds_left"] - expected) <= timedelta(minutes=5).total_seconds()
    return rows


def run(api: Api, run_id: str) -> Steps:
    """The scenario on one server; ``run_id`` is the prefix of every id (the same on both servers)."""
    users = players(run_id)
    source = f"{run_id}-source"
    steps = Steps()
    step = steps.add

    step("set_ledger on", attempt(lambda: api.set_ledger(True)))
    loaded = attempt(lambda: api.load(example_config()))
    # version counts the loads of each database: the cluster's has had one per run.
    step(
        "load_config again",
        {k: v for k, v in loaded.items() if k != "version"} if isinstance(loaded, dict) else loaded,
    )
    step("initialize_player", [attempt(partial(api.init, u)) for u in users])
    step("initialize_player again", attempt(lambda: api.init(users[0])))

    batch = increments(users)
    step("increment_progress_batch", attempt(lambda: api.inc_batch(batch, detail=True)))
    step("increment_progress_batch replayed", attempt(lambda: api.inc_batch(batch, detail=True)))
    values = levels(users)
    step("set_progress_batch", attempt(lambda: api.set_batch(values, detail=True)))
    step("set_progress_batch replayed", attempt(lambda: api.set_batch(values)))
    raw = events(users)
    step("record_events", attempt(lambda: api.record(raw, detail=True)))
    step("record_events replayed", attempt(lambda: api.record(raw, detail=True)))

    step("acquire_source", attempt(lambda: api.acquire(source, "0")))
    ordered = positioned(users)
    step("record_events by position", attempt(lambda: api.record(ordered, True, source, "0", 1)))
    step("record_events by position replayed", attempt(lambda: api.record(ordered, True, source, "0", 1)))
    step("acquire_source again", attempt(lambda: api.acquire(source, "0")))
    step("record_events fenced", attempt(lambda: api.record(ordered[:1], False, source, "0", 1)))

    singles = [attempt(partial(api.inc, users[i], "kill-10", 10, f"single-{i}")) for i in range(6)]
    step("increment_progress", singles)
    step("increment_progress replayed", attempt(lambda: api.inc(users[0], "kill-10", 10, "single-0")))
    step("increment_progress unknown goal", attempt(lambda: api.inc(users[0], "no-such-goal")))
    step("increment_progress not assigned", attempt(lambda: api.inc(users[0], "kill-1000")))
    step("increment_progress without event id", attempt(lambda: api.inc(users[6], "kill-100", 100)))

    claims = [attempt(partial(api.claim, users[i], "kill-10", f"claim-{i}")) for i in range(6)]
    step("claim_goal", claims)
    step("claim_goal replayed", attempt(lambda: api.claim(users[0], "kill-10", "claim-0")))
    step("claim_goal already claimed", attempt(lambda: api.claim(users[0], "kill-10", "claim-other")))
    step("claim_goal not completed", attempt(lambda: api.claim(users[7], "kill-10", "claim-7")))
    step("claim_goal prerequisites", attempt(lambda: api.claim(users[6], "kill-100", "claim-6")))
    step("claim_goal id of another goal", attempt(lambda: api.claim(users[0], "win-1", "claim-0")))
    step("claim_goal unknown goal", attempt(lambda: api.claim(users[0], "no-such-goal", "claim-x")))
    step("claim_goal level", attempt(lambda: api.claim(users[0], "reach-level-5", "claim-level-0")))
    step("claim_goal win", attempt(lambda: api.claim(users[2], "win-1", "claim-win-2")))

    step("set_goal_active on", attempt(lambda: api.set_active(users[8], "kill-1000", True)))
    step("set_goal_active off", attempt(lambda: api.set_active(users[8], "kill-1000", False)))
    step("set_goal_active off again", attempt(lambda: api.set_active(users[8], "kill-1000", False)))
    step("set_goal_active kill-10 off", attempt(lambda: api.set_active(users[8], "kill-10", False)))
    step("increment_progress inactive", attempt(lambda: api.inc(users[8], "kill-10", 1, "inactive-8")))
    step("set_goal_active unknown", attempt(lambda: api.set_active(users[8], "no-such-goal", True)))

    step("select_goals", attempt(lambda: api.select(users[9], "combat", ["kill-1000", "kill-1000"])))
    step("select_goals replacing", attempt(lambda: api.select(users[9], "matches", ["win-50"], True)))
    step("select_goals unknown challenge", attempt(lambda: api.select(users[9], "nope", ["win-50"])))
    step("random_select_goals", attempt(lambda: api.random_select(users[10], "matches", 1, "seed-1")))
    step("random_select_goals empty pool", attempt(lambda: api.random_select(users[11], "matches", 1, "s")))

    step("get_user_progress", [attempt(partial(api.user_progress, u)) for u in users])
    step("get_user_progress active", attempt(lambda: api.user_progress(users[9], active_only=True)))
    step("get_user_progress challenge", attempt(lambda: api.user_progress(users[10], False, "matches")))
    step("get_user_progress unknown challenge", attempt(lambda: api.user_progress(users[10], False, "nope")))
    step("get_progress", attempt(lambda: api.get(users[0], "kill-10")))
    step("get_progress not assigned", attempt(lambda: api.get(users[0], "kill-1000")))
    for user, goal_id in (
        (users[0], "kill-10"),
        (users[3], "reach-level-5"),
        (users[10], "win-10"),
        (users[8], "kill-1000"),
        (users[4], "kill-10"),
        (users[0], "no-such-goal"),
    ):
        step(f"explain_progress {user[-3:]} {goal_id}", attempt(partial(api.explain, user, goal_id)))

    clock = ServerClock.read(api.conn)
    for challenge_id in CHALLENGES:
        step(f"get_rotation_status {challenge_id}", attempt(partial(rotation_rows, api, challenge_id, clock)))
    step("get_rotation_status unknown", attempt(lambda: api.rotation("nope")))

    step("delete_user_data", attempt(lambda: api.delete_user(users[29])))
    step("delete_user_data erased", attempt(lambda: api.user_progress(users[29])))
    step("delete_user_data pending grant", attempt(lambda: api.delete_user(users[0])))
    step("delete_user_data unknown", attempt(lambda: api.delete_user(f"{run_id}-nobody")))

    # The tables themselves, over the scenario's players (the cluster's database holds other runs too).
    step(
        "reward_grants",
        api.rows(
            "SELECT * FROM challenge.reward_grants WHERE user_id = ANY(%s) ORDER BY user_id, claim_id",
            [users],
        ),
    )
    step(
        "processed_events",
        api.rows(
            "SELECT user_id, event_id FROM challenge.processed_events WHERE user_id = ANY(%s)"
            " ORDER BY user_id, event_id",
            [users],
        ),
    )
    step(
        "ledger rows by operation",
        api.rows(
            "SELECT user_id, goal_id, operation, count(*) AS n FROM challenge.ledger WHERE user_id = ANY(%s)"
            " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            [users],
        ),
    )
    step(
        "source position",
        api.rows(
            "SELECT source, partition, epoch, position FROM challenge.source_positions WHERE source = %s",
            [source],
        ),
    )
    return steps
