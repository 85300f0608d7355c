"""Reading ONNX Runtime outputs: which output is the class, which the probabilities.

Pure: no OpenTelemetry, and onnxruntime is not imported. ``InferenceSession.run``
returns a list, one entry per requested output. A scikit-learn classifier
converted by skl2onnx has two: the labels (a tensor of integers or strings)
and the probabilities, either a list of ``{class: probability}`` dicts
(ZipMap) or a ``(rows, classes)`` float tensor; a regressor has one
``(rows, 1)`` float tensor. The role of each output is decided once per
session from its declared name, type and shape (:func:`onnx_layout`);
:func:`summarize_onnx` then reads a call's outputs by role. Whatever does not
fit these shapes gives no summary: the call keeps its duration and the batch
size of its inputs, and nothing is guessed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from otel_ml.outputs.extract import (
    OutputSummary,
    add_confidences,
    summarize_predictions,
    summarize_probabilities,
)

__all__ = ["OnnxLayout", "Role", "onnx_layout", "summarize_onnx"]

Role = Literal["label", "probabilities", "value", "other"]
"""``label``: one class per row; ``probabilities``: one probability per class and
row (a float matrix or ZipMap dicts); ``value``: one float per row; ``other``."""

_LABEL_TYPES = frozenset(
    {"tensor(int64)", "tensor(int32)", "tensor(int16)", "tensor(int8)", "tensor(uint8)",
     "tensor(uint16)", "tensor(uint32)", "tensor(uint64)", "tensor(string)", "tensor(bool)"}
)  # fmt: skip
_FLOAT_TYPES = frozenset({"tensor(float)", "tensor(double)", "tensor(float16)"})


@dataclass(frozen=True)
class OnnxLayout:
    """The outputs of one session, in order, and the role of each."""

    names: tuple[str, ...]
    roles: dict[str, Role]

    def role(self, name: str) -> Role:
        """The role of the output called ``name`` (``other`` if unknown)."""
        return self.roles.get(name, "other")


def onnx_layout(outputs: Iterable[Any]) -> OnnxLayout:
    """Roles of a session's outputs, from ``session.get_outputs()`` (objects with
    ``name``, ``type`` such as ``"tensor(int64)"`` and ``shape``).

    A float matrix is the probabilities when its name says so or the session
    also has a label output; a float column (``[N]`` or ``[N, 1]``) is a value.
    """
    declared = [(str(o.name), str(o.type), _shape(o.shape)) for o in outputs]
    has_label = any(_is_label(kind, shape) for _, kind, shape in declared)
    roles: dict[str, Role] = {}
    for name, kind, shape in declared:
        roles[name] = _role(name, kind, shape, has_label)
    return OnnxLayout(tuple(name for name, _, _ in declared), roles)


def _role(name: str, kind: str, shape: tuple[Any, ...] | None, has_label: bool) -> Role:
    if kind.startswith("seq(map("):
        return "probabilities"
    if _is_label(kind, shape):
        return "label"
    if kind not in _FLOAT_TYPES or shape is None:
        return "other"
    if len(shape) == 2 and shape[1] != 1 and (has_label or "prob" in name.lower()):
        return "probabilities"
    if len(shape) == 1 or (len(shape) == 2 and shape[1] == 1):
        return "value"
    return "other"


def _is_label(kind: str, shape: tuple[Any, ...] | None) -> bool:
    return kind in _LABEL_TYPES and shape is not None and len(shape) == 1


def _shape(shape: Any) -> tuple[Any, ...] | None:
    return tuple(shape) if isinstance(shape, list | tuple) else None


def summarize_onnx(
    layout: OnnxLayout, requested: Sequence[str] | None, outputs: Any, max_rows: int
) -> OutputSummary | None:
    """Read ``outputs`` (what ``run(requested, feed)`` returned) by role.

    Class: the label output, read by :func:`~otel_ml.outputs.extract.class_label`'s
    rules; without one, the arg max of the probabilities. Confidence: the row's
    highest probability. A single value output: the values. ``None`` when the
    outputs fit none of these.
    """
    names = tuple(requested) if requested else layout.names
    if not isinstance(outputs, list | tuple) or len(outputs) != len(names):
        return None
    by_role: dict[Role, Any] = {}
    for name, value in zip(names, outputs, strict=True):
        by_role.setdefault(layout.role(name), value)
    labels, probabilities = by_role.get("label"), by_role.get("probabilities")
    if labels is not None and isinstance(labels, np.ndarray):
        return _labelled(labels, probabilities, max_rows)
    if probabilities is not None:
        matrix, classes = _probability_matrix(probabilities)
        return None if matrix is None else summarize_probabilities(matrix, classes, max_rows)
    if len(names) == 1 and "value" in by_role and isinstance(outputs[0], np.ndarray):
        return summarize_predictions(outputs[0], "regression")
    return None


def _labelled(labels: np.ndarray, probabilities: Any, max_rows: int) -> OutputSummary:
    """Classes from the label output, confidences from the probabilities' row maxima."""
    summary = summarize_predictions(labels, "classification")
    if probabilities is None:
        return summary
    matrix, _ = _probability_matrix(probabilities)
    if matrix is None or matrix.shape[0] != summary.rows or matrix.shape[1] == 0:
        return summary
    if summary.rows == 1:  # plain Python: numpy's max of one short row costs more
        row: list[float] = matrix[0].tolist()
        add_confidences(summary, [max(row) if all(map(math.isfinite, row)) else math.nan], 1)
    else:
        add_confidences(summary, matrix.max(axis=1), max_rows)
    return summary


def _probability_matrix(probabilities: Any) -> tuple[np.ndarray | None, list[Any] | None]:
    """``(rows x classes float matrix, class names or None)``; ``(None, None)``
    when the output is neither a float matrix nor a list of same-keyed dicts."""
    if isinstance(probabilities, np.ndarray):
        if probabilities.ndim == 2 and probabilities.dtype.kind == "f":
            return probabilities, None
        return None, None
    if not isinstance(probabilities, list) or not probabilities:
        return None, None
    first = probabilities[0]
    if not isinstance(first, dict) or not first:
        return None, None
    classes = list(first)
    if not all(type(row) is dict and len(row) == len(classes) for row in probabilities):
        return None, None
    try:
        rows = [[row[name] for name in classes] for row in probabilities]
        matrix = np.asarray(rows, dtype=np.float64)
    except (KeyError, TypeError, ValueError):  # a row with other keys or non-numbers
        return None, None
    return matrix, classes
