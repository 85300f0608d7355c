"""User feedback on LLM answers: thumbs up/down or a score, posted for a
``gen_ai.response.id`` or the prediction id of the request that made the
call, recorded as ``gen_ai.evaluation.result`` (name ``user_feedback``,
source ``user``) linked to the answer's span."""

from __future__ import annotations

import math
from typing import Any

from otel_ml.genai.evaluation import names, state
from otel_ml.genai.evaluation.results import EvaluationResult, EvaluationTelemetry, record_result

THUMBS = {"up": 1.0, "down": 0.0}
"""Thumbs as scores; the label recorded is ``thumbs_up`` / ``thumbs_down``."""


def answer_feedback_result(score: Any = None, thumbs: Any = None) -> EvaluationResult:
    """The result for a score (0 to 1) or thumbs (``"up"``/``"down"``), checked;
    ``ValueError`` naming the argument otherwise."""
    if thumbs is not None:
        if thumbs not in THUMBS:
            raise ValueError(f"thumbs={thumbs!r}: expected 'up' or 'down'")
        if score is not None:
            raise ValueError("give thumbs or score, not both")
        return EvaluationResult(names.USER_FEEDBACK, THUMBS[thumbs], f"thumbs_{thumbs}")
    if (isinstance(score, bool) or not isinstance(score, int | float)
            or not math.isfinite(score) or not 0 <= score <= 1):  # fmt: skip
        raise ValueError(f"score={score!r}: expected a number from 0 to 1 (or thumbs='up'/'down')")
    return EvaluationResult(names.USER_FEEDBACK, float(score))


def record_answer_feedback(
    answer_id: str,
    score: float | None = None,
    thumbs: str | None = None,
    *,
    tracer_provider: Any = None,
    meter_provider: Any = None,
) -> bool:
    """Record a user's verdict on an LLM answer of this process.

    ``answer_id``: the answer's ``gen_ai.response.id`` or the prediction id
    (``x-prediction-id``) of the HTTP request that made the call. Give a
    ``score`` from 0 (bad) to 1 (good) or ``thumbs`` (``"up"``/``"down"``).
    Returns whether the answer was found (recent answers are kept:
    ``OTEL_ML_GENAI_ANSWERS_KEPT``, ``OTEL_ML_FEEDBACK_TTL_SECONDS``); an
    unknown one is counted (``ml.genai.evaluation.dropped{reason=unknown_answer}``).
    """
    if not isinstance(answer_id, str) or not answer_id:
        raise ValueError(f"answer_id={answer_id!r}: expected a response id or prediction id")
    result = answer_feedback_result(score, thumbs)
    return record_answer_result(answer_id, result, tracer_provider, meter_provider)


def record_answer_result(answer_id: str, result: EvaluationResult, tracer_provider: Any = None,
                         meter_provider: Any = None) -> bool:  # fmt: skip
    """Record a checked user verdict (:func:`answer_feedback_result`); whether the
    answer was found."""
    telemetry = EvaluationTelemetry.of(tracer_provider, meter_provider)
    answer = state.ANSWERS.find(answer_id)
    if answer is None:
        telemetry.drop("unknown_answer")
        return False
    record_result(telemetry, answer, result, names.SOURCE_USER)
    return True
