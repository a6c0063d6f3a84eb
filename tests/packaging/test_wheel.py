"""The built wheel carries the SQL sources and the migrations, so `pip install pgchallenge` users can migrate
without the repository (pgchallenge.migrate reads them through importlib.resources)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_contains_sql_migrations_and_type_marker(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = tmp_path.glob("pgchallenge-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {"pgchallenge/py.typed", "pgchallenge/migrations/env.py", "pgchallenge/migrations/sqlfiles.py"}
    expected |= {
        f"pgchallenge/plpgsql/{path.relative_to(ROOT / 'plpgsql').as_posix()}"
        for path in (ROOT / "plpgsql").rglob("*.sql")
    }
    expected |= {
        f"pgchallenge/migrations/{path.relative_to(ROOT / 'migrations').as_posix()}"
        for path in (ROOT / "migrations").rglob("*")
        if path.is_file() and path.suffix in {".sql", ".py", ".mako"} and "__pycache__" not in path.parts
    }
    missing = sorted(expected - names)
    assert missing == [], f"missing from the wheel: {missing}"
