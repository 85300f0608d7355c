"""Reading gradient-boosted tree outputs (xgboost and lightgbm ``Booster``) by objective.

Pure: no OpenTelemetry, and neither library is imported (a booster is asked
for its objective through its own methods). What a booster's ``predict``
returns depends on the objective it was trained with and on the call's
flags, never on the numbers alone: a binary model's column of values is
P(class 1), a regression's predicted values, a margin with
``output_margin=True``. So the objective is read once per booster
(:data:`XGBOOST_OBJECTIVE`, :data:`LIGHTGBM_OBJECTIVE`), the call's flags pick the output kind
(:func:`xgboost_kind`, :func:`lightgbm_kind`) and :func:`summarize_booster`
reads the output as that kind. Multi-class classes are the column indexes,
as the boosters number them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from otel_ml.outputs.extract import (
    OutputSummary,
    Task,
    add_confidences,
    summarize_predictions,
    summarize_probabilities,
)
from otel_ml.outputs.memo import PerObject

__all__ = [
    "LIGHTGBM_OBJECTIVE",
    "XGBOOST_OBJECTIVE",
    "OutputKind",
    "lightgbm_kind",
    "lightgbm_objective",
    "output_rows",
    "summarize_booster",
    "xgboost_kind",
    "xgboost_objective",
]

OutputKind = Literal["positive", "logit", "labels", "probabilities", "values", "rows"]
"""How a booster output reads.

``positive``: P(class 1) per row (class by 0.5, confidence ``max(p, 1 - p)``);
``logit``: class 1's margin per row, through the sigmoid as ``positive``;
``labels``: class labels, possibly as floats (``1.0`` -> ``"1"``);
``probabilities``: one column per class (class = arg max, confidence = max);
``values``: regression, counts, survival, ranking scores;
``rows``: anything else (margins, leaf indexes, contributions): rows only.
"""

_TASK_KINDS: dict[str, OutputKind] = {"classification": "labels", "regression": "values"}
_XGBOOST_OBJECTIVES: dict[str, OutputKind] = {
    "binary:logistic": "positive",
    "binary:logitraw": "logit",
    "binary:hinge": "labels",
    "multi:softprob": "probabilities",
    "multi:softmax": "labels",
}
_XGBOOST_VALUE_FAMILIES = ("reg:", "count:", "survival:", "rank:")
_XGBOOST_RAW_FLAGS = ("output_margin", "pred_leaf", "pred_contribs", "pred_interactions")

_LIGHTGBM_OBJECTIVES: dict[str, OutputKind] = {
    "binary": "positive",
    "multiclass": "probabilities",
    "multiclassova": "probabilities",
    **dict.fromkeys(
        ("regression", "regression_l1", "huber", "fair", "poisson", "quantile", "mape",
         "gamma", "tweedie", "cross_entropy", "cross_entropy_lambda", "lambdarank",
         "rank_xendcg"),
        "values",
    ),
}  # fmt: skip
_LIGHTGBM_RAW_FLAGS = ("raw_score", "pred_leaf", "pred_contrib")
"""The flags of ``predict(data, start_iteration, num_iteration, raw_score, ...)``."""
_LIGHTGBM_RAW_PARAMETERS = frozenset(
    {"predict_raw_score", "is_predict_raw_score", "predict_rawscore", "predict_leaf_index",
     "is_predict_leaf_index", "leaf_index", "predict_contrib", "is_predict_contrib",
     "contrib"}
)  # fmt: skip
"""Prediction parameters (and their aliases) that lightgbm's ``**kwargs`` pass on."""


def xgboost_objective(booster: Any) -> str | None:
    """The objective an xgboost ``Booster`` was trained with (``"binary:logistic"``),
    from its configuration; ``None`` when it says none."""
    config = json.loads(booster.save_config())
    name = config.get("learner", {}).get("objective", {}).get("name")
    return name if isinstance(name, str) else None


def lightgbm_objective(booster: Any) -> str | None:
    """The objective a lightgbm ``Booster`` was trained with, in LightGBM's own
    spelling (``"binary"``, ``"multiclass"``, never an alias), from the header of
    its model text; ``None`` for a custom objective. Only one iteration's trees
    are written out to read it."""
    header = booster.model_to_string(num_iteration=1)
    for line in header.splitlines():
        if line.startswith("objective="):
            words = line[len("objective=") :].split()
            return words[0] if words else None
        if line.startswith("Tree="):
            break
    return None


XGBOOST_OBJECTIVE = PerObject(xgboost_objective)
"""An xgboost booster's objective, read once per booster (``save_config`` costs
a JSON dump of the whole configuration)."""
LIGHTGBM_OBJECTIVE = PerObject(lightgbm_objective)
"""A lightgbm booster's objective, read once per booster."""


def xgboost_kind(
    objective: str | None, operation: str, kwargs: Mapping[str, Any], task: Task | None = None
) -> OutputKind:
    """How an xgboost ``predict`` or ``inplace_predict`` output reads (their flags
    are keyword-only): margins, leaf indexes and contributions are rows only.
    ``task`` reads the output of an objective this module does not know."""
    if operation == "inplace_predict":
        if kwargs.get("predict_type", "value") != "value":
            return "rows"
    elif any(kwargs.get(flag) for flag in _XGBOOST_RAW_FLAGS):
        return "rows"
    found = _XGBOOST_OBJECTIVES.get(objective or "")
    if found is None and objective and objective.startswith(_XGBOOST_VALUE_FAMILIES):
        found = "values"
    return found or _TASK_KINDS.get(task or "", "rows")


def lightgbm_kind(
    objective: str | None,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    task: Task | None = None,
) -> OutputKind:
    """How a lightgbm ``predict(data, start_iteration, num_iteration, raw_score,
    pred_leaf, pred_contrib, ...)`` output reads: raw scores, leaf indexes and
    contributions (by argument or prediction parameter) are rows only. ``task``
    reads the output of a custom objective (``None`` here)."""
    for position, flag in enumerate(_LIGHTGBM_RAW_FLAGS, start=3):
        if kwargs.get(flag) or (len(args) > position and args[position]):
            return "rows"
    if any(kwargs.get(name) for name in _LIGHTGBM_RAW_PARAMETERS):
        return "rows"
    found = _LIGHTGBM_OBJECTIVES.get(objective or "")
    return found or _TASK_KINDS.get(task or "", "rows")


def summarize_booster(output: Any, kind: OutputKind, max_rows: int) -> OutputSummary:
    """Read a booster output as ``kind``; an output of an unexpected shape or type
    (a sparse matrix, a CuPy array, a multi-label column block) is rows only."""
    if kind == "rows" or not isinstance(output, np.ndarray):
        # a sparse matrix, a list of them, a GPU array: never copied to be read
        return OutputSummary(rows=output_rows(output))
    if kind == "values":
        return summarize_predictions(output, "regression")
    if kind == "labels":
        return summarize_predictions(output, "classification")
    if kind == "probabilities" and output.ndim == 2 and output.shape[1] > 1:
        return summarize_probabilities(output, None, max_rows)
    if kind in ("positive", "logit") and _one_column(output):
        return _binary(output.reshape(-1), kind == "logit", max_rows)
    return OutputSummary(rows=output_rows(output))


def output_rows(output: Any) -> int:
    """Rows of an output from its shape (no copy), its length, else 1."""
    shape = getattr(output, "shape", None)
    if isinstance(shape, tuple):
        return int(shape[0]) if shape else 1
    if isinstance(output, list | tuple) and output:
        first = getattr(output[0], "shape", None)  # one sparse block per class
        return int(first[0]) if isinstance(first, tuple) and first else len(output)
    return 1


def _binary(column: np.ndarray, logit: bool, max_rows: int) -> OutputSummary:
    """Class 1's probability (or margin) per row as classes 0/1 with confidences."""
    if column.shape[0] == 1:  # one row in plain Python: numpy calls cost more here
        score: float = column.item()
        positive = _sigmoid(score) if logit else score
        if positive != positive:  # NaN: no class, as a NaN row of probabilities
            summary = OutputSummary(1)
            summary.invalid_confidence["non_finite"] = 1
            return summary
        label = "1" if positive > 0.5 else "0"  # 0.5 is class 0, as XGBClassifier says
        summary = OutputSummary(1, label, class_counts=[(label, 1)])
        add_confidences(summary, [max(positive, 1.0 - positive)], max_rows)
        return summary
    scores = column.astype(np.float64, copy=False)
    if logit:
        with np.errstate(over="ignore"):  # exp(-x) is inf for very negative margins: p = 0
            scores = 1.0 / (1.0 + np.exp(-scores))
    return summarize_probabilities(np.column_stack([1.0 - scores, scores]), None, max_rows)


def _sigmoid(margin: float) -> float:
    if margin >= 0:
        return 1.0 / (1.0 + math.exp(-margin))
    tail = math.exp(margin)  # never overflows: margin < 0
    return tail / (1.0 + tail)


def _one_column(output: np.ndarray) -> bool:
    return output.ndim == 1 or (output.ndim == 2 and output.shape[1] == 1)
