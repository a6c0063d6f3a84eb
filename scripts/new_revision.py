"""Create a migration revision that freezes the named plpgsql/ files into it.

    python scripts/new_revision.py "add claims" functions/claim_goal.sql functions/get_progress.sql
    python scripts/new_revision.py "add outbox table" --sql-file path/to/0002_up.sql functions/x.sql

Each revision runs frozen files listed explicitly, so that upgrading an old database replays each step as
it was written: its own copies (migrations/sql/<revision>/...) on upgrade; on downgrade, for every function
file, the newest earlier snapshot of that file again (``earlier(revision, path)``: a reference, not a
copy), or a DROP when the revision introduces the function. A revision freezes when the next one is made
(a test compares its SQL with git history from then on). Schema changes are not derived from schema.sql:
pass a hand-written upgrade script with --sql-file (and its reverse with --down-sql-file), and update
plpgsql/schema.sql to match (a test compares them).
A revision with function files ends with access.sql, upgrade and downgrade alike: challenge._apply_access
grants what functions/_access_rules.sql declares (give a new public function its rule there).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# 0009_privileges introduced challenge._access_rules and challenge._apply_access.
FIRST_REVISION_WITH_ACCESS_RULES = 9
ACCESS_STEP = """-- After this revision's functions: grant exactly what challenge._access_rules declares.
SELECT challenge._apply_access();
"""
SOURCE = ROOT / "plpgsql"
VERSIONS = ROOT / "migrations" / "versions"
SNAPSHOTS = ROOT / "migrations" / "sql"

TEMPLATE = '''"""{message}

Revision ID: {revision}
Revises: {down_revision}
"""

from __future__ import annotations

from pgchallenge.migrations.sqlfiles import {imports}

revision = "{revision}"
down_revision = {down_repr}
branch_labels = None
depends_on = None

# Frozen copies made by scripts/new_revision.py; never edit them after this revision lands.
UPGRADE_FILES = [
{upgrade}]
DOWNGRADE_FILES = [
{downgrade}]


def upgrade() -> None:
    run_snapshot(revision, UPGRADE_FILES)


def downgrade() -> None:
    run_snapshot(revision, DOWNGRADE_FILES)
'''


def existing_revisions() -> list[str]:
    return sorted(p.stem for p in VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py"))


def previous_snapshot(relative: str, before: list[str]) -> Path | None:
    for revision in reversed(before):
        candidate = SNAPSHOTS / revision / relative
        if candidate.exists():
            return candidate
    return None


def function_name(sql: str) -> str:
    """``challenge.name(type, ...)``: the argument types only, as DROP FUNCTION needs them.

    Parameter names and DEFAULT expressions are left out (DROP FUNCTION rejects defaults); parentheses
    and quotes inside defaults, such as ``DEFAULT now()`` or ``DEFAULT 'a, b'``, are skipped over.
    """
    match = re.search(r"CREATE OR REPLACE FUNCTION\s+(challenge\.\w+)\s*\(", sql)
    if match is None:
        raise SystemExit("no CREATE OR REPLACE FUNCTION found")
    params: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    for char in sql[match.end() :]:
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            if depth == 0:
                break
            depth -= 1
        elif not quoted and depth == 0 and char == ",":
            params.append("".join(current))
            current = []
            continue
        current.append(char)
    params.append("".join(current))
    types = []
    for param in (p.strip() for p in params):
        if not param:
            continue
        declaration = re.split(r"\s+DEFAULT\s+|\s*=\s*", param, maxsplit=1, flags=re.I)[0].split()
        if declaration[0].upper() in ("IN", "VARIADIC"):
            declaration = declaration[1:]
        # House style names every parameter p_...; what follows the name is its type.
        types.append(" ".join(declaration[1:] if declaration[0].startswith("p_") else declaration))
    return f"{match.group(1)}({', '.join(types)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("message")
    parser.add_argument("files", nargs="*", help="paths relative to plpgsql/, e.g. functions/x.sql")
    parser.add_argument("--sql-file", type=Path, help="hand-written schema change, run first")
    parser.add_argument("--down-sql-file", type=Path, help="its reverse, run last on downgrade")
    args = parser.parse_intermixed_args(argv)

    before = existing_revisions()
    number = len(before) + 1
    slug = re.sub(r"[^a-z0-9]+", "_", args.message.lower()).strip("_")
    # Alembic's version table holds at most 32 characters.
    revision = f"{number:04d}_{slug}"[:32].rstrip("_")
    folder = SNAPSHOTS / revision
    folder.mkdir(parents=True)

    upgrade: list[str] = []
    # The downgrade's entries are Python expressions, written into the revision as they are: a quoted path
    # of this revision's own, or an earlier(...) reference to the snapshot that restores a function.
    downgrade: list[str] = []
    if args.sql_file:
        shutil.copyfile(args.sql_file, folder / "upgrade.sql")
        upgrade.append("upgrade.sql")
    for relative in args.files:
        source = SOURCE / relative
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        upgrade.append(relative)
        restored = previous_snapshot(relative, before)
        if restored is not None:
            downgrade.append(f'earlier("{restored.parent.parent.name}", "{relative}")')
        else:
            down_name = f"downgrade/{relative}"
            (folder / down_name).parent.mkdir(parents=True, exist_ok=True)
            signature = function_name(source.read_text(encoding="utf-8"))
            (folder / down_name).write_text(f"DROP FUNCTION IF EXISTS {signature};\n", encoding="utf-8")
            downgrade.append(f'"{down_name}"')
    if args.down_sql_file:
        shutil.copyfile(args.down_sql_file, folder / "downgrade.sql")
        downgrade.append('"downgrade.sql"')
    if args.files and number > FIRST_REVISION_WITH_ACCESS_RULES:
        # Functions created or replaced: grant exactly what _access_rules says (a new function starts
        # with no privileges; one without a rule fails the migration). Both ways: a downgrade recreates
        # the earlier functions, under the earlier rules.
        (folder / "access.sql").write_text(ACCESS_STEP, encoding="utf-8")
        upgrade.append("access.sql")
        downgrade.append('"access.sql"')

    down_revision = before[-1] if before else None
    references = any(entry.startswith("earlier(") for entry in downgrade)
    text = TEMPLATE.format(
        message=args.message,
        imports="earlier, run_snapshot" if references else "run_snapshot",
        revision=revision,
        down_revision=down_revision,
        # Double quotes, as ruff format writes them.
        down_repr=f'"{down_revision}"' if down_revision else "None",
        upgrade="".join(f'    "{name}",\n' for name in upgrade),
        downgrade="".join(f"    {entry},\n" for entry in downgrade),
    )
    (VERSIONS / f"{revision}.py").write_text(text, encoding="utf-8")
    print(f"created migrations/versions/{revision}.py with {len(upgrade)} upgrade file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
