"""Tiny real models for the booster and ONNX tests, trained in a few milliseconds.

xgboost and lightgbm boosters per objective, and scikit-learn models converted
to ONNX in memory with skl2onnx. Cached: a test that changes a model trains
its own.
"""

from __future__ import annotations

import functools
from typing import Any

import lightgbm as lgb
import numpy as np
import onnxruntime as ort
import xgboost as xgb
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression, Ridge

ROWS = np.random.default_rng(0).normal(size=(240, 4)).astype(np.float32)
BINARY = (ROWS[:, 0] + 0.5 * ROWS[:, 1] > 0).astype(int)
THREE = np.digitize(ROWS[:, 0], [-0.5, 0.5])
VALUES = (2.0 * ROWS[:, 0] - ROWS[:, 2]).astype(np.float64)
COUNTS = np.round(np.exp(ROWS[:, 0])).astype(float)

XGBOOST_LABELS: dict[str, tuple[np.ndarray, dict[str, Any]]] = {
    "binary:logistic": (BINARY, {}),
    "binary:logitraw": (BINARY, {}),
    "binary:hinge": (BINARY, {}),
    "multi:softprob": (THREE, {"num_class": 3}),
    "multi:softmax": (THREE, {"num_class": 3}),
    "reg:squarederror": (VALUES, {}),
    "reg:logistic": (BINARY, {}),
    "count:poisson": (COUNTS, {}),
    "survival:cox": (np.abs(VALUES) + 0.1, {}),
    "rank:pairwise": (BINARY, {}),
}


@functools.cache
def xgboost_booster(objective: str) -> xgb.Booster:
    """An xgboost ``Booster`` of 3 rounds trained with ``objective``."""
    labels, extra = XGBOOST_LABELS[objective]
    data = xgb.DMatrix(ROWS, label=labels)
    if objective.startswith("rank:"):
        data.set_group([24] * 10)
    return xgb.train({"objective": objective, "max_depth": 2, **extra}, data, num_boost_round=3)


LIGHTGBM_LABELS: dict[str, tuple[np.ndarray, dict[str, Any]]] = {
    "binary": (BINARY, {}),
    "multiclass": (THREE, {"num_class": 3}),
    "softmax": (THREE, {"num_class": 3}),  # an alias of multiclass
    "multiclassova": (THREE, {"num_class": 3}),
    "regression": (VALUES, {}),
    "mse": (VALUES, {}),  # an alias of regression
    "huber": (VALUES, {}),
    "poisson": (COUNTS, {}),
    "xentropy": (BINARY, {}),  # an alias of cross_entropy
    "lambdarank": (BINARY, {}),
}


@functools.cache
def lightgbm_booster(objective: str) -> lgb.Booster:
    """A lightgbm ``Booster`` of 3 rounds trained with ``objective``."""
    labels, extra = LIGHTGBM_LABELS[objective]
    data = lgb.Dataset(ROWS, label=labels)
    if objective == "lambdarank":
        data.set_group([24] * 10)
    params = {"objective": objective, "verbose": -1, "min_data_in_leaf": 5, **extra}
    return lgb.train(params, data, num_boost_round=3)


def lightgbm_custom_booster() -> lgb.Booster:
    """A lightgbm ``Booster`` trained with a custom objective (raw scores out)."""

    def squared(preds: np.ndarray, data: lgb.Dataset) -> tuple[np.ndarray, np.ndarray]:
        return preds - data.get_label(), np.ones_like(preds)

    params = {"objective": squared, "verbose": -1, "min_data_in_leaf": 5}
    return lgb.train(params, lgb.Dataset(ROWS, label=VALUES), num_boost_round=3)


@functools.cache
def onnx_model(kind: str) -> bytes:
    """A scikit-learn model converted to ONNX: ``zipmap`` (LogisticRegression,
    probabilities as a list of dicts), ``matrix`` (the same without ZipMap),
    ``strings`` (string classes, ZipMap), ``ridge`` (a regressor)."""
    if kind == "ridge":
        return to_onnx(Ridge().fit(ROWS, VALUES), ROWS[:1]).SerializeToString()
    labels = np.array(["low", "mid", "high"])[THREE] if kind == "strings" else THREE
    model = LogisticRegression(max_iter=500).fit(ROWS, labels)
    options = {id(model): {"zipmap": False}} if kind == "matrix" else None
    return to_onnx(model, ROWS[:1], options=options).SerializeToString()


def onnx_session(kind: str) -> ort.InferenceSession:
    """A fresh CPU ``InferenceSession`` of :func:`onnx_model`."""
    return ort.InferenceSession(onnx_model(kind), providers=["CPUExecutionProvider"])
