"""The ``pgchallenge`` command, run in-process against the test server."""

from __future__ import annotations

import io
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pgchallenge import cli, embedded
from pgchallenge.demo import example_config_text, goals_by_stat_code
from pgchallenge.progress import ProgressBar
from psycopg.conninfo import make_conninfo


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_migrate_sql_prints_the_offline_script(capsys: pytest.CaptureFixture[str], db_url: str) -> None:
    status, out, _ = run(capsys, "migrate", "--sql", "--database-url", db_url)
    assert status == 0
    assert "CREATE TABLE challenge.progress" in out


def test_migrate_is_idempotent(capsys: pytest.CaptureFixture[str], db_url: str) -> None:
    first = run(capsys, "migrate", "--database-url", db_url)
    second = run(capsys, "migrate", "--database-url", db_url)
    assert first[0] == second[0] == 0
    assert re.search(r"database at revision \w+", first[1])
    assert first[1] == second[1]


def test_load_config_bundled_example(
    capsys: pytest.CaptureFixture[str], db_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    config = tmp_path / "challenges.json"
    config.write_text(example_config_text())
    status, out, err = run(capsys, "load-config", str(config), "--database-url", db_url)
    assert status == 0, err
    assert "4 challenges, 12 goals" in out
    assert re.search(r"added\s+12\s+kill-10, kill-100", out)
    # Committed: visible from another connection.
    assert db.execute("SELECT count(*) FROM challenge.goals").fetchone() == (12,)

    status, out, _ = run(capsys, "load-config", str(config), "--database-url", db_url)
    assert status == 0
    assert re.search(r"added\s+0\b", out)


def test_load_config_invalid_exits_1_with_the_message(
    capsys: pytest.CaptureFixture[str], db_url: str, tmp_path: Path
) -> None:
    document = json.loads(example_config_text())
    document["challenges"][0]["goals"][2]["requirement"]["targetValue"] = 0
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document))
    status, out, err = run(capsys, "load-config", str(broken), "--database-url", db_url)
    assert status == 1
    assert out == ""
    assert err.startswith("error: ")
    assert "challenges[0].goals[2].requirement.targetValue" in err


def test_load_config_unreadable_file(capsys: pytest.CaptureFixture[str], db_url: str, tmp_path: Path) -> None:
    status, _, err = run(capsys, "load-config", str(tmp_path / "missing.json"), "--database-url", db_url)
    assert status == 1
    assert "error: cannot read" in err
    not_json = tmp_path / "bad.json"
    not_json.write_text("{")
    status, _, err = run(capsys, "load-config", str(not_json), "--database-url", db_url)
    assert status == 1
    assert "is not valid JSON" in err


def test_example_config_routes_every_stat_the_demo_sends() -> None:
    routes = goals_by_stat_code(json.loads(example_config_text()))
    assert set(routes) == {"kills", "matches-won", "matches-played", "login", "level"}


DEMO_ARGS = (
    *("demo", "--players", "50", "--events", "2000", "--batch-size", "200"),
    *("--database-name", "pgchallenge_demo_test"),
)


@pytest.fixture
def demo_server_url(db_url: str) -> Iterator[str]:
    """The test server's maintenance database; the demo database it creates is dropped afterwards."""
    server = make_conninfo(db_url, dbname="postgres")
    yield server
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS pgchallenge_demo_test WITH (FORCE)")


@pytest.mark.slow
def test_demo_end_to_end(capsys: pytest.CaptureFixture[str], demo_server_url: str) -> None:
    status, out, err = run(capsys, *DEMO_ARGS, "--database-url", demo_server_url)
    assert status == 0, err
    counts = {
        label.strip(): int(value.replace(",", ""))
        for label, value in re.findall(r"^\s{2}([a-z/ _]+?)\s{2,}([\d,]+)\s*$", out, re.MULTILINE)
    }
    assert counts["applied"] > 0
    assert counts["goals completed"] > 0
    skipped = {label: count for label, count in counts.items() if label.startswith("skipped ")}
    assert len(skipped) == 8
    for kind in ("not_assigned", "inactive", "duplicate_event", "already_counted_today", "stale_event"):
        assert skipped[f"skipped {kind}"] > 0, out
    assert counts["applied"] + sum(skipped.values()) == 2000
    assert re.search(r"progress of player-00041:\n\s+goal\s+challenge\s+progress\s+status\s+active\n", out)
    assert "kill-1000" in out  # the sample player opted in
    assert "100%" in err  # the progress bar's final line
    # The hint at the end runs as printed: the sample goal's history from the audit ledger.
    [explain] = re.findall(r"^  pgchallenge (explain .+?)\s+# ", out, re.MULTILINE)
    status, history, err = run(capsys, *shlex.split(explain))
    assert status == 0, err
    assert re.search(r"^\S+ \S+\s+assign\s+- -> 0\s", history, re.MULTILINE), history
    assert re.search(r"^\S+ \S+\s+increment\s+0 -> [1-9]", history, re.MULTILINE), history

    # The demo is deterministic: the same seed gives the same outcome counts.
    status, out_again, _ = run(capsys, *DEMO_ARGS, "--database-url", demo_server_url)
    assert status == 0
    assert _outcomes(out_again) == _outcomes(out)


def _outcomes(summary: str) -> list[str]:
    return [line for line in summary.splitlines() if "skipped" in line or "applied" in line]


@pytest.fixture
def embedded_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private embedded cluster directory, whose server is stopped even when the test fails."""
    directory = tmp_path / "pgdata"
    monkeypatch.setenv(embedded.DATA_DIR_ENV, str(directory))
    try:
        yield directory
    finally:
        embedded.stop(directory)


@pytest.mark.slow
def test_db_url_starts_the_embedded_server_and_stop_stops_it(
    capsys: pytest.CaptureFixture[str], embedded_dir: Path
) -> None:
    status, out, _ = run(capsys, "db", "status")
    assert status == 3
    assert "stopped" in out

    status, out, err = run(capsys, "db", "url")
    assert status == 0, err
    url = out.strip()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("postgres",)
    assert run(capsys, "db", "status")[0] == 0

    status, out, _ = run(capsys, "db", "stop")
    assert status == 0
    assert "stopped" in out
    assert not embedded.is_running(embedded_dir)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2).close()


def test_progress_bar_writes_only_the_final_line_when_not_a_terminal() -> None:
    stream = io.StringIO()
    with ProgressBar(200, label="events", stream=stream, width=10) as bar:
        bar.update(50)
        assert stream.getvalue() == ""
        assert bar.render().startswith("events [##........]  25%  50/200")
        bar.update(150)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("events [##########] 100%  200/200")


@pytest.mark.parametrize("command", ["migrate", "demo"])
def test_unreachable_database_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    url = f"host={tmp_path} dbname=nowhere connect_timeout=2"
    status, out, err = run(capsys, command, "--database-url", url)
    assert status == 1
    assert out == ""
    assert err.startswith("error: ")
    assert "Traceback" not in err


def test_python_dash_m_runs_the_same_command() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "pgchallenge", "--help"], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("usage: pgchallenge ")
    assert "migrate" in completed.stdout and "status" in completed.stdout
