"""``pgchallenge ingest``: newline-delimited JSON events from a file or stdin, through an EventWriter.

One event per line, in the shape ``record_events`` takes. Each line is parsed and checked before it is
buffered; a line that is not a well-formed event, and an event the server rejects, is reported on stderr
with its line number and written to the reject file as ``{"line": n, "error": "...", "input": "..."}``.
Nothing stops the stream and nothing is skipped silently: every non-blank line ends up committed (or a
recognised duplicate) or in the reject file. Blank lines are not events and are ignored.

Killing the command loses nothing that mattered: events are committed in batches with their ids, so
running it again on the same input applies exactly what the first run had not.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TextIO

from pgchallenge.errors import ChallengeError
from pgchallenge.models import EventsResult
from pgchallenge.progress import ProgressBar
from pgchallenge.writer import EventWriter, InvalidEvent, check_event

__all__ = ["IngestSummary", "format_summary", "ingest_lines"]


@dataclass(frozen=True, slots=True)
class IngestSummary:
    lines: int
    submitted: int
    committed: int
    duplicate: int
    rejected: int
    seconds: float
    flushes: int
    retries: int

    @property
    def events_per_second(self) -> float:
        return self.submitted / self.seconds if self.seconds > 0 else 0.0


class _Rejects:
    """Reports rejected lines on stderr and appends them to the reject file (opened on first use)."""

    def __init__(self, path: Path, stderr: TextIO) -> None:
        self.path = path
        self.stderr = stderr
        self.count = 0
        self._file: IO[str] | None = None

    def add(self, line_number: int, error: str, text: str) -> None:
        self.count += 1
        self.stderr.write(f"line {line_number}: rejected: {error}\n")
        if self._file is None:
            self._file = self.path.open("a", encoding="utf-8")
        record = {"line": line_number, "error": error, "input": text}
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class _OpenEndedBar(ProgressBar):
    """A progress line for input of unknown length (stdin): count and rate, no bar."""

    def render(self, now: float | None = None) -> str:
        elapsed = (now if now is not None else time.perf_counter()) - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        prefix = f"{self.label} " if self.label else ""
        return f"{prefix}{self.done:,}  {rate:,.0f}/s"


def _parse(text: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc.msg} at column {exc.colno}"
    if not isinstance(document, dict):
        return None, f"an event must be a JSON object, got {type(document).__name__}"
    problem = check_event(document)
    if problem is not None:
        return None, problem
    return document, None


def ingest_lines(
    lines: Iterable[str],
    writer: EventWriter,
    *,
    reject_file: Path,
    total: int | None = None,
    stderr: TextIO | None = None,
) -> IngestSummary:
    """Stream ``lines`` through ``writer`` (which this closes); returns what happened."""
    err = stderr if stderr is not None else sys.stderr
    rejects = _Rejects(reject_file, err)
    bar: ProgressBar = (
        ProgressBar(total, label="ingest", stream=err)
        if total is not None
        else _OpenEndedBar(0, label="ingest", stream=err)
    )
    started = time.perf_counter()
    line_number = 0
    pending: dict[int, tuple[Future[EventsResult], str]] = {}

    def settle(done_only: bool) -> None:
        # Failed futures become rejects here, on this thread, in line order.
        for number in sorted(pending):
            future, text = pending[number]
            if done_only and not future.done():
                continue
            del pending[number]
            error = future.exception()
            if error is not None:
                message = error.message if isinstance(error, ChallengeError) else str(error).strip()
                rejects.add(number, f"server: {message}", text)

    try:
        for raw in lines:
            line_number += 1
            text = raw.rstrip("\r\n")
            if not text.strip():
                continue
            document, problem = _parse(text)
            if document is None:
                rejects.add(line_number, problem or "malformed", text)
            else:
                try:
                    future = writer.submit(document, timeout=None)
                except InvalidEvent as exc:  # pragma: no cover - _parse ran the same checks
                    rejects.add(line_number, str(exc), text)
                else:
                    pending[line_number] = (future, text)
            if line_number % 1000 == 0:
                settle(done_only=True)
                stats = writer.stats
                bar.update(stats.committed + stats.failed + rejects.count - bar.done)
        writer.close()
        settle(done_only=False)
        stats = writer.stats
        bar.update(stats.committed + stats.failed + rejects.count - bar.done)
    finally:
        writer.close()
        bar.close()
        rejects.close()
    return IngestSummary(
        lines=line_number,
        submitted=stats.submitted,
        committed=stats.committed,
        duplicate=stats.duplicate,
        rejected=rejects.count,
        seconds=time.perf_counter() - started,
        flushes=stats.flushes,
        retries=stats.retries,
    )


def format_summary(summary: IngestSummary, reject_file: Path) -> str:
    lines = [
        f"lines read:        {summary.lines:,}",
        f"events committed:  {summary.committed:,} ({summary.duplicate:,} already recorded: duplicates)",
        f"lines rejected:    {summary.rejected:,}" + (f" (see {reject_file})" if summary.rejected else ""),
        f"throughput:        {summary.events_per_second:,.0f} events/s over {summary.seconds:.1f} s"
        f" ({summary.flushes:,} flushes, {summary.retries:,} retries)",
    ]
    return "\n".join(lines)


def count_lines(path: Path) -> int:
    """Lines in a file (for the progress bar's total), read in binary chunks."""
    count = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            count += chunk.count(b"\n")
    return count
