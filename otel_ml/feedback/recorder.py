"""Joining labels to predictions: the feedback span, outcome metrics, live quality.

Predictions are remembered by :class:`FeedbackRecorder.remember` at the end
of an inference (O(1): one small record into a bounded store). A label given
to :func:`record_feedback` is matched by prediction id; it produces a
``feedback {model}`` span linked to the prediction's span, outcome/error/delay
metrics, and feeds the sliding-window quality gauges.
"""

from __future__ import annotations

import itertools
import math
import weakref
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.metrics import Observation
from opentelemetry.trace import Link, SpanContext, TraceFlags

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml._internal.registry import SourceRegistry
from otel_ml.feedback.quality import QualityWindow
from otel_ml.feedback.store import Outcome, Store, StoredPrediction
from otel_ml.feedback.stores import shared_stores
from otel_ml.outputs.extract import OutputSummary, label_of
from otel_ml.outputs.labels import BoundedLabels

if TYPE_CHECKING:
    from otel_ml.inference.instruments import InferenceTelemetry
    from otel_ml.inference.model import ModelContext

_MAX_BATCH_ROWS = 256
_recorders: weakref.WeakValueDictionary[int, FeedbackRecorder] = weakref.WeakValueDictionary()
_recorder_keys = itertools.count(1)
_segments: ContextVar[Mapping[str, str] | None] = ContextVar("otel_ml_segments", default=None)


def set_segments(**segments: Any) -> Token[Mapping[str, str] | None]:
    """Segment values (e.g. ``country="DE"``) for the predictions that follow in
    this context (an HTTP request is one). Only names listed in
    ``OTEL_ML_FEEDBACK_SEGMENTS`` reach metrics, each with a capped number of
    values. Outside a request, pass the returned token to :func:`reset_segments`."""
    return _segments.set({str(k): str(v) for k, v in segments.items()})


def reset_segments(token: Token[Mapping[str, str] | None]) -> None:
    """Undo a :func:`set_segments` call."""
    _segments.reset(token)


class FeedbackRecorder:
    """Feedback state of one model: its quality window, baseline and segment caps.

    Attached to its model as a sink, it remembers every successful prediction.
    """

    kind = "feedback"
    wants_inputs = False

    def __init__(self, model: ModelContext, store: Store, baseline: float | None) -> None:
        settings = model.settings
        self.model = model
        self.store = store
        self._put, self._now = store.put, store.now
        self.baseline = baseline
        self.window = QualityWindow(settings.feedback_window)
        self._segment_names = settings.feedback_segments
        self._segment_values = {
            name: BoundedLabels(settings.max_segment_values) for name in self._segment_names
        }
        self._attrs = dict(model.metric_attributes)
        # Stored predictions name their recorder by this key, not by reference: see
        # StoredPrediction for why they hold no objects.
        self.key = next(_recorder_keys)
        _recorders[self.key] = self
        store.bind(self.key, model.name, model.version)
        feedback_instruments(model.telemetry).recorders.register(self)

    def record(
        self, prediction_id: str, inputs: Any, summary: OutputSummary | None, span: trace.Span
    ) -> None:
        """The sink interface: remember a successful call's prediction."""
        if summary is not None:
            self.remember(prediction_id, summary, span)

    def close(self) -> None:
        """Stop exporting this recorder's quality gauges."""
        feedback_instruments(self.model.telemetry).recorders.unregister(self)

    def remember(self, prediction_id: str, summary: Any, span: trace.Span) -> None:
        """Keep what a later label needs (request path: one small tuple, O(1))."""
        given = _segments.get()
        segments = tuple((n, given[n]) for n in self._segment_names if n in given) if given else ()
        row_labels = row_values = None
        if 1 < summary.rows <= _MAX_BATCH_ROWS:
            if summary.row_labels is not None:
                row_labels = tuple(summary.row_labels)
            if summary.row_values is not None:
                row_values = tuple(summary.row_values)
        # A SpanContext is a tuple (trace_id, span_id, is_remote, trace_flags, ...):
        # indexing skips three property calls, a fifth of this method's time.
        context = span.get_span_context()
        self._put(prediction_id, (
            self._now(), self.key, summary.label, summary.value, summary.confidence,
            row_labels, row_values, segments or None, context[0], context[1],
            context[3] & 0xFF,  # a plain int: TraceFlags objects are GC-tracked
        ))  # fmt: skip

    def metric_attributes(self, record: StoredPrediction) -> dict[str, str]:
        """Model identity plus the record's capped segment values."""
        attrs = dict(self._attrs)
        for name, value in record.segments or ():
            attrs[semconv.ML_SEGMENT_PREFIX + name] = self._segment_values[name](value)
        return attrs


def join_label(
    prediction_id: str,
    actual: Any,
    store: Store,
    on_unmatched: Callable[[Outcome], None],
    grace_until: float | None = None,
) -> Outcome:
    """Join the label ``actual`` to its prediction in ``store``; returns the outcome.

    A matched label gives the feedback span, outcome metrics and quality
    gauges of its model; any other outcome goes to ``on_unmatched``. A shared
    store looks for an unknown prediction until ``grace_until``
    (``time.monotonic()``). Telemetry failures go to the guard (see
    :func:`otel_ml.record_feedback`).
    """
    outcome, record = store.take(prediction_id, grace_until)
    recorder = _recorders.get(record.recorder) if record is not None else None
    if record is not None and (
        recorder is None or recorder.model.sink(recorder.kind) is not recorder
    ):
        outcome, record = "unknown", None  # feedback was turned off for its model
    try:
        if record is None or recorder is None:
            on_unmatched(outcome)
        else:
            _matched(recorder, record, prediction_id, actual)
    except Exception as exc:
        guard.report("feedback.record", exc)
    return outcome


def _matched(recorder: FeedbackRecorder, record: StoredPrediction, pid: str, actual: Any) -> None:
    model = recorder.model
    instruments = feedback_instruments(model.telemetry)
    attrs = recorder.metric_attributes(record)
    delay = max(0.0, recorder.store.now() - record.created_s)
    span_attrs: dict[str, Any] = {**model.metric_attributes, semconv.ML_PREDICTION_ID: pid,
                                  semconv.ML_FEEDBACK_DELAY_ATTRIBUTE: delay}  # fmt: skip
    pairs, errors = _compare(record, actual)
    if pairs:
        capped = [(model.labels(p), model.labels(a)) for p, a in pairs]
        recorder.window.add_pairs(capped)
        correct = sum(p == a for p, a in pairs)
        for outcome, n in (("correct", correct), ("incorrect", len(pairs) - correct)):
            if n:
                instruments.outcomes.add(n, {**attrs, semconv.ML_FEEDBACK_OUTCOME: outcome})
        if len(pairs) == 1:
            span_attrs[semconv.ML_FEEDBACK_OUTCOME] = "correct" if correct else "incorrect"
    if errors:
        recorder.window.add_errors(errors)
        for error in errors:
            instruments.error.record(error, attrs)
        span_attrs[semconv.ML_FEEDBACK_ERROR_ATTRIBUTE] = sum(errors) / len(errors)
    instruments.delay.record(delay, attrs)
    _span(model.telemetry, semconv.feedback_span_name(model.name), span_attrs, record)


def count_unmatched(
    telemetry: InferenceTelemetry, reason: str, pid: str, name: str | None, version: str | None
) -> None:
    """Count a label that found no prediction (for ``name``'s model when known)."""
    attrs = {semconv.ML_FEEDBACK_UNMATCHED_REASON: reason}
    if name:
        attrs[semconv.ML_MODEL_NAME] = name
        attrs[semconv.ML_MODEL_VERSION] = version or ""
    feedback_instruments(telemetry).unmatched.add(1, attrs)
    _span(telemetry, semconv.feedback_span_name(name), {**attrs, semconv.ML_PREDICTION_ID: pid})


def _compare(record: StoredPrediction, actual: Any) -> tuple[list[tuple[str, str]], list[float]]:
    """``(predicted, actual)`` label pairs and absolute errors; mismatched shapes give none."""
    rows = actual if isinstance(actual, list | tuple) else [actual]
    if record.label is not None and len(rows) == 1:
        return [(record.label, label_of(rows[0]))], []
    if record.row_labels is not None and len(rows) == len(record.row_labels):
        return [(p, label_of(a)) for p, a in zip(record.row_labels, rows, strict=True)], []
    predicted = [record.value] if record.value is not None else record.row_values
    if predicted is not None and len(rows) == len(predicted):
        errors = [abs(_as_float(a) - p) for p, a in zip(predicted, rows, strict=True)]
        return [], [e for e in errors if math.isfinite(e)]
    return [], []


def _as_float(actual: Any) -> float:
    """A regression label as a float; NaN (then skipped) for one that is not a number."""
    try:
        return float(actual)
    except (TypeError, ValueError, OverflowError):
        return math.nan


def _span(
    telemetry: InferenceTelemetry, name: str, attrs: dict[str, Any], record: Any = None
) -> None:
    links = []
    if record is not None and record.span_id:
        context = SpanContext(record.trace_id, record.span_id, is_remote=False,
                              trace_flags=TraceFlags(record.trace_flags))  # fmt: skip
        links.append(Link(context))
    telemetry.tracer.start_span(name, attributes=attrs, links=links).end()


class FeedbackInstruments:
    """The feedback instruments of one meter; gauges read every registered recorder."""

    def __init__(self, telemetry: InferenceTelemetry) -> None:
        meter = telemetry.meter
        self.recorders: SourceRegistry[FeedbackRecorder] = SourceRegistry(
            "feedback.collect", telemetry.internal_errors
        )
        self.outcomes = meter.create_counter(
            semconv.ML_FEEDBACK_OUTCOMES, unit="{label}", description="Labelled predictions."
        )
        self.unmatched = meter.create_counter(
            semconv.ML_FEEDBACK_UNMATCHED, unit="{label}", description="Labels with no prediction."
        )
        self.error = meter.create_histogram(
            semconv.ML_FEEDBACK_ERROR, description="Absolute error of labelled regressions."
        )
        self.delay = meter.create_histogram(
            semconv.ML_FEEDBACK_DELAY, unit="s", description="Time from prediction to label.",
            explicit_bucket_boundaries_advisory=[float(b) for b in semconv.FEEDBACK_DELAY_BUCKETS],
        )  # fmt: skip
        for name, read, unit in _GAUGES:
            meter.create_observable_gauge(name, [self.recorders.callback(read)], unit=unit)
        meter.create_observable_counter(
            semconv.ML_FEEDBACK_STORE_ERRORS, [_store_errors], unit="{item}",
            description="Predictions a shared store could not keep and labels it could not check.",
        )  # fmt: skip


def _store_errors(options: Any) -> Sequence[Observation]:
    return [
        Observation(count, {semconv.ML_FEEDBACK_STORE: store.backend, _OPERATION: operation})
        for store in shared_stores()
        for operation, count in store.errors.items()
    ]


_OPERATION = semconv.ML_FEEDBACK_STORE_OPERATION


def _accuracy(r: FeedbackRecorder) -> Sequence[Observation]:
    q = r.window.snapshot()
    return [Observation(q.accuracy, r._attrs)] if q.accuracy is not None else []


def _per_class(metric: str) -> Callable[[FeedbackRecorder], Sequence[Observation]]:
    def read(r: FeedbackRecorder) -> Sequence[Observation]:
        values = getattr(r.window.snapshot(), metric)
        return [
            Observation(v, {**r._attrs, semconv.ML_PREDICTION_CLASS: c}) for c, v in values.items()
        ]

    return read


def _mae(r: FeedbackRecorder) -> Sequence[Observation]:
    q = r.window.snapshot()
    return [Observation(q.mae, r._attrs)] if q.mae is not None else []


def _window_size(r: FeedbackRecorder) -> Sequence[Observation]:
    q = r.window.snapshot()
    return [Observation(q.classified + q.regressed, r._attrs)]


def _baseline(r: FeedbackRecorder) -> Sequence[Observation]:
    return [Observation(r.baseline, r._attrs)] if r.baseline is not None else []


_GAUGES: tuple[tuple[str, Callable[[FeedbackRecorder], Sequence[Observation]], str], ...] = (
    (semconv.ML_FEEDBACK_ACCURACY, _accuracy, "1"),
    (semconv.ML_FEEDBACK_PRECISION, _per_class("precision"), "1"),
    (semconv.ML_FEEDBACK_RECALL, _per_class("recall"), "1"),
    (semconv.ML_FEEDBACK_MAE, _mae, ""),
    (semconv.ML_FEEDBACK_WINDOW_SIZE, _window_size, "{label}"),
    (semconv.ML_FEEDBACK_BASELINE, _baseline, "1"),
)


def feedback_instruments(telemetry: InferenceTelemetry) -> FeedbackInstruments:
    """The :class:`FeedbackInstruments` of a telemetry bundle, created on first use."""
    return telemetry.extension("feedback", FeedbackInstruments)
