"""``wrap_model`` around xgboost and lightgbm boosters and ONNX Runtime sessions:
each output read as its objective or output roles say, never as garbage."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest
import xgboost as xgb
from model_zoo import ROWS, lightgbm_booster, lightgbm_custom_booster, onnx_session, xgboost_booster
from support import Telemetry

import otel_ml
from otel_ml import semconv


def attributes(telemetry: Telemetry) -> dict[str, Any]:
    """The attributes of the one span, without its random prediction id."""
    (span,) = telemetry.spans()
    attrs = dict(span.attributes or {})
    assert len(attrs.pop(semconv.ML_PREDICTION_ID)) == 32
    return attrs


def predictions(telemetry: Telemetry) -> dict[str, int]:
    return {
        a[semconv.ML_PREDICTION_CLASS]: p.value for a, p in telemetry.points(semconv.ML_PREDICTIONS)
    }


def confidences(telemetry: Telemetry) -> int:
    return sum(p.count for _, p in telemetry.points(semconv.ML_PREDICTION_CONFIDENCE))


def reads(name: str, operation: str, rows: int = 1, **read: Any) -> dict[str, Any]:
    return {
        semconv.ML_MODEL_NAME: name,
        semconv.ML_MODEL_VERSION: "1",
        semconv.ML_OPERATION_NAME: operation,
        semconv.ML_BATCH_SIZE: rows,
        **read,
    }


def one_class(label: str, confidence: float | None = None) -> dict[str, Any]:
    read: dict[str, Any] = {semconv.ML_PREDICTION_CLASS: label}
    if confidence is not None:
        read[semconv.ML_PREDICTION_CONFIDENCE] = pytest.approx(confidence)
    return read


def xgboost_expected(objective: str, output: np.ndarray) -> dict[str, Any]:
    """What one row of ``objective``'s output must read as, worked out by hand."""
    value = output.reshape(-1)
    if objective == "binary:logistic":
        p = float(value[0])
        return one_class("1" if p > 0.5 else "0", max(p, 1 - p))
    if objective == "binary:logitraw":
        p = 1 / (1 + np.exp(-float(value[0])))
        return one_class("1" if p > 0.5 else "0", max(p, 1 - p))
    if objective in ("binary:hinge", "multi:softmax"):
        return one_class(str(int(value[0])))
    if objective == "multi:softprob":
        return one_class(str(int(np.argmax(value))), float(value.max()))
    return {semconv.ML_PREDICTION_VALUE: pytest.approx(float(value[0]))}


@pytest.mark.parametrize(
    "objective",
    ["binary:logistic", "binary:logitraw", "binary:hinge", "multi:softprob", "multi:softmax",
     "reg:squarederror", "reg:logistic", "count:poisson", "survival:cox", "rank:pairwise"],
)  # fmt: skip
@pytest.mark.parametrize("operation", ["predict", "inplace_predict"])
def test_xgboost_booster_reads_as_its_objective(
    telemetry: Telemetry, objective: str, operation: str
) -> None:
    booster = xgboost_booster(objective)
    model = otel_ml.wrap_model(booster, "xgb", "1", **telemetry.providers)
    data = xgb.DMatrix(ROWS[:1]) if operation == "predict" else ROWS[:1]

    output = getattr(model, operation)(data)

    expected = xgboost_expected(objective, output)
    assert attributes(telemetry) == reads("xgb", operation, **expected)
    label = expected.get(semconv.ML_PREDICTION_CLASS)
    assert predictions(telemetry) == ({label: 1} if label is not None else {})
    assert confidences(telemetry) == (1 if semconv.ML_PREDICTION_CONFIDENCE in expected else 0)


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
def test_xgboost_margins_leaves_and_contributions_are_rows_only(
    telemetry: Telemetry, operation: str, flags: dict[str, Any]
) -> None:
    model = otel_ml.wrap_model(xgboost_booster("multi:softprob"), "xgb", "1", **telemetry.providers)
    data = xgb.DMatrix(ROWS[:3]) if operation == "predict" else ROWS[:3]

    output = getattr(model, operation)(data, **flags)

    assert output.shape[0] == 3
    assert attributes(telemetry) == reads("xgb", operation, rows=3)
    assert predictions(telemetry) == {} and confidences(telemetry) == 0


def test_a_probability_never_becomes_a_class_or_a_value(telemetry: Telemetry) -> None:
    # The reported bug: binary:logistic's P(class 1) became ml.prediction.value, or,
    # with task="classification", a class such as "0.7905923".
    booster = xgboost_booster("binary:logistic")
    model = otel_ml.wrap_model(booster, "xgb", "1", task="classification", **telemetry.providers)

    probabilities = model.inplace_predict(ROWS[:50])

    classes = (probabilities > 0.5).astype(int)
    attrs = attributes(telemetry)
    assert semconv.ML_PREDICTION_VALUE_MEAN not in attrs
    assert sorted(attrs[semconv.ML_PREDICTION_CLASSES]) == ["0", "1"]
    assert predictions(telemetry) == {"0": int((classes == 0).sum()), "1": int(classes.sum())}
    assert confidences(telemetry) == 50
    assert telemetry.points(semconv.ML_DATA_QUALITY_ISSUES) == []
    expected = np.maximum(probabilities, 1 - probabilities).astype(np.float64)
    assert attrs[semconv.ML_PREDICTION_CONFIDENCE_MIN] == pytest.approx(float(expected.min()))


@pytest.mark.parametrize(
    "objective", ["binary", "multiclass", "multiclassova", "regression", "huber", "xentropy"]
)
def test_lightgbm_booster_reads_as_its_objective(telemetry: Telemetry, objective: str) -> None:
    model = otel_ml.wrap_model(lightgbm_booster(objective), "lgb", "1", **telemetry.providers)

    output = model.predict(ROWS[:1])

    if objective == "binary":
        p = float(output[0])
        expected = one_class("1" if p > 0.5 else "0", max(p, 1 - p))
    elif objective.startswith("multiclass"):
        expected = one_class(str(int(np.argmax(output[0]))), float(output.max()))
    else:
        expected = {semconv.ML_PREDICTION_VALUE: pytest.approx(float(output[0]))}
    assert attributes(telemetry) == reads("lgb", "predict", **expected)


@pytest.mark.parametrize(
    "flags", [{"raw_score": True}, {"pred_leaf": True}, {"pred_contrib": True}]
)
def test_lightgbm_raw_scores_leaves_and_contributions_are_rows_only(
    telemetry: Telemetry, flags: dict[str, Any]
) -> None:
    model = otel_ml.wrap_model(lightgbm_booster("binary"), "lgb", "1", **telemetry.providers)
    model.predict(ROWS[:4], **flags)
    assert attributes(telemetry) == reads("lgb", "predict", rows=4)
    assert predictions(telemetry) == {} and confidences(telemetry) == 0


def test_a_custom_lightgbm_objective_is_rows_only_unless_the_task_is_given(
    telemetry: Telemetry,
) -> None:
    booster = lightgbm_custom_booster()
    otel_ml.wrap_model(booster, "raw", "1", **telemetry.providers).predict(ROWS[:2])
    values = otel_ml.wrap_model(booster, "values", "1", task="regression", **telemetry.providers)
    output = values.predict(ROWS[:2])

    raw_span, value_span = telemetry.spans()
    assert semconv.ML_PREDICTION_VALUE_MEAN not in (raw_span.attributes or {})
    mean = (value_span.attributes or {})[semconv.ML_PREDICTION_VALUE_MEAN]
    assert mean == pytest.approx(float(output.mean()))


@pytest.mark.parametrize("kind", ["zipmap", "matrix", "strings"])
def test_onnx_session_run_reads_label_and_confidence(telemetry: Telemetry, kind: str) -> None:
    session = onnx_session(kind)
    model = otel_ml.wrap_model(session, "onnx", "1", **telemetry.providers)

    labels, probabilities = model.run(None, {"X": ROWS[:1]})

    row = probabilities[0]
    top = max(row.values()) if isinstance(row, dict) else float(row.max())
    label = str(labels[0]) if kind == "strings" else str(int(labels[0]))
    assert attributes(telemetry) == reads("onnx", "run", **one_class(label, top))
    assert predictions(telemetry) == {label: 1}


def test_onnx_regressor_records_its_value(telemetry: Telemetry) -> None:
    model = otel_ml.wrap_model(onnx_session("ridge"), "onnx", "1", **telemetry.providers)
    (values,) = model.run(["variable"], {"X": ROWS[:1]})
    assert attributes(telemetry) == reads(
        "onnx", "run", **{semconv.ML_PREDICTION_VALUE: pytest.approx(float(values[0, 0]))}
    )


def test_a_bound_run_reads_like_the_session_without_a_warning(
    telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    session = onnx_session("zipmap")
    run = otel_ml.wrap_model(session.run, **telemetry.providers)
    whole = otel_ml.wrap_model(session, "whole", "1", **telemetry.providers)

    with caplog.at_level(logging.WARNING, logger="otel_ml"):
        labels, probabilities = run(None, {"X": ROWS[:5]})
        whole.run(None, input_feed={"X": ROWS[:5]})

    assert caplog.records == []
    bound, by_session = telemetry.spans()
    assert bound.name == "run onnxruntime.InferenceSession"
    read = dict(bound.attributes or {})
    assert read[semconv.ML_BATCH_SIZE] == 5
    assert sorted(read[semconv.ML_PREDICTION_CLASSES]) == sorted(set(map(str, labels.tolist())))
    expected_min = min(max(row.values()) for row in probabilities)
    assert read[semconv.ML_PREDICTION_CONFIDENCE_MIN] == pytest.approx(expected_min)
    session_read = dict(by_session.attributes or {})
    for name in (semconv.ML_PREDICTION_CLASSES, semconv.ML_PREDICTION_CONFIDENCE_MEAN):
        assert session_read[name] == read[name]


def test_wrapped_models_are_named_after_their_library_by_default(telemetry: Telemetry) -> None:
    booster = otel_ml.wrap_model(xgboost_booster("reg:squarederror"), **telemetry.providers)
    lightgbm = otel_ml.wrap_model(lightgbm_booster("regression"), **telemetry.providers)
    session = otel_ml.wrap_model(onnx_session("ridge"), **telemetry.providers)
    assert booster.otel_ml_model[0] == "xgboost.Booster"
    assert lightgbm.otel_ml_model[0] == "lightgbm.Booster"
    assert session.otel_ml_model[0] == "onnxruntime.InferenceSession"
