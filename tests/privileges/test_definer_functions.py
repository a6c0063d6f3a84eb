"""Guards over the function sources (plpgsql/functions/*.sql) and the deployed functions.

- Every public function is SECURITY DEFINER with ``SET search_path = pg_catalog, pg_temp``; no private one is
  SECURITY DEFINER (they run inside the public ones, with the owner's rights already).
- Dynamic SQL (a PL/pgSQL EXECUTE) appears only in the functions known to need it, as ``EXECUTE format(...)``
  of a literal format string whose ``%I`` / ``%L`` placeholders quote their values and whose ``%s`` take only
  a regclass or regprocedure value (which quote themselves). A new EXECUTE anywhere fails a test naming it.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import psycopg
import pytest

from tests.privileges.privhelpers import FUNCTIONS_DIR, Deployment, functions

PINNED_SEARCH_PATH: Final = "SET search_path = pg_catalog, pg_temp"

# The functions that run dynamic SQL, and how many EXECUTE statements each has. Adding one is a decision:
# review it (identifiers through %I, values through %L or USING), then add it here.
DYNAMIC_SQL: Final[dict[str, int]] = {
    "_apply_access": 6,  # REVOKE / GRANT on the schema, its tables, sequences and functions
    "_table_rows": 1,  # count(*) of a small table, for challenge.status
    "create_ledger_partitions": 3,  # CREATE TABLE, move the day's rows, ATTACH PARTITION
    "prune_ledger": 1,  # DROP TABLE of an old day partition
    # On a Citus cluster: the shards' placements, one query on every node, count(*) of a small table.
    "_shard_stats": 3,
    # The row-lock clause (challenge._row_lock) of a statement that picks rows of many players.
    "lease_reward_grants": 1,
    "delete_expired_progress": 1,
    "prune_processed_events": 1,
}
# The arguments a %s placeholder may take, per function, and the type that makes them safe: regclass and
# regprocedure print as quoted, schema-qualified names. Each is checked in the source (see _declares).
# Besides these, any function may format in challenge._row_lock('alias') (ROW_LOCK_CLAUSE): it returns
# nothing or a fixed clause whose alias it quotes with %I.
PERCENT_S_ARGUMENTS: Final[dict[str, dict[str, str]]] = {
    "_apply_access": {"v_function.signature": "regprocedure"},
    "_table_rows": {"p_table": "regclass"},
    "_shard_stats": {"v_table": "regclass"},
}
ROW_LOCK_CLAUSE: Final = re.compile(r"challenge\._row_lock\('[a-z_]+'\)")


@dataclass(frozen=True)
class Source:
    name: str
    path: Path
    header: str  # CREATE OR REPLACE FUNCTION ... up to AS $function$, comments blanked out
    body: str  # between $function$ and $function$

    @property
    def private(self) -> bool:
        return self.name.startswith("_")


_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def mask(text: str) -> tuple[str, list[tuple[int, int]]]:
    """``text`` with comments blanked and string literals' contents replaced by ``x`` (same length), and
    the spans of the string literals (quotes included). Handles '' and E'\\'' escapes, $tag$ quoting."""
    out = list(text)
    literals: list[tuple[int, int]] = []
    i = 0
    n = len(text)
    while i < n:
        if text.startswith("--", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out[i:end] = " " * (end - i)
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out[i:end] = " " * (end - i)
            i = end
        elif text[i] == "'":
            escapes = (
                i > 0 and text[i - 1] in "Ee" and (i < 2 or not (text[i - 2].isalnum() or text[i - 2] == "_"))
            )
            j = i + 1
            while j < n:
                if escapes and text[j] == "\\":
                    j += 2
                    continue
                if text[j] == "'":
                    if j + 1 < n and text[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
            end = min(j + 1, n)
            out[i + 1 : end - 1] = "x" * (end - 1 - (i + 1))
            literals.append((i, end))
            i = end
        elif (
            text[i] == "$"
            and (match := _TAG.match(text, i))
            and not (i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"))
        ):
            tag = match.group(0)
            end = text.find(tag, match.end())
            end = n if end < 0 else end + len(tag)
            out[match.end() : end - len(tag)] = "x" * (end - len(tag) - match.end())
            literals.append((i, end))
            i = end
        else:
            i += 1
    return "".join(out), literals


def sources() -> list[Source]:
    found: list[Source] = []
    for path in sorted(FUNCTIONS_DIR.glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        match = re.search(
            r"^CREATE OR REPLACE FUNCTION .*?^AS \$function\$(.*)^\$function\$;", text, re.S | re.M
        )
        assert match, f"{path.name}: no CREATE OR REPLACE FUNCTION ... AS $function$ ... $function$;"
        header, _ = mask(text[match.start() : match.start(1)])
        found.append(Source(path.stem, path, header, match.group(1)))
    return found


SOURCES: Final = sources()


def _clauses(header: str) -> str:
    return " ".join(header.split())


def test_every_file_defines_the_function_it_is_named_after() -> None:
    assert len(SOURCES) > 40
    for source in SOURCES:
        text, _ = mask(source.path.read_text(encoding="utf-8"))
        defined = re.findall(r"CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+([\w.]+)\s*\(", text, re.I)
        assert defined == [f"challenge.{source.name}"], (source.path.name, defined)


@pytest.mark.parametrize("source", [s for s in SOURCES if not s.private], ids=lambda s: s.name)
def test_a_public_function_is_security_definer_with_a_pinned_search_path(source: Source) -> None:
    clauses = _clauses(source.header)
    assert "SECURITY DEFINER" in clauses, f"{source.name}: public but not SECURITY DEFINER"
    assert PINNED_SEARCH_PATH in clauses, f"{source.name}: no `{PINNED_SEARCH_PATH}`"
    assert "SECURITY INVOKER" not in clauses
    assert len(re.findall(r"\bSET search_path\b", clauses)) == 1, clauses


@pytest.mark.parametrize("source", [s for s in SOURCES if s.private], ids=lambda s: s.name)
def test_a_private_function_is_not_security_definer(source: Source) -> None:
    masked, _ = mask(source.path.read_text(encoding="utf-8"))
    assert not re.search(r"SECURITY\s+DEFINER", masked, re.I), f"{source.name}: private yet SECURITY DEFINER"
    # A search_path it pins must be the same one (no private function may widen it).
    for setting in re.findall(r"SET\s+search_path\s*(?:=|TO)\s*([^\n]+)", masked, re.I):
        assert setting.strip() == "pg_catalog, pg_temp", (source.name, setting)


def test_the_deployed_functions_match_the_sources(
    deployment: Deployment, superuser: psycopg.Connection[Any]
) -> None:
    """The catalog agrees: public ones prosecdef with the pinned search_path, private ones not definer."""
    rows = superuser.execute(
        "SELECT p.proname::text, p.prosecdef, coalesce(p.proconfig, '{}')"
        " FROM pg_catalog.pg_proc AS p WHERE p.pronamespace = 'challenge'::regnamespace ORDER BY 1"
    ).fetchall()
    assert {name for name, _, _ in rows} == {s.name for s in SOURCES}
    assert len(rows) == len(functions(superuser))
    problems: list[str] = []
    for name, secdef, config in rows:
        if name.startswith("_"):
            if secdef:
                problems.append(f"{name}: private yet SECURITY DEFINER")
        else:
            if not secdef:
                problems.append(f"{name}: not SECURITY DEFINER")
            if "search_path=pg_catalog, pg_temp" not in config:
                problems.append(f"{name}: search_path not pinned ({config})")
        paths = [c for c in config if c.startswith("search_path=")]
        if paths not in ([], ["search_path=pg_catalog, pg_temp"]):
            problems.append(f"{name}: search_path {paths}")
    assert not problems, "\n".join(problems)


# --- dynamic SQL -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Execute:
    function: str
    statement: str  # from EXECUTE to its semicolon
    format_string: str | None  # the format string's value (literals joined), None unless EXECUTE format(
    arguments: tuple[str, ...]  # format's other arguments, whitespace-normalised


def _literal_value(token: str) -> str | None:
    """A string literal's value: quoted ('...') or dollar-quoted ($tag$...$tag$); None for anything else."""
    token = token.strip()
    if len(token) >= 2 and token[0] == "'" and token[-1] == "'":
        return token[1:-1].replace("''", "'")
    dollar = re.fullmatch(r"(\$\w*\$)(.*)\1", token, re.S)
    return dollar[2] if dollar else None


def executes(source: Source) -> list[Execute]:
    """Every EXECUTE statement of a function body (dynamic SQL; not GRANT EXECUTE inside a string)."""
    masked, _ = mask(source.body)
    found: list[Execute] = []
    for match in re.finditer(r"\bEXECUTE\b", masked, re.I):
        end = masked.find(";", match.end())
        end = len(masked) if end < 0 else end
        statement = " ".join(source.body[match.start() : end].split())
        call = re.match(r"\s*(?:pg_catalog\.)?format\s*\(", masked[match.end() :], re.I)
        if call is None:
            found.append(Execute(source.name, statement, None, ()))
            continue
        # Split format's arguments at top-level commas (structure from the masked text).
        start = match.end() + call.end()
        depth = 0
        pieces: list[str] = []
        last = start
        position = start
        while position < len(masked):
            char = masked[position]
            if char == "(":
                depth += 1
            elif char == ")":
                if depth == 0:
                    break
                depth -= 1
            elif char == "," and depth == 0:
                pieces.append(source.body[last:position])
                last = position + 1
            position += 1
        pieces.append(source.body[last:position])
        # Split the format string at || outside its literals (found in the masked text).
        first = masked[start : start + len(pieces[0])]
        cuts = [0, *(m.start() for m in re.finditer(r"\|\|", first)), len(first)]
        parts = [_literal_value(pieces[0][a + (2 if a else 0) : b]) for a, b in itertools.pairwise(cuts)]
        format_string = None if any(p is None for p in parts) else "".join(p or "" for p in parts)
        arguments = tuple(" ".join(piece.split()) for piece in pieces[1:])
        found.append(Execute(source.name, statement, format_string, arguments))
    return found


def _declares(source: Source, argument: str, type_name: str) -> bool:
    """The source gives ``argument`` the type: a parameter ``p_x type``, or a record field ``::type AS f``."""
    text = source.path.read_text(encoding="utf-8")
    if "." in argument:
        field = argument.split(".", 1)[1]
        return re.search(rf"::{type_name}\s+AS\s+{re.escape(field)}\b", source.body) is not None
    return re.search(rf"\b{re.escape(argument)}\s+{type_name}\b", text) is not None


def test_dynamic_sql_appears_only_in_the_known_functions() -> None:
    counts = {s.name: len(executes(s)) for s in SOURCES}
    unexpected = {name: count for name, count in counts.items() if count and name not in DYNAMIC_SQL}
    assert not unexpected, f"new dynamic SQL (EXECUTE) in {sorted(unexpected)}: review it, then list it"
    assert {name: counts.get(name, 0) for name in DYNAMIC_SQL} == DYNAMIC_SQL


@pytest.mark.parametrize("name", sorted(DYNAMIC_SQL))
def test_dynamic_sql_quotes_every_value(name: str) -> None:
    source = next(s for s in SOURCES if s.name == name)
    allowed_s = PERCENT_S_ARGUMENTS.get(name, {})
    for execute in executes(source):
        assert execute.format_string is not None, (
            f"{name}: EXECUTE without format() of a literal string: {execute.statement}"
        )
        placeholders = re.findall(r"%(.)", execute.format_string.replace("%%", ""))
        assert set(placeholders) <= {"I", "L", "s"}, (name, execute.format_string)
        assert len(placeholders) == len(execute.arguments), (name, execute.statement)
        for placeholder, argument in zip(placeholders, execute.arguments, strict=True):
            if placeholder != "s" or ROW_LOCK_CLAUSE.fullmatch(argument):
                continue
            assert argument in allowed_s, f"{name}: %s of {argument!r} (not a regclass or regprocedure)"
            assert _declares(source, argument, allowed_s[argument]), (
                f"{name}: {argument} is not declared {allowed_s[argument]}"
            )


def test_the_guard_sees_an_unquoted_execute() -> None:
    """The parser itself: a concatenated EXECUTE and a %s of text are caught; strings and comments not."""
    body = (
        "BEGIN\n"
        "    -- EXECUTE in a comment\n"
        "    RAISE NOTICE 'GRANT EXECUTE ON FUNCTION f TO x; EXECUTE ''y''';\n"
        "    EXECUTE 'DROP TABLE ' || v_name;\n"
        "    EXECUTE format('SELECT %s, %I FROM t WHERE a = %L', v_text, v_name, v_value) INTO v_x;\n"
        "END;\n"
    )
    source = Source("_example", FUNCTIONS_DIR / "_example.sql", "", body)
    found = executes(source)
    assert [e.format_string for e in found] == [None, "SELECT %s, %I FROM t WHERE a = %L"]
    assert found[1].arguments == ("v_text", "v_name", "v_value")
