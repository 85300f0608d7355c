"""Tensors and logits as classes: softmax (or sigmoid) probabilities, or the arg max
alone; what a PyTorch module's output means by its shape and dtype. Pure: no
framework import (a tensor is known by its ``detach`` and ``device``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from otel_ml.outputs.extract import (
    OutputSummary,
    Task,
    summarize_predictions,
    summarize_probabilities,
)
from otel_ml.outputs.host import host_array, is_tensor

__all__ = ["output_rows", "rows_only", "summarize_logits", "summarize_tensor"]

_PROBABILITY_TOLERANCE = 1e-3
_PYTHON_COLUMNS = 32
"""Up to this many classes one row is read in plain Python; numpy is faster above."""
_SPAN_CLASSES = 10
"""Distinct classes a batch puts on its span, as the other readers do."""


def summarize_logits(
    logits: np.ndarray, classes: Any, max_rows: int, softmax: bool = True
) -> OutputSummary:
    """Class and confidence from logits: rows of scores, one per class.

    Two or more columns go through softmax, one column (or a 1-D array, one
    value per row) through the sigmoid as the score of class 1. With
    ``softmax`` off the class is the arg max and no confidence is recorded.
    """
    scores = np.asarray(logits, dtype=np.float64)
    if scores.ndim == 1:
        scores = scores.reshape(-1, 1)
    if scores.ndim != 2:
        raise ValueError(f"expected logits of shape (rows, classes), got {scores.shape}")
    if scores.shape[1] == 1:
        positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
        probabilities = np.column_stack([1.0 - positive, positive])
    else:
        shifted = scores - scores.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        probabilities = exp / exp.sum(axis=1, keepdims=True)
    if softmax:
        return summarize_probabilities(probabilities, classes, max_rows)
    top = np.argmax(probabilities, axis=1)
    names = np.asarray(classes) if classes is not None else None
    labels = (
        names[top]
        if names is not None and names.ndim == 1 and len(names) > top.max(initial=0)
        else top
    )
    return summarize_predictions(labels, "classification")


def rows_only(rows: int | None) -> OutputSummary:
    """A summary with the row count alone; an unknown count reads as one row,
    which leaves the batch size recorded when the call started."""
    return OutputSummary(rows=1 if rows is None else rows)


def output_rows(output: Any) -> int | None:
    """Rows of an output from its shape metadata (never its data): a tensor or
    array, or the first one in a tuple, list or mapping; ``None`` when unknown."""
    if isinstance(output, Mapping):
        output = next((v for v in output.values() if hasattr(v, "shape")), None)
    elif isinstance(output, tuple | list):
        output = next((v for v in output if hasattr(v, "shape")), None)
    shape = getattr(output, "shape", None)
    if shape is None:
        return None
    shape = tuple(shape)
    return int(shape[0]) if shape else 1


def summarize_tensor(
    output: Any,
    task: Task | None,
    classes: Any,
    max_rows: int,
    read_device: bool = False,
    softmax: bool = True,
) -> OutputSummary:
    """Read a PyTorch module's tensor output by its shape and dtype.

    - ``(n, k >= 2)`` floats: class scores. Rows that already are probability
      distributions (non-negative, summing to 1) give class and confidence as
      they are; other rows are logits, read through softmax
      (:func:`summarize_logits`; ``softmax`` off: the arg max only). With
      ``task="regression"``: rows only.
    - ``(n,)`` or ``(n, 1)`` integers or booleans: one class per row.
    - ``(n,)`` or ``(n, 1)`` floats: one value per row (regression). With
      ``task="classification"``, ``(n, 1)`` is one logit per row (the sigmoid
      score of class 1) and ``(n,)`` one class per row (whole numbers only).
    - anything else (``(n, k)`` integers, three or more dimensions, a tensor on
      an accelerator without ``read_device``): rows only, from the shape.

    ``classes`` names the columns or class indices (``None``: the index).
    """
    rows = output_rows(output)
    values = host_array(output, read_device) if is_tensor(output) else np.asarray(output)
    if values is None or values.ndim > 2 or not rows:
        return rows_only(rows)
    if values.ndim == 0:
        values = values.reshape(1)
    kind = values.dtype.kind
    if kind in "biu":
        if values.ndim == 2 and values.shape[1] != 1:
            return rows_only(rows)
        labels = values.reshape(-1)
        if classes is not None and kind in "iu":
            labels = _named(labels, classes)
        return summarize_predictions(labels, "classification")
    if kind != "f":
        return rows_only(rows)
    if values.ndim == 2 and (values.shape[1] > 1 or task == "classification"):
        if task == "regression":
            return rows_only(rows)
        return _class_scores(values, classes, max_rows, softmax)
    return summarize_predictions(values.reshape(-1), task or "regression")


def _class_scores(values: np.ndarray, classes: Any, max_rows: int, softmax: bool) -> OutputSummary:
    """Class and confidence of the rows of class scores that are finite; a row
    with a NaN or an infinity has no class (counted as a ``non_finite`` confidence)."""
    if values.shape[0] == 1 and 1 < values.shape[1] <= _PYTHON_COLUMNS and softmax:
        one = _one_row(values[0].tolist(), classes, max_rows)
        if one is not None:
            return one
    finite = np.isfinite(values).all(axis=1)
    if not finite.all():
        return _without(values, finite, classes, max_rows, softmax)
    if values.shape[1] > 1 and _distributions(values):
        return summarize_probabilities(values, classes, max_rows)
    return summarize_logits(values, classes, max_rows, softmax)


def _one_row(row: list[float], classes: Any, max_rows: int) -> OutputSummary | None:
    """One row of class scores in plain Python (numpy's per-call cost on a 1 x k
    array is most of a small model's telemetry); ``None`` sends an unusual row
    (not finite) to the general path."""
    if not all(map(math.isfinite, row)):
        return None
    if min(row) < 0.0 or abs(sum(row) - 1.0) > _PROBABILITY_TOLERANCE:
        top = max(row)
        exps = [math.exp(score - top) for score in row]
        total = sum(exps)
        row = [value / total for value in exps]
    return summarize_probabilities(np.array([row]), classes, max_rows)


def _without(
    values: np.ndarray, finite: np.ndarray, classes: Any, max_rows: int, softmax: bool
) -> OutputSummary:
    kept = _class_scores(values[finite], classes, max_rows, softmax) if finite.any() else None
    kept = kept or OutputSummary()
    summary = OutputSummary(rows=len(values), class_counts=kept.class_counts)
    summary.distinct_classes = [label for label, _ in kept.class_counts[:_SPAN_CLASSES]]
    summary.confidences = kept.confidences
    summary.invalid_confidence = dict(kept.invalid_confidence)
    bad = int(len(values) - np.count_nonzero(finite))
    summary.invalid_confidence["non_finite"] = summary.invalid_confidence.get("non_finite", 0) + bad
    return summary


def _distributions(values: np.ndarray) -> bool:
    """Whether every row is a probability distribution (a softmax already applied)."""
    if (values < 0.0).any():
        return False
    return bool(np.allclose(values.sum(axis=1), 1.0, atol=_PROBABILITY_TOLERANCE))


def _named(indices: np.ndarray, classes: Any) -> np.ndarray:
    """Class indices as the names ``classes`` gives them, where every index has one."""
    names = np.asarray(classes)
    if names.ndim == 1 and indices.size and indices.min() >= 0 and indices.max() < len(names):
        return np.asarray(names[indices])
    return indices
