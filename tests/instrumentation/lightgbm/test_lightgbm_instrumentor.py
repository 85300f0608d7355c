"""LightGBMInstrumentor with real boosters, real SDK providers and in-memory exporters."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from hook_support import attributes, counts, key, model, read_values
from model_zoo import BINARY, ROWS, THREE, lightgbm_booster
from opentelemetry.trace import StatusCode
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from support import Telemetry

from otel_ml import semconv, wrap_model
from otel_ml.config import Settings
from otel_ml.inference import hooks
from otel_ml.instrumentation._adapted import AdaptedMethod
from otel_ml.instrumentation.sklearn import SklearnInstrumentor

NAME = "lightgbm.Booster"


def test_predict_is_one_span_read_by_objective(telemetry: Telemetry, instrument) -> None:
    booster = lightgbm_booster("multiclass")
    instrument()

    probabilities = booster.predict(ROWS[:1])
    batch = booster.predict(ROWS[:30])

    single, many = telemetry.spans()
    assert single.name == f"predict {NAME}"
    assert attributes(single) == model(NAME, **{
        "ml.operation.name": "predict",
        "ml.batch.size": 1,
        "ml.prediction.class": str(int(probabilities[0].argmax())),
        "ml.prediction.confidence": pytest.approx(float(probabilities.max())),
    })  # fmt: skip
    assert attributes(many)["ml.batch.size"] == 30
    labels, per_class = np.unique(np.concatenate([probabilities, batch]).argmax(axis=1),
                                  return_counts=True)  # fmt: skip
    assert counts(telemetry, semconv.ML_PREDICTIONS) == {
        key(**model(NAME), **{"ml.prediction.class": str(label)}): int(n)
        for label, n in zip(labels, per_class, strict=True)
    }
    assert counts(telemetry, semconv.ML_PREDICTION_CONFIDENCE) == {key(**model(NAME)): 31}


@pytest.mark.parametrize("objective", ["binary", "multiclassova", "regression", "lambdarank"])
def test_the_hook_reads_what_wrap_model_reads(telemetry: Telemetry, instrument, objective) -> None:
    booster = lightgbm_booster(objective)
    instrument()
    booster.predict(ROWS[:1])
    booster.predict(ROWS[:9])
    wrapped = wrap_model(booster, NAME, **telemetry.providers)
    wrapped.predict(ROWS[:1])
    wrapped.predict(ROWS[:9])

    hooked_one, hooked_batch, wrapped_one, wrapped_batch = telemetry.spans()
    assert read_values(hooked_one) == read_values(wrapped_one)
    assert read_values(hooked_batch) == read_values(wrapped_batch)
    assert set(read_values(hooked_one)) - {"ml.batch.size"}, "the row was read"


def test_raw_scores_leaves_and_contributions_are_rows_only(
    telemetry: Telemetry, instrument
) -> None:
    booster = lightgbm_booster("binary")
    instrument()

    booster.predict(ROWS[:4], raw_score=True)
    booster.predict(ROWS[:4], 0, None, False, True)  # pred_leaf by position
    booster.predict(ROWS[:4], pred_contrib=True)

    assert [read_values(s) for s in telemetry.spans()] == [{"ml.batch.size": 4}] * 3
    assert counts(telemetry, semconv.ML_PREDICTIONS) == {}


def test_training_makes_no_span(telemetry: Telemetry, instrument) -> None:
    instrument()
    data = lgb.Dataset(ROWS, label=BINARY)
    lgb.train({"objective": "binary", "verbose": -1}, data, 3, valid_sets=[data])
    lgb.cv({"objective": "binary", "verbose": -1}, data, 2, nfold=2)
    assert telemetry.spans() == []


def test_lgbmclassifier_and_its_pipeline_make_one_span_with_both_hooks(
    telemetry: Telemetry, instrument
) -> None:
    sklearn_hook = SklearnInstrumentor()
    sklearn_hook.instrument(settings=Settings.load(environ={}), **telemetry.providers)
    try:
        instrument()
        classifier = lgb.LGBMClassifier(n_estimators=3, verbose=-1).fit(ROWS, THREE)
        pipeline = make_pipeline(StandardScaler(), lgb.LGBMClassifier(n_estimators=3, verbose=-1))
        pipeline.fit(ROWS, THREE)
        probabilities = classifier.predict_proba(ROWS[:1])
        pipeline.predict(ROWS[:3])
    finally:
        sklearn_hook.uninstrument()

    assert [s.name for s in telemetry.spans()] == [
        "predict_proba LGBMClassifier",
        "predict LGBMClassifier",
    ]
    proba = telemetry.spans()[0]
    assert proba.attributes["ml.prediction.confidence"] == pytest.approx(probabilities.max())


def test_user_exception_propagates_and_marks_the_span(telemetry: Telemetry, instrument) -> None:
    booster = lightgbm_booster("binary")
    instrument()

    with pytest.raises(lgb.basic.LightGBMError, match="number of features"):
        booster.predict(ROWS[:2, :2])

    span = telemetry.span(f"predict {NAME}")
    assert span.status.status_code is StatusCode.ERROR
    assert attributes(span)["error.type"] == "lightgbm.basic.LightGBMError"


def test_uninstrument_restores_the_original_object(telemetry: Telemetry, instrument) -> None:
    before = vars(lgb.Booster)["predict"]
    instrumentor = instrument()
    assert isinstance(vars(lgb.Booster)["predict"], AdaptedMethod)

    instrumentor.uninstrument()
    lightgbm_booster("binary").predict(ROWS[:1])

    assert vars(lgb.Booster)["predict"] is before
    assert telemetry.spans() == []
    assert not hooks.installed
