"""The cluster gives the same results as plain PostgreSQL: one deterministic scenario (parityscenario.py) run
on the Citus coordinator and on a fresh migrated database of the default test server, compared step by
step after normalising what legitimately differs (instants relative to each server's clock, generated ids).
"""

from __future__ import annotations

from typing import Any

import psycopg

from tests.citus.citushelpers import CLUSTER, Api, Cluster, Failure, Window, differences, example_config
from tests.citus.parityscenario import PLAYERS, run
from tests.serverclock import ServerClock

pytestmark = CLUSTER


def scenario(api: Api, run_id: str) -> list[tuple[str, Any]]:
    start = ServerClock.read(api.conn)
    steps = run(api, run_id)
    return steps.normalised(Window(start, ServerClock.read(api.conn)))


def test_the_scenario_gives_the_same_results_on_the_cluster_as_on_plain_postgresql(
    cluster: Cluster, db: psycopg.Connection[Any]
) -> None:
    run_id = f"{cluster.run}-parity"
    plain = Api(db)
    plain.load(example_config())
    expected = scenario(plain, run_id)
    # The scenario itself is meaningful on plain PostgreSQL: every kind of outcome it means to compare.
    results = dict(expected)
    assert not any(isinstance(r, Failure) for r in results["initialize_player"])
    assert results["increment_progress_batch"]["applied"] > PLAYERS
    assert results["increment_progress_batch replayed"]["applied"] == 0
    assert results["increment_progress_batch replayed"]["skipped"]["duplicate_event"] > PLAYERS
    assert results["record_events replayed"]["duplicate_events"] == results["record_events"]["events"]
    assert results["claim_goal replayed"]["replayed"] is True
    assert results["claim_goal already claimed"] == Failure(
        "CH022", "goal kill-10 is already claimed", "Claim claim-0 claimed it at <during>."
    )
    assert isinstance(results["record_events fenced"], Failure)
    assert results["record_events fenced"].sqlstate == "CH030"
    assert results["delete_user_data pending grant"].sqlstate == "CH026"
    history = [entry["operation"] for entry in results["explain_progress p00 kill-10"]]
    assert history == ["assign", "increment", "increment", "increment", "claim"]  # oldest first

    actual = scenario(cluster.api(), run_id)
    mismatches = differences(actual, expected)
    assert not mismatches, f"{len(mismatches)} step(s) differ on the cluster:\n" + "\n".join(mismatches)
