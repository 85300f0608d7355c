"""XGBoostInstrumentor with real boosters, real SDK providers and in-memory exporters."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import xgboost as xgb
from hook_support import attributes, counts, key, model, read_values
from model_zoo import BINARY, ROWS, xgboost_booster
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import StatusCode
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from support import Telemetry

from otel_ml import semconv, wrap_model
from otel_ml._internal import guard
from otel_ml._internal.ids import RequestScope, current_request
from otel_ml.config import Settings
from otel_ml.inference import hooks
from otel_ml.instrumentation._adapted import AdaptedMethod
from otel_ml.instrumentation.sklearn import SklearnInstrumentor

NAME = "xgboost.Booster"


def test_predict_and_inplace_predict_are_one_span_each(telemetry: Telemetry, instrument) -> None:
    booster = xgboost_booster("binary:logistic")
    instrument()

    one = booster.predict(xgb.DMatrix(ROWS[:1]))
    batch = booster.inplace_predict(ROWS[:20])

    single, many = telemetry.spans()
    p = float(one[0])
    assert single.name == f"predict {NAME}"
    assert attributes(single) == model(NAME, **{
        "ml.operation.name": "predict",
        "ml.batch.size": 1,
        "ml.prediction.class": "1" if p > 0.5 else "0",
        "ml.prediction.confidence": pytest.approx(max(p, 1 - p)),
    })  # fmt: skip
    assert many.name == f"inplace_predict {NAME}"
    assert attributes(many)["ml.batch.size"] == 20
    ones = int((batch > 0.5).sum())
    base = model(NAME)
    assert counts(telemetry, semconv.ML_PREDICTIONS) == {
        key(**base, **{"ml.prediction.class": "1"}): ones + (p > 0.5),
        key(**base, **{"ml.prediction.class": "0"}): 20 - ones + (p <= 0.5),
    }
    assert counts(telemetry, semconv.ML_PREDICTION_CONFIDENCE) == {key(**base): 21}
    assert counts(telemetry, semconv.ML_INFERENCE_DURATION) == {
        key(**base, **{"ml.operation.name": op}): 1 for op in ("predict", "inplace_predict")
    }


@pytest.mark.parametrize(
    "objective", ["binary:logitraw", "multi:softprob", "multi:softmax", "reg:squarederror"]
)
def test_the_hook_reads_what_wrap_model_reads(telemetry: Telemetry, instrument, objective) -> None:
    booster = xgboost_booster(objective)
    instrument()
    booster.inplace_predict(ROWS[:1])
    booster.inplace_predict(ROWS[:7])
    wrapped = wrap_model(booster, NAME, **telemetry.providers)
    wrapped.inplace_predict(ROWS[:1])  # the hook stays quiet under the wrapper
    wrapped.inplace_predict(ROWS[:7])

    hooked_one, hooked_batch, wrapped_one, wrapped_batch = telemetry.spans()
    assert read_values(hooked_one) == read_values(wrapped_one)
    assert read_values(hooked_batch) == read_values(wrapped_batch)
    assert set(read_values(hooked_one)) - {"ml.batch.size"}, "the row was read"


def test_margins_and_contributions_are_rows_only(telemetry: Telemetry, instrument) -> None:
    booster = xgboost_booster("binary:logistic")
    instrument()

    booster.predict(xgb.DMatrix(ROWS[:3]), output_margin=True)
    booster.predict(xgb.DMatrix(ROWS[:3]), pred_contribs=True)
    booster.inplace_predict(ROWS[:3], predict_type="margin")

    assert [read_values(s) for s in telemetry.spans()] == [{"ml.batch.size": 3}] * 3
    assert counts(telemetry, semconv.ML_PREDICTIONS) == {}
    assert counts(telemetry, semconv.ML_PREDICTION_CONFIDENCE) == {}


def test_model_identity_precedence(telemetry: Telemetry, instrument) -> None:
    booster = xgboost_booster("reg:squarederror")
    environ = {"OTEL_ML_MODEL_NAME": "from-env", "OTEL_ML_MODEL_VERSION": "1"}
    instrument(settings=Settings.load(environ=environ))
    booster.inplace_predict(ROWS[:1])
    scope = RequestScope(model_name="from-request", model_version="5")
    token = current_request.set(scope)
    try:
        booster.inplace_predict(ROWS[:1])
    finally:
        current_request.reset(token)

    from_env, from_request = telemetry.spans()
    assert (from_env.name, from_request.name) == (
        "inplace_predict from-env",
        "inplace_predict from-request",
    )
    assert from_request.attributes["ml.prediction.id"] == scope.prediction_id
    assert from_request.attributes["ml.model.version"] == "5"


def test_instrument_arguments_name_the_model(telemetry: Telemetry, instrument) -> None:
    instrument(model_name="fraud", model_version="3")
    xgboost_booster("reg:squarederror").inplace_predict(ROWS[:1])
    assert attributes(telemetry.span("inplace_predict fraud"))["ml.model.version"] == "3"


def test_training_with_a_custom_objective_and_metric_makes_no_span(
    telemetry: Telemetry, instrument
) -> None:
    instrument()
    data = xgb.DMatrix(ROWS, label=BINARY.astype(float))

    def squared(predt: np.ndarray, dtrain: xgb.DMatrix) -> tuple[np.ndarray, np.ndarray]:
        return predt - dtrain.get_label(), np.ones_like(predt)

    def error(predt: np.ndarray, dtrain: xgb.DMatrix) -> tuple[str, float]:
        return "error", float(np.mean((predt > 0.5) != dtrain.get_label()))

    booster = xgb.train(
        {"disable_default_eval_metric": 1}, data, 3, obj=squared, custom_metric=error,
        evals=[(data, "train")], verbose_eval=False,
    )  # fmt: skip
    assert telemetry.spans() == []
    booster.inplace_predict(ROWS[:1])  # serving afterwards is traced
    assert [s.name for s in telemetry.spans()] == [f"inplace_predict {NAME}"]


def test_xgbclassifier_and_its_pipeline_make_one_span_with_both_hooks(
    telemetry: Telemetry, instrument
) -> None:
    sklearn_hook = SklearnInstrumentor()
    sklearn_hook.instrument(settings=Settings.load(environ={}), **telemetry.providers)
    try:
        instrument()
        classifier = xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(ROWS, BINARY)
        pipeline = make_pipeline(StandardScaler(), xgb.XGBClassifier(n_estimators=3)).fit(
            ROWS, BINARY
        )
        assert telemetry.spans() == []  # fitting is not serving
        probabilities = classifier.predict_proba(ROWS[:1])
        pipeline.predict(ROWS[:1])
    finally:
        sklearn_hook.uninstrument()
    assert hooks.installed  # the xgboost hook is still installed
    classifier.predict_proba(ROWS[:1])  # the booster hook alone: one span

    names = [s.name for s in telemetry.spans()]
    assert names == [
        "predict_proba XGBClassifier",
        "predict XGBClassifier",
        f"inplace_predict {NAME}",
    ]
    first, _, alone = telemetry.spans()
    assert read_values(first) == pytest.approx(read_values(alone))  # 1 - p in float32 or 64
    assert first.attributes["ml.prediction.confidence"] == pytest.approx(float(probabilities.max()))


def test_user_exception_propagates_and_marks_the_span(telemetry: Telemetry, instrument) -> None:
    booster = xgboost_booster("binary:logistic")
    with pytest.raises(ValueError, match="Feature shape") as plain:
        booster.inplace_predict(ROWS[:2, :2])
    instrument()

    with pytest.raises(ValueError, match="Feature shape") as instrumented:
        booster.inplace_predict(ROWS[:2, :2])

    assert type(instrumented.value) is type(plain.value)
    span = telemetry.span(f"inplace_predict {NAME}")
    assert span.status.status_code is StatusCode.ERROR
    assert attributes(span)["error.type"] == "ValueError"
    assert counts(telemetry, semconv.ML_PREDICTIONS) == {}


def test_suppressed_calls_make_no_span(telemetry: Telemetry, instrument) -> None:
    instrument()
    with suppress_instrumentation():
        xgboost_booster("binary:logistic").inplace_predict(ROWS[:1])
    assert telemetry.spans() == []


def originals() -> dict[str, Any]:
    return {name: vars(xgb.Booster)[name] for name in
            ("predict", "inplace_predict", "update", "boost", "eval_set")}  # fmt: skip


def test_uninstrument_restores_the_original_objects(telemetry: Telemetry, instrument) -> None:
    before = originals()
    instrumentor = instrument()
    patched = originals()
    assert all(isinstance(patched[name], AdaptedMethod) for name in before)
    instrument()  # twice: patched once
    assert originals() == patched

    instrumentor.uninstrument()
    xgboost_booster("binary:logistic").inplace_predict(ROWS[:1])

    assert originals() == before
    assert telemetry.spans() == []
    assert not hooks.installed


@pytest.mark.parametrize("strict", [True, False])
def test_instrument_failure_goes_through_the_guard(strict: bool, instrument) -> None:
    guard.set_strict(strict)
    before = originals()
    if strict:
        with pytest.raises(TypeError, match="model_name"):
            instrument(model_name=3)
    else:
        instrument(model_name=3)
    assert guard.error_count("xgboost.instrument") == 1
    assert originals() == before
