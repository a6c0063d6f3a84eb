"""``pgchallenge ingest``: newline-delimited JSON events from a file or stdin, through an EventWriter.

One event per line, in the shape ``record_events`` takes. Each line is parsed and checked before it is
buffered; a line that is not a well-formed event, and an event the server rejects, is reported on stderr
with its line number and written to the reject file as ``{"line": n, "error": "...", "input": "..."}``.
Nothing stops the stream and nothing is skipped silently: every non-blank line ends up committed (or a
recognised duplicate), in the reject file, or (by source position) counted as skipped. Blank lines are
not events and are ignored.

Killing the command loses nothing that mattered: events are committed in batches with their ids, so
running it again on the same input applies exactly what the first run had not.

By source position (``--source NAME [--partition P] [--position-field FIELD]``), the input is an ordered
source and the lines need no event ids: each line's position is its line number (1-based, blank lines
count), or the integer in its field FIELD (moved to the event's ``position``; positions must increase
down the input). The command takes the partition over when it starts (``acquire_source``: a new epoch,
so an older run still going is fenced off) and skips, without sending them, the lines at or below the
position the partition had reached: a rerun of the same input sends nothing, a file that grew sends only
its new lines, a killed run is resumed where its last committed batch ended.
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
from pgchallenge.models import EventOutcome
from pgchallenge.progress import ProgressBar
from pgchallenge.writer import MAX_POSITION, EventWriter, InvalidEvent, _is_integer, check_event

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
    # By source position only: lines skipped as applied by an earlier run, and where the partition was.
    skipped: int = 0
    source: str | None = None
    partition: str = ""
    epoch: int | None = None
    resume_position: int | None = None

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
    """The line's JSON object, or what is wrong with it."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc.msg} at column {exc.colno}"
    if not isinstance(document, dict):
        return None, f"an event must be a JSON object, got {type(document).__name__}"
    return document, None


@dataclass(frozen=True, slots=True)
class _SourceLines:
    """By source position: where each line's position comes from, and which lines an earlier run applied
    (at or below ``resume``, the partition's position when this run acquired it)."""

    field: str | None
    resume: int | None

    def skip_unread(self, line_number: int) -> bool:
        """Positions are line numbers: a line at or below the resume position is skipped unparsed."""
        return self.field is None and self.resume is not None and line_number <= self.resume

    def place(self, document: dict[str, Any], line_number: int) -> str | None:
        """Give the event its ``position``; what is wrong if it cannot have one."""
        if self.field is None:
            if "position" in document:
                return 'the line has a "position"; without --position-field the line number is the position'
            document["position"] = line_number
            return None
        if self.field not in document:
            return f"no {self.field!r} field to take the position from"
        value = document.pop(self.field)
        if "position" in document:
            return f'the line has a "position" besides its {self.field!r} field'
        document["position"] = value
        return None

    def applied_before(self, document: dict[str, Any]) -> bool:
        position = document["position"]
        return self.resume is not None and _is_integer(position, 0, MAX_POSITION) and position <= self.resume


def ingest_lines(
    lines: Iterable[str],
    writer: EventWriter,
    *,
    reject_file: Path,
    total: int | None = None,
    stderr: TextIO | None = None,
    position_field: str | None = None,
) -> IngestSummary:
    """Stream ``lines`` through ``writer`` (which this closes); returns what happened.

    With a writer that has a source, each event's position is its line number, or its ``position_field``
    (moved to ``position``), and lines at or below ``writer.resume_position`` are skipped.
    """
    err = stderr if stderr is not None else sys.stderr
    rejects = _Rejects(reject_file, err)
    bar: ProgressBar = (
        ProgressBar(total, label="ingest", stream=err)
        if total is not None
        else _OpenEndedBar(0, label="ingest", stream=err)
    )
    sourced = writer.source is not None
    source_lines = _SourceLines(position_field, writer.resume_position) if sourced else None
    started = time.perf_counter()
    line_number = 0
    skipped = 0
    pending: dict[int, tuple[Future[EventOutcome], str]] = {}

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

    def show_progress() -> None:
        stats = writer.stats
        bar.update(stats.committed + stats.failed + rejects.count + skipped - bar.done)

    try:
        for raw in lines:
            line_number += 1
            if source_lines is not None and source_lines.skip_unread(line_number):
                skipped += 1
                continue
            text = raw.rstrip("\r\n")
            if not text.strip():
                continue
            document, problem = _parse(text)
            if document is not None and source_lines is not None:
                problem = source_lines.place(document, line_number)
                if problem is None and source_lines.applied_before(document):
                    skipped += 1
                    continue
            if document is not None and problem is None:
                problem = check_event(document, sourced=sourced)
            if document is None or problem is not None:
                rejects.add(line_number, problem or "malformed", text)
            else:
                try:
                    future = writer.submit(document, timeout=None)
                except InvalidEvent as exc:  # a position not above the previous line's
                    rejects.add(line_number, str(exc), text)
                else:
                    pending[line_number] = (future, text)
            if line_number % 1000 == 0:
                settle(done_only=True)
                show_progress()
        writer.close()
        settle(done_only=False)
        show_progress()
    finally:
        writer.close()
        bar.close()
        rejects.close()
    stats = writer.stats
    return IngestSummary(
        lines=line_number,
        submitted=stats.submitted,
        committed=stats.committed,
        duplicate=stats.duplicate,
        rejected=rejects.count,
        seconds=time.perf_counter() - started,
        flushes=stats.flushes,
        retries=stats.retries,
        skipped=skipped,
        source=writer.source,
        partition=writer.source_partition,
        epoch=writer.epoch,
        resume_position=writer.resume_position,
    )


def format_summary(summary: IngestSummary, reject_file: Path) -> str:
    lines = [
        f"lines read:        {summary.lines:,}",
        f"events committed:  {summary.committed:,} ({summary.duplicate:,} already recorded: duplicates)",
        f"lines rejected:    {summary.rejected:,}" + (f" (see {reject_file})" if summary.rejected else ""),
        f"throughput:        {summary.events_per_second:,.0f} events/s over {summary.seconds:.1f} s"
        f" ({summary.flushes:,} flushes, {summary.retries:,} retries)",
    ]
    if summary.source is not None:
        resume = summary.resume_position
        lines[1:1] = [
            f"source:            {summary.source!r} partition {summary.partition!r}, epoch {summary.epoch},"
            + (" nothing applied before" if resume is None else f" resumed after position {resume:,}"),
            f"lines skipped:     {summary.skipped:,} (at or below the resume position: applied before)",
        ]
    return "\n".join(lines)


def count_lines(path: Path) -> int:
    """Lines in a file (for the progress bar's total), read in binary chunks."""
    count = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            count += chunk.count(b"\n")
    return count
