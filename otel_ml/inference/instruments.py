"""The inference instruments, built once per meter.

Two instruments are histograms (duration and confidence, with per-call
exemplars), recorded into in-process cells where otel_ml's metric reader
exports them (``otel_ml._internal.cells``) and through the SDK elsewhere.
The per-class prediction counts and the data-quality counts are kept as plain
integers under a lock, and the in-flight gauge as sets of the calls in flight;
observable callbacks read them at collection time. A locked integer add costs
a fraction of an SDK measurement, a set add less still, and this is the
request path.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, TypeVar

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from otel_ml import semconv
from otel_ml._internal.cells import create_histogram
from otel_ml._internal.registry import TelemetryBundle, reset_after_fork

Attributes = dict[str, Any]
E = TypeVar("E")
_AttrKey = tuple[tuple[str, Any], ...]


class _Tallies:
    """Integer tallies keyed by an attribute set, readable as observations."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[_AttrKey, int] = {}
        reset_after_fork(self, _Tallies._reset_in_child)

    def add(self, key: _AttrKey, amount: int) -> None:
        with self._lock:
            self._values[key] = self._values.get(key, 0) + amount

    def add_many(self, items: Iterable[tuple[_AttrKey, int]]) -> None:
        """``add`` for several keys under one lock."""
        with self._lock:
            for key, amount in items:
                self._values[key] = self._values.get(key, 0) + amount

    def observe(self, _options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            snapshot = list(self._values.items())
        return [Observation(value, dict(key)) for key, value in snapshot]

    def _reset_in_child(self) -> None:
        # A forked worker is a new instance (new service.instance.id); it must
        # not re-export its parent's cumulative counts as its own.
        self._lock = threading.Lock()
        self._values = {}


class _InFlight:
    """Calls in flight per attribute set: a call is in its key's set while it runs.

    Adding to and discarding from a set are single C operations, atomic under
    the GIL (and locked per object on free-threaded builds), so a call pays no
    lock of ours on the way in or out.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[_AttrKey, set[object]] = {}
        reset_after_fork(self, _InFlight._reset_in_child)

    def calls(self, key: _AttrKey) -> set[object]:
        """The set that holds the calls in flight for ``key`` (keep it: it stays valid)."""
        found = self._calls.get(key)
        if found is None:
            with self._lock:
                found = self._calls.setdefault(key, set())
        return found

    def observe(self, _options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            snapshot = list(self._calls.items())
        return [Observation(len(calls), dict(key)) for key, calls in snapshot]

    def _reset_in_child(self) -> None:
        # The parent's other threads do not exist in a forked worker. The sets
        # are emptied in place: model contexts hold on to them.
        self._lock = threading.Lock()
        for calls in self._calls.values():
            calls.clear()


class InferenceTelemetry(TelemetryBundle):
    """Tracer and instruments shared by every inference invocation of a provider pair."""

    scope = "otel_ml"

    def _create(self, meter: Meter) -> None:
        self.duration = create_histogram(
            meter,
            self.meter_provider,
            semconv.ML_INFERENCE_DURATION,
            unit="s",
            description="Duration of model inference calls.",
            boundaries=semconv.INFERENCE_DURATION_BUCKETS,
        )
        self.confidence = create_histogram(
            meter,
            self.meter_provider,
            semconv.ML_PREDICTION_CONFIDENCE_METRIC,
            unit="1",
            description="Confidence (max class probability) of predicted rows.",
            boundaries=semconv.CONFIDENCE_BUCKETS,
        )
        self.active = _InFlight()
        self.predictions = _Tallies()
        self.data_quality = _Tallies()
        meter.create_observable_counter(
            semconv.ML_DATA_QUALITY_ISSUES,
            callbacks=[self.data_quality.observe],
            unit="{issue}",
            description="Invalid or unexpected values seen in model inputs and outputs.",
        )
        meter.create_observable_up_down_counter(
            semconv.ML_INFERENCE_ACTIVE,
            callbacks=[self.active.observe],
            unit="{request}",
            description="Inference calls in flight.",
        )
        meter.create_observable_counter(
            semconv.ML_PREDICTIONS,
            callbacks=[self.predictions.observe],
            unit="{prediction}",
            description="Predicted rows per class.",
        )
