"""wrap_model on real scikit-learn models: the whole telemetry of each call."""

from __future__ import annotations

import asyncio
import copy
import inspect
import pickle
import re
import threading
from typing import Any

import numpy as np
import pytest
from opentelemetry.trace import SpanKind, StatusCode
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from support import Telemetry

import otel_ml
from otel_ml import semconv
from otel_ml._internal import guard

ID = re.compile(r"^[0-9a-f]{32}$")
MODEL = {semconv.ML_MODEL_NAME: "iris", semconv.ML_MODEL_VERSION: "7"}


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray, LogisticRegression]:
    data = load_iris()
    model = LogisticRegression(max_iter=1000).fit(data.data, data.target_names[data.target])
    return data.data, data.target_names[data.target], model


def _wrap(model: Any, telemetry: Telemetry, **kwargs: Any) -> Any:
    return otel_ml.wrap_model(model, "iris", "7", **telemetry.providers, **kwargs)


def test_single_row_predict_emits_span_and_metrics(iris: Any, telemetry: Telemetry) -> None:
    x, _, model = iris
    wrapped = _wrap(model, telemetry)

    result = wrapped.predict(x[:1])

    assert result.tolist() == model.predict(x[:1]).tolist()
    span = telemetry.span("predict iris")
    assert span.kind is SpanKind.INTERNAL
    attrs = dict(span.attributes or {})
    assert ID.match(attrs.pop(semconv.ML_PREDICTION_ID))
    assert attrs == {
        **MODEL,
        semconv.ML_OPERATION_NAME: "predict",
        semconv.ML_BATCH_SIZE: 1,
        semconv.ML_PREDICTION_CLASS: str(result[0]),
    }
    assert span.status.status_code is StatusCode.UNSET
    [(duration_attrs, duration)] = telemetry.points(semconv.ML_INFERENCE_DURATION)
    assert duration_attrs == {**MODEL, semconv.ML_OPERATION_NAME: "predict"}
    assert duration.count == 1
    assert 0 < duration.sum < span.end_time - span.start_time  # type: ignore[operator]
    assert list(duration.explicit_bounds) == list(semconv.INFERENCE_DURATION_BUCKETS)
    [(class_attrs, predicted)] = telemetry.points(semconv.ML_PREDICTIONS)
    assert class_attrs == {**MODEL, semconv.ML_PREDICTION_CLASS: str(result[0])}
    assert predicted.value == 1
    [(_, active)] = telemetry.points(semconv.ML_INFERENCE_ACTIVE)
    assert active.value == 0
    assert telemetry.points(semconv.ML_PREDICTION_CONFIDENCE_METRIC) == []


def test_predict_proba_batch_records_every_row(iris: Any, telemetry: Telemetry) -> None:
    x, _, model = iris
    rows = x[::10]  # 15 rows, all three classes
    probs = _wrap(model, telemetry).predict_proba(rows)

    expected_labels = model.classes_[probs.argmax(axis=1)]
    attrs = dict(telemetry.span("predict_proba iris").attributes or {})
    assert attrs[semconv.ML_BATCH_SIZE] == 15
    assert set(attrs[semconv.ML_PREDICTION_CLASSES]) == set(expected_labels)
    assert attrs[semconv.ML_PREDICTION_CONFIDENCE_MIN] == pytest.approx(probs.max(axis=1).min())
    assert attrs[semconv.ML_PREDICTION_CONFIDENCE_MEAN] == pytest.approx(probs.max(axis=1).mean())
    assert semconv.ML_PREDICTION_CLASS not in attrs
    counts = {
        a[semconv.ML_PREDICTION_CLASS]: p.value for a, p in telemetry.points("ml.predictions")
    }
    labels, label_counts = np.unique(expected_labels, return_counts=True)
    assert counts == dict(zip(labels.tolist(), label_counts.tolist(), strict=True))
    [(conf_attrs, conf)] = telemetry.points(semconv.ML_PREDICTION_CONFIDENCE_METRIC)
    assert conf_attrs == MODEL
    assert conf.count == 15
    assert conf.sum == pytest.approx(probs.max(axis=1).sum())


def test_single_row_predict_proba_sets_class_and_confidence(
    iris: Any, telemetry: Telemetry
) -> None:
    x, _, model = iris
    probs = _wrap(model, telemetry).predict_proba(x[100:101])
    attrs = dict(telemetry.span("predict_proba iris").attributes or {})
    assert attrs[semconv.ML_PREDICTION_CONFIDENCE] == pytest.approx(probs.max())
    assert attrs[semconv.ML_PREDICTION_CLASS] == model.classes_[probs.argmax()]


def test_regression_value(telemetry: Telemetry) -> None:
    x = np.arange(40, dtype=float).reshape(20, 2)
    model = Ridge().fit(x, x.sum(axis=1))
    wrapped = otel_ml.wrap_model(model, "ridge", "1", **telemetry.providers)
    value = wrapped.predict(x[:1])
    attrs = dict(telemetry.span("predict ridge").attributes or {})
    assert attrs[semconv.ML_PREDICTION_VALUE] == pytest.approx(value[0])
    assert semconv.ML_PREDICTION_CLASS not in attrs
    assert telemetry.points(semconv.ML_PREDICTIONS) == []
    assert not hasattr(wrapped, "predict_proba")  # duck typing of the model is preserved


def test_user_exception_propagates_unchanged(iris: Any, telemetry: Telemetry) -> None:
    _, _, model = iris
    wrapped = _wrap(model, telemetry)
    with pytest.raises(ValueError, match="features") as info:
        wrapped.predict(np.zeros((1, 3)))
    assert info.traceback[-1].name != "invoke"  # raised from scikit-learn, not re-made by us

    span = telemetry.span("predict iris")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})[semconv.ERROR_TYPE] == "ValueError"
    assert [e.name for e in span.events] == ["exception"]
    [(attrs, point)] = telemetry.points(semconv.ML_INFERENCE_DURATION)
    assert attrs[semconv.ERROR_TYPE] == "ValueError"
    assert point.count == 1
    [(_, active)] = telemetry.points(semconv.ML_INFERENCE_ACTIVE)
    assert active.value == 0


def test_spans_inside_the_model_are_children(telemetry: Telemetry) -> None:
    tracer = telemetry.tracer_provider.get_tracer("user")

    class Model:
        def predict(self, x: Any) -> list[int]:
            with tracer.start_as_current_span("feature lookup"):
                return [1]

    otel_ml.wrap_model(Model(), "m", "1", **telemetry.providers).predict([[0]])
    inner, outer = telemetry.spans()
    assert inner.parent is not None and inner.parent.span_id == outer.context.span_id


def test_proxy_behaves_like_the_model(iris: Any, telemetry: Telemetry) -> None:
    x, _, model = iris
    wrapped = _wrap(copy.deepcopy(model), telemetry)
    assert isinstance(wrapped, LogisticRegression)
    assert isinstance(wrapped, otel_ml.InstrumentedModel)
    assert wrapped.classes_.tolist() == model.classes_.tolist()
    wrapped.custom_tag = "x"
    assert wrapped.__wrapped__.custom_tag == "x"
    assert wrapped.otel_ml_model == ("iris", "7")
    assert not callable(wrapped)
    for name in ("predict", "predict_proba"):
        method, original = getattr(wrapped, name), getattr(model, name)
        assert (method.__name__, method.__doc__) == (name, original.__doc__)
        assert inspect.signature(method) == inspect.signature(original)

    restored = pickle.loads(pickle.dumps(wrapped))
    assert isinstance(restored, otel_ml.InstrumentedModel)
    assert restored.otel_ml_model == ("iris", "7")
    assert restored.predict(x[:2]).tolist() == model.predict(x[:2]).tolist()
    assert copy.deepcopy(wrapped).otel_ml_model == ("iris", "7")
    assert otel_ml.wrap_model(wrapped, "other", "1").__wrapped__ is wrapped.__wrapped__


def test_callable_and_async_models(telemetry: Telemetry) -> None:
    def score(rows: list[list[float]]) -> list[float]:
        return [sum(r) for r in rows]

    class AsyncModel:
        async def predict(self, rows: list[str]) -> list[str]:
            await asyncio.sleep(0)
            return ["spam" for _ in rows]

    assert otel_ml.wrap_model(score, **telemetry.providers)([[1.0, 2.0]]) == [3.0]
    wrapped = otel_ml.wrap_model(AsyncModel(), "filter", "2", **telemetry.providers)
    assert asyncio.run(wrapped.predict(["a", "b"])) == ["spam", "spam"]

    by_name = {s.name: dict(s.attributes or {}) for s in telemetry.spans()}
    assert by_name["predict score"][semconv.ML_PREDICTION_VALUE] == 3.0
    assert by_name["predict filter"][semconv.ML_PREDICTION_CLASSES] == ("spam",)
    assert by_name["predict filter"][semconv.ML_BATCH_SIZE] == 2


def test_calls_in_flight_are_counted_while_they_run(telemetry: Telemetry) -> None:
    """Two calls of one model block inside it: the gauge reads 2, then 0."""
    inside, release = threading.Barrier(3, timeout=30), threading.Event()

    def slow(rows: list[list[float]]) -> list[float]:
        inside.wait()
        release.wait(timeout=30)
        return [0.0 for _ in rows]

    model = otel_ml.wrap_model(slow, "slow", "1", **telemetry.providers)
    calls = [threading.Thread(target=model, args=([[1.0]],)) for _ in range(2)]
    for call in calls:
        call.start()
    inside.wait()
    [(attrs, during)] = telemetry.points(semconv.ML_INFERENCE_ACTIVE)
    release.set()
    for call in calls:
        call.join(timeout=30)

    assert not any(call.is_alive() for call in calls)
    assert (attrs, during.value) == (
        {semconv.ML_MODEL_NAME: "slow", semconv.ML_MODEL_VERSION: "1"},
        2,
    )
    [(_, after)] = telemetry.points(semconv.ML_INFERENCE_ACTIVE)
    assert after.value == 0


def test_invocations_are_made_by_start_only() -> None:
    with pytest.raises(TypeError, match=r"InferenceInvocation.start"):
        otel_ml.InferenceInvocation()


@pytest.mark.parametrize(
    ("model", "kwargs", "error", "message"),
    [
        (None, {}, TypeError, "got None"),
        (object(), {}, TypeError, "one of predict"),
        (LogisticRegression, {}, TypeError, "instance, got the class"),
        (len, {"name": ""}, ValueError, "name must not be empty"),
        (len, {"version": 3}, TypeError, "version must be a string"),
        (len, {"task": "ranking"}, ValueError, "task='ranking'"),
    ],
)
def test_bad_arguments_fail_at_wrap_time(
    model: Any, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        otel_ml.wrap_model(model, **kwargs)


def test_nan_probabilities_are_counted_and_returned(telemetry: Telemetry) -> None:
    class Broken:
        def predict_proba(self, x: Any) -> np.ndarray:
            return np.array([[np.nan, np.nan]] * len(x))

    out = otel_ml.wrap_model(Broken(), "broken", "1", **telemetry.providers).predict_proba([[1]])
    assert np.isnan(out).all()
    attrs = dict(telemetry.span("predict_proba broken").attributes or {})
    assert semconv.ML_PREDICTION_CONFIDENCE not in attrs
    [(issue, point)] = telemetry.points(semconv.ML_DATA_QUALITY_ISSUES)
    assert issue[semconv.ML_DATA_ISSUE] == "non_finite"
    assert issue[semconv.ML_FEATURE_NAME] == semconv.CONFIDENCE_FEATURE
    assert point.value == 1
    assert telemetry.points(semconv.ML_PREDICTION_CONFIDENCE_METRIC) == []


def test_class_label_cardinality_is_capped(telemetry: Telemetry) -> None:
    def classify(rows: list[int]) -> list[str]:
        return [f"label-{r}" for r in rows]

    wrapped = otel_ml.wrap_model(classify, "many", "1", **telemetry.providers)
    wrapped(list(range(10_000)))
    wrapped(list(range(5_000, 6_000)))

    points = telemetry.points(semconv.ML_PREDICTIONS)
    assert len(points) == 51  # the default cap of 50, plus __other__
    counts = {a[semconv.ML_PREDICTION_CLASS]: p.value for a, p in points}
    assert sum(counts.values()) == 11_000
    assert counts[semconv.OTHER_LABEL] == 11_000 - 50


def test_free_text_and_unencodable_labels_stay_off_metrics(telemetry: Telemetry) -> None:
    """A "class" of 200 characters goes to __other__ (it is free text, not a class);
    a lone surrogate is replaced, so the exporter can still encode the span."""

    def classify(rows: list[int]) -> list[str]:
        return ["x" * 200 if r == 0 else "caf\udce9" for r in rows]

    wrapped = otel_ml.wrap_model(classify, "free-text", "1", **telemetry.providers)
    wrapped([0, 1])
    wrapped([1])

    counts = {
        a[semconv.ML_PREDICTION_CLASS]: p.value for a, p in telemetry.points(semconv.ML_PREDICTIONS)
    }
    assert counts == {semconv.OTHER_LABEL: 1, "caf?": 2}
    label = (telemetry.spans()[-1].attributes or {})[semconv.ML_PREDICTION_CLASS]
    assert label == "caf?" and str(label).encode("utf-8")


def test_unreadable_output_is_counted_and_the_result_returned(telemetry: Telemetry) -> None:
    guard.set_strict(False)
    sentinel = object()

    class Odd:
        def predict_proba(self, x: Any) -> object:
            return sentinel

    assert otel_ml.wrap_model(Odd(), **telemetry.providers).predict_proba([[1]]) is sentinel
    assert guard.error_count("inference.output") == 1
    assert telemetry.span("predict_proba Odd").status.status_code is StatusCode.UNSET
    [(attrs, point)] = telemetry.points(semconv.OTEL_ML_INTERNAL_ERRORS)
    assert (attrs, point.value) == ({semconv.COMPONENT: "inference.output"}, 1)


def test_a_failing_tracer_never_breaks_the_prediction(iris: Any, telemetry: Telemetry) -> None:
    guard.set_strict(False)
    x, _, model = iris

    class FailingTracerProvider(type(telemetry.tracer_provider)):  # type: ignore[misc]
        def get_tracer(self, *args: Any, **kwargs: Any) -> Any:
            tracer = super().get_tracer(*args, **kwargs)

            def start_span(*a: Any, **k: Any) -> Any:
                raise RuntimeError("exporter exploded")

            tracer.start_span = start_span
            return tracer

    wrapped = otel_ml.wrap_model(
        model, "iris", "7",
        tracer_provider=FailingTracerProvider(),
        meter_provider=telemetry.meter_provider,
    )  # fmt: skip
    assert wrapped.predict(x[:1]).tolist() == model.predict(x[:1]).tolist()
    assert guard.error_count("inference.start") == 1
    assert telemetry.points(semconv.ML_INFERENCE_DURATION) == []


def test_last_prediction_id_names_the_call_that_just_returned(
    iris: Any, telemetry: Telemetry
) -> None:
    x, _, model = iris
    wrapped = _wrap(model, telemetry)
    wrapped.predict(x[:1])
    first = otel_ml.last_prediction_id()
    wrapped.predict(x[1:2])
    second = otel_ml.last_prediction_id()
    ids = [(s.attributes or {})[semconv.ML_PREDICTION_ID] for s in telemetry.spans()]
    assert ids == [first, second]
    assert first != second
