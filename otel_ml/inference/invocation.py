"""The inference invocation: one lifecycle (start, stop, fail) for every form.

``wrap_model``, the ``inference`` decorator and context manager, and the
scikit-learn hook all drive an :class:`InferenceInvocation`. The per-model
parts that never change between calls (span name, attribute dicts, capped
class labels) are computed once in a :class:`ModelContext`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextvars import ContextVar, Token
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from opentelemetry import context, trace
from opentelemetry.trace import Span, Status, StatusCode

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml._internal.ids import current_request, last_prediction, new_prediction_id
from otel_ml.config import get_settings
from otel_ml.inference.extract import (
    OutputSummary,
    Task,
    check_confidence,
    label_of,
    summarize_predictions,
    summarize_probabilities,
)
from otel_ml.inference.instruments import InferenceTelemetry, inference_telemetry
from otel_ml.inference.labels import BoundedLabels

if TYPE_CHECKING:
    from otel_ml.drift.monitor import DriftMonitor
    from otel_ml.drift.profile import ReferenceProfile
    from otel_ml.feedback.recorder import FeedbackRecorder

Summarizer = Callable[["ModelContext", Any], OutputSummary]
"""Reads a call's output into an :class:`OutputSummary` (see ``call.summarizer_for``)."""

# A ContextVar of its own rather than a key in the OpenTelemetry context: setting
# it does not copy the context. Invocations set it only while an auto hook that
# reads it is installed: most processes have none, and this is every call.
_inside_inference: ContextVar[bool] = ContextVar("otel_ml_inside_inference", default=False)
_auto_hooks_installed = False
_MAX_MODELS = 1000


def auto_hooks_installed(installed: bool) -> None:
    """Tell invocations whether an auto hook that asks :func:`inside_inference`
    (the scikit-learn patch) is installed, so they mark their context for it."""
    global _auto_hooks_installed
    _auto_hooks_installed = installed


def inside_inference() -> bool:
    """Whether auto hooks stay quiet here: an otel_ml inference is running in this
    context, or the code runs inside :func:`hooks_quiet` (training, scoring)."""
    return _inside_inference.get()


def hooks_quiet(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Call ``fn`` with the auto hooks quiet: the predictions a ``fit`` or a scorer
    makes are not served traffic, and would pollute latency, drift and feedback."""
    token = _inside_inference.set(True)
    try:
        return fn(*args, **kwargs)
    finally:
        _inside_inference.reset(token)


def error_type(exc: BaseException) -> str:
    """``error.type`` of an exception: its fully qualified class name."""
    cls = type(exc)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


class ModelContext:
    """Everything about one model (name, version, providers) that calls share."""

    def __init__(self, name: str, version: str, telemetry: InferenceTelemetry) -> None:
        settings = get_settings()
        self.name = name
        self.version = version
        self.telemetry = telemetry
        self.max_rows_recorded = settings.max_rows_recorded
        self.metric_attributes = {semconv.ML_MODEL_NAME: name, semconv.ML_MODEL_VERSION: version}
        self.active_key = tuple(self.metric_attributes.items())
        self.in_flight = telemetry.active.calls(self.active_key)
        """This model's calls in flight (``ml.inference.active``)."""
        self.labels = BoundedLabels(settings.max_class_labels)
        self.monitor: DriftMonitor | None = None
        self.feedback: FeedbackRecorder | None = None
        self._seeded = False
        self._lock = threading.Lock()
        self._class_keys: dict[str, tuple[tuple[str, Any], ...]] = {}
        self._operations: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {}
        self._error_attributes: dict[tuple[str, str], dict[str, Any]] = {}

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

    def class_key(self, label: str) -> tuple[tuple[str, Any], ...]:
        """Metric attribute key of ``ml.predictions`` for a (capped) class label."""
        found = self._class_keys.get(label)
        if found is None:
            capped = self.labels(label)
            found = (*self.active_key, (semconv.ML_PREDICTION_CLASS, capped))
            with self._lock:
                self._class_keys[capped] = found
        return found

    def watch(self, reference: ReferenceProfile | str | Path) -> DriftMonitor:
        """Monitor this model's inputs and outputs for drift against ``reference``
        (a profile or the path of its JSON); replaces an earlier monitor, unless
        that one already watches this very profile object."""
        from otel_ml.drift.monitor import DriftMonitor, window_config
        from otel_ml.drift.profile import ReferenceProfile

        if isinstance(reference, str | Path):
            reference = ReferenceProfile.load(reference)
        elif not isinstance(reference, ReferenceProfile):
            raise TypeError(
                f"reference must be a ReferenceProfile or a path, got {type(reference).__name__}"
            )
        if self.monitor is not None:
            if self.monitor.profile is reference:
                return self.monitor  # e.g. wrap_model called again for the same model
            self.monitor.close()
        monitor = DriftMonitor(reference, self.name, self.version, self.telemetry, window_config())
        self.monitor = monitor
        if self.feedback is not None:
            self.feedback.baseline = _baseline(reference)
        return monitor

    def enable_feedback(self) -> FeedbackRecorder:
        """Remember this model's predictions so labels can be joined to them."""
        from otel_ml.feedback.recorder import FeedbackRecorder, prediction_store

        if self.feedback is None:
            profile = self.monitor.profile if self.monitor is not None else None
            self.feedback = FeedbackRecorder(self, prediction_store(), _baseline(profile))
        return self.feedback

    def issue_key(self, feature: str, issue: str) -> tuple[tuple[str, Any], ...]:
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
    name: str, version: str, telemetry: InferenceTelemetry | None = None
) -> ModelContext:
    """The shared :class:`ModelContext` for a name, version and telemetry bundle."""
    telemetry = telemetry or inference_telemetry()
    key = (id(telemetry), name, version)
    found = _models.get(key)
    if found is None:
        with _models_lock:
            found = _models.get(key)
            if found is None:
                if len(_models) >= _MAX_MODELS:
                    _models.clear()  # pathological name churn: bound memory, lose caches
                found = _models[key] = ModelContext(name, version, telemetry)
                _apply_settings(found)
    return found


def _baseline(profile: ReferenceProfile | None) -> float | None:
    value = profile.metadata.get("baseline_accuracy") if profile is not None else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _apply_settings(model: ModelContext) -> None:
    """Settings are the launcher's way in: ``OTEL_ML_REFERENCE_PROFILE`` watches the
    configured model for drift and ``OTEL_ML_FEEDBACK_ENABLED`` keeps its predictions."""
    settings = get_settings()
    if settings.model_name not in (None, model.name):
        return
    try:
        if settings.reference_profile is not None:
            model.watch(settings.reference_profile)
        if settings.feedback_enabled:
            model.enable_feedback()
    except Exception as exc:
        guard.report("model.settings", exc, model.telemetry.internal_errors)


class InferenceInvocation:
    """One inference call: a span made current, RED metrics and prediction telemetry.

    Create it with :meth:`start`; end it exactly once with :meth:`stop` (after
    recording outputs) or :meth:`fail`. Telemetry failures inside never reach
    the caller (see :mod:`otel_ml._internal.guard`).
    """

    __slots__ = ("_done", "_inputs", "_model", "_operation", "_quiet", "_span", "_start_ns",
                 "_summary", "_token", "prediction_id")  # fmt: skip
    _model: ModelContext
    _operation: str
    _span: Span | None
    _token: object | None
    _quiet: Token[bool] | None
    _summary: OutputSummary | None
    _inputs: Any
    _done: bool
    _start_ns: int
    prediction_id: str

    def __init__(self) -> None:
        raise TypeError("create an InferenceInvocation with InferenceInvocation.start(...)")

    @classmethod
    def start(
        cls, model: ModelContext, operation: str, batch_size: int | None = None
    ) -> InferenceInvocation:
        """Open the span, make it current and count the call as in flight."""
        self = cls.__new__(cls)  # start is the constructor: one Python frame less per call
        self._model = model
        self._operation = operation
        self._span = None
        self._token = None
        self._quiet = None
        self._summary = None
        self._inputs = None
        self._done = True
        try:
            scope = current_request.get()
            self.prediction_id = scope.claim_prediction_id() if scope else new_prediction_id()
            last_prediction.set(self.prediction_id)
            span_name, span_attrs, _ = model.operation(operation)
            attrs = {**span_attrs, semconv.ML_PREDICTION_ID: self.prediction_id}
            if batch_size is not None:
                attrs[semconv.ML_BATCH_SIZE] = batch_size
            span = model.telemetry.tracer.start_span(span_name, attributes=attrs)
            self._token = context.attach(trace.set_span_in_context(span))
            if _auto_hooks_installed:
                self._quiet = _inside_inference.set(True)
            self._span = span
            model.in_flight.add(self)
            self._done = False
        except Exception as exc:
            self.prediction_id = getattr(self, "prediction_id", "")
            guard.report("inference.start", exc, model.telemetry.internal_errors)
        self._start_ns = time.perf_counter_ns()
        return self

    @property
    def span(self) -> Span:
        """The inference span (a non-recording span when telemetry failed to start)."""
        return self._span or trace.INVALID_SPAN

    def set_inputs(self, inputs: Any) -> None:
        """Give the call's input rows to the model's drift monitor, if it has one."""
        if self._model.monitor is not None:
            self._inputs = inputs

    def set_batch_size(self, rows: int) -> None:
        """Record the number of input rows; anything but a count (int >= 0) is ignored."""
        if not isinstance(rows, int | np.integer) or isinstance(rows, bool):
            return  # a setter never raises in the user's request
        if self._span is not None and 0 <= rows < 2**63:  # OTLP ints are 64-bit
            self._span.set_attribute(semconv.ML_BATCH_SIZE, int(rows))

    def record_predictions(self, output: Any, task: Task | None = None) -> None:
        """Record a ``predict``-like output (labels or values, one row or many)."""
        try:
            self._summary = summarize_predictions(output, task)
        except Exception as exc:
            guard.report("inference.output", exc, self._model.telemetry.internal_errors)

    def record_probabilities(self, output: Any, classes: Any = None) -> None:
        """Record a ``predict_proba``-like output; ``classes`` names its columns."""
        try:  # user-supplied classes: inside the guard too
            self._summary = self._model.summarize_probabilities(output, classes)
        except Exception as exc:
            guard.report("inference.output", exc, self._model.telemetry.internal_errors)

    def set_confidence(self, confidence: Any) -> None:
        """Record the single-row confidence in [0, 1]; invalid values are counted."""
        value, issue = check_confidence(confidence)
        summary = self._summary or OutputSummary(rows=1)
        if issue:
            summary.invalid_confidence[issue] = summary.invalid_confidence.get(issue, 0) + 1
        else:
            summary.confidence = value
        self._summary = summary

    def stop(self, summarize: Summarizer | None = None, output: Any = None) -> None:
        """End a successful call: duration, prediction metrics, span end.

        ``summarize(model, output)`` reads the output after the clock stopped,
        so summarising it is not counted as model time.
        """
        elapsed = (time.perf_counter_ns() - self._start_ns) / 1e9
        if self._done:
            return
        if summarize is not None:
            try:
                self._summary = summarize(self._model, output)
            except Exception as exc:
                guard.report("inference.output", exc, self._model.telemetry.internal_errors)
        self._done = True
        model = self._model
        try:
            model.telemetry.duration.record(elapsed, model.operation(self._operation)[2])
            if self._summary is not None:
                self._apply(self._summary)
            if model.monitor is not None:
                self._feed_monitor(model.monitor)
            if model.feedback is not None and self._summary is not None:
                model.feedback.remember(self.prediction_id, self._summary, self.span)
        except Exception as exc:
            guard.report("inference.stop", exc, model.telemetry.internal_errors)
        finally:
            self._close()

    def fail(self, exc: BaseException) -> None:
        """End a failed call: ``error.type`` on span and duration, status ERROR.

        The inputs still reach the drift monitor: rows a model rejects (missing
        values, unseen categories) are what its data-quality counts are for.
        """
        elapsed = (time.perf_counter_ns() - self._start_ns) / 1e9
        if self._done:
            return
        self._done = True
        model = self._model
        try:
            kind = error_type(exc)
            model.telemetry.duration.record(elapsed, model.error_attributes(self._operation, kind))
            span = self.span
            if span.is_recording():
                span.set_attribute(semconv.ERROR_TYPE, kind)
                span.record_exception(exc, escaped=True)
                span.set_status(Status(StatusCode.ERROR, kind))
            if model.monitor is not None:
                self._feed_monitor(model.monitor)
        except Exception as err:
            guard.report("inference.fail", err, model.telemetry.internal_errors)
        finally:
            self._close()

    def _apply(self, summary: OutputSummary) -> None:
        model = self._model
        counts = summary.class_counts
        if len(counts) == 1:
            label, count = counts[0]
            model.telemetry.predictions.add(model.class_key(label), count)
        elif counts:
            model.telemetry.predictions.add_many(
                (model.class_key(label), count) for label, count in counts
            )
        attrs = model.metric_attributes
        if summary.confidences is not None:
            record = model.telemetry.confidence.record
            for value in summary.confidences.tolist():
                record(value, attrs)
        elif summary.confidence is not None:
            model.telemetry.confidence.record(summary.confidence, attrs)
        if summary.invalid_confidence:
            model.telemetry.data_quality.add_many(
                (model.issue_key(semconv.CONFIDENCE_FEATURE, issue), rows)
                for issue, rows in summary.invalid_confidence.items()
            )
        span = self._span
        if span is not None and span.is_recording():
            span.set_attributes(_span_attributes(summary))

    def _feed_monitor(self, monitor: DriftMonitor) -> None:
        scope = current_request.get()
        if scope is not None:
            if scope.drift_observed:
                return  # one observation per request, even if it calls predict twice
            scope.drift_observed = True
        if self._inputs is not None:
            monitor.observe(self._inputs)
        if self._summary is not None:
            monitor.observe_outputs(self._summary)

    def _close(self) -> None:
        self._model.in_flight.discard(self)
        try:
            if self._span is not None:
                self._span.end()
        except Exception as exc:
            guard.report("inference.close", exc, self._model.telemetry.internal_errors)
        finally:
            if self._token is not None:
                context.detach(self._token)  # type: ignore[arg-type]  # logs, never raises
            if self._quiet is not None:
                try:  # noqa: SIM105 (contextlib.suppress costs a microsecond here)
                    _inside_inference.reset(self._quiet)
                except ValueError:
                    pass  # ended in another context than it started in, which drops it


def _span_attributes(summary: OutputSummary) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if summary.rows != 1:
        attrs[semconv.ML_BATCH_SIZE] = summary.rows
    if summary.label is not None:
        attrs[semconv.ML_PREDICTION_CLASS] = summary.label
    if summary.value is not None:
        attrs[semconv.ML_PREDICTION_VALUE] = summary.value
    if summary.confidence is not None:
        attrs[semconv.ML_PREDICTION_CONFIDENCE] = summary.confidence
    if summary.distinct_classes:
        attrs[semconv.ML_PREDICTION_CLASSES] = summary.distinct_classes
    if summary.value_mean is not None:
        attrs[semconv.ML_PREDICTION_VALUE_MEAN] = summary.value_mean
    if summary.rows > 1 and summary.confidences is not None and summary.confidences.size:
        attrs[semconv.ML_PREDICTION_CONFIDENCE_MIN] = float(summary.confidences.min())
        attrs[semconv.ML_PREDICTION_CONFIDENCE_MEAN] = float(summary.confidences.mean())
    return attrs
