"""The inference invocation: the lifecycle specialised for model calls.

``wrap_model``, the ``inference`` decorator and context manager, and the
library hooks all drive an :class:`InferenceInvocation`: a span with the
model's attributes and the prediction id, RED metrics, prediction and
confidence metrics, and the model's sinks (drift, feedback) fed at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from opentelemetry import context
from opentelemetry.trace import SpanKind

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml._internal.ids import current_request, last_prediction, new_prediction_id
from otel_ml._internal.lifecycle import Invocation
from otel_ml._internal.sampling import UNREAD, dropped_span, start_span
from otel_ml.inference import hooks
from otel_ml.inference.model import ModelContext
from otel_ml.outputs.extract import (
    OutputSummary,
    Task,
    check_confidence,
    summarize_predictions,
)

Summarizer = Callable[[ModelContext, Any], "OutputSummary | None"]
"""Reads a call's output into an :class:`OutputSummary` (see ``call.summarizer_for``);
``None`` when nothing in it can be read."""


class InferenceInvocation(Invocation):
    """One inference call: a span made current, RED metrics and prediction telemetry.

    Create it with :meth:`start`; end it exactly once with :meth:`stop` (after
    recording outputs) or :meth:`fail`. Telemetry failures inside never reach
    the caller (see :mod:`otel_ml._internal.guard`).
    """

    __slots__ = ("_inputs", "_metric_attrs", "_model", "_operation", "_summarize", "_summary",
                 "prediction_id")  # fmt: skip
    component = "inference"
    _model: ModelContext
    _operation: str
    _metric_attrs: dict[str, Any]
    _summarize: Summarizer | None
    _summary: OutputSummary | None
    _inputs: Any
    prediction_id: str

    def __init__(self) -> None:
        raise TypeError("create an InferenceInvocation with InferenceInvocation.start(...)")

    @classmethod
    def start(
        cls,
        model: ModelContext,
        operation: str,
        batch_size: int | None = None,
        summarize: Summarizer | None = None,
    ) -> InferenceInvocation:
        """Open the span, make it current and count the call as in flight;
        ``summarize`` reads the output that :meth:`complete` is given."""
        self = cls.__new__(cls)  # start is the constructor: one Python frame less per call
        self._init(model.telemetry.internal_errors)
        self._model = model
        self._operation = operation
        self._metric_attrs = model.metric_attributes
        self._summarize = summarize
        self._summary = None
        self._inputs = None
        self.prediction_id = ""
        try:
            scope = current_request.get()
            self.prediction_id = scope.claim_prediction_id() if scope else new_prediction_id()
            last_prediction.set(self.prediction_id)
            span_name, span_attrs, self._metric_attrs = model.operation(operation)
            tracer = model.telemetry.tracer
            parent = context.get_current()
            span = dropped_span(tracer, parent)
            if span is None or span is UNREAD:  # no attribute work for a certain drop
                attrs = {**span_attrs, semconv.ML_PREDICTION_ID: self.prediction_id}
                if batch_size is not None:
                    attrs[semconv.ML_BATCH_SIZE] = batch_size
                span = start_span(span, tracer, span_name, parent, SpanKind.INTERNAL, attrs)
            self._enter(span, parent, True, None, model.in_flight)
            if hooks.installed:
                self._set_for_call(hooks.inside, True)
        except Exception as exc:
            guard.report("inference.start", exc, model.telemetry.internal_errors)
            if self._span is not None:
                self._done = True
                self._close()
            self._span = None
        self._start_ns = time.perf_counter_ns()
        return self

    def set_inputs(self, inputs: Any) -> None:
        """Keep the call's input rows for the model's sinks that read them (drift)."""
        if self._model.wants_inputs:
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
            guard.report("inference.output", exc, self._errors)

    def record_probabilities(self, output: Any, classes: Any = None) -> None:
        """Record a ``predict_proba``-like output; ``classes`` names its columns."""
        try:  # user-supplied classes: inside the guard too
            self._summary = self._model.summarize_probabilities(output, classes)
        except Exception as exc:
            guard.report("inference.output", exc, self._errors)

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
        """End a successful call: duration, prediction metrics, sinks, span end.

        ``summarize(model, output)`` reads the output after the clock stopped,
        so summarising it is not counted as model time.
        """
        self._summarize = summarize
        self.complete(output)

    def complete(self, output: Any) -> Any:
        """End a successful call whose output the start's ``summarize`` reads
        (see :meth:`stop`); returns the output."""
        end_ns = time.perf_counter_ns()
        if self._summarize is not None and not self._done:
            try:
                self._summary = self._summarize(self._model, output)
            except Exception as exc:
                guard.report("inference.output", exc, self._errors)
        self._end(end_ns, None, None)
        return output

    def _record(self, elapsed_s: float, error: str | None) -> None:
        """Duration; then, on success, the prediction metrics; then the sinks.

        A failed call's inputs still reach the sinks: rows a model rejects
        (missing values, unseen categories) are what data-quality counts are for.
        """
        model = self._model
        if error is None:
            model.telemetry.duration.record(elapsed_s, self._metric_attrs)
            if self._summary is not None:
                self._apply(self._summary)
        else:
            model.telemetry.duration.record(
                elapsed_s, model.error_attributes(self._operation, error)
            )
            self._summary = None
        for sink in model.sinks:
            sink.record(self.prediction_id, self._inputs, self._summary, self.span)

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
        if summary.invalid_predictions:
            key = model.issue_key(semconv.PREDICTION_FEATURE, semconv.TYPE_ISSUE)
            model.telemetry.data_quality.add(key, summary.invalid_predictions)
        span = self._span
        if span is not None and span.is_recording():
            span.set_attributes(_span_attributes(summary))


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
