"""Counters summed in-process and exported at collection.

An SDK ``Counter.add`` cleans and hashes its attributes on every call (tens
of microseconds with a GenAI call's eight attributes); a :class:`Totals`
adds to a float under a lock, and an observable counter's callback reports
the cumulative sums when metrics are collected, off the request path. The
attribute sets are those of metrics that are already bounded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

__all__ = ["Totals"]


class Totals:
    """Cumulative sums per attribute set, exported as an observable counter."""

    __slots__ = ("_lock", "_sums")

    def __init__(self, meter: Meter, name: str, unit: str, description: str) -> None:
        self._sums: dict[frozenset[tuple[str, Any]], float] = {}
        self._lock = threading.Lock()
        meter.create_observable_counter(
            name, callbacks=[self._observe], unit=unit, description=description
        )

    def add(self, amount: float, attributes: Mapping[str, Any]) -> None:
        """Add ``amount`` (>= 0) to the sum of ``attributes``."""
        key = frozenset(attributes.items())
        with self._lock:
            self._sums[key] = self._sums.get(key, 0.0) + amount

    def _observe(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            items = list(self._sums.items())
        return [Observation(total, dict(key)) for key, total in items]
