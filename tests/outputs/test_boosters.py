"""Booster outputs read by objective: the objective read from real xgboost and
lightgbm boosters, the call's flags, and every output kind."""

from __future__ import annotations

import gc
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
import scipy.sparse
import xgboost as xgb
from model_zoo import (
    LIGHTGBM_LABELS,
    ROWS,
    XGBOOST_LABELS,
    lightgbm_booster,
    lightgbm_custom_booster,
    xgboost_booster,
)

from otel_ml.outputs.boosters import (
    lightgbm_kind,
    lightgbm_objective,
    output_rows,
    summarize_booster,
    xgboost_kind,
    xgboost_objective,
)
from otel_ml.outputs.memo import PerObject

XGBOOST_KINDS = {
    "binary:logistic": "positive",
    "binary:logitraw": "logit",
    "binary:hinge": "labels",
    "multi:softprob": "probabilities",
    "multi:softmax": "labels",
    "reg:squarederror": "values",
    "reg:logistic": "values",
    "count:poisson": "values",
    "survival:cox": "values",
    "rank:pairwise": "values",
}
LIGHTGBM_CANONICAL = {
    "binary": ("binary", "positive"),
    "multiclass": ("multiclass", "probabilities"),
    "softmax": ("multiclass", "probabilities"),
    "multiclassova": ("multiclassova", "probabilities"),
    "regression": ("regression", "values"),
    "mse": ("regression", "values"),
    "huber": ("huber", "values"),
    "poisson": ("poisson", "values"),
    "xentropy": ("cross_entropy", "values"),
    "lambdarank": ("lambdarank", "values"),
}


@pytest.mark.parametrize("objective", sorted(XGBOOST_LABELS))
def test_xgboost_objective_and_kind_of_real_boosters(objective: str) -> None:
    booster = xgboost_booster(objective)
    assert xgboost_objective(booster) == objective
    assert xgboost_kind(objective, "predict", {}) == XGBOOST_KINDS[objective]
    assert xgboost_kind(objective, "inplace_predict", {}) == XGBOOST_KINDS[objective]


@pytest.mark.parametrize("given", sorted(LIGHTGBM_LABELS))
def test_lightgbm_objective_is_the_canonical_name_whatever_the_alias(given: str) -> None:
    booster = lightgbm_booster(given)
    canonical, kind = LIGHTGBM_CANONICAL[given]
    assert lightgbm_objective(booster) == canonical
    reloaded = lgb.Booster(model_str=booster.model_to_string())
    assert lightgbm_objective(reloaded) == canonical
    assert lightgbm_kind(canonical, (ROWS,), {}) == kind


def test_a_custom_lightgbm_objective_reads_as_rows_unless_a_task_says() -> None:
    assert lightgbm_objective(lightgbm_custom_booster()) is None
    assert lightgbm_kind(None, (ROWS,), {}) == "rows"
    assert lightgbm_kind(None, (ROWS,), {}, task="regression") == "values"
    assert lightgbm_kind(None, (ROWS,), {}, task="classification") == "labels"
    assert lightgbm_kind("binary", (ROWS,), {}, task="regression") == "positive"


@pytest.mark.parametrize(
    ("operation", "flags"),
    [
        ("predict", {"output_margin": True}),
        ("predict", {"pred_leaf": True}),
        ("predict", {"pred_contribs": True}),
        ("predict", {"pred_interactions": True}),
        ("inplace_predict", {"predict_type": "margin"}),
    ],
)
def test_xgboost_raw_outputs_are_rows_only(operation: str, flags: dict[str, Any]) -> None:
    assert xgboost_kind("binary:logistic", operation, flags) == "rows"
    assert xgboost_kind("binary:logistic", operation, {"training": True}) == "positive"
    assert xgboost_kind("unknown:objective", operation, {}) == "rows"
    assert xgboost_kind(None, operation, {}, task="regression") == "values"


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((ROWS,), {"raw_score": True}),
        ((ROWS,), {"pred_leaf": True}),
        ((ROWS,), {"pred_contrib": True}),
        ((ROWS, 0, None, True), {}),  # raw_score by position
        ((ROWS, 0, None, False, False, True), {}),  # pred_contrib by position
        ((ROWS,), {"predict_raw_score": True}),  # a prediction parameter
        ((ROWS,), {"is_predict_leaf_index": True}),
    ],
)
def test_lightgbm_raw_outputs_are_rows_only(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    assert lightgbm_kind("binary", args, kwargs) == "rows"
    assert lightgbm_kind("binary", (ROWS, 0, None, False), {"raw_score": False}) == "positive"


def test_positive_class_probability_reads_as_class_and_confidence() -> None:
    one = summarize_booster(np.array([0.8], dtype=np.float32), "positive", 100)
    assert (one.rows, one.label, one.class_counts) == (1, "1", [("1", 1)])
    assert one.confidence == pytest.approx(float(np.float32(0.8)))
    batch = summarize_booster(np.array([0.2, 0.9, 0.5, 0.7]), "positive", 100)
    assert batch.rows == 4 and batch.label is None and batch.value_mean is None
    assert batch.class_counts == [("0", 2), ("1", 2)]  # 0.5 is class 0, as XGBClassifier says
    assert batch.confidences is not None
    assert batch.confidences.tolist() == pytest.approx([0.8, 0.9, 0.5, 0.7])
    strict = summarize_booster(np.array([[0.3]]), "positive", 100)  # strict_shape=True
    assert (strict.label, strict.confidence) == ("0", pytest.approx(0.7))


def test_logit_margins_go_through_the_sigmoid_without_overflow() -> None:
    summary = summarize_booster(np.array([2.0, -1000.0, 1000.0]), "logit", 100)
    assert summary.class_counts == [("1", 2), ("0", 1)]
    assert summary.confidences is not None
    assert summary.confidences.tolist() == pytest.approx([1 / (1 + np.exp(-2.0)), 1.0, 1.0])


def test_labels_as_floats_become_integer_classes() -> None:
    summary = summarize_booster(np.array([2.0, 0.0, 2.0], dtype=np.float32), "labels", 100)
    assert summary.class_counts == [("2", 2), ("0", 1)]
    assert summary.confidences is None
    one = summarize_booster(np.array([[1.0]], dtype=np.float32), "labels", 100)
    assert one.label == "1"


def test_probability_rows_read_as_arg_max_and_max() -> None:
    probs = np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1]], dtype=np.float32)
    summary = summarize_booster(probs, "probabilities", 100)
    assert summary.class_counts == [("0", 1), ("1", 1)]
    assert summary.confidences is not None
    assert summary.confidences.tolist() == pytest.approx([0.7, 0.6])
    one = summarize_booster(probs[:1], "probabilities", 100)
    assert (one.label, one.confidence) == ("1", pytest.approx(0.7))


def test_values_are_values_and_never_classes() -> None:
    one = summarize_booster(np.array([0.25], dtype=np.float32), "values", 100)
    assert (one.value, one.label, one.class_counts) == (0.25, None, [])
    batch = summarize_booster(np.array([1.0, 2.0, 4.5]), "values", 100)
    assert batch.value_mean == pytest.approx(2.5) and batch.class_counts == []
    multi_target = summarize_booster(np.ones((3, 2)), "values", 100)
    assert (multi_target.rows, multi_target.value_mean, multi_target.value) == (3, None, None)


@pytest.mark.parametrize(
    ("output", "kind", "rows"),
    [
        (np.zeros((2, 5)), "rows", 2),  # contributions
        (np.zeros((2, 3, 5)), "rows", 2),  # multi-class contributions
        (np.zeros((3, 2)), "positive", 3),  # multi-label binary:logistic
        (np.zeros((3,)), "probabilities", 3),  # not a probability matrix
        (scipy.sparse.csr_matrix(np.ones((4, 3))), "values", 4),
        ([scipy.sparse.csr_matrix(np.ones((2, 5)))] * 3, "rows", 2),  # sparse per class
        ([0.5, 0.7], "positive", 2),  # not an array: never read
    ],
)
def test_unexpected_outputs_are_rows_only(output: Any, kind: Any, rows: int) -> None:
    summary = summarize_booster(output, kind, 100)
    assert summary.rows == rows
    assert (summary.label, summary.value, summary.confidence) == (None, None, None)
    assert summary.class_counts == [] and summary.confidences is None
    assert summary.invalid_predictions == 0 and summary.invalid_confidence == {}
    assert output_rows(output) == rows


def test_real_booster_outputs_read_as_their_objectives_say() -> None:
    booster = xgboost_booster("multi:softprob")
    probs = booster.inplace_predict(ROWS[:1])
    summary = summarize_booster(probs, xgboost_kind("multi:softprob", "inplace_predict", {}), 100)
    assert summary.label == str(int(np.argmax(probs[0])))
    assert summary.confidence == pytest.approx(float(probs.max()))
    margins = booster.predict(xgb.DMatrix(ROWS[:1]), output_margin=True)
    kind = xgboost_kind("multi:softprob", "predict", {"output_margin": True})
    raw = summarize_booster(margins, kind, 100)
    assert (raw.rows, raw.label, raw.confidence) == (1, None, None)


class _Counted:
    reads = 0

    def read(self, _: Any) -> str:
        _Counted.reads += 1
        return "binary:logistic"


def test_per_object_values_are_read_once_and_forgotten_with_the_object() -> None:
    counter = _Counted()
    per_object = PerObject(counter.read)
    booster = xgboost_booster("binary:logistic").copy()
    _Counted.reads = 0

    assert [per_object(booster) for _ in range(3)] == ["binary:logistic"] * 3
    assert _Counted.reads == 1
    assert len(per_object._known) == 1
    del booster
    gc.collect()
    assert len(per_object._known) == 0
    assert per_object(3) == per_object(3) == "binary:logistic"  # ints: no weak reference
    assert _Counted.reads == 3


@pytest.mark.parametrize("kind", ["positive", "logit"])
@pytest.mark.parametrize("score", [0.8, 0.5, 0.2, 0.0, 1.0, -800.0, 800.0, float("nan")])
def test_one_row_reads_as_the_same_row_in_a_batch(kind: Any, score: float) -> None:
    # One row takes a plain-Python path; a batch goes through numpy.
    one = summarize_booster(np.array([score]), kind, 100)
    batch = summarize_booster(np.array([score, score]), kind, 100)
    assert one.class_counts == [(label, 1) for label, _ in batch.class_counts]
    assert one.invalid_confidence == dict.fromkeys(batch.invalid_confidence, 1)
    if batch.confidences is not None and batch.confidences.size:
        assert one.confidence == pytest.approx(float(batch.confidences[0]))
    else:
        assert one.confidence is None
