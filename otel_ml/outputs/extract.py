"""Pure functions that read a model's inputs and outputs. No OpenTelemetry here.

They never raise for unusual but legal outputs (lists, scalars, strings, pandas
objects); they raise only for outputs they cannot interpret at all, which the
caller counts through the guard.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from otel_ml.outputs.host import is_tensor, on_accelerator, to_host
from otel_ml.semconv import UNPRINTABLE

Task = Literal["classification", "regression"]

_MAX_SPAN_CLASSES = 10
MAX_ROW_DETAIL = 256
"""Batches up to this size keep their per-row predictions (for joining labels)."""


class OutputSummary:
    """What one call predicted, ready to become span attributes and metric points."""

    # A hand-written __init__: the dataclass one took twice as long, on every call.
    __slots__ = ("class_counts", "confidence", "confidences", "distinct_classes",
                 "invalid_confidence", "invalid_predictions", "label", "row_labels",
                 "row_values", "rows", "value", "value_mean")  # fmt: skip

    def __init__(
        self,
        rows: int = 0,
        label: str | None = None,
        value: float | None = None,
        confidence: float | None = None,
        class_counts: list[tuple[str, int]] | None = None,
    ) -> None:
        self.rows = rows
        self.label = label
        """Single-row classification: the class."""
        self.value = value
        """Single-row regression: the value."""
        self.confidence = confidence
        """Single-row: the confidence."""
        self.class_counts: list[tuple[str, int]] = class_counts or []
        """Rows per predicted class."""
        self.distinct_classes: list[str] = []
        """Batch: up to 10 distinct classes, most frequent first."""
        self.confidences: np.ndarray | None = None
        """Valid per-row confidences (finite, in [0, 1])."""
        self.value_mean: float | None = None
        self.row_labels: list[str] | None = None
        """Batch classification up to :data:`MAX_ROW_DETAIL` rows: the class per row."""
        self.row_values: list[float] | None = None
        """Batch regression up to :data:`MAX_ROW_DETAIL` rows: the value per row."""
        self.invalid_confidence: dict[str, int] = {}
        """Issue kind (``non_finite``, ``out_of_range``, ``type``) -> rows."""
        self.invalid_predictions = 0
        """Rows whose output could not be a class: a dict, a list, an object or a
        float that is not a whole number (see :func:`class_label`)."""

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"OutputSummary({fields})"


def batch_size_of(inputs: Any) -> int | None:
    """Rows in a model input: ``shape[0]`` for arrays and frames, ``len()`` for
    sequences, 1 for a single mapping or scalar, ``None`` when unknowable."""
    shape = getattr(inputs, "shape", None)
    if isinstance(shape, tuple):
        return int(shape[0]) if shape and isinstance(shape[0], int | np.integer) else 1
    if isinstance(inputs, dict | str | bytes | int | float):
        return 1
    try:
        return len(inputs)
    except TypeError:
        return None


def detect_task(model: Any) -> Task | None:
    """Classification or regression from a scikit-learn-style estimator, else ``None``."""
    if getattr(model, "classes_", None) is not None:
        return "classification"
    kind = getattr(model, "_estimator_type", None)
    if kind is None:
        tags = getattr(model, "__sklearn_tags__", None)
        try:
            kind = tags().estimator_type if callable(tags) else None
        except Exception:
            kind = None
    if kind == "classifier":
        return "classification"
    if kind == "regressor":
        return "regression"
    return None


def summarize_predictions(
    output: Any, task: Task | None, read_device: bool = False
) -> OutputSummary:
    """Summarise a ``predict``-like output: one label/value or per-class counts.

    A tensor on an accelerator gives its row count only, unless ``read_device``
    (see :mod:`otel_ml.outputs.host`)."""
    if type(output) is not np.ndarray and on_accelerator(output) and not read_device:
        return OutputSummary(rows=_leading_dimension(output))
    if type(output) is np.ndarray and output.shape == (1,):
        # One row, read as a Python scalar (numpy scalars make every step slower).
        kind = output.dtype.kind
        if kind in "biu" and task != "regression":
            label = str(output.item())  # what label_of makes of an int
            return OutputSummary(1, label, class_counts=[(label, 1)])
        one = _one_prediction(output, task)
        if one is not None:
            return one
    if isinstance(output, list | tuple):
        several = _rows_of_several_outputs(output)
        if several is not None:
            return OutputSummary(rows=several)
    try:
        values = _as_rows(output)
    except ValueError:
        if not isinstance(output, list | tuple):
            raise
        return OutputSummary(rows=len(output))  # rows of unequal length: rows only
    summary = OutputSummary(rows=int(values.shape[0]))
    if summary.rows == 0:
        return summary
    if task is None:
        task = "regression" if values.dtype.kind in "fc" else "classification"
    if task == "regression":
        _summarize_values(values, summary)
    else:
        _summarize_classes(values, summary)
    return summary


def summarize_probabilities(output: Any, classes: Any, max_rows: int) -> OutputSummary:
    """Summarise ``predict_proba``: class = argmax, confidence = max probability."""
    if type(output) is np.ndarray and output.ndim == 2 and output.shape[0] == 1:
        one = _one_probability_row(output, classes)
        if one is not None:
            return one
    probs = np.asarray(output)
    if probs.ndim == 1:
        probs = probs.reshape(1, -1) if probs.size > 1 else probs.reshape(-1, 1)
    if probs.ndim != 2:
        raise ValueError(f"expected a 2-D probability array, got shape {probs.shape}")
    summary = OutputSummary(rows=int(probs.shape[0]))
    if summary.rows == 0 or probs.shape[1] == 0:
        return summary
    if probs.dtype.kind not in "fiub":
        summary.invalid_confidence["type"] = summary.rows
        return summary
    probs = probs.astype(np.float64, copy=False)
    finite = np.isfinite(probs).all(axis=1)
    # An infinite entry is its row's arg max, as np.argmax says; a row with a NaN has
    # no arg max to agree with: no class. Both count as non_finite confidences.
    undefined = np.isnan(probs).any(axis=1)
    top = np.argmax(np.where(np.isnan(probs), -np.inf, probs), axis=1)
    conf = probs[np.arange(summary.rows), top]
    labels = _class_names(classes, top)
    if undefined.any():
        _summarize_classes(labels[~undefined], summary)
        summary.label = summary.row_labels = None
    else:
        _summarize_classes(labels, summary)
    _apply_confidences(conf, finite, summary, max_rows)
    return summary


def _one_prediction(output: np.ndarray, task: Task | None) -> OutputSummary | None:
    """The single-row case on a Python scalar (numpy scalars make every step slower);
    ``None`` sends unusual dtypes to the general path."""
    kind = output.dtype.kind
    if kind not in "biufSU":
        return None
    value = output.item()
    if task == "regression" or (task is None and kind in "fc"):
        return OutputSummary(rows=1, value=float(value)) if kind in "biuf" else None
    label = class_label(value)
    if label is None:
        summary = OutputSummary(rows=1)
        summary.invalid_predictions = 1
        return summary
    return OutputSummary(rows=1, label=label, class_counts=[(label, 1)])


def _one_probability_row(output: np.ndarray, classes: Any) -> OutputSummary | None:
    """The single-row case in plain Python (a dozen numpy calls on a 1 x k array
    cost more than the model here); ``None`` sends unusual rows to numpy."""
    if output.dtype.kind != "f" or output.shape[1] == 0:
        return None
    row: list[float] = output[0].tolist()
    if not all(map(math.isfinite, row)):
        return None
    conf = max(row)
    top = row.index(conf)  # the first maximum, like np.argmax
    names = classes if isinstance(classes, np.ndarray) else np.asarray(classes)
    label = names[top] if classes is not None and names.ndim == 1 and names.shape[0] > top else top
    text = label_of(label)
    summary = OutputSummary(rows=1, label=text, class_counts=[(text, 1)])
    if 0.0 <= conf <= 1.0:
        summary.confidence = conf
        summary.confidences = np.array([conf])
    else:
        summary.invalid_confidence["out_of_range"] = 1
        summary.confidences = np.empty(0)
    return summary


def check_confidence(value: Any) -> tuple[float | None, str | None]:
    """Validate a user-given confidence: ``(value, None)`` or ``(None, issue)``."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return None, "type"  # complex numbers included: no confidence has an imaginary part
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range
        return None, "out_of_range"
    if not math.isfinite(number):
        return None, "non_finite"
    if not 0.0 <= number <= 1.0:
        return None, "out_of_range"
    return number, None


def _leading_dimension(tensor: Any) -> int:
    shape = tuple(tensor.shape)  # metadata: reading it neither copies nor synchronises
    return int(shape[0]) if shape else 1


def _as_rows(output: Any) -> np.ndarray:
    if isinstance(output, np.ndarray):
        values = output
    elif isinstance(output, str | bytes | int | float | bool):
        values = np.asarray([output])
    elif is_tensor(output):  # a torch tensor, possibly with grad
        values = to_host(output)  # the caller checked the device
    else:
        values = np.asarray(output.to_numpy() if hasattr(output, "to_numpy") else output)
    if values.ndim == 0:
        values = values.reshape(1)
    elif values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    return values


def _rows_of_several_outputs(output: list[Any] | tuple[Any, ...]) -> int | None:
    """Rows of a model's several outputs returned in one list (arrays of different
    shapes, or arrays beside lists: ONNX Runtime's ``run`` returns labels and
    probabilities): the first output's rows. ``None`` for anything else."""
    arrays = [item for item in output if isinstance(item, np.ndarray)]
    if not arrays or (len(arrays) == len(output) and len({a.shape for a in arrays}) == 1):
        return None
    rows = batch_size_of(output[0])
    return rows if rows is not None else 1


def _summarize_values(values: np.ndarray, summary: OutputSummary) -> None:
    if values.dtype.kind not in "fiub" or values.ndim != 1:
        return  # multi-output or non-numeric regression: rows only
    if summary.rows == 1:
        summary.value = float(values[0])
    else:
        summary.value_mean = float(np.mean(values))
        if summary.rows <= MAX_ROW_DETAIL:
            summary.row_values = values.astype(np.float64).tolist()


def _summarize_classes(values: np.ndarray, summary: OutputSummary) -> None:
    if values.ndim != 1:
        return  # multi-label output: rows only
    values = _class_values(values, summary)
    if values.size == 0:
        return
    if values.size == 1 and summary.rows == 1:
        label = label_of(values[0])
        summary.label = label
        summary.class_counts = [(label, 1)]
        return
    as_text = values.astype(str)
    if summary.rows <= MAX_ROW_DETAIL and not summary.invalid_predictions:
        summary.row_labels = as_text.tolist()
    uniques, counts = np.unique(as_text, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    summary.class_counts = [(encodable(str(uniques[i])), int(counts[i])) for i in order]
    summary.distinct_classes = [label for label, _ in summary.class_counts[:_MAX_SPAN_CLASSES]]


def _class_values(values: np.ndarray, summary: OutputSummary) -> np.ndarray:
    """The values that can be classes; the others are counted in the summary."""
    kind = values.dtype.kind
    if kind in "biuSU":
        return values
    if kind == "f":
        whole: np.ndarray = np.isfinite(values) & (np.mod(values, 1) == 0)
        summary.invalid_predictions += int(values.size - np.count_nonzero(whole))
        # 0.0/1.0 labels read as "0"/"1", as single rows do
        kept: np.ndarray = values[whole]
        return kept.astype(np.int64)
    labels = [class_label(value) for value in values.tolist()]
    texts = [label for label in labels if label is not None]
    summary.invalid_predictions += len(labels) - len(texts)
    return np.asarray(texts, dtype=str)


def class_label(value: Any) -> str | None:
    """A model output read as a class label, or ``None`` when it cannot be one.

    Only scalar labels qualify: text, bytes, booleans, integers and floats with
    a whole value (``1.0`` -> ``"1"``). A dict, a list, an arbitrary object or a
    fractional float (a probability, a score) is never a class: its repr would
    make a new metric series per distinct value.
    """
    kind = type(value)
    if kind is int or kind is str or kind is bool:
        return label_of(value)
    if isinstance(value, bytes | np.bytes_ | np.integer | np.bool_ | np.str_):
        return label_of(value)
    if isinstance(value, float | np.floating):
        return label_of(value) if math.isfinite(value) and float(value).is_integer() else None
    return None


def add_confidences(summary: OutputSummary, confidences: Any, max_rows: int) -> None:
    """Give ``summary`` one confidence per row (a model's own, such as the highest
    probability of a row whose class another output names); values that are not
    finite or not in [0, 1] are counted, not recorded."""
    if summary.rows == 1 and len(confidences) == 1:  # one value: numpy calls cost more here
        value, issue = check_confidence(confidences[0])
        if issue is None:
            summary.confidence = value
        else:
            summary.invalid_confidence[issue] = 1
        return
    conf = np.asarray(confidences, dtype=np.float64).reshape(-1)
    _apply_confidences(conf, np.isfinite(conf), summary, max_rows)


def _apply_confidences(
    conf: np.ndarray, finite: np.ndarray, summary: OutputSummary, max_rows: int
) -> None:
    in_range = finite & (conf >= 0.0) & (conf <= 1.0)
    bad_finite = int((~finite).sum())
    bad_range = int((finite & ~in_range).sum())
    if bad_finite:
        summary.invalid_confidence["non_finite"] = bad_finite
    if bad_range:
        summary.invalid_confidence["out_of_range"] = bad_range
    valid = conf[in_range]
    if summary.rows == 1:
        summary.confidence = float(valid[0]) if valid.size else None
    if valid.size > max_rows:
        # Even stride keeps the sample's distribution; the cap bounds per-call cost.
        valid = valid[:: math.ceil(valid.size / max_rows)]
    summary.confidences = valid


def _class_names(classes: Any, index: np.ndarray) -> np.ndarray:
    if classes is not None:
        names = np.asarray(classes)
        if names.ndim == 1 and names.shape[0] > int(index.max(initial=0)):
            return np.asarray(names[index])
    return index


def label_of(value: Any) -> str:
    """A class label as the string used on spans and metrics (1.0 -> "1")."""
    kind = type(value)
    if kind is int:  # the common cases first: isinstance against unions is slow
        return str(value)
    if kind is str:
        return encodable(value)
    if isinstance(value, bytes | np.bytes_):
        return value.decode("utf-8", "replace")
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    try:
        return encodable(str(value))
    except Exception:
        return UNPRINTABLE  # a label from the caller whose __str__ raises


def encodable(text: str) -> str:
    """``text`` with lone surrogates (from bytes decoded with ``surrogateescape``)
    replaced: OTLP exporters cannot encode them and would drop the attribute."""
    if text.isascii():
        return text
    return text.encode("utf-8", "replace").decode("utf-8")
