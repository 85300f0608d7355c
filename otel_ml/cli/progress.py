"""A one-line progress report on standard error while a long file is read.

Shown only when standard error is a terminal (a pipe or a CI log gets the
summary alone) and only for files large enough to take a moment; the line is
redrawn at most a few times a second and erased when reading ends.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from otel_ml.cli.tabular import Progress

__all__ = ["reading"]

_MIN_BYTES = 8 * 1024 * 1024  # smaller files read in well under a second
_REDRAW_S = 0.25


class _Line:
    def __init__(self, label: str, stream: TextIO) -> None:
        self.label = label
        self.stream = stream
        self.shown = 0
        self.drawn_at = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.drawn_at < _REDRAW_S:
            return
        self.drawn_at = now
        percent = min(100, done * 100 // max(total, 1))
        text = f"{self.label}: {percent:3d}% of {total / 1e6:,.0f} MB"
        self.stream.write("\r" + text.ljust(self.shown))
        self.stream.flush()
        self.shown = len(text)

    def erase(self) -> None:
        if self.shown:
            self.stream.write("\r" + " " * self.shown + "\r")
            self.stream.flush()


@contextmanager
def reading(path: str | Path, stream: TextIO | None = None) -> Iterator[Progress | None]:
    """A progress callback for :func:`~otel_ml.cli.tabular.read_table` (or ``None``
    where no line should be drawn); the line is erased when the block ends."""
    out = sys.stderr if stream is None else stream
    try:
        big = Path(path).stat().st_size >= _MIN_BYTES
    except OSError:
        big = False
    if not (big and out.isatty()):
        yield None
        return
    line = _Line(f"reading {Path(path).name}", out)
    try:
        yield line
    finally:
        line.erase()
