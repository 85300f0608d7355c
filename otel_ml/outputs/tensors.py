"""Tensors and logits: reading a framework's output on the host, and logits as classes.

Pure: no OpenTelemetry, and no framework import (a PyTorch tensor is known by
its ``detach`` and ``device``). A tensor on an accelerator is never copied to
the host or waited for unless the caller allows it (``read_device``): the copy
synchronises the device, which would put telemetry on the model's critical path.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from otel_ml.outputs.extract import OutputSummary, summarize_predictions, summarize_probabilities

__all__ = ["host_array", "is_tensor", "on_accelerator", "summarize_logits"]


def is_tensor(value: Any) -> bool:
    """Whether ``value`` looks like a PyTorch tensor (``detach`` and ``device``)."""
    return hasattr(value, "detach") and hasattr(value, "device")


def on_accelerator(value: Any) -> bool:
    """Whether ``value`` is a tensor whose data lives off the host (CUDA, MPS, XLA...)."""
    device = getattr(value, "device", None)
    return is_tensor(value) and getattr(device, "type", "cpu") != "cpu"


def host_array(value: Any, read_device: bool = False) -> np.ndarray | None:
    """``value`` as a numpy array, or ``None`` for an accelerator tensor when
    ``read_device`` is off. A CPU tensor shares its memory (no copy unless its
    dtype has no numpy twin, such as bfloat16)."""
    if isinstance(value, np.ndarray):
        return value
    if is_tensor(value):
        if on_accelerator(value):
            if not read_device:
                return None
            value = value.detach().cpu()
        tensor = value.detach()
        if not tensor.is_floating_point() or str(tensor.dtype) in _NUMPY_FLOATS:
            return np.asarray(tensor.numpy())
        return np.asarray(tensor.float().numpy())
    return np.asarray(value)


_NUMPY_FLOATS = frozenset({"torch.float16", "torch.float32", "torch.float64"})


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
    labels = names[top] if names is not None and names.ndim == 1 and len(names) > top.max(initial=0) else top
    return summarize_predictions(labels, "classification")
