"""A bounded store of recent predictions, keyed by prediction id. No OpenTelemetry here.

Bounded by count and by age: past ``capacity`` the oldest predictions are
evicted (a small batch at a time, so the request path pays for eviction once
per batch), and predictions older than ``ttl_s`` are evicted as inserts and
lookups pass them. Insert and lookup are O(1) (amortised for eviction). Ids of
evicted and already labelled predictions are remembered in bounded side
tables, so a late or repeated label is told apart from a wrong id.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Literal, NamedTuple

from otel_ml._internal.registry import reset_after_fork

Outcome = Literal["matched", "unknown", "expired", "duplicate"]

_MAX_BATCH = 64


class StoredPrediction(NamedTuple):
    """What a label needs of its prediction, as :meth:`PredictionStore.take` returns it.

    The store keeps each prediction as a plain tuple of these fields, in this
    order, holding only strings, numbers and tuples of them: the garbage
    collector stops tracking such tuples, so a full store (100k predictions by
    default) adds nothing to the pauses of the server's collections.
    """

    created_s: float
    """The store's clock (:meth:`PredictionStore.now`) at the prediction."""
    recorder: int
    """The key of the model's feedback recorder."""
    label: str | None = None
    """Single-row classification: the predicted class."""
    value: float | None = None
    """Single-row regression: the predicted value."""
    score: float | None = None
    row_labels: tuple[str, ...] | None = None
    """Batch classification: the predicted class per row (bounded)."""
    row_values: tuple[float, ...] | None = None
    """Batch regression: the predicted value per row (bounded)."""
    segments: tuple[tuple[str, str], ...] | None = None
    trace_id: int = 0
    span_id: int = 0
    trace_flags: int = 0
    """The prediction's span, for the feedback span's link."""


Record = tuple[
    float,
    int,
    str | None,
    float | None,
    float | None,
    tuple[str, ...] | None,
    tuple[float, ...] | None,
    tuple[tuple[str, str], ...] | None,
    int,
    int,
    int,
]
"""A stored prediction: the fields of :class:`StoredPrediction`, as a plain tuple."""


class PredictionStore:
    """Recent predictions by id, bounded by ``capacity`` and ``ttl_s``.

    The request path only appends to a list: predictions are indexed and old
    ones evicted a batch at a time (up to 64; one for stores of under 128),
    under the lock, by the put that fills a batch and by every :meth:`take`.
    So the store holds at most ``capacity`` indexed predictions plus one
    unfinished batch, and a batch leaves by count or age as a whole; a label
    for a prediction past its TTL is ``expired`` even before its batch leaves.
    """

    def __init__(
        self, capacity: int, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if capacity < 1 or ttl_s <= 0:
            raise ValueError("capacity and ttl_s must be positive")
        self.capacity = capacity
        self.ttl_s = ttl_s
        self.now: Callable[[], float] = clock
        """The store's clock (monotonic seconds), the time base of ``created_s``."""
        self._batch_size = max(1, min(_MAX_BATCH, capacity // 64))
        self._reset()
        reset_after_fork(self, PredictionStore._reset)

    def _reset(self) -> None:
        # Also the after-fork hook: each worker joins labels to its own predictions.
        self._lock = threading.Lock()
        self._pending: list[tuple[str, Record]] = []
        self._live: dict[str, Record] = {}
        self._batches: deque[list[tuple[str, Record]]] = deque()
        self._evicted = _RecentIds(self.capacity)
        self._labelled = _RecentIds(self.capacity)

    def __len__(self) -> int:
        return len(self._live) + len(self._pending)

    def put(self, prediction_id: str, record: Record) -> None:
        """Remember a prediction (a second put for the same id replaces the first)."""
        pending = self._pending
        pending.append((prediction_id, record))  # atomic: no lock on the request path
        if len(pending) >= self._batch_size:
            with self._lock:
                self._index(record[0])

    def take(self, prediction_id: str) -> tuple[Outcome, StoredPrediction | None]:
        """Remove and return the prediction a label refers to, or why there is none."""
        now = self.now()
        with self._lock:
            self._index(now)
            found = self._live.pop(prediction_id, None)
            if found is not None:
                if now - found[0] >= self.ttl_s:
                    self._evicted.add(prediction_id)
                    return "expired", None
                self._labelled.add(prediction_id)
                return "matched", StoredPrediction._make(found)
            if prediction_id in self._labelled:
                return "duplicate", None
            if prediction_id in self._evicted:
                return "expired", None
            return "unknown", None

    def _index(self, now: float) -> None:
        """Index the pending predictions as one batch, then evict old batches."""
        pending = self._pending
        batch = pending[:]  # puts may append meanwhile: take exactly what was copied
        del pending[: len(batch)]
        live, batches = self._live, self._batches
        if batch:
            live.update(batch)
            batches.append(batch)
        while batches and (len(live) > self.capacity or now - batches[0][-1][1][0] >= self.ttl_s):
            gone = [pid for pid, prediction in batches.popleft() if live.get(pid) is prediction]
            for pid in gone:
                del live[pid]
            self._evicted.update(gone)


class _RecentIds:
    """The last ``capacity`` ids added: a ring of ids plus a set for lookups."""

    __slots__ = ("_capacity", "_ids", "_order")

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._order: deque[str] = deque(maxlen=capacity)
        self._ids: set[str] = set()

    def add(self, key: str) -> None:
        self.update([key])

    def update(self, keys: list[str]) -> None:
        # Set and deque operations on whole batches run in C: eviction is on the request path.
        order, capacity = self._order, self._capacity
        keys = keys[-capacity:]
        overflow = len(order) + len(keys) - capacity
        if overflow > 0:  # these are about to fall off the ring
            self._ids.difference_update(itertools.islice(order, overflow))
        order.extend(keys)
        self._ids.update(keys)

    def __contains__(self, key: str) -> bool:
        return key in self._ids

    def __len__(self) -> int:
        return len(self._order)
