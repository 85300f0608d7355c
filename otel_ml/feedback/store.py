"""A bounded store of recent predictions, keyed by prediction id. No OpenTelemetry here.

Predictions live in a few generations: dicts filled one after another, the
newest taking the inserts. A put is one dict insert (atomic under the GIL, no
lock); the put that finds a generation full starts the next one and, under the
lock, drops the oldest generations whole while the store would otherwise hold
more than ``capacity``, and those whose newest prediction is older than
``ttl_s``. So the request path pays for eviction once per generation, in C
(whole dicts leave at once), and the store keeps between about 15/16 of
``capacity`` and ``capacity`` recent predictions. A label is looked up in
every generation, newest first (16 dict lookups at most). Ids of evicted and
already labelled predictions are remembered in bounded side tables, so a late
or repeated label is told apart from a wrong id.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Literal, NamedTuple, Protocol

from otel_ml._internal.registry import reset_after_fork

Outcome = Literal["matched", "unknown", "expired", "duplicate", "store_unavailable"]
OUTCOMES: tuple[Outcome, ...] = ("matched", "unknown", "expired", "duplicate", "store_unavailable")

GENERATIONS = 16
"""How many generations a full store holds (fewer for stores of under 16)."""


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


class Store(Protocol):
    """What a feedback recorder and the label join need of a prediction store.

    :class:`PredictionStore` keeps predictions in this process; the shared
    stores of :mod:`otel_ml.feedback.stores` keep them for every worker and
    replica (``OTEL_ML_FEEDBACK_STORE``).
    """

    capacity: int
    ttl_s: float

    def now(self) -> float:
        """The store's clock, the time base of ``created_s``."""

    def bind(self, key: int, model_name: str, model_version: str) -> None:
        """Recorder ``key`` of this process remembers predictions of that model."""

    def put(self, prediction_id: str, record: Record) -> None:
        """Remember a prediction (request path: O(1), no I/O)."""

    def take(
        self, prediction_id: str, grace_until: float | None = None
    ) -> tuple[Outcome, StoredPrediction | None]:
        """Remove and return the prediction a label refers to, or why there is none;
        an ``unknown`` one is looked for again until ``time.monotonic()`` reaches
        ``grace_until`` (shared stores: its write may still be on its way)."""

    def close(self) -> None:
        """Write what is buffered and let go of connections."""


class PredictionStore:
    """Recent predictions by id, bounded by ``capacity`` and ``ttl_s``.

    Holds at most ``capacity`` predictions (plus one per thread that is putting
    at that very moment); predictions leave by count or age a generation
    (``capacity / 16``) at a time, and a label for a prediction past its TTL
    is ``expired`` even before its generation leaves.
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
        self._generation_size = max(1, capacity // GENERATIONS)
        self._reset()
        reset_after_fork(self, PredictionStore._reset)

    def _reset(self) -> None:
        # Also the after-fork hook: each worker joins labels to its own predictions.
        self._lock = threading.Lock()
        self._newest: dict[str, Record] = {}
        self._generations: deque[dict[str, Record]] = deque([self._newest])
        self._evicted = _RecentIds(self.capacity)
        self._labelled = _RecentIds(self.capacity)

    def __len__(self) -> int:
        """Predictions held (an id put twice counts twice until the older one leaves)."""
        with self._lock:
            return sum(map(len, self._generations))

    def bind(self, key: int, model_name: str, model_version: str) -> None:
        """Nothing to do: records name their recorder by its key in this process."""

    def close(self) -> None:
        """Nothing to do: the predictions live and die with this process."""

    def put(self, prediction_id: str, record: Record) -> None:
        """Remember a prediction; a second put for the same id replaces the first
        (the next :meth:`take` of that id returns the newer one)."""
        newest = self._newest
        if len(newest) >= self._generation_size:
            newest = self._next_generation(newest)
        newest[prediction_id] = record  # atomic: no lock on the request path

    def take(
        self, prediction_id: str, grace_until: float | None = None
    ) -> tuple[Outcome, StoredPrediction | None]:
        """Remove and return the prediction a label refers to, or why there is none
        (no grace: a prediction of this process is here once ``put`` returned)."""
        now = self.now()
        with self._lock:
            found = None
            for generation in reversed(self._generations):
                record = generation.pop(prediction_id, None)
                if found is None:
                    found = record  # the newest put wins; older copies go too
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

    def _next_generation(self, full: dict[str, Record]) -> dict[str, Record]:
        """Start a new newest generation, first dropping the oldest ones as needed."""
        with self._lock:
            if self._newest is not full:
                return self._newest  # another thread started it meanwhile
            generations = self._generations
            held = sum(map(len, generations))
            room = self.capacity - self._generation_size  # for the new generation to fill
            oldest_allowed = self.now() - self.ttl_s
            while generations and (held > room or _newest_time(generations[0]) <= oldest_allowed):
                gone = generations.popleft()
                held -= len(gone)
                self._evicted.update(list(gone))
            self._newest = {}
            generations.append(self._newest)
            return self._newest


def _newest_time(generation: dict[str, Record]) -> float:
    """When the newest prediction of a generation was made (-inf when it is empty)."""
    for record in reversed(generation.values()):
        return record[0]
    return float("-inf")


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
        # Set and deque operations on whole generations run in C: eviction is on
        # the request path.
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
