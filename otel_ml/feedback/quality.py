"""Live quality over the last N labels: accuracy, precision/recall, MAE. No OpenTelemetry."""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass


@dataclass(frozen=True)
class QualitySnapshot:
    """Quality of the labelled predictions in the sliding window."""

    classified: int
    accuracy: float | None
    precision: dict[str, float]
    recall: dict[str, float]
    regressed: int
    mae: float | None


class QualityWindow:
    """The last ``size`` labelled outcomes of one model, for sliding-window gauges."""

    def __init__(self, size: int) -> None:
        self._lock = threading.Lock()
        self._pairs: deque[tuple[str, str]] = deque(maxlen=size)
        self._errors: deque[float] = deque(maxlen=size)

    def add_pairs(self, pairs: list[tuple[str, str]]) -> None:
        """``(predicted, actual)`` class labels, already capped for cardinality."""
        with self._lock:
            self._pairs.extend(pairs)

    def add_errors(self, errors: list[float]) -> None:
        """Absolute errors of regression predictions."""
        with self._lock:
            self._errors.extend(errors)

    def snapshot(self) -> QualitySnapshot:
        """Accuracy, per-class precision and recall, and MAE of the window."""
        with self._lock:
            pairs = list(self._pairs)
            errors = list(self._errors)
        correct = Counter(p for p, a in pairs if p == a)
        predicted = Counter(p for p, _ in pairs)
        actual = Counter(a for _, a in pairs)
        return QualitySnapshot(
            classified=len(pairs),
            accuracy=sum(correct.values()) / len(pairs) if pairs else None,
            precision={c: correct[c] / n for c, n in predicted.items()},
            recall={c: correct[c] / n for c, n in actual.items()},
            regressed=len(errors),
            mae=sum(errors) / len(errors) if errors else None,
        )
