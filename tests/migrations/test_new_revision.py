"""scripts/new_revision.py: what a new revision freezes, and its closing access step."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest
from pgchallenge.migrations.sqlfiles import SnapshotFile, earlier

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


def revision_lists(path: Path) -> tuple[list[SnapshotFile], list[SnapshotFile]]:
    namespace: dict[str, object] = {"earlier": earlier}
    source = path.read_text(encoding="utf-8")
    lists = source[source.index("UPGRADE_FILES") : source.index("\n\n\ndef upgrade")]
    exec(lists, namespace)
    upgrade, downgrade = namespace["UPGRADE_FILES"], namespace["DOWNGRADE_FILES"]
    assert isinstance(upgrade, list) and isinstance(downgrade, list)
    return upgrade, downgrade


def test_a_revision_with_functions_ends_with_the_access_step_both_ways(
    script: ModuleType, tmp_path: Path
) -> None:
    assert script.main(["next step", "functions/get_progress.sql"]) == 0
    created = created_revision(tmp_path / "versions")
    upgrade, downgrade = revision_lists(created)
    assert upgrade == ["functions/get_progress.sql", "access.sql"]
    # The downgrade runs the newest earlier snapshot of the file again: a reference, no copy.
    restored = newest_snapshot("functions/get_progress.sql")
    assert downgrade == [earlier(restored.parent.parent.name, "functions/get_progress.sql"), "access.sql"]
    folder = tmp_path / "sql" / created.stem
    assert (folder / "access.sql").read_text(encoding="utf-8") == script.ACCESS_STEP
    # The same step 0009 ends with, so every revision applies the rules the same way.
    assert (ROOT / "migrations" / "sql" / "0009_privileges" / "access.sql").read_text(
        encoding="utf-8"
    ) == script.ACCESS_STEP
    assert not (folder / "downgrade").exists()


def test_a_schema_only_revision_has_no_access_step(script: ModuleType, tmp_path: Path) -> None:
    change = tmp_path / "up.sql"
    change.write_text("SELECT 1;\n", encoding="utf-8")
    assert script.main(["schema only", "--sql-file", str(change)]) == 0
    upgrade, downgrade = revision_lists(created_revision(tmp_path / "versions"))
    assert upgrade == ["upgrade.sql"]
    assert downgrade == []


def test_a_new_function_is_dropped_on_downgrade(script: ModuleType, tmp_path: Path) -> None:
    source = tmp_path / "plpgsql" / "functions" / "_brand_new.sql"
    source.write_text(
        "CREATE OR REPLACE FUNCTION challenge._brand_new(p_user_id text, p_limit integer DEFAULT 10)\n"
        "RETURNS integer LANGUAGE sql AS $$ SELECT p_limit $$;\n",
        encoding="utf-8",
    )
    assert script.main(["new helper", "functions/_brand_new.sql"]) == 0
    created = created_revision(tmp_path / "versions")
    _, downgrade = revision_lists(created)
    assert downgrade == ["downgrade/functions/_brand_new.sql", "access.sql"]
    drop = tmp_path / "sql" / created.stem / "downgrade" / "functions" / "_brand_new.sql"
    assert (
        drop.read_text(encoding="utf-8") == "DROP FUNCTION IF EXISTS challenge._brand_new(text, integer);\n"
    )
    # No reference to an earlier snapshot: the revision imports only what it uses (ruff would flag it).
    assert "import run_snapshot\n" in created.read_text(encoding="utf-8")
