"""scripts/new_revision.py: what a new revision freezes, and its closing access step."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("new_revision", ROOT / "scripts" / "new_revision.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The script, pointed at a copy of the repository's plpgsql/ and migrations/ in tmp_path."""
    module = load_script()
    shutil.copytree(ROOT / "plpgsql", tmp_path / "plpgsql")
    shutil.copytree(ROOT / "migrations" / "versions", tmp_path / "versions")
    shutil.copytree(ROOT / "migrations" / "sql", tmp_path / "sql")
    monkeypatch.setattr(module, "SOURCE", tmp_path / "plpgsql")
    monkeypatch.setattr(module, "VERSIONS", tmp_path / "versions")
    monkeypatch.setattr(module, "SNAPSHOTS", tmp_path / "sql")
    return module


def created_revision(folder: Path) -> Path:
    """The revision file the script just wrote: the one numbered after the repository's newest."""
    number = len(list((ROOT / "migrations" / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))) + 1
    (created,) = [p for p in folder.glob("*.py") if p.name.startswith(f"{number:04d}_")]
    return created


def newest_snapshot(relative: str) -> Path:
    revisions = sorted(p for p in (ROOT / "migrations" / "sql").iterdir() if (p / relative).exists())
    return revisions[-1] / relative


def revision_lists(path: Path) -> tuple[list[str], list[str]]:
    namespace: dict[str, object] = {}
    source = path.read_text(encoding="utf-8")
    lists = source[source.index("UPGRADE_FILES") : source.index("\n\n\ndef upgrade")]
    exec(lists, namespace)
    upgrade, downgrade = namespace["UPGRADE_FILES"], namespace["DOWNGRADE_FILES"]
    assert isinstance(upgrade, list) and isinstance(downgrade, list)
    return [str(name) for name in upgrade], [str(name) for name in downgrade]


def test_a_revision_with_functions_ends_with_the_access_step_both_ways(
    script: ModuleType, tmp_path: Path
) -> None:
    assert script.main(["next step", "functions/get_progress.sql"]) == 0
    created = created_revision(tmp_path / "versions")
    upgrade, downgrade = revision_lists(created)
    assert upgrade == ["functions/get_progress.sql", "access.sql"]
    assert downgrade == ["downgrade/functions/get_progress.sql", "access.sql"]
    folder = tmp_path / "sql" / created.stem
    assert (folder / "access.sql").read_text(encoding="utf-8") == script.ACCESS_STEP
    # The same step 0009 ends with, so every revision applies the rules the same way.
    assert (ROOT / "migrations" / "sql" / "0009_privileges" / "access.sql").read_text(
        encoding="utf-8"
    ) == script.ACCESS_STEP
    # The downgrade restores the newest earlier snapshot of the file.
    assert (folder / "downgrade" / "functions" / "get_progress.sql").read_bytes() == (
        newest_snapshot("functions/get_progress.sql").read_bytes()
    )


def test_a_schema_only_revision_has_no_access_step(script: ModuleType, tmp_path: Path) -> None:
    change = tmp_path / "up.sql"
    change.write_text("SELECT 1;\n", encoding="utf-8")
    assert script.main(["schema only", "--sql-file", str(change)]) == 0
    upgrade, downgrade = revision_lists(created_revision(tmp_path / "versions"))
    assert upgrade == ["upgrade.sql"]
    assert downgrade == []
