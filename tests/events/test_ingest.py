"""``pgchallenge ingest``: rejects with line numbers; a SIGKILLed run, restarted, ends like a clean run; by
source position (--source): reruns, grown files, --position-field, and a SIGKILLed run resumed."""

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
from typing import Any

import psycopg
import pytest
from pgchallenge import cli

from tests.events.eventhelpers import init, login, progresses, stat, table_state
from tests.serverclock import HOUR, ServerClock, iso

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


# -- by source position --------------------------------------------------------------------------------


def kills_line(**extra: Any) -> str:
    """A kills statistic for u1, without an event id: by source position, its place identifies it."""
    return json.dumps({"user_id": "u1", "kind": "statistic", "stat_code": "kills", **extra})


def watermark(conn: Conn, partition: str = "") -> int:
    """The highest position applied from the test source's partition (0 when none)."""
    row = conn.execute(
        "SELECT greatest(max(position), 0) FROM challenge.source_positions"
        " WHERE source = 'game' AND partition = %s",
        [partition],
    ).fetchone()
    assert row is not None
    position: int = row[0]
    return position


def ingest_by_source(
    capsys: pytest.CaptureFixture[str], db_url: str, tmp_path: Path, source: Path, *options: str
) -> tuple[int, str]:
    capsys.readouterr()
    rejects = str(tmp_path / "rejects.ndjson")
    status = cli.main(["ingest", str(source), "--database-url", db_url, "--reject-file", rejects, *options])
    return status, capsys.readouterr().out


def test_ingest_by_source_applies_a_new_file_by_line_number(
    events_db: Conn, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init(events_db, "u1")
    # Blank lines are not events, but they are lines: the last event is at position 6.
    source = write_lines(
        tmp_path / "events.ndjson", [kills_line(), kills_line(), "", kills_line(), "", kills_line()]
    )
    status, out = ingest_by_source(capsys, db_url, tmp_path, source, "--source", "game", "--batch-size", "2")
    assert status == 0
    assert "'game' partition '', epoch 1, nothing applied before" in out
    assert "lines skipped:     0" in out and "events committed:  4 (0 already recorded" in out
    assert progresses(events_db)["kills-inc"] == 4
    assert watermark(events_db) == 6


def test_ingest_by_source_rerun_of_the_same_file_sends_nothing(
    events_db: Conn, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init(events_db, "u1")
    source = write_lines(tmp_path / "events.ndjson", [kills_line() for _ in range(5)])
    options = ("--source", "game", "--partition", "p1")
    assert ingest_by_source(capsys, db_url, tmp_path, source, *options)[0] == 0
    before = table_state(events_db)
    status, out = ingest_by_source(capsys, db_url, tmp_path, source, *options)
    assert status == 0
    assert "epoch 2, resumed after position 5" in out
    assert "lines skipped:     5" in out and "events committed:  0" in out and "(0 flushes" in out
    assert table_state(events_db) == before
    assert watermark(events_db, "p1") == 5


def test_ingest_by_source_a_grown_file_applies_only_its_new_lines(
    events_db: Conn, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init(events_db, "u1")
    source = write_lines(tmp_path / "events.ndjson", [kills_line(inc=1) for _ in range(3)])
    assert ingest_by_source(capsys, db_url, tmp_path, source, "--source", "game")[0] == 0
    with source.open("a", encoding="utf-8") as handle:
        handle.write(kills_line(inc=10) + "\n" + kills_line(inc=100) + "\n")
    status, out = ingest_by_source(capsys, db_url, tmp_path, source, "--source", "game")
    assert status == 0
    assert "lines skipped:     3" in out and "events committed:  2 (0 already recorded" in out
    assert progresses(events_db)["kills-inc"] == 113
    assert watermark(events_db) == 5


def test_ingest_by_source_takes_positions_from_a_field(
    events_db: Conn, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init(events_db, "u1")
    lines = [
        kills_line(offset=100, inc=1),
        kills_line(offset=90, inc=2),  # line 2: goes back: rejected
        kills_line(inc=4),  # line 3: no offset: rejected
        kills_line(offset=110, inc=8),
    ]
    source = write_lines(tmp_path / "events.ndjson", lines)
    options = ("--source", "game", "--position-field", "offset")
    status, out = ingest_by_source(capsys, db_url, tmp_path, source, *options)
    assert status == 2 and "lines rejected:    2" in out
    records = [json.loads(line) for line in (tmp_path / "rejects.ndjson").read_text().splitlines()]
    assert [(r["line"], r["error"]) for r in records] == [
        (2, "position must be greater than the previous submitted event's (100), got 90"),
        (3, "no 'offset' field to take the position from"),
    ]
    assert progresses(events_db)["kills-inc"] == 9
    assert watermark(events_db) == 110

    # Grown: offsets at or below 110 were dealt with by the first run, whatever their fate then.
    write_lines(source, [*lines, kills_line(offset=105, inc=16), kills_line(offset=120, inc=32)])
    status, out = ingest_by_source(capsys, db_url, tmp_path, source, *options)
    assert status == 2  # line 3 has still no offset
    assert "lines skipped:     4" in out and "events committed:  1" in out
    assert progresses(events_db)["kills-inc"] == 41
    assert watermark(events_db) == 120


def test_ingest_by_line_number_refuses_a_position_key(
    events_db: Conn, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init(events_db, "u1")
    source = write_lines(tmp_path / "events.ndjson", [kills_line(), kills_line(position=7)])
    status, out = ingest_by_source(capsys, db_url, tmp_path, source, "--source", "game")
    assert status == 2 and "events committed:  1" in out
    record = json.loads((tmp_path / "rejects.ndjson").read_text())
    assert record["line"] == 2 and "--position-field" in record["error"]


@pytest.mark.parametrize(
    "options",
    [
        pytest.param(["--partition", "3"], id="partition-without-source"),
        pytest.param(["--position-field", "offset"], id="field-without-source"),
        pytest.param(["--source", "game", "--connections", "2"], id="source-over-two-connections"),
        pytest.param(["--source", ""], id="empty-source"),
    ],
)
def test_ingest_source_options_are_checked(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str]
) -> None:
    source = write_lines(tmp_path / "events.ndjson", [kills_line()])
    status = cli.main(["ingest", str(source), "--database-url", db_url, *options])
    assert status == 1 and capsys.readouterr().err.startswith("error: ")


def without_event_id(event: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key != "event_id"}


def expected_totals(events: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """kills-inc and login-inc of every player, as applying each event once gives them."""
    totals: dict[tuple[str, str], int] = {}
    for event in events:
        if event["kind"] == "login":
            key = (event["user_id"], "login-inc")
            totals[key] = totals.get(key, 0) + 1
        elif event["stat_code"] == "kills":
            key = (event["user_id"], "kills-inc")
            totals[key] = totals.get(key, 0) + event["inc"]
    return totals


def test_a_source_ingest_killed_mid_stream_and_rerun_applies_every_event_exactly_once(
    events_db: Conn,
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    server_clock: ServerClock,
) -> None:
    init(events_db, *[f"{prefix}-u{n}" for prefix in ("clean", "crash") for n in range(PLAYERS)])
    start = server_clock.future_day
    # No event ids: by source position the line number alone identifies an event.
    streams = {
        prefix: [without_event_id(e) for e in game_events(prefix, start)] for prefix in ("clean", "crash")
    }
    files = {
        prefix: write_lines(tmp_path / f"{prefix}.ndjson", [json.dumps(e) for e in events])
        for prefix, events in streams.items()
    }
    options = ["--database-url", db_url, "--batch-size", "50", "--reject-file", str(tmp_path / "rejects")]
    options += ["--source", "game"]

    assert cli.main(["ingest", str(files["clean"]), *options, "--partition", "clean"]) == 0

    before = backend_pids(events_db)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pgchallenge.cli",
            "ingest",
            str(files["crash"]),
            *options,
            "--partition",
            "crash",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while watermark(events_db, "crash") < 800 and process.poll() is None:
            assert time.monotonic() < deadline, "the ingest subprocess made no progress"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(30)
    assert process.returncode == -signal.SIGKILL
    # As above: a COMMIT already sent by the killed writer may still complete; wait for its backends.
    deadline = time.monotonic() + 30
    while backend_pids(events_db) - before:
        assert time.monotonic() < deadline, "the killed writer's backends did not end"
        time.sleep(0.01)
    done_before_kill = watermark(events_db, "crash")
    assert 0 < done_before_kill < EVENTS, "killed mid-stream"

    capsys.readouterr()
    assert cli.main(["ingest", str(files["crash"]), *options, "--partition", "crash"]) == 0
    out = capsys.readouterr().out
    assert f"resumed after position {done_before_kill:,}" in out
    assert f"lines skipped:     {done_before_kill:,}" in out
    assert f"events committed:  {EVENTS - done_before_kill:,} (0 already recorded" in out

    assert watermark(events_db, "crash") == EVENTS
    assert final_state(events_db, "crash") == final_state(events_db, "clean")
    rows = events_db.execute(
        "SELECT user_id, goal_id, progress FROM challenge.progress"
        " WHERE user_id LIKE 'crash-%' AND goal_id IN ('kills-inc', 'login-inc') AND progress > 0"
    ).fetchall()
    totals = {(user, goal): progress for user, goal, progress in rows}
    assert totals == expected_totals(streams["crash"])
    assert not (tmp_path / "rejects").exists()
