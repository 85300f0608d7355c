"""Names of GenAI evaluation telemetry.

The event and its attributes are the OpenTelemetry GenAI semantic conventions'
(``gen_ai.evaluation.result``, v1.38+, development status). The metrics are
otel_ml's own (``ml.genai.evaluation.*``): the conventions define none for
evaluations yet. They live here rather than in ``otel_ml.semconv`` only
because that module is at its size limit; import them from here.
"""

from __future__ import annotations

from typing import Final

GEN_AI_EVALUATION_RESULT: Final = "gen_ai.evaluation.result"
"""Event: one evaluation of one GenAI answer, in the trace of the judged span."""
GEN_AI_EVALUATION_NAME: Final = "gen_ai.evaluation.name"
"""What was evaluated (``relevance``, ``groundedness``, ``user_feedback``, a user
evaluator's name): bounded, on metrics."""
GEN_AI_EVALUATION_SCORE_VALUE: Final = "gen_ai.evaluation.score.value"
"""The score, 0 (worst) to 1 (best) for otel_ml's evaluators and feedback."""
GEN_AI_EVALUATION_SCORE_LABEL: Final = "gen_ai.evaluation.score.label"
"""``pass``/``fail`` (judges), ``thumbs_up``/``thumbs_down`` (users): span only."""
GEN_AI_EVALUATION_EXPLANATION: Final = "gen_ai.evaluation.explanation"
"""The judge's reason; content, so only with content capture or the evaluation opt-in."""

ML_GENAI_EVALUATION_SOURCE: Final = "ml.genai.evaluation.source"
"""Who scored: ``judge`` (an LLM judge), ``user`` (feedback), ``code`` (a user evaluator)."""
ML_GENAI_EVALUATION_DROP_REASON: Final = "ml.genai.evaluation.drop.reason"
"""Why a sampled call was not evaluated (``queue_full``, ``rate_limited``, ``no_content``),
or answer feedback found no answer (``unknown_answer``)."""

ML_GENAI_EVALUATION_SCORE: Final = "ml.genai.evaluation.score"
"""Histogram, unit 1: scores by evaluation name, source, operation, request model, provider."""
ML_GENAI_EVALUATION_DROPPED: Final = "ml.genai.evaluation.dropped"
"""Counter: sampled calls not evaluated, by drop reason."""
ML_GENAI_EVALUATION_ERRORS: Final = "ml.genai.evaluation.errors"
"""Counter: failed evaluations by evaluation name and ``error.type`` (``timeout``, an HTTP
status code, ``connection``, ``invalid_verdict``, ``same_model``, an exception's class)."""

SCORE_BUCKETS: Final = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
"""Bucket advisory of the score histogram: the quality rule reads ``le="0.5"``."""

SOURCE_JUDGE: Final = "judge"
SOURCE_USER: Final = "user"
SOURCE_CODE: Final = "code"
USER_FEEDBACK: Final = "user_feedback"
"""``gen_ai.evaluation.name`` of answer feedback posted by users."""


def evaluation_span_name(name: str) -> str:
    """The span carrying one ``gen_ai.evaluation.result`` event."""
    return f"evaluation {name}"
