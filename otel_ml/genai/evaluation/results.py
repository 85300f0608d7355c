"""Evaluation results as telemetry: a ``gen_ai.evaluation.result`` event on a
short span linked to the judged answer's span, and the score histogram.

The conventions ask for the event to be parented to the evaluated span: a
judge's result is recorded in a child span of it (same trace); a user's
feedback in the feedback request's own trace, with a span link to it (as
delayed labels are). Only bounded values reach the metrics: the evaluation
name, who scored, the request model and the provider.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from opentelemetry import context, trace
from opentelemetry.metrics import Meter
from opentelemetry.trace import Link, NonRecordingSpan, SpanKind

from otel_ml import semconv
from otel_ml._internal.registry import TelemetryBundle
from otel_ml.genai.evaluation import names
from otel_ml.genai.evaluation.answers import Answer

SCOPE = "otel_ml.genai.evaluation"


@dataclass(frozen=True)
class EvaluationResult:
    """One evaluation of one answer: its name and a score from 0 (worst) to 1
    (best), a short label, or both; an explanation if the evaluator gives one."""

    name: str
    score: float | None = None
    label: str | None = None
    explanation: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name={self.name!r}: expected a non-empty string")
        if self.score is not None and (
            isinstance(self.score, bool)
            or not isinstance(self.score, int | float)
            or not math.isfinite(self.score)
            or not 0.0 <= self.score <= 1.0
        ):
            raise ValueError(f"score={self.score!r}: expected a number from 0 to 1")
        if self.score is None and self.label is None:
            raise ValueError("an evaluation result needs a score, a label or both")


class EvaluationTelemetry(TelemetryBundle):
    """Tracer and instruments of evaluation results, drops and errors."""

    scope = SCOPE

    def _create(self, meter: Meter) -> None:
        self.scores = meter.create_histogram(
            names.ML_GENAI_EVALUATION_SCORE, unit="1",
            description="Scores of GenAI answers (0 worst, 1 best) by judges, users and code.",
            explicit_bucket_boundaries_advisory=names.SCORE_BUCKETS,
        )  # fmt: skip
        self.dropped = meter.create_counter(
            names.ML_GENAI_EVALUATION_DROPPED, unit="{call}",
            description="Calls sampled for evaluation that were not evaluated, by reason.",
        )  # fmt: skip
        self.errors = meter.create_counter(
            names.ML_GENAI_EVALUATION_ERRORS, unit="{evaluation}",
            description="Evaluations that failed (judge timeout, judge error, bad verdict).",
        )  # fmt: skip

    def drop(self, reason: str) -> None:
        """Count one sampled call that is not evaluated."""
        self.dropped.add(1, {names.ML_GENAI_EVALUATION_DROP_REASON: reason})

    def error(self, name: str, answer: Answer, error_type: str) -> None:
        """Count one failed evaluation."""
        attrs = {**metric_attributes(name, names.SOURCE_JUDGE, answer),
                 semconv.ERROR_TYPE: error_type}  # fmt: skip
        self.errors.add(1, attrs)


def metric_attributes(name: str, source: str, answer: Answer) -> dict[str, Any]:
    """The bounded attributes of a score: evaluation name, source, the answer's
    operation, request model and provider."""
    attrs: dict[str, Any] = {names.GEN_AI_EVALUATION_NAME: name,
                             names.ML_GENAI_EVALUATION_SOURCE: source,
                             semconv.GEN_AI_OPERATION_NAME: answer.operation,
                             semconv.GEN_AI_PROVIDER_NAME: answer.provider}  # fmt: skip
    if answer.request_model:
        attrs[semconv.GEN_AI_REQUEST_MODEL] = answer.request_model
    return attrs


def record_result(
    telemetry: EvaluationTelemetry,
    answer: Answer,
    result: EvaluationResult,
    source: str,
    explain: bool = False,
) -> None:
    """Emit ``result`` of ``answer``: the event (on its span) and the score.

    ``explain``: record the explanation (content: only when the user opted in).
    """
    event: dict[str, Any] = {names.GEN_AI_EVALUATION_NAME: result.name}
    if result.score is not None:
        event[names.GEN_AI_EVALUATION_SCORE_VALUE] = float(result.score)
    if result.label is not None:
        event[names.GEN_AI_EVALUATION_SCORE_LABEL] = result.label
    if explain and result.explanation:
        event[names.GEN_AI_EVALUATION_EXPLANATION] = result.explanation
    if answer.response_id:
        event[semconv.GEN_AI_RESPONSE_ID] = answer.response_id
    attrs = metric_attributes(result.name, source, answer)
    parent = None
    if source != names.SOURCE_USER or not trace.get_current_span().is_recording():
        parent = trace.set_span_in_context(NonRecordingSpan(answer.span_context))
    span = telemetry.tracer.start_span(
        names.evaluation_span_name(result.name), context=parent or context.get_current(),
        kind=SpanKind.INTERNAL, attributes={**attrs, **event},
        links=[Link(answer.span_context)],
    )  # fmt: skip
    span.add_event(names.GEN_AI_EVALUATION_RESULT, event)
    span.end()
    if result.score is not None:
        telemetry.scores.record(float(result.score), attrs)
