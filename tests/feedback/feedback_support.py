"""Clocks and types shared by the feedback tests."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

from otel_ml.config import Settings

UseSettings = Callable[..., Settings]


class Clock:
    """A monotonic clock that moves only when told (thread-safe)."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


class TickingClock:
    """A clock that moves ``step`` seconds on every reading (thread-safe under the GIL)."""

    def __init__(self, step: float) -> None:
        self._ticks = itertools.count()
        self._step = step

    def __call__(self) -> float:
        return next(self._ticks) * self._step
