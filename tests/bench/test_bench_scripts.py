"""The benchmark suite and its pgbench scripts: a ``--quick`` run proves every workload runs cleanly.

No timing is asserted (the quick seed is tiny and the machine shared): only that each workload ran with
zero failed transactions, that the sanity probe saw ours apply exactly the movable pairs, and that the
report (sections 1-5 of the reference's layout), the raw JSON and the plots were written.
"""

from __future__ import annotations

import importlib.resources
import json
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from bench.run import GOAL_KINDS

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
BATCH_SCRIPTS = sorted(BENCH.glob("batch_*.sql"))
LOAD_WORKLOADS = (
    "single_increment",
    "batch_increment_100",
    "batch_increment_1000",
    "batch_set_1000",
    "claim",
    "initialize",
    "read_progress",
    "mixed",
)
EXPECTED_WORKLOADS = {
    "batch_payload",
    "batch_floor",
    "batch_reference",
    "batch_ours",
    "single_floor@c1",
    "single_ours@c1",
    "single_floor@c8",
    "single_ours@c8",
    "micro_batches",
    "fixed_rate_single_increment",
    *(
        f"micro_single_{strategy}_{mode}"
        for strategy in ("ours", "reference", "floor")
        for mode in ("active", "inactive")
    ),
    *(f"load_{name}@c{clients}" for name in LOAD_WORKLOADS for clients in (1, 2)),
}
REPORT_SECTIONS = (
    "## 1. EXPLAIN ANALYZE Results",
    "### Test 1: single increment, active goal",
    "### Test 2: single increment, inactive goal (skipped)",
    "### Test 3: verification",
    "### Test 4: batch increment",
    "## 2. Microbenchmark Results",
    "## 3. Performance Targets vs Results",
    "## 4. Key Findings",
    "## 5. Conclusion",
)


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


def test_scripts_ship_in_the_package() -> None:
    """``pip install pgchallenge`` users get the suite as pgchallenge.bench, scripts included."""
    package = importlib.resources.files("pgchallenge.bench")
    for path in BENCH.glob("*.sql"):
        assert package.joinpath(path.name).is_file(), path.name
    assert package.joinpath("run.py").is_file()


def test_checkout_entry_point_still_works() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.run", "--help"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert "--quick" in completed.stdout


@pytest.mark.slow
def test_quick_run_has_every_workload_without_failures(db_url: str, tmp_path: Path) -> None:
    server_url = make_conninfo(db_url, dbname="postgres")
    # Through the CLI (pgchallenge bench), which runs the installed package's copy of the suite.
    entry = "import sys; from pgchallenge.cli import main; sys.exit(main())"
    command = [sys.executable, "-c", entry, "bench", "--quick", "--database-url", server_url]
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
    assert set(workloads) >= EXPECTED_WORKLOADS, EXPECTED_WORKLOADS - set(workloads)
    for name, workload in workloads.items():
        assert workload["status"] == "ok", (name, workload)
        assert workload["failed_transactions"] == 0, (name, workload)
        assert workload["transactions"] > 0, (name, workload)
    assert results["sanity"]["ok"], results["sanity"]
    assert results["comparisons"]["batch"]["increment_batch"]["raw_ms"]["ours"] is not None
    assert set(results["comparisons"]["single"]["increment_single"]["by_clients"]) == {"1", "8"}
    for kind in ("increment", "set"):
        for row in results["micro"]["batch"][kind]["by_size"].values():
            assert all(row["median_ms"][strategy] for strategy in ("ours", "reference", "floor")), row
    assert results["load"]["fixed_rate"]["status"] == "ok"
    assert results["explain"]["test3"]["ok"], results["explain"]["test3"]
    assert all(target["result"] in ("n/a (quick)", "PASS") for target in results["targets"]), results[
        "targets"
    ]
    # Each goal is a record (kind, operation, figure source, threshold); the report words it from that.
    ids = [target["id"] for target in results["targets"]]
    assert len(ids) == len(set(ids)), ids
    assert {target["kind"] for target in results["targets"]} == set(GOAL_KINDS)
    assert all(target["source"] and "threshold" in target for target in results["targets"])
    environment = results["environment"]
    assert environment["server"]["settings"]["shared_buffers"]
    assert environment["host"]["cpu_model"] and environment["pgchallenge"]["version"]
    report = (run_dir / "report.md").read_text()
    positions = [report.index(section) for section in REPORT_SECTIONS]
    assert positions == sorted(positions)
    assert "| batch_ours |" in report
    assert "reference / ours" in report and "ours / floor" in report
    # The machine is described from what the run recorded.
    assert f"This run's machine: {environment['host']['cpu_model']}, {environment['host']['nproc']}" in report
    assert environment["server"]["server_version"] in report
    plots = results["plots"]
    if "files" in plots:  # matplotlib installed (the dev extra has it)
        assert plots["files"] == ["batch_time_vs_size.png", "latency_vs_clients.png"]
        for name in plots["files"]:
            assert (run_dir / name).read_bytes().startswith(b"\x89PNG"), name
            assert f"![{name}]({name})" in report
    else:
        assert "No plots: matplotlib is not installed" in report
    with psycopg.connect(server_url, autocommit=True) as connection:
        left = connection.execute(
            "SELECT count(*) FROM pg_database WHERE datname = %s", [results["database"]["name"]]
        ).fetchone()
    assert left == (0,), "the runner drops its database"
