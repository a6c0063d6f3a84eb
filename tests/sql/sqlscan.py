"""A small SQL-aware scanner over the function sources, for the Citus guard tests (test_citus_rules.py).

Not a parser: a tokenizer that drops comments and keeps string literals as single tokens (with their
contents, so dynamic SQL can be scanned too), plus finders for the few statement shapes the Citus rules are
about: ``UPDATE t SET ... [FROM ...] [WHERE ...] [RETURNING ...]``, ``DELETE FROM t [USING ...] [WHERE ...]``,
``INSERT ... ON CONFLICT ... DO UPDATE SET ... [WHERE ...]`` and ``SELECT ... FOR UPDATE|SHARE ...``. Clause
boundaries are found at the statement's own parenthesis depth, so subqueries and function calls inside a
clause stay inside it.

Each ``scan_*`` function returns findings as short, whitespace-normalised snippets, stable under reformatting,
which the tests key their allowlist on.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple


class Violation(NamedTuple):
    """One breach of a rule: the rule, the object (function, table, file) and a short snippet."""

    rule: str
    obj: str
    snippet: str


@dataclass(frozen=True)
class Token:
    kind: str  # word | string | number | param | op
    text: str  # words lower-cased (quoted identifiers verbatim); a string's contents, unescaped
    depth: int  # parenthesis depth; "(" and ")" carry the depth outside them
    pos: int  # offset in the scanned text
    raw: str = ""  # as written (words and operators), for snippets


# --- tokenizer ---------------------------------------------------------------------------------------

_WORD: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_NUMBER: Final = re.compile(r"\d+(?:\.\d*)?(?:[eE][+-]?\d+)?")
_PARAM: Final = re.compile(r"\$\d+")
_DOLLAR: Final = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_OPERATORS: Final = sorted(
    ["::", ":=", "=>", "<=", ">=", "<>", "!=", "||", "->>", "->", "#>>", "#>", "@>", "<@", "&&"],
    key=len,
    reverse=True,
)


def _comment_end(sql: str, i: int) -> int | None:
    """The end of a comment starting at ``i``, or None when none starts there (block comments nest)."""
    if sql.startswith("--", i):
        end = sql.find("\n", i)
        return len(sql) if end < 0 else end
    if sql.startswith("/*", i):
        level, j = 1, i + 2
        while j < len(sql) and level:
            if sql.startswith("/*", j):
                level, j = level + 1, j + 2
            elif sql.startswith("*/", j):
                level, j = level - 1, j + 2
            else:
                j += 1
        return j
    return None


def _quoted_end(sql: str, i: int, quote: str, backslashes: bool) -> int:
    """The offset after the closing quote of a literal opening at ``i`` (doubled quotes escape)."""
    j = i + 1
    while j < len(sql):
        if backslashes and sql[j] == "\\":
            j += 2
            continue
        if sql[j] == quote:
            if sql.startswith(quote * 2, j):
                j += 2
                continue
            return j + 1
        j += 1
    return len(sql)


def tokenize(sql: str) -> list[Token]:
    tokens: list[Token] = []
    depth = 0
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c.isspace():
            i += 1
            continue
        end = _comment_end(sql, i)
        if end is not None:
            i = end
            continue
        if c in "eE" and sql.startswith("'", i + 1):
            end = _quoted_end(sql, i + 1, "'", backslashes=True)
            text = re.sub(r"\\(.)", r"\1", sql[i + 2 : end - 1].replace("''", "'"))
            tokens.append(Token("string", text, depth, i))
            i = end
        elif c == "'":
            end = _quoted_end(sql, i, "'", backslashes=False)
            tokens.append(Token("string", sql[i + 1 : end - 1].replace("''", "'"), depth, i))
            i = end
        elif c == '"':
            end = _quoted_end(sql, i, '"', backslashes=False)
            tokens.append(Token("word", sql[i + 1 : end - 1].replace('""', '"'), depth, i, sql[i:end]))
            i = end
        elif c == "$" and (match := _PARAM.match(sql, i)):
            tokens.append(Token("param", match.group(0), depth, i))
            i = match.end()
        elif c == "$" and (match := _DOLLAR.match(sql, i)):
            close = sql.find(match.group(0), match.end())
            close = n if close < 0 else close
            tokens.append(Token("string", sql[match.end() : close], depth, i))
            i = min(n, close + len(match.group(0)))
        elif match := _WORD.match(sql, i):
            tokens.append(Token("word", match.group(0).lower(), depth, i, match.group(0)))
            i = match.end()
        elif match := _NUMBER.match(sql, i):
            tokens.append(Token("number", match.group(0), depth, i))
            i = match.end()
        elif c == "(":
            tokens.append(Token("op", c, depth, i))
            depth += 1
            i += 1
        elif c == ")":
            depth -= 1
            tokens.append(Token("op", c, depth, i))
            i += 1
        else:
            op = next((o for o in _OPERATORS if sql.startswith(o, i)), c)
            tokens.append(Token("op", op, depth, i))
            i += len(op)
    return tokens


def without_comments(sql: str) -> str:
    """``sql`` with every comment blanked out (same length). String literals and quoted identifiers are kept
    as they are; dollar quotes are read through (a function body is one), so comments inside them go too."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        end = _comment_end(sql, i)
        if end is not None:
            out.append(re.sub(r"[^\n]", " ", sql[i:end]))
            i = end
            continue
        c = sql[i]
        if c == "'":
            escaped = i > 0 and sql[i - 1] in "eE" and (i < 2 or not re.match(r"[A-Za-z0-9_$]", sql[i - 2]))
            end = _quoted_end(sql, i, "'", backslashes=escaped)
        elif c == '"':
            end = _quoted_end(sql, i, '"', backslashes=False)
        else:
            end = i + 1
        out.append(sql[i:end])
        i = end
    return "".join(out)


_SPACED_BEFORE_PAREN: Final = frozenset(
    {"and", "or", "not", "in", "any", "all", "exists", "as", "using", "on", "when", "then", "else", "where"}
)


_KEYWORDS: Final = frozenset(
    {
        "select", "from", "where", "and", "or", "not", "in", "is", "null", "as", "on", "using", "join", "for",
        "update", "delete", "insert", "into", "share", "no", "key", "of", "skip", "locked", "nowait", "case",
        "when", "then", "else", "end", "distinct", "returning", "set", "any", "all", "exists", "between",
        "limit", "order", "by", "true", "false", "interval", "lateral", "cross", "left",
    }
)  # fmt: skip


def render(tokens: Sequence[Token], limit: int | None = None) -> str:
    """Tokens back to one line of SQL, for snippets: keywords in capitals, long string literals shortened,
    and the whole cut at a word boundary to about ``limit`` characters."""
    out = ""
    for k, token in enumerate(tokens):
        if token.kind == "string":
            text = "'" + (token.text if len(token.text) <= 24 else "...") + "'"
        elif token.kind == "word" and token.text in _KEYWORDS:
            text = token.text.upper()
        else:
            text = token.raw or token.text
        previous = tokens[k - 1].text if k else ""
        glued = text in {".", ",", ")", "::", "[", "]", ";"} or previous in {".", "(", "::", "[", "%"}
        if text == "(" and k and tokens[k - 1].kind == "word" and previous not in _SPACED_BEFORE_PAREN:
            glued = True
        out += text if (not out or glued) else " " + text
    if limit is not None and len(out) > limit:
        cut = out.rfind(" ", 0, limit)
        out = out[: cut if cut > 0 else limit] + " ..."
    return out


# --- navigation ----------------------------------------------------------------------------------------


def _is(tokens: Sequence[Token], i: int, *words: str) -> bool:
    """The tokens from ``i`` on are these words (or operators)."""
    return all(
        i + k < len(tokens) and tokens[i + k].text == w and tokens[i + k].kind in ("word", "op")
        for k, w in enumerate(words)
    )


def _close(tokens: Sequence[Token], open_at: int) -> int:
    """The index of the ")" matching the "(" at ``open_at`` (len(tokens) when unbalanced)."""
    depth = tokens[open_at].depth
    for j in range(open_at + 1, len(tokens)):
        if tokens[j].text == ")" and tokens[j].kind == "op" and tokens[j].depth == depth:
            return j
    return len(tokens)


def _open(tokens: Sequence[Token], close_at: int) -> int:
    """The index of the "(" matching the ")" at ``close_at`` (-1 when unbalanced)."""
    depth = tokens[close_at].depth
    for j in range(close_at - 1, -1, -1):
        if tokens[j].text == "(" and tokens[j].kind == "op" and tokens[j].depth == depth:
            return j
    return -1


def _statement_end(tokens: Sequence[Token], start: int) -> int:
    """Where the statement at ``start`` ends: its ";", the ")" around it, or the end of the text."""
    depth = tokens[start].depth
    for j in range(start, len(tokens)):
        token = tokens[j]
        if token.kind == "op" and (
            (token.text == ";" and token.depth == depth) or (token.text == ")" and token.depth < depth)
        ):
            return j
    return len(tokens)


def _clause_end(tokens: Sequence[Token], start: int, end: int, depth: int, stops: Collection[str]) -> int:
    """The first of the ``stops`` keywords at ``depth`` in [start, end), else ``end``."""
    for j in range(start, end):
        token = tokens[j]
        if token.kind == "word" and token.depth == depth and token.text in stops:
            if token.text == "from" and j and tokens[j - 1].text == "distinct":
                continue  # IS [NOT] DISTINCT FROM
            return j
    return end


def _name(tokens: Sequence[Token], i: int) -> tuple[str, int]:
    """A possibly qualified name starting at ``i``: (name, index after it); ("", i) when none."""
    if i >= len(tokens) or tokens[i].kind != "word":
        return "", i
    parts, j = [tokens[i].text], i + 1
    while _is(tokens, j, ".") and j + 1 < len(tokens) and tokens[j + 1].kind == "word":
        parts.append(tokens[j + 1].text)
        j += 2
    return ".".join(parts), j


_NOT_ALIASES: Final = frozenset(
    {
        "set", "using", "where", "returning", "from", "join", "left", "right", "inner", "full", "cross",
        "natural", "on", "order", "group", "limit", "offset", "for", "window", "having", "union", "except",
        "intersect", "lateral", "with", "into", "values", "select", "default", "overriding",
    }
)  # fmt: skip


def _alias(tokens: Sequence[Token], i: int) -> tuple[str | None, int]:
    """An alias at ``i`` ([AS] name): (alias, index after it); (None, i) when none."""
    if _is(tokens, i, "as") and i + 1 < len(tokens) and tokens[i + 1].kind == "word":
        return tokens[i + 1].text, i + 2
    if i < len(tokens) and tokens[i].kind == "word" and tokens[i].text not in _NOT_ALIASES:
        return tokens[i].text, i + 1
    return None, i


def _split(tokens: Sequence[Token], start: int, end: int, depth: int) -> Iterator[tuple[int, int]]:
    """[start, end) split at the commas at ``depth``."""
    begin = start
    for j in range(start, end):
        if tokens[j].text == "," and tokens[j].kind == "op" and tokens[j].depth == depth:
            yield begin, j
            begin = j + 1
    if begin < end:
        yield begin, end


def _relations(tokens: Sequence[Token], start: int, end: int) -> dict[str, str]:
    """alias -> table for every ``schema.table [[AS] alias]`` in [start, end) (the bare table name as the
    alias when there is none)."""
    found: dict[str, str] = {}
    j = start
    while j < end:
        name, after = _name(tokens, j)
        if "." in name and not _is(tokens, after, "(") and not (j and tokens[j - 1].text == "."):
            alias, _ = _alias(tokens, after)
            found[alias or name.rsplit(".", 1)[1]] = name
            j = after
        else:
            j = max(after, j + 1)
    return found


# --- statements ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dml:
    """An UPDATE or DELETE statement."""

    verb: str  # UPDATE | DELETE
    table: str  # as written (schema-qualified in these sources)
    alias: str | None
    start: int
    end: int
    set_list: tuple[int, int] | None  # UPDATE ... SET list
    condition: tuple[int, int]  # FROM/USING ... WHERE ..., up to RETURNING

    @property
    def qualifier(self) -> str:
        """What the target's columns are qualified with."""
        return self.alias or self.table.rsplit(".", 1)[-1]


def find_dml(tokens: Sequence[Token]) -> list[Dml]:
    found: list[Dml] = []
    for i, token in enumerate(tokens):
        if token.kind != "word":
            continue
        if token.text == "update" and not (i and tokens[i - 1].text in {"do", "for", "key"}):
            j = i + 2 if _is(tokens, i + 1, "only") else i + 1
            table, j = _name(tokens, j)
            alias, j = _alias(tokens, j)
            if not table or not _is(tokens, j, "set"):
                continue
            end = _statement_end(tokens, i)
            set_end = _clause_end(tokens, j + 1, end, token.depth, {"from", "where", "returning"})
            cond_end = _clause_end(tokens, set_end, end, token.depth, {"returning"})
            found.append(Dml("UPDATE", table, alias, i, end, (j + 1, set_end), (set_end, cond_end)))
        elif token.text == "delete" and _is(tokens, i + 1, "from"):
            j = i + 3 if _is(tokens, i + 2, "only") else i + 2
            table, j = _name(tokens, j)
            alias, j = _alias(tokens, j)
            if not table:
                continue
            end = _statement_end(tokens, i)
            cond_end = _clause_end(tokens, j, end, token.depth, {"returning"})
            found.append(Dml("DELETE", table, alias, i, end, None, (j, cond_end)))
    return found


@dataclass(frozen=True)
class Upsert:
    """The DO UPDATE part of an INSERT ... ON CONFLICT."""

    table: str  # the INSERT's target ("?" when not found)
    start: int  # the INSERT (the DO when not found)
    set_list: tuple[int, int]
    where: tuple[int, int] | None  # DO UPDATE SET ... WHERE ...


def find_upserts(tokens: Sequence[Token]) -> list[Upsert]:
    found: list[Upsert] = []
    for i, token in enumerate(tokens):
        if not (token.kind == "word" and _is(tokens, i, "do", "update", "set")):
            continue
        table, start = "?", i
        for j in range(i - 1, -1, -1):
            if tokens[j].depth == token.depth and _is(tokens, j, "insert", "into"):
                table, start = _name(tokens, j + 2)[0], j
                break
        end = _statement_end(tokens, i)
        set_end = _clause_end(tokens, i + 3, end, token.depth, {"where", "returning"})
        where = None
        if _is(tokens, set_end, "where"):
            where = (set_end + 1, _clause_end(tokens, set_end + 1, end, token.depth, {"returning"}))
        found.append(Upsert(table, start, (i + 3, set_end), where))
    return found


@dataclass(frozen=True)
class Lock:
    """A FOR UPDATE / FOR NO KEY UPDATE / FOR SHARE / FOR KEY SHARE clause and its SELECT."""

    clause: tuple[int, int]
    statement: tuple[int, int]  # from its SELECT (or PL/pgSQL PERFORM) to its end
    of: tuple[str, ...]  # FOR ... OF these; empty: every relation of the statement


_STRENGTHS: Final = (("update",), ("no", "key", "update"), ("share",), ("key", "share"))


def find_locks(tokens: Sequence[Token]) -> list[Lock]:
    found: list[Lock] = []
    for i, token in enumerate(tokens):
        if not (token.kind == "word" and token.text == "for"):
            continue
        strength = next((s for s in _STRENGTHS if _is(tokens, i + 1, *s)), None)
        if strength is None:
            continue
        start = next(
            (
                j
                for j in range(i - 1, -1, -1)
                if tokens[j].depth == token.depth
                and tokens[j].kind == "word"
                and tokens[j].text in {"select", "perform"}
            ),
            i,
        )
        end = _statement_end(tokens, i)
        of: list[str] = []
        j = i + 1 + len(strength)
        if _is(tokens, j, "of"):
            j += 1
            while j < end and tokens[j].kind == "word":
                of.append(tokens[j].text)
                if not _is(tokens, j + 1, ","):
                    break
                j += 2
        found.append(Lock((i, end), (start, end), tuple(of)))
    return found


# --- rule 4: non-IMMUTABLE calls in UPDATE SET CASE/COALESCE and in ON CONFLICT DO UPDATE --------------

# Always STABLE or VOLATILE (the catalog's volatility, when given, covers every other function).
MUTABLE_CALLS: Final = frozenset(
    {
        "now", "clock_timestamp", "statement_timestamp", "transaction_timestamp", "random", "gen_random_uuid",
        "nextval", "currval", "setval", "current_setting", "timeofday",
    }
)  # fmt: skip
MUTABLE_PREFIXES: Final = ("txid_current", "pg_current_xact_id")
# SQL value functions, written without parentheses; all STABLE.
MUTABLE_KEYWORDS: Final = frozenset(
    {"current_timestamp", "localtimestamp", "current_time", "localtime", "current_date"}
)


@dataclass(frozen=True)
class Types:
    """What the scanner knows of volatilities and types.

    volatility: provolatile per function name, ``challenge.f`` for the schema's functions and the bare name
    for pg_catalog's ('i' when some overload is IMMUTABLE); variables: a function's parameters and
    declared variables -> type; columns: ``schema.table`` -> column -> type.
    """

    volatility: Mapping[str, str]
    variables: Mapping[str, str]
    columns: Mapping[str, Mapping[str, str]]


NO_TYPES: Final = Types({}, {}, {})


def normalise_type(name: str) -> str:
    name = " ".join(name.lower().split())
    return {
        "timestamp with time zone": "timestamptz",
        "timestamp without time zone": "timestamp",
        "pg_catalog.timestamptz": "timestamptz",
        "pg_catalog.interval": "interval",
    }.get(name, name)


def _call(tokens: Sequence[Token], k: int, types: Types) -> str | None:
    """The non-IMMUTABLE call at ``k`` (a function name before "(", or a SQL value keyword), if any."""
    token = tokens[k]
    if token.kind != "word" or (k and tokens[k - 1].text == "." and not _is(tokens, k + 1, "(")):
        return None
    qualified = k >= 2 and tokens[k - 1].text == "." and tokens[k - 2].kind == "word"
    schema = tokens[k - 2].text if qualified else None
    if token.text in MUTABLE_KEYWORDS and schema is None:
        return token.text
    if not _is(tokens, k + 1, "("):
        return None
    if schema == "challenge":
        name = f"challenge.{token.text}"
        return f"{name}()" if types.volatility.get(name, "?") != "i" else None
    if schema not in (None, "pg_catalog"):
        return None
    if token.text in MUTABLE_CALLS or token.text.startswith(MUTABLE_PREFIXES):
        return f"{token.text}()"
    return f"{token.text}()" if types.volatility.get(token.text, "i") != "i" else None


def _operand_type(
    tokens: Sequence[Token], k: int, step: int, types: Types, relations: Mapping[str, str], target: str
) -> str | None:
    """The type of the operand next to the operator at ``k`` (step -1: its left, +1: its right), when the
    scanner can tell: a typed literal, a cast, a variable, a column, or a parenthesised group / least /
    greatest / coalesce taking the type of the first operand it can tell inside."""

    def column(alias: str | None, name: str) -> str | None:
        table = relations.get(alias, "") if alias else target
        return types.columns.get(table, {}).get(name)

    def first_typed(open_at: int) -> str | None:
        for j in range(open_at + 1, _close(tokens, open_at)):
            typed = single(j)
            if typed is not None:
                return typed
        return None

    def single(j: int) -> str | None:
        token = tokens[j]
        if token.kind != "word":
            return None
        if j and tokens[j - 1].text == "::":
            return normalise_type(token.text)  # the type of a cast, seen from its right
        if _is(tokens, j + 1, "::") and j + 2 < len(tokens):
            return normalise_type(tokens[j + 2].text)  # a cast, seen from its left
        if (
            token.text in ("interval", "timestamptz")
            and j + 1 < len(tokens)
            and tokens[j + 1].kind == "string"
        ):
            return token.text
        if j >= 2 and tokens[j - 1].text == ".":
            return column(tokens[j - 2].text, token.text)
        if _is(tokens, j + 1, "."):
            return None
        variable = types.variables.get(token.text)
        return normalise_type(variable) if variable else column(None, token.text)

    j = k + step
    if not 0 <= j < len(tokens):
        return None
    token = tokens[j]
    if step < 0:
        if token.text == ")" and token.kind == "op":
            open_at = _open(tokens, j)
            before = tokens[open_at - 1].text if open_at > 0 else ""
            if before in ("least", "greatest", "coalesce", "nullif") or tokens[open_at - 1].kind != "word":
                return first_typed(open_at)
            return None
        if token.kind == "string" and j and tokens[j - 1].text in ("interval", "timestamptz"):
            return tokens[j - 1].text
        return single(j)
    if token.text == "(" and token.kind == "op":
        return first_typed(j)
    if token.kind == "word" and _is(tokens, j + 1, "("):
        return first_typed(j + 1) if token.text in ("least", "greatest", "coalesce", "nullif") else None
    if token.kind == "word" and _is(tokens, j + 1, "."):
        name, after = _name(tokens, j)
        alias, _, col = name.rpartition(".")
        if _is(tokens, after, "::") and after + 1 < len(tokens):
            return normalise_type(tokens[after + 1].text)
        return None if _is(tokens, after, "(") else column(alias, col)
    return single(j)


def _mutable_in(
    tokens: Sequence[Token],
    start: int,
    end: int,
    types: Types,
    relations: Mapping[str, str],
    target: str,
) -> list[str]:
    """The non-IMMUTABLE calls in [start, end), and timestamptz +/- interval (a STABLE operator)."""
    found: list[str] = []
    for k in range(start, end):
        call = _call(tokens, k, types)
        if call is not None:
            found.append(call)
        elif tokens[k].kind == "op" and tokens[k].text in ("+", "-"):
            sides = {
                _operand_type(tokens, k, -1, types, relations, target),
                _operand_type(tokens, k, +1, types, relations, target),
            }
            if sides == {"timestamptz", "interval"}:
                found.append(f"timestamptz {tokens[k].text} interval")
    return found


def _lazy_spans(tokens: Sequence[Token], start: int, end: int) -> Iterator[tuple[str, int, int]]:
    """The outermost CASE ... END and coalesce(...) spans in [start, end): (kind, first, last + 1)."""
    k = start
    while k < end:
        token = tokens[k]
        if token.kind == "word" and token.text == "case":
            level, j = 0, k
            while j < end:
                if tokens[j].kind == "word" and tokens[j].text == "case":
                    level += 1
                elif tokens[j].kind == "word" and tokens[j].text == "end":
                    level -= 1
                    if level == 0:
                        break
                j += 1
            yield "CASE", k, min(j + 1, end)
            k = j + 1
        elif token.kind == "word" and token.text == "coalesce" and _is(tokens, k + 1, "("):
            j = min(_close(tokens, k + 1), end - 1)
            yield "coalesce", k, j + 1
            k = j + 1
        else:
            k += 1


def _shown(kind: str, what: str) -> str:
    return {"CASE": f"CASE ... {what} ... END", "coalesce": f"coalesce(... {what} ...)"}.get(
        kind, f"... {what} ..."
    )


def scan_mutable_in_set(sql: str, types: Types = NO_TYPES) -> list[str]:
    """Rule 4: non-IMMUTABLE calls inside CASE/COALESCE in an UPDATE's SET list, and anywhere in an INSERT
    ... ON CONFLICT DO UPDATE SET list (or its WHERE)."""
    tokens = tokenize(sql)
    found: list[str] = []
    for dml in find_dml(tokens):
        if dml.set_list is None:
            continue
        relations = _relations(tokens, dml.start, dml.end)
        depth = tokens[dml.start].depth
        for first, last in _split(tokens, *dml.set_list, depth):
            column = render(tokens[first : first + 1])
            for kind, a, b in _lazy_spans(tokens, first, last):
                for what in _mutable_in(tokens, a, b, types, relations, dml.table):
                    found.append(f"UPDATE {dml.table} SET {column} = {_shown(kind, what)}")
    for upsert in find_upserts(tokens):
        depth = tokens[upsert.set_list[0] - 1].depth
        relations = {**_relations(tokens, upsert.start, upsert.set_list[1]), "excluded": upsert.table}
        for first, last in _split(tokens, *upsert.set_list, depth):
            column = render(tokens[first : first + 1])
            for what in _mutable_in(tokens, first, last, types, relations, upsert.table):
                found.append(
                    f"INSERT INTO {upsert.table} ON CONFLICT DO UPDATE SET {column} = ... {what} ..."
                )
        if upsert.where is not None:
            for what in _mutable_in(tokens, *upsert.where, types, relations, upsert.table):
                found.append(f"INSERT INTO {upsert.table} ON CONFLICT DO UPDATE ... WHERE ... {what} ...")
    return found


# --- rules 5 and 6: per-player rows reached by user_id ----------------------------------------------------


def _compares_user_id(tokens: Sequence[Token], start: int, end: int, qualifiers: Collection[str]) -> bool:
    """Some ``q.user_id`` (q in qualifiers; or a bare user_id) is compared with = or IN in [start, end)."""
    for k in range(start, end):
        if not (tokens[k].kind == "word" and tokens[k].text == "user_id"):
            continue
        qualified = k >= 2 and tokens[k - 1].text == "."
        if qualified and tokens[k - 2].text not in qualifiers:
            continue
        first = k - 2 if qualified else k
        if _is(tokens, k + 1, "=") or _is(tokens, k + 1, "in") or (first and tokens[first - 1].text == "="):
            return True
    return False


def _single_value(tokens: Sequence[Token], j: int) -> bool:
    """The operand at ``j`` is one value: a parameter, literal or variable, not a column or a list."""
    if j < 0 or j >= len(tokens):
        return False
    token = tokens[j]
    if token.kind in ("param", "string", "number"):
        return True
    return (
        token.kind == "word"
        and token.text not in {"any", "all", "some", "select", "null", "array", "case"}
        and not _is(tokens, j + 1, ".")
        and not _is(tokens, j + 1, "(")
        and not (j and tokens[j - 1].text == ".")
    )


def _one_player(tokens: Sequence[Token], start: int, end: int, qualifier: str, bare: bool) -> bool:
    """``qualifier.user_id = <one value>`` (either way round; a bare user_id too when ``bare``) in
    [start, end)."""
    for k in range(start, end):
        if not (tokens[k].kind == "word" and tokens[k].text == "user_id"):
            continue
        qualified = k >= 2 and tokens[k - 1].text == "."
        if (qualified and tokens[k - 2].text != qualifier) or not (qualified or bare):
            continue
        first = k - 2 if qualified else k
        if _is(tokens, k + 1, "=") and _single_value(tokens, k + 2):
            return True
        if first >= 2 and tokens[first - 1].text == "=" and _single_value(tokens, first - 2):
            return True
    return False


def scan_dml_by_user_id(sql: str, per_player: Collection[str]) -> list[str]:
    """Rule 5: every UPDATE / DELETE of a per-player table compares the target's user_id in its WHERE (or
    its FROM / USING join condition)."""
    tokens = tokenize(sql)
    found: list[str] = []
    for dml in find_dml(tokens):
        if dml.table not in per_player:
            continue
        if not _compares_user_id(tokens, *dml.condition, {dml.qualifier}):
            head = f"{dml.verb} {'FROM ' if dml.verb == 'DELETE' else ''}{dml.table}"
            head += f" AS {dml.alias}" if dml.alias else ""
            condition = render(tokens[dml.condition[0] : dml.condition[1]], limit=60)
            found.append(f"{head} {condition}".strip())
    return found


def scan_row_locks(sql: str, per_player: Collection[str]) -> list[str]:
    """Rule 6: a FOR UPDATE / NO KEY UPDATE / SHARE / KEY SHARE / SKIP LOCKED that locks a per-player table
    names one player (``alias.user_id = <value>``)."""
    tokens = tokenize(sql)
    found: list[str] = []
    for lock in find_locks(tokens):
        relations = _relations(tokens, *lock.statement)
        locked = {a: t for a, t in relations.items() if not lock.of or a in lock.of}
        for alias, table in sorted(locked.items()):
            if table in per_player and not _one_player(tokens, *lock.statement, alias, len(relations) == 1):
                clause = render(tokens[lock.clause[0] : lock.clause[1]])
                found.append(f"{table} AS {alias} ... {clause}")
    return found


# --- rule 2: ctid ---------------------------------------------------------------------------------------


def scan_ctid(sql: str) -> list[str]:
    """Rule 2: every use of ctid, comments aside: a word of the code, of a dollar-quoted body (read as code
    too), or of dynamic SQL in a string literal. The source line of each."""
    lines = sql.splitlines()

    def line_at(pos: int) -> str:
        return " ".join(lines[sql.count("\n", 0, pos)].split()) if lines else ""

    found: list[str] = []

    def scan(start: int, end: int) -> None:
        for token in tokenize(sql[start:end]):
            pos = start + token.pos
            if token.kind == "word" and token.text == "ctid":
                found.append(line_at(pos))
            elif token.kind == "string" and sql.startswith("$", pos):
                body = sql.index("$", pos + 1) + 1
                scan(body, body + len(token.text))
            elif token.kind == "string" and re.search(r"\bctid\b", without_comments(token.text), re.I):
                found.append(line_at(pos))

    scan(0, len(sql))
    return found


# --- function sources -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionSource:
    name: str  # without the schema
    body: str
    variables: dict[str, str]  # parameters and declared variables -> type

    def texts(self) -> list[str]:
        """The body, and every piece of dynamic SQL in it (adjacent literals joined by || read as one)."""
        return [self.body, *dynamic_sql(self.body)]


_STATEMENT_WORDS: Final = re.compile(r"\b(select|insert|update|delete|perform)\b", re.I)


def dynamic_sql(body: str) -> list[str]:
    """The string literals of ``body`` (runs joined by ||) that read as SQL statements."""
    tokens = tokenize(body)
    found: list[str] = []
    k = 0
    while k < len(tokens):
        if tokens[k].kind != "string":
            k += 1
            continue
        text, k = tokens[k].text, k + 1
        while _is(tokens, k, "||") and k + 1 < len(tokens) and tokens[k + 1].kind == "string":
            text, k = text + tokens[k + 1].text, k + 2
        if _STATEMENT_WORDS.search(text) and re.search(r"\bchallenge\.", text, re.I):
            found.append(text)
    return found


def _declared(tokens: Sequence[Token], start: int, end: int, separator: str) -> dict[str, str]:
    """name -> type of the declarations in [start, end) separated by ``separator`` at their depth."""
    declared: dict[str, str] = {}
    if start >= end:
        return declared
    depth = tokens[start].depth
    begin = start
    for j in range(start, end + 1):
        if j < end and not (tokens[j].text == separator and tokens[j].depth == depth):
            continue
        words = list(tokens[begin:j])
        begin = j + 1
        while words and words[0].text in {"in", "out", "inout", "variadic"}:
            words.pop(0)
        if len(words) < 2 or words[0].kind != "word":
            continue
        rest = words[2:] if words[1].text == "constant" else words[1:]
        cut = next(
            (n for n, t in enumerate(rest) if t.text in {":=", "=", "default", "not", "collate", "%"}),
            len(rest),
        )
        declared[words[0].text] = normalise_type(render(rest[:cut]))
    return declared


def parse_functions(text: str) -> list[FunctionSource]:
    """The CREATE [OR REPLACE] FUNCTION statements of ``text``."""
    tokens = tokenize(text)
    found: list[FunctionSource] = []
    for i, token in enumerate(tokens):
        if not (
            token.kind == "word"
            and token.text == "function"
            and i
            and tokens[i - 1].text in ("create", "replace")
        ):
            continue
        name, j = _name(tokens, i + 1)
        if not _is(tokens, j, "("):
            continue
        close = _close(tokens, j)
        variables = _declared(tokens, j + 1, close, ",")
        end = _statement_end(tokens, i)
        body = next(
            (
                tokens[k + 1].text
                for k in range(close, end)
                if _is(tokens, k, "as") and k + 1 < end and tokens[k + 1].kind == "string"
            ),
            "",
        )
        inner = tokenize(body)
        for k, word in enumerate(inner):
            if word.kind == "word" and word.text == "declare":
                begin = next(
                    (m for m in range(k + 1, len(inner)) if inner[m].text == "begin" and inner[m].depth == 0),
                    len(inner),
                )
                variables.update(_declared(inner, k + 1, begin, ";"))
        found.append(FunctionSource(name.rsplit(".", 1)[-1], body, variables))
    return found
