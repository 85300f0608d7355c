"""The evaluators: two built-in judge prompts and the ones users register.

``relevance``: does the answer address the question? ``groundedness``: is
every claim of the answer supported by the passages retrieved in the same
trace (a RAG answer; 1 - groundedness is the hallucination rate)? Both ask
the judge for ``{"score": 0..1, "explanation": ...}``. A user evaluator is a
callable registered under a name; it gets the :class:`Exchange` in the
evaluation worker and returns a score, an :class:`EvaluationResult` or
``None`` (nothing to record).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from otel_ml.genai.evaluation.results import EvaluationResult

JUDGE_MARKER = "You are otel-ml's evaluation judge."
"""First sentence of every built-in judge prompt."""
_FORMAT = (
    ' Reply with one JSON object only: {"score": <number from 0 to 1>, '
    '"explanation": "<one sentence>"}.'
)
RELEVANCE_PROMPT = (
    f"{JUDGE_MARKER} Criterion: relevance. Score 1 when the ANSWER fully addresses the "
    f"QUESTION, 0 when it does not address it at all.{_FORMAT}"
)
GROUNDEDNESS_PROMPT = (
    f"{JUDGE_MARKER} Criterion: groundedness. Score 1 when every claim of the ANSWER is "
    f"supported by the PASSAGES, 0 when none is (made up).{_FORMAT}"
)
BUILT_IN = ("relevance", "groundedness")


@dataclass(frozen=True)
class Exchange:
    """What an evaluator sees of one LLM call: the question (the last user
    message), the answer, the passages retrieved in the same trace, and the
    models (``response_model`` may be ``None``)."""

    question: str
    answer: str
    passages: tuple[str, ...] = ()
    request_model: str | None = None
    response_model: str | None = None


def judge_prompt(name: str, exchange: Exchange) -> tuple[str, str] | None:
    """``(system, user)`` messages of built-in evaluator ``name`` for ``exchange``;
    ``None`` when it does not apply (groundedness of a call without passages)."""
    if name == "relevance":
        return RELEVANCE_PROMPT, f"QUESTION:\n{exchange.question}\n\nANSWER:\n{exchange.answer}"
    if name == "groundedness" and exchange.passages:
        passages = "\n".join(f"[{i + 1}] {p}" for i, p in enumerate(exchange.passages))
        return GROUNDEDNESS_PROMPT, f"PASSAGES:\n{passages}\n\nANSWER:\n{exchange.answer}"
    return None


UserEvaluator = Callable[[Exchange], "EvaluationResult | float | None"]
_registered: dict[str, UserEvaluator] = {}
_lock = threading.Lock()


def register_evaluator(name: str, evaluator: UserEvaluator) -> Callable[[], None]:
    """Run ``evaluator`` on every call sampled for online evaluation
    (``OTEL_ML_GENAI_EVALUATION_RATE``), in the evaluation worker, never on the
    request path; its result is recorded as ``gen_ai.evaluation.result`` named
    ``name`` (source ``code``). Returns a function that unregisters it.

    It runs whether or not ``name`` is in ``OTEL_ML_GENAI_EVALUATION_EVALUATORS``
    and, like the judge, only sees content the user opted in to send.
    """
    if not isinstance(name, str) or not name or name in BUILT_IN:
        raise ValueError(f"name={name!r}: expected a non-empty name other than {BUILT_IN}")
    if not callable(evaluator):
        raise TypeError("evaluator must be a callable taking an Exchange")
    with _lock:
        if name in _registered:
            raise ValueError(f"name={name!r}: an evaluator of that name is registered already")
        _registered[name] = evaluator

    def unregister() -> None:
        with _lock:
            if _registered.get(name) is evaluator:
                del _registered[name]

    return unregister


def registered() -> dict[str, UserEvaluator]:
    """A snapshot of the user evaluators."""
    with _lock:
        return dict(_registered)


def as_result(name: str, value: EvaluationResult | float | None) -> EvaluationResult | None:
    """A user evaluator's return value as a result (a bare number is the score)."""
    if value is None or isinstance(value, EvaluationResult):
        return value
    return EvaluationResult(name, value)
