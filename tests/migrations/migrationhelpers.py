"""Types and readers shared by the migration tests."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

from pgchallenge.migrations.sqlfiles import SnapshotFile, earlier

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = ROOT / "migrations" / "versions"

# Creates an empty database on the test server and returns its conninfo (the new_database fixture).
NewDatabase = Callable[[], str]


def revision_ids() -> list[str]:
    """Every revision, in migration order (ids start with their number)."""
    return sorted(path.stem for path in VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py"))


def lists_in(source: str) -> tuple[list[SnapshotFile], list[SnapshotFile]]:
    """UPGRADE_FILES and DOWNGRADE_FILES of a revision's source text (of today or of an old commit).

    Only those two assignments run, with ``earlier`` in scope: the rest of the module (its imports, its
    upgrade()) may need what an old commit's environment had."""
    tree = ast.parse(source)
    wanted = {"UPGRADE_FILES", "DOWNGRADE_FILES"}
    assignments = [
        node
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(target, ast.Name) and target.id in wanted for target in node.targets)
    ]
    namespace: dict[str, object] = {"earlier": earlier}
    exec(compile(ast.Module(body=list(assignments), type_ignores=[]), "<revision>", "exec"), namespace)
    upgrade, downgrade = namespace["UPGRADE_FILES"], namespace["DOWNGRADE_FILES"]
    assert isinstance(upgrade, list) and isinstance(downgrade, list)
    return upgrade, downgrade


def revision_lists(revision: str) -> tuple[list[SnapshotFile], list[SnapshotFile]]:
    return lists_in((VERSIONS / f"{revision}.py").read_text(encoding="utf-8"))
