"""One model's shared state: identity, cached attribute sets, capped classes, sinks.

Every inference of a model (whichever entry point started it) reads its
:class:`ModelContext`: the parts that never change between calls (span name,
attribute dicts, capped class labels) are computed once here. Sinks (the drift
monitor, the feedback recorder) are attached by the entry points; this package
knows them only as :class:`PredictionSink`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from opentelemetry.trace import Span

from otel_ml import semconv
from otel_ml.config import Settings
from otel_ml.inference.instruments import InferenceTelemetry
from otel_ml.outputs.extract import OutputSummary, label_of, summarize_probabilities
from otel_ml.outputs.labels import BoundedLabels

_MAX_MODELS = 1000
AttrKey = tuple[tuple[str, Any], ...]


class PredictionSink(Protocol):
    """Something fed by every inference of a model (drift, feedback)."""

    kind: str
    """One sink of a kind per model; attaching another replaces it."""
    wants_inputs: bool
    """Whether calls keep their input rows for :meth:`record`."""

    def record(
        self, prediction_id: str, inputs: Any, summary: OutputSummary | None, span: Span
    ) -> None:
        """One call ended (``summary`` is ``None`` when it failed); request path, O(1)."""

    def close(self) -> None:
        """The sink was replaced or detached: stop exporting."""


class ModelContext:
    """Everything about one model (name, version, providers, settings) that calls share."""

    def __init__(
        self, name: str, version: str, telemetry: InferenceTelemetry, settings: Settings
    ) -> None:
        self.name = name
        self.version = version
        self.telemetry = telemetry
        self.settings = settings
        self.max_rows_recorded = settings.max_rows_recorded
        self.metric_attributes = {semconv.ML_MODEL_NAME: name, semconv.ML_MODEL_VERSION: version}
        self.active_key: AttrKey = tuple(self.metric_attributes.items())
        self.in_flight = telemetry.active.calls(self.active_key)
        """This model's calls in flight (``ml.inference.active``)."""
        self.labels = BoundedLabels(settings.max_class_labels)
        self.sinks: tuple[PredictionSink, ...] = ()
        """The attached sinks, read by every call."""
        self.wants_inputs = False
        """Whether any sink reads the input rows."""
        self._seeded = False
        self._lock = threading.Lock()
        self._class_keys: dict[str, AttrKey] = {}
        self._operations: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {}
        self._error_attributes: dict[tuple[str, str], dict[str, Any]] = {}

    def attach(self, sink: PredictionSink) -> None:
        """Feed ``sink`` from now on; an attached sink of its kind is closed and replaced."""
        with self._lock:
            old = self.sink(sink.kind)
            self._set_sinks([s for s in self.sinks if s is not old] + [sink])
        if old is not None:
            old.close()

    def detach(self, sink: PredictionSink) -> None:
        """Stop feeding ``sink`` (it is not closed)."""
        with self._lock:
            self._set_sinks([s for s in self.sinks if s is not sink])

    def sink(self, kind: str) -> Any:
        """The attached sink of ``kind`` (e.g. ``"drift"``, ``"feedback"``), or ``None``."""
        return next((s for s in self.sinks if s.kind == kind), None)

    def _set_sinks(self, sinks: list[PredictionSink]) -> None:
        self.sinks = tuple(sinks)
        self.wants_inputs = any(s.wants_inputs for s in sinks)

    def operation(self, operation: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """``(span name, span attributes, metric attributes)`` for an operation."""
        found = self._operations.get(operation)
        if found is None:
            span_attrs = {**self.metric_attributes, semconv.ML_OPERATION_NAME: operation}
            found = (semconv.inference_span_name(operation, self.name), span_attrs, span_attrs)
            with self._lock:
                self._operations[operation] = found
        return found

    def error_attributes(self, operation: str, kind: str) -> dict[str, Any]:
        """Duration attributes of a failed call (bounded: exception classes are few)."""
        key = (operation, kind)
        found = self._error_attributes.get(key)
        if found is None:
            found = {**self.operation(operation)[2], semconv.ERROR_TYPE: kind}
            with self._lock:
                self._error_attributes[key] = found
        return found

    def class_key(self, label: str) -> AttrKey:
        """Metric attribute key of ``ml.predictions`` for a (capped) class label."""
        found = self._class_keys.get(label)
        if found is None:
            capped = self.labels(label)
            found = (*self.active_key, (semconv.ML_PREDICTION_CLASS, capped))
            with self._lock:
                self._class_keys[capped] = found
        return found

    def issue_key(self, feature: str, issue: str) -> AttrKey:
        """Attribute key of ``ml.data.quality.issues`` (features and issues are bounded)."""
        return (
            *self.active_key,
            (semconv.ML_FEATURE_NAME, feature),
            (semconv.ML_DATA_ISSUE, issue),
        )

    def summarize_probabilities(self, output: Any, classes: Any) -> OutputSummary:
        """Summarise a ``predict_proba``-like output whose columns ``classes`` names."""
        self.seed_classes(classes)
        return summarize_probabilities(output, classes, self.max_rows_recorded)

    def seed_classes(self, classes: Any) -> None:
        """Admit the model's own classes first, so real labels win the cap."""
        if classes is None or self._seeded:
            return
        self._seeded = True
        for label in classes:
            if self.labels(label_of(label)) == semconv.OTHER_LABEL:
                break


_models: dict[tuple[int, str, str], ModelContext] = {}
_models_lock = threading.Lock()


def model_context(
    name: str,
    version: str,
    telemetry: InferenceTelemetry,
    settings: Settings,
    on_create: Callable[[ModelContext], None] | None = None,
) -> ModelContext:
    """The shared :class:`ModelContext` for a name, version and telemetry bundle.

    The first caller's ``settings`` size it, and ``on_create(model)`` (the entry
    point attaching the sinks its settings ask for) runs once, before any other
    caller sees it.
    """
    key = (id(telemetry), name, version)
    found = _models.get(key)
    if found is None:
        with _models_lock:
            found = _models.get(key)
            if found is None:
                if len(_models) >= _MAX_MODELS:
                    _models.clear()  # pathological name churn: bound memory, lose caches
                found = ModelContext(name, version, telemetry, settings)
                if on_create is not None:
                    on_create(found)
                _models[key] = found
    return found
