"""Logits as classes: softmax (or sigmoid) probabilities, or the arg max alone. Pure."""

from __future__ import annotations

from typing import Any

import numpy as np

from otel_ml.outputs.extract import OutputSummary, summarize_predictions, summarize_probabilities

__all__ = ["summarize_logits"]


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
