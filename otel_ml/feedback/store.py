"""A bounded store of recent predictions, keyed by prediction id. No OpenTelemetry here.

Bounded by count and by age: inserting past ``capacity`` evicts the oldest
prediction, and predictions older than ``ttl_s`` are evicted as inserts and
lookups pass them. Insert and lookup are O(1) (amortised for eviction) under
one lock that is never held across user code. Ids of evicted and already
labelled predictions are remembered in bounded side tables, so a late or
repeated label is told apart from a wrong id.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from otel_ml._internal.registry import reset_after_fork

Outcome = Literal["matched", "unknown", "expired", "duplicate"]


@dataclass(slots=True)
class StoredPrediction:
    """What a label needs of its prediction."""

    model: Any
    """The model's context (name, version, telemetry)."""
    label: str | None = None
    labels: list[str] | None = None
    """Batch classification: the predicted class per row (bounded)."""
    value: float | None = None
    values: list[float] | None = None
    """Batch regression: the predicted value per row (bounded)."""
    score: float | None = None
    segments: Mapping[str, str] | None = None
    trace_id: int = 0
    span_id: int = 0
    trace_flags: int = 0
    created_s: float = 0.0
    """Monotonic time of the prediction."""


class PredictionStore:
    """Recent predictions by id, bounded by ``capacity`` and ``ttl_s``."""

    def __init__(
        self, capacity: int, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if capacity < 1 or ttl_s <= 0:
            raise ValueError("capacity and ttl_s must be positive")
        self.capacity = capacity
        self.ttl_s = ttl_s
        self._clock = clock
        self._reset()
        reset_after_fork(self, PredictionStore._reset)

    def _reset(self) -> None:
        # Also the after-fork hook: each worker joins labels to its own predictions.
        self._lock = threading.Lock()
        self._live: OrderedDict[str, StoredPrediction] = OrderedDict()
        self._evicted = _RecentIds(self.capacity)
        self._labelled = _RecentIds(self.capacity)

    def now(self) -> float:
        """The store's clock (monotonic seconds), the time base of ``created_s``."""
        return self._clock()

    def __len__(self) -> int:
        return len(self._live)

    def put(self, prediction_id: str, prediction: StoredPrediction) -> None:
        """Remember a prediction (a second put for the same id replaces the first)."""
        prediction.created_s = now = self._clock()
        with self._lock:
            live = self._live
            live[prediction_id] = prediction
            live.move_to_end(prediction_id)
            while len(live) > self.capacity:
                self._evict_first()
            self._expire(now)

    def take(self, prediction_id: str) -> tuple[Outcome, StoredPrediction | None]:
        """Remove and return the prediction a label refers to, or why there is none."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            found = self._live.pop(prediction_id, None)
            if found is not None:
                self._labelled.add(prediction_id)
                return "matched", found
            if prediction_id in self._labelled:
                return "duplicate", None
            if prediction_id in self._evicted:
                return "expired", None
            return "unknown", None

    def _expire(self, now: float) -> None:
        live = self._live
        while live:
            oldest = next(iter(live.values()))
            if now - oldest.created_s < self.ttl_s:
                return
            self._evict_first()

    def _evict_first(self) -> None:
        prediction_id, _ = self._live.popitem(last=False)
        self._evicted.add(prediction_id)


class _RecentIds:
    """The last ``capacity`` ids added: a ring of ids plus a set for lookups."""

    __slots__ = ("_ids", "_order")

    def __init__(self, capacity: int) -> None:
        self._order: deque[str] = deque(maxlen=capacity)
        self._ids: set[str] = set()

    def add(self, key: str) -> None:
        if len(self._order) == self._order.maxlen:
            self._ids.discard(self._order[0])  # about to fall off the ring
        self._order.append(key)
        self._ids.add(key)

    def __contains__(self, key: str) -> bool:
        return key in self._ids

    def __len__(self) -> int:
        return len(self._order)
