"""No test depends on the date it runs on: its dates come from the server's clock (tests/serverclock.py).

The functions compare occurred_at, periods and expiries with the server's now(), and CI runs one leg with
the server's clock shifted (to 2032-02-29 00:01 UTC, a Sunday night just after midnight) while this
process keeps the real one. A literal date in a test is "past" or "future" only until the calendar, or
that leg, moves past it; so is a date taken from this process's clock. This test scans tests/**/*.py for

- a calendar date in a string literal (``YYYY-MM-DD`` with a year 1900-2099, f-strings included),
- a ``datetime`` or ``date`` built from a literal year (``datetime(2026, 11, 27)``),
- a read of this process's clock (``datetime.now()``, ``datetime.utcnow()``, ``date.today()``,
  ``time.time()``),

and fails unless the case is marked as one the clock cannot change, by a comment:

- ``# pure: <why>``: the code under test is a pure function of the literal (``_period_start`` of a fixed
  instant, a form accepted whatever its date);
- ``# invalid-date: <why>``: the literal is malformed input that must be refused (no zone, no such day).

The marker goes on the line where the literal ends, or on the first line of the statement that holds it
(one marker for a whole table: ``BOUNDARIES = [  # pure: ...``). Comments and docstrings are not scanned.
Whole files are exempt only through ALLOWED_FILES, each with its reason; an entry that no longer exempts
anything fails as well, so the list stays short.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

ALLOWED_FILES: dict[str, str] = {
    "tests/sql/test_timestamps.py": (
        "timestamp syntax cases, none compared with now(); its one write uses the earliest and latest "
        "accepted instants (1900 and 9998), on either side of any server's clock"
    ),
    "tests/client/test_client_models.py": "the Python models' serialisation: no server, no clock",
}

DATE = re.compile(r"(?<![\d-])(?:19|20)\d\d-\d\d-\d\d")
YEAR = re.compile(r"(?:19|20)\d\d")
MARKER = re.compile(r"#\s*(?:pure|invalid-date):\s*\S")
CLOCK_READS = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today")}
CLOCK_READS |= {("time", "time")}
SKIPPED_TYPES = {
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.COMMENT,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
}


@dataclass(frozen=True)
class Finding:
    line: int
    what: str


def _is_text(token: tokenize.TokenInfo) -> bool:
    """A string literal's text: STRING, or the literal parts of an f-string (Python 3.12+ tokenizes those)."""
    name = tokenize.tok_name[token.type]
    return name == "STRING" or name.endswith("STRING_MIDDLE")


def _is_string_part(token: tokenize.TokenInfo) -> bool:
    name = tokenize.tok_name[token.type]
    return name == "STRING" or "STRING_" in name


def _statements(source: str) -> Iterator[list[tokenize.TokenInfo]]:
    """The tokens of each logical line (a statement, however many physical lines it spans)."""
    statement: list[tokenize.TokenInfo] = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        statement.append(token)
        if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            yield statement
            statement = []
    if statement:
        yield statement


def _statement_findings(statement: list[tokenize.TokenInfo]) -> Iterator[Finding]:
    comments = {t.start[0]: t.string for t in statement if t.type == tokenize.COMMENT}
    code = [t for t in statement if t.type not in SKIPPED_TYPES]
    if not code or all(_is_string_part(t) for t in code):
        return  # nothing, or a docstring
    first_line = code[0].start[0]

    def marked(line: int) -> bool:
        return any(MARKER.search(comments.get(n, "")) for n in (line, first_line))

    for index, token in enumerate(code):
        after = [t.string for t in code[index + 1 : index + 4]]
        if _is_text(token):
            for match in DATE.finditer(token.string):
                if not marked(token.end[0]):
                    yield Finding(token.end[0], f"date literal {match.group(0)!r}")
        elif token.type != tokenize.NAME:
            continue
        elif token.string in ("datetime", "date") and after[:1] == ["("] and len(after) > 1:
            year = code[index + 2]
            if year.type == tokenize.NUMBER and YEAR.fullmatch(year.string) and not marked(year.end[0]):
                yield Finding(year.start[0], f"{token.string}({year.string}, ...) from a literal year")
        elif (
            after[::2] == [".", "("]
            and (token.string, after[1]) in CLOCK_READS
            and not marked(token.start[0])
        ):
            yield Finding(token.start[0], f"{token.string}.{after[1]}(): this process's clock")


def findings(source: str) -> list[Finding]:
    """The unmarked dates and clock reads of one module's source."""
    return [f for statement in _statements(source) for f in _statement_findings(statement)]


def _modules() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts)


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_no_test_takes_a_date_from_the_calendar_or_this_processs_clock() -> None:
    problems = [
        f"{_name(path)}:{f.line}: {f.what}"
        for path in _modules()
        if _name(path) not in ALLOWED_FILES
        for f in findings(path.read_text(encoding="utf-8"))
    ]
    assert not problems, (
        "dates must come from the server's clock (the server_clock fixture, tests/serverclock.py); mark a"
        " pure-function or malformed-input case with '# pure: <why>' or '# invalid-date: <why>':\n"
        + "\n".join(problems)
    )


@pytest.mark.parametrize("name", sorted(ALLOWED_FILES))
def test_every_allowed_file_is_still_needed(name: str) -> None:
    path = ROOT / name
    assert path.is_file(), f"{name} is gone: drop it from ALLOWED_FILES"
    assert findings(path.read_text(encoding="utf-8")), f"{name} has no calendar date left: drop it"


SCANNER_CASES = [  # pure: source text for the scanner, never run
    ('AT = "2026-11-27T10:00:00Z"\n', 1),
    ('AT = f"{day}T10:00Z" + "2030-01-07"\n', 1),
    ("AT = datetime(2026, 11, 27, tzinfo=timezone.utc)\n", 1),
    ("AT = dt.date(2030, 1, 1)\n", 1),
    ("now = datetime.now(timezone.utc)\nthen = time.time()\n", 2),
    ('AT = "2026-02-30T10:00:00Z"  # invalid-date: no such day\n', 0),
    ('AT = "2026-02-30T10:00:00Z"  # invalid-date:\n', 1),  # a marker names its reason
    ('TABLE = [  # pure: a pure function\n    "2026-11-27",\n    "2027-01-01",\n]\n', 0),
    ('TABLE = [\n    "2026-11-27",  # pure: this one\n    "2027-01-01",\n]\n', 1),
    ('SQL = """\nSELECT \'2001-01-01\'::date\n"""  # pure: never run\n', 0),
    ('def f() -> None:\n    """Since 2026-11-27."""\n    # 2030-01-07, in a comment\n', 0),
    ('ID = "e-2026-11"\nWHEN = later(days=2030)\nDELTA = "12026-12-01"\n', 0),
    ("AT = server_clock.now\nSTART = datetime.min\n", 0),
]


@pytest.mark.parametrize(("source", "expected"), SCANNER_CASES)
def test_the_scanner_sees_dates_clock_reads_and_markers(source: str, expected: int) -> None:
    assert len(findings(source)) == expected, findings(source)
