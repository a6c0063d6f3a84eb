"""Every public function of schema challenge is called on the cluster by this suite.

The public functions are read from the cluster's catalog (pg_proc, not starting with an underscore); the
calls are the ones every other test of the suite made through ``Cluster.api`` (citushelpers.CallLog). So a
public function added by a later revision fails this test until a cluster test calls it. It runs last
(conftest.py moves it there) and skips unless the whole suite was selected.
"""

from __future__ import annotations

from tests.citus.citushelpers import CLUSTER, PUBLIC_FUNCTIONS_SQL, Api, Cluster

pytestmark = CLUSTER


def test_every_public_function_was_called_on_the_cluster(cluster: Cluster, whole_suite: None) -> None:
    public = {r["proname"] for r in Api(cluster.conn).rows(PUBLIC_FUNCTIONS_SQL)}
    called = cluster.log.names
    assert called <= public, f"calls of functions that are not public: {sorted(called - public)}"
    assert not public - called, f"public functions no cluster test calls: {sorted(public - called)}"
