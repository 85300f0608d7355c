"""SklearnInstrumentor with real estimators, real SDK providers and in-memory exporters."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import SpanKind, StatusCode
from sklearn.base import ClassifierMixin
from sklearn.cluster import KMeans
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from otel_ml import wrap_model
from otel_ml._internal import guard
from otel_ml._internal.ids import RequestScope, current_request
from otel_ml.config import Settings
from otel_ml.instrumentation.sklearn import SklearnInstrumentor
from otel_ml.instrumentation.sklearn.patch import PatchedMethod

HEX_ID = re.compile(r"[0-9a-f]{32}")


def attributes(span: Any) -> dict[str, Any]:
    """A span's attributes with the random prediction id checked and removed."""
    attrs = dict(span.attributes)
    assert HEX_ID.fullmatch(attrs.pop("ml.prediction.id"))
    return attrs


def model(name: str, version: str = "unknown", **extra: Any) -> dict[str, Any]:
    return {"ml.model.name": name, "ml.model.version": version, **extra}


def counts(telemetry: Any, metric: str) -> dict[tuple[Any, ...], Any]:
    """Metric points keyed by their sorted attribute items: histogram count or sum value."""
    return {
        tuple(sorted(attrs.items())): getattr(point, "count", None) or point.value
        for attrs, point in telemetry.points(metric)
    }


def key(**attrs: Any) -> tuple[Any, ...]:
    return tuple(sorted(attrs.items()))


def test_predict_one_row_is_one_span_with_class_and_metrics(telemetry, instrument, iris):
    x, y = iris
    lr = LogisticRegression(max_iter=500).fit(x, y)
    instrument()

    predicted = lr.predict(x[:1])

    span = telemetry.span("predict LogisticRegression")
    assert span.kind is SpanKind.INTERNAL
    assert span.status.status_code is StatusCode.UNSET
    assert span.instrumentation_scope.name == "otel_ml"
    assert attributes(span) == model(
        "LogisticRegression",
        **{"ml.operation.name": "predict", "ml.batch.size": 1, "ml.prediction.class": "0"},
    )
    assert predicted.tolist() == [0]
    base = {"ml.model.name": "LogisticRegression", "ml.model.version": "unknown"}
    assert counts(telemetry, "ml.inference.duration") == {
        key(**base, **{"ml.operation.name": "predict"}): 1
    }
    assert counts(telemetry, "ml.predictions") == {key(**base, **{"ml.prediction.class": "0"}): 1}
    assert counts(telemetry, "ml.prediction.confidence") == {}


def test_predict_proba_records_confidence(telemetry, instrument, iris):
    x, y = iris
    lr = LogisticRegression(max_iter=500).fit(x, y)
    instrument()

    probs = lr.predict_proba(x[100:101])

    span = telemetry.span("predict_proba LogisticRegression")
    assert attributes(span) == model(
        "LogisticRegression",
        **{
            "ml.operation.name": "predict_proba",
            "ml.batch.size": 1,
            "ml.prediction.class": "2",
            "ml.prediction.confidence": pytest.approx(float(probs.max())),
        },
    )
    base = {"ml.model.name": "LogisticRegression", "ml.model.version": "unknown"}
    assert counts(telemetry, "ml.prediction.confidence") == {key(**base): 1}
    assert counts(telemetry, "ml.predictions") == {key(**base, **{"ml.prediction.class": "2"}): 1}


def test_batch_predict_counts_rows_per_class(telemetry, instrument, iris):
    x, y = iris
    lr = LogisticRegression(max_iter=500).fit(x, y)
    instrument()

    predicted = lr.predict(x)

    labels, per_class = np.unique(predicted, return_counts=True)
    span = telemetry.span("predict LogisticRegression")
    attrs = attributes(span)
    assert sorted(attrs.pop("ml.prediction.classes")) == ["0", "1", "2"]
    assert attrs == model("LogisticRegression", **{"ml.operation.name": "predict"}, **{
        "ml.batch.size": 150
    })  # fmt: skip
    base = {"ml.model.name": "LogisticRegression", "ml.model.version": "unknown"}
    assert counts(telemetry, "ml.predictions") == {
        key(**base, **{"ml.prediction.class": str(label)}): int(n)
        for label, n in zip(labels, per_class, strict=True)
    }


def test_random_forest_predict_is_one_span(telemetry, instrument, iris):
    # RandomForestClassifier.predict calls predict_proba: the inner call stays quiet.
    x, y = iris
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)
    instrument()

    forest.predict(x[:1])
    forest.predict_proba(x[:2])

    assert [s.name for s in telemetry.spans()] == [
        "predict RandomForestClassifier",
        "predict_proba RandomForestClassifier",
    ]
    assert counts(telemetry, "ml.inference.duration") == {
        key(**model("RandomForestClassifier"), **{"ml.operation.name": op}): 1
        for op in ("predict", "predict_proba")
    }
    assert counts(telemetry, "ml.prediction.confidence") == {
        key(**model("RandomForestClassifier")): 2
    }


def test_pipeline_is_one_span_named_after_its_final_step(telemetry, instrument, iris):
    x, y = iris
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)
    instrument()

    pipe.predict(x[:1])
    probs = pipe.predict_proba(x[:1])

    predict, proba = telemetry.spans()
    assert predict.name == "predict LogisticRegression"
    assert proba.name == "predict_proba LogisticRegression"
    assert attributes(proba) == model(
        "LogisticRegression",
        **{
            "ml.operation.name": "predict_proba",
            "ml.batch.size": 1,
            "ml.prediction.class": "0",
            "ml.prediction.confidence": pytest.approx(float(probs.max())),
        },
    )
    assert counts(telemetry, "ml.predictions") == {
        key(**model("LogisticRegression"), **{"ml.prediction.class": "0"}): 2
    }


def test_pipeline_keeps_conditional_methods_conditional(instrument, iris, regression):
    x, y = iris
    xr, yr = regression
    instrument()
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)
    regressor = make_pipeline(StandardScaler(), Ridge()).fit(xr, yr)
    transformer = Pipeline([("scale", StandardScaler())]).fit(x)

    assert isinstance(vars(Pipeline)["predict_proba"], PatchedMethod)
    assert hasattr(classifier, "predict_proba")
    assert hasattr(classifier, "decision_function")
    assert hasattr(regressor, "predict")
    assert not hasattr(regressor, "predict_proba")
    assert not hasattr(regressor, "decision_function")
    assert not hasattr(transformer, "predict")
    with pytest.raises(AttributeError, match="predict_proba"):
        regressor.predict_proba(xr)


def test_regressor_records_values_and_no_class_counts(telemetry, instrument, regression):
    x, y = regression
    ridge = Ridge().fit(x, y)
    instrument()

    one = ridge.predict(x[:1])
    many = ridge.predict(x[:10])

    single, batch = telemetry.spans()
    assert attributes(single) == model(
        "Ridge",
        **{
            "ml.operation.name": "predict",
            "ml.batch.size": 1,
            "ml.prediction.value": pytest.approx(float(one[0])),
        },
    )
    assert attributes(batch) == model(
        "Ridge",
        **{
            "ml.operation.name": "predict",
            "ml.batch.size": 10,
            "ml.prediction.value.mean": pytest.approx(float(many.mean())),
        },
    )
    assert counts(telemetry, "ml.inference.duration") == {
        key(**model("Ridge"), **{"ml.operation.name": "predict"}): 2
    }
    assert counts(telemetry, "ml.predictions") == {}


def test_model_identity_from_settings(telemetry, instrument, iris):
    x, y = iris
    lr = LogisticRegression(max_iter=500).fit(x, y)
    environ = {"OTEL_ML_MODEL_NAME": "iris-model", "OTEL_ML_MODEL_VERSION": "7"}
    instrument(settings=Settings.load(environ=environ))

    lr.predict(x[:1])

    span = telemetry.span("predict iris-model")
    assert attributes(span) == model(
        "iris-model",
        "7",
        **{"ml.operation.name": "predict", "ml.batch.size": 1, "ml.prediction.class": "0"},
    )
    assert counts(telemetry, "ml.inference.duration") == {
        key(**model("iris-model", "7"), **{"ml.operation.name": "predict"}): 1
    }


def test_request_scope_beats_settings_and_shares_its_prediction_id(telemetry, instrument, iris):
    x, y = iris
    lr = LogisticRegression(max_iter=500).fit(x, y)
    environ = {"OTEL_ML_MODEL_NAME": "from-env", "OTEL_ML_MODEL_VERSION": "1"}
    instrument(settings=Settings.load(environ=environ))
    scope = RequestScope(model_name="from-request", model_version="5")

    token = current_request.set(scope)
    try:
        lr.predict(x[:1])
    finally:
        current_request.reset(token)

    span = telemetry.span("predict from-request")
    assert span.attributes["ml.prediction.id"] == scope.prediction_id
    assert attributes(span) == model(
        "from-request",
        "5",
        **{"ml.operation.name": "predict", "ml.batch.size": 1, "ml.prediction.class": "0"},
    )


def test_instrument_arguments_beat_request_and_settings(telemetry, instrument, iris):
    x, y = iris
    lr = LogisticRegression(max_iter=500).fit(x, y)
    environ = {"OTEL_ML_MODEL_NAME": "from-env", "OTEL_ML_MODEL_VERSION": "1"}
    instrument(model_name="fixed", model_version="3", settings=Settings.load(environ=environ))

    token = current_request.set(RequestScope(model_name="from-request", model_version="5"))
    try:
        lr.predict(x[:1])
    finally:
        current_request.reset(token)

    assert attributes(telemetry.span("predict fixed")) == model(
        "fixed",
        "3",
        **{"ml.operation.name": "predict", "ml.batch.size": 1, "ml.prediction.class": "0"},
    )


def test_user_exception_propagates_and_marks_the_span(telemetry, instrument, iris):
    x, y = iris
    lr = LogisticRegression(max_iter=500).fit(x, y)
    with pytest.raises(ValueError, match="features") as plain:
        lr.predict(x[:2, :2])
    instrument()

    with pytest.raises(ValueError, match="features") as instrumented:
        lr.predict(x[:2, :2])

    assert type(instrumented.value) is type(plain.value)
    assert str(instrumented.value) == str(plain.value)
    span = telemetry.span("predict LogisticRegression")
    assert span.status.status_code is StatusCode.ERROR
    assert attributes(span) == model(
        "LogisticRegression",
        **{"ml.operation.name": "predict", "ml.batch.size": 2, "error.type": "ValueError"},
    )
    assert [e.name for e in span.events] == ["exception"]
    assert span.events[0].attributes["exception.type"] == "ValueError"
    assert counts(telemetry, "ml.inference.duration") == {
        key(**model("LogisticRegression"), **{
            "ml.operation.name": "predict", "error.type": "ValueError"
        }): 1
    }  # fmt: skip
    assert counts(telemetry, "ml.predictions") == {}


def test_uninstrument_restores_the_original_objects(telemetry, instrument, iris):
    x, y = iris
    lr = LogisticRegression(max_iter=500).fit(x, y)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)
    predict = vars(LinearClassifierMixin)["predict"]
    pipe_proba = vars(Pipeline)["predict_proba"]
    instrumentor = instrument()
    lr.predict(x[:1])
    assert LogisticRegression.predict is not predict

    instrumentor.uninstrument()
    lr.predict(x[:1])
    pipe.predict_proba(x[:1])

    assert LogisticRegression.predict is predict
    assert vars(Pipeline)["predict_proba"] is pipe_proba
    assert [s.name for s in telemetry.spans()] == ["predict LogisticRegression"]


def test_instrument_twice_patches_once(telemetry, instrument, iris):
    x, y = iris
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)
    original = vars(Pipeline)["predict"]
    instrument()
    patched = vars(Pipeline)["predict"]

    instrument()
    pipe.predict(x[:1])

    assert vars(Pipeline)["predict"] is patched
    assert patched.__wrapped__ is original
    assert [s.name for s in telemetry.spans()] == ["predict LogisticRegression"]


def test_estimators_fitted_after_instrument_are_covered(telemetry, instrument, iris):
    x, y = iris
    instrument()
    lr = LogisticRegression(max_iter=500).fit(x, y)

    lr.decision_function(x[:3])
    lr.predict_log_proba(x[:1])

    decision, log_proba = telemetry.spans()
    assert decision.name == "decision_function LogisticRegression"
    assert attributes(decision) == model(
        "LogisticRegression", **{"ml.operation.name": "decision_function", "ml.batch.size": 3}
    )
    assert log_proba.name == "predict_log_proba LogisticRegression"
    assert log_proba.attributes["ml.prediction.class"] == "0"
    expected = float(lr.predict_proba(x[:1]).max())
    assert log_proba.attributes["ml.prediction.confidence"] == pytest.approx(expected)


def test_suppressed_and_already_wrapped_calls_make_no_extra_spans(telemetry, instrument, iris):
    x, y = iris
    lr = LogisticRegression(max_iter=500).fit(x, y)
    instrument()
    wrapped = wrap_model(lr, "wrapped", "2", **telemetry.providers)

    with suppress_instrumentation():
        lr.predict(x[:1])
    wrapped.predict(x[:1])

    assert [s.name for s in telemetry.spans()] == ["predict wrapped"]


@pytest.mark.parametrize("strict", [True, False])
def test_instrument_failure_goes_through_the_guard(strict, instrument):
    guard.set_strict(strict)
    instrumentor = SklearnInstrumentor()

    if strict:
        with pytest.raises(TypeError, match="model_name"):
            instrument(model_name=3)
    else:
        instrument(model_name=3)
        assert instrumentor.is_instrumented_by_opentelemetry

    assert guard.error_count("sklearn.instrument") == 1
    assert not isinstance(vars(Pipeline)["predict"], PatchedMethod)
    assert not isinstance(vars(LinearClassifierMixin)["predict"], PatchedMethod)


def test_training_scoring_and_model_selection_make_no_inference_spans(telemetry, instrument, iris):
    """Predictions scikit-learn makes for its own evaluation are not served traffic:
    fit_predict, score, cross_val_score and a grid search leave no span or metric,
    and serving calls made afterwards (and inside a request) are traced again."""
    x, y = iris
    instrument()

    KMeans(n_clusters=3, n_init=2, random_state=0).fit_predict(x)
    lr = LogisticRegression(max_iter=500).fit(x, y)
    assert 0.9 < lr.score(x, y) <= 1.0
    assert len(cross_val_score(LogisticRegression(max_iter=500), x, y, cv=3)) == 3
    search = GridSearchCV(LogisticRegression(max_iter=500), {"C": [0.1, 1.0]}, cv=2).fit(x, y)
    assert telemetry.spans() == []
    assert counts(telemetry, "ml.inference.duration") == {}

    search.predict(x[:1])  # serving through the refit best estimator: one span
    lr.predict(x[:2])
    assert [s.name for s in telemetry.spans()] == [
        "predict GridSearchCV",
        "predict LogisticRegression",
    ]


def test_uninstrument_restores_training_and_scoring_methods(instrument, iris):
    fit, score = vars(LogisticRegression)["fit"], vars(ClassifierMixin)["score"]
    instrument().uninstrument()

    assert vars(LogisticRegression)["fit"] is fit
    assert vars(ClassifierMixin)["score"] is score
