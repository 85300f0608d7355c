"""Process-wide evaluation state: the answer index, the passage index and the
online evaluations started (which turn passage keeping on)."""

from __future__ import annotations

from typing import Any

from otel_ml.genai.evaluation.answers import AnswerIndex, PassageIndex

ANSWERS = AnswerIndex(10_000, 7 * 86400.0)
"""Recent answers by response id and prediction id (``OTEL_ML_GENAI_ANSWERS_KEPT``)."""
PASSAGES = PassageIndex()
"""Retrieved passages per trace, kept only while an online evaluation runs."""
_running: list[Any] = []


def size_answers(max_items: int, ttl_s: float) -> None:
    """Apply an entry point's settings to the answer index (the latest wins)."""
    ANSWERS.max_items = max_items
    ANSWERS.ttl_s = ttl_s


def started(evaluation: Any) -> None:
    _running.append(evaluation)
    PASSAGES.wanted = True


def stopped(evaluation: Any) -> None:
    if evaluation in _running:
        _running.remove(evaluation)
    PASSAGES.wanted = bool(_running)


def running() -> list[Any]:
    """The online evaluations started in this process and not closed."""
    return list(_running)
