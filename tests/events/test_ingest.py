"""``pgchallenge ingest``: rejects with line numbers; a SIGKILLed run, restarted, ends like a clean run."""

from __future__ import annotations

import io
import json
import random
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from pgchallenge import cli

if TYPE_CHECKING:
    from tests.events.eventhelpers import init, login, progresses, stat
    from tests.serverclock import HOUR, ServerClock, iso
else:
    from eventhelpers import init, login, progresses, stat
    from serverclock import HOUR, ServerClock, iso

Conn = psycopg.Connection[Any]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_bad_lines_go_to_the_reject_file_with_their_line_numbers(
    events_db: Conn, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init(events_db, "u1")
    rejects = tmp_path / "rejects.ndjson"
    source = write_lines(
        tmp_path / "events.ndjson",
        [
            json.dumps(stat("e1", "kills")),
            json.dumps(stat("e2", "kills")),
            '{"event_id": "e3", "user_id": "u1", "kind": "login"',  # line 3: cut short
            "",  # blank lines are not events
            json.dumps(login("e4", value=1)),  # line 5: a login carries no value
            json.dumps(stat("e5", "kills", occurred_at="2026-02-30T10:00:00Z")),  # invalid-date: line 6
            json.dumps(stat("e6", "kills")),
            "[1, 2]",  # line 8: not an object
        ],
    )
    status = cli.main(["ingest", str(source), "--database-url", db_url, "--reject-file", str(rejects)])
    captured = capsys.readouterr()
    assert status == 2
    for number in (3, 5, 6, 8):
        assert f"line {number}: rejected" in captured.err
    records = [json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()]
    assert [record["line"] for record in records] == [3, 5, 8, 6]
    assert records[0]["input"].startswith('{"event_id": "e3"')
    assert "login event carries no" in records[1]["error"]
    assert "not a valid timestamp" in records[3]["error"]
    assert "events committed:  3" in captured.out
    assert "lines rejected:    4" in captured.out
    assert progresses(events_db)["kills-inc"] == 3


def test_ingest_reads_stdin(
    events_db: Conn,
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    server_clock: ServerClock,
) -> None:
    init(events_db, "u1")
    at = iso(server_clock.future_day + 10 * HOUR)
    lines = [json.dumps(login(f"e{n}", occurred_at=at)) for n in range(25)]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    rejects = tmp_path / "rejects.ndjson"
    status = cli.main(
        ["ingest", "--database-url", db_url, "--batch-size", "10", "--reject-file", str(rejects)]
    )
    captured = capsys.readouterr()
    assert status == 0 and not rejects.exists()
    assert "events committed:  25" in captured.out
    assert progresses(events_db)["login-inc"] == 25


# -- crash and restart ---------------------------------------------------------------------------------

PLAYERS = 40
EVENTS = 8_000


def game_events(prefix: str, start: datetime) -> list[dict[str, Any]]:
    """A deterministic stream in time order (as a platform sends it) from ``start``: logins over ten days,
    kills increments, level values going up and down.

    Time order matters for the comparison: the once-per-day rule skips an event for a day before the
    row's last counted day, so out-of-order events could count differently when split at other batch
    boundaries (a property of the rule, not of the writer).
    """
    rng = random.Random(7)
    events: list[dict[str, Any]] = []
    for n in range(EVENTS):
        user = f"{prefix}-u{rng.randrange(PLAYERS)}"
        at = iso(start + timedelta(seconds=100 * n))
        roll = rng.random()
        if roll < 0.3:
            events.append(login(f"{prefix}-{n}", user, occurred_at=at))
        elif roll < 0.8:
            events.append(stat(f"{prefix}-{n}", "kills", user, inc=1 + rng.randrange(3), occurred_at=at))
        else:
            events.append(stat(f"{prefix}-{n}", "level", user, value=rng.randrange(40), occurred_at=at))
    return events


def final_state(conn: Conn, prefix: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT substr(user_id, %s), goal_id, progress, status, last_counted_day, last_value_at"
        " FROM challenge.progress WHERE user_id LIKE %s ORDER BY 1, 2",
        [len(prefix) + 2, f"{prefix}-%"],
    ).fetchall()


def recorded(conn: Conn, prefix: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM challenge.processed_events WHERE event_id LIKE %s", [f"{prefix}-%"]
    ).fetchone()
    assert row is not None
    count: int = row[0]
    return count


def backend_pids(conn: Conn) -> set[int]:
    """Client backends of this database other than our own connection's."""
    rows = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
    ).fetchall()
    return {int(row[0]) for row in rows}


def test_a_writer_killed_mid_stream_and_restarted_gives_the_clean_runs_totals(
    events_db: Conn,
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    server_clock: ServerClock,
) -> None:
    init(events_db, *[f"{prefix}-u{n}" for prefix in ("clean", "crash") for n in range(PLAYERS)])
    # From a day after any the test runs in: the type-daily goal's rows move forward, day by day.
    start = server_clock.future_day
    clean = write_lines(tmp_path / "clean.ndjson", [json.dumps(e) for e in game_events("clean", start)])
    crash = write_lines(tmp_path / "crash.ndjson", [json.dumps(e) for e in game_events("crash", start)])
    options = ["--database-url", db_url, "--batch-size", "50", "--reject-file", str(tmp_path / "rejects")]

    assert cli.main(["ingest", str(clean), *options]) == 0

    # The subprocess's backends are the ones that appear after this point (see below).
    before = backend_pids(events_db)
    process = subprocess.Popen(
        [sys.executable, "-m", "pgchallenge.cli", "ingest", str(crash), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while recorded(events_db, "crash") < 800 and process.poll() is None:
            assert time.monotonic() < deadline, "the ingest subprocess made no progress"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(30)
    assert process.returncode == -signal.SIGKILL
    # A COMMIT already sent when the client died still completes on the server: count only once the
    # killed writer's backends have ended, or a late commit would be missed.
    deadline = time.monotonic() + 30
    while backend_pids(events_db) - before:
        assert time.monotonic() < deadline, "the killed writer's backends did not end"
        time.sleep(0.01)
    done_before_kill = recorded(events_db, "crash")
    assert 0 < done_before_kill < EVENTS, "killed mid-stream"

    capsys.readouterr()
    assert cli.main(["ingest", str(crash), *options]) == 0
    out = capsys.readouterr().out
    assert f"({done_before_kill:,} already recorded: duplicates)" in out

    assert recorded(events_db, "crash") == recorded(events_db, "clean") == EVENTS
    assert final_state(events_db, "crash") == final_state(events_db, "clean")
    assert not (tmp_path / "rejects").exists()
