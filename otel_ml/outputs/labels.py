"""A bounded set of label values for metric attributes."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from otel_ml.semconv import OTHER_LABEL

MAX_LABEL_LENGTH = 128
"""Longer labels are free text, not classes: they are never admitted."""


class BoundedLabels:
    """Admits the first ``limit`` distinct labels; later ones map to ``__other__``,
    as do labels longer than :data:`MAX_LABEL_LENGTH` characters.

    Seeding with the model's known classes (``classes_``) makes the admitted
    set the model's own labels rather than whatever arrived first.
    """

    __slots__ = ("_admitted", "_limit", "_lock")

    def __init__(self, limit: int, seed: Iterable[str] = ()) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._admitted: set[str] = set()
        for label in seed:
            if len(self._admitted) >= limit:
                break
            self._admitted.add(label)

    def __call__(self, label: str) -> str:
        """The label to put on a metric for ``label``."""
        if label in self._admitted:
            return label
        with self._lock:
            if label in self._admitted:
                return label
            if len(self._admitted) < self._limit and len(label) <= MAX_LABEL_LENGTH:
                self._admitted.add(label)
                return label
        return OTHER_LABEL

    def __len__(self) -> int:
        return len(self._admitted)
