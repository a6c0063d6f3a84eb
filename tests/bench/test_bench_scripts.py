"""The benchmark runner and its pgbench scripts: a ``--quick`` run proves every workload runs cleanly.

No timing is asserted (the quick seed is tiny and the machine shared): only that each workload ran with
zero failed transactions, that the sanity probe saw ours apply exactly the active pairs, and that the
report was written.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
BATCH_SCRIPTS = sorted(BENCH.glob("batch_*.sql"))
EXPECTED_WORKLOADS = {
    "batch_payload",
    "batch_floor",
    "batch_reference",
    "batch_ours",
    "single_floor@c1",
    "single_ours@c1",
    "single_floor@c8",
    "single_ours@c8",
}


def payload_block(script: Path) -> str:
    """The ``WITH items AS MATERIALIZED (...)`` block after the payload marker, up to its closing line."""
    text = script.read_text()
    start = text.index("-- payload: begin")
    end = text.index("\n)\n", start)
    return text[start:end]


def test_batch_scripts_share_one_payload() -> None:
    """ours, the floor, the reference strategy and the payload baseline draw exactly the same items."""
    names = {path.stem for path in BATCH_SCRIPTS}
    assert names >= {"batch_payload", "batch_floor", "batch_reference", "batch_ours"}
    blocks = {path.name: payload_block(path) for path in BATCH_SCRIPTS}
    assert len(set(blocks.values())) == 1, blocks
    for path in BATCH_SCRIPTS:
        assert "SELECT setseed(:seed);" in path.read_text()


def test_scripts_have_a_header_and_no_variable_in_comments() -> None:
    """pgbench substitutes :name inside a statement's comments too, which breaks -M prepared.

    Comments at the start of a line sit between statements (headers) and are skipped by pgbench; indented
    comments are inside statements and must not mention a variable.
    """
    for path in BENCH.glob("*.sql"):
        lines = path.read_text().splitlines()
        assert lines[0].startswith("-- "), path
        if path.name == "seed.sql":
            continue
        for line in lines:
            if "--" in line and not line.startswith("--"):
                assert not re.search(r":[a-z_]", line.split("--", 1)[1]), (path, line)


@pytest.mark.slow
def test_quick_run_has_every_workload_without_failures(db_url: str, tmp_path: Path) -> None:
    server_url = make_conninfo(db_url, dbname="postgres")
    command = [sys.executable, "-m", "bench.run", "--quick", "--database-url", server_url]
    completed = subprocess.run(
        [*command, "--results-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    (run_dir,) = tmp_path.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    workloads = results["workloads"]
    assert set(workloads) >= EXPECTED_WORKLOADS
    for name, workload in workloads.items():
        assert workload["status"] == "ok", (name, workload)
        assert workload["failed_transactions"] == 0, (name, workload)
        assert workload["transactions"] > 0, (name, workload)
    assert results["sanity"]["ok"], results["sanity"]
    assert results["comparisons"]["batch"]["increment_batch"]["raw_ms"]["ours"] is not None
    assert set(results["comparisons"]["single"]["increment_single"]["by_clients"]) == {"1", "8"}
    assert results["environment"]["server"]["settings"]["shared_buffers"]
    report = (run_dir / "report.md").read_text()
    assert "| batch_ours |" in report
    with psycopg.connect(server_url, autocommit=True) as connection:
        left = connection.execute(
            "SELECT count(*) FROM pg_database WHERE datname = %s", [results["database"]["name"]]
        ).fetchone()
    assert left == (0,), "the runner drops its database"
