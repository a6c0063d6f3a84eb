"""A tiny dependency-free progress bar for long CLI runs (written to stderr)."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO


class ProgressBar:
    """Redraws one line in place: ``label [#####.....]  45%  135,000/300,000  12,345/s``.

    On a terminal the line is redrawn at most ``1 / refresh`` times a second (redrawing on every update
    would cost more than the work it reports). When the stream is not a terminal (a log file, a test's
    captured output) only the final line is written, so logs do not fill with carriage returns.
    """

    def __init__(
        self,
        total: int,
        *,
        label: str = "",
        stream: TextIO | None = None,
        width: int = 30,
        refresh: float = 0.1,
    ) -> None:
        self.total = max(total, 0)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.refresh = refresh
        self.done = 0
        self.started = time.perf_counter()
        self._last_draw = 0.0
        self._closed = False
        self._interactive = _isatty(self.stream)

    def update(self, count: int = 1) -> None:
        self.done += count
        now = time.perf_counter()
        if self._interactive and now - self._last_draw >= self.refresh:
            self._last_draw = now
            self._draw(now, end="")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._draw(time.perf_counter(), end="\n")

    def render(self, now: float | None = None) -> str:
        """The bar's text for the current state (no carriage return)."""
        elapsed = (now if now is not None else time.perf_counter()) - self.started
        fraction = min(self.done / self.total, 1.0) if self.total else 1.0
        filled = round(fraction * self.width)
        rate = self.done / elapsed if elapsed > 0 else 0.0
        bar = "#" * filled + "." * (self.width - filled)
        prefix = f"{self.label} " if self.label else ""
        return f"{prefix}[{bar}] {fraction:4.0%}  {self.done:,}/{self.total:,}  {rate:,.0f}/s"

    def _draw(self, now: float, *, end: str) -> None:
        self.stream.write("\r" + self.render(now) + end if self._interactive else self.render(now) + end)
        self.stream.flush()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
