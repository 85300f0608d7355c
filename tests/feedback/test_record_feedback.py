"""``otel_ml.record_feedback`` in-process: labels joined to real scikit-learn predictions."""

from __future__ import annotations

import contextvars
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from feedback_support import Clock, UseSettings
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from sklearn.datasets import load_iris, make_regression
from sklearn.linear_model import LogisticRegression, Ridge
from support import Telemetry

import otel_ml
from otel_ml import semconv
from otel_ml.drift.profile import ReferenceProfile
from otel_ml.feedback.store import PredictionStore

IRIS = load_iris()
X = IRIS.data
Y = IRIS.target_names[IRIS.target]
SETOSA, VERSICOLOR, VIRGINICA = 0, 50, 100  # rows the model predicts as their true class
UseStore = Callable[..., PredictionStore]


@pytest.fixture(scope="module")
def classifier() -> LogisticRegression:
    return LogisticRegression(max_iter=1000).fit(X, Y)


@pytest.fixture(scope="module")
def regressor() -> tuple[Ridge, np.ndarray]:
    features, target = make_regression(n_samples=80, n_features=3, noise=0.1, random_state=0)
    return Ridge().fit(features, target), features


def model_attrs(name: str, version: str = "1") -> dict[str, str]:
    return {semconv.ML_MODEL_NAME: name, semconv.ML_MODEL_VERSION: version}


def prediction_ids(telemetry: Telemetry, name: str) -> list[str]:
    """The prediction ids of the model's inference spans, in call order."""
    spans = [s for s in telemetry.spans() if s.name.endswith(f" {name}")]
    return [str((s.attributes or {})[semconv.ML_PREDICTION_ID]) for s in spans]


def inference_span(telemetry: Telemetry, prediction_id: str) -> ReadableSpan:
    (span,) = [
        s
        for s in telemetry.spans()
        if not s.name.startswith("feedback")
        and (s.attributes or {}).get(semconv.ML_PREDICTION_ID) == prediction_id
    ]
    return span


def feedback_spans(telemetry: Telemetry) -> dict[str, ReadableSpan]:
    """Feedback spans by the prediction id they label."""
    spans = [s for s in telemetry.spans() if s.name.split(" ")[0] == "feedback"]
    return {str((s.attributes or {})[semconv.ML_PREDICTION_ID]): s for s in spans}


def values(telemetry: Telemetry, metric: str) -> dict[frozenset[tuple[str, Any]], Any]:
    """Attributes -> value (counters, gauges) or ``(count, sum)`` (histograms)."""
    out = {}
    for attrs, point in telemetry.points(metric):
        value = (point.count, point.sum) if hasattr(point, "count") else point.value
        out[frozenset(attrs.items())] = value
    return out


def key(*parts: dict[str, Any]) -> frozenset[tuple[str, Any]]:
    return frozenset({k: v for part in parts for k, v in part.items()}.items())


def assert_links_to_prediction(telemetry: Telemetry, prediction_id: str) -> None:
    """The label's span links to the span of the prediction it labels."""
    span = feedback_spans(telemetry)[prediction_id]
    prediction = inference_span(telemetry, prediction_id).context
    assert span.kind is SpanKind.INTERNAL and span.parent is None
    assert [(link.context.trace_id, link.context.span_id) for link in span.links] == [
        (prediction.trace_id, prediction.span_id)
    ]
    assert span.links[0].context.trace_flags.sampled
    assert span.context.trace_id != prediction.trace_id  # a new trace, joined by the link


def test_classification_labels_count_outcomes_and_link_to_the_prediction(
    classifier: LogisticRegression, telemetry: Telemetry, use_store: UseStore
) -> None:
    clock = Clock()
    use_store(100, 3600.0, clock)
    name = "clf-outcomes"
    model = otel_ml.wrap_model(classifier, name, "1", feedback=True, **telemetry.providers)
    predicted = [model.predict(X[[row]])[0] for row in (SETOSA, VERSICOLOR, VIRGINICA)]
    assert predicted == ["setosa", "versicolor", "virginica"]
    ids = prediction_ids(telemetry, name)
    clock.advance(5.0)

    actuals = ["setosa", "versicolor", "versicolor"]  # the last prediction is wrong
    outcomes = [otel_ml.record_feedback(pid, a) for pid, a in zip(ids, actuals, strict=True)]

    assert outcomes == ["matched"] * 3
    model_ = model_attrs(name)
    assert values(telemetry, semconv.ML_FEEDBACK_OUTCOMES) == {
        key(model_, {semconv.ML_FEEDBACK_OUTCOME: "correct"}): 2,
        key(model_, {semconv.ML_FEEDBACK_OUTCOME: "incorrect"}): 1,
    }
    assert values(telemetry, semconv.ML_FEEDBACK_DELAY) == {key(model_): (3, 15.0)}
    [(_, delay)] = telemetry.points(semconv.ML_FEEDBACK_DELAY)
    assert list(delay.explicit_bounds) == [float(b) for b in semconv.FEEDBACK_DELAY_BUCKETS]
    for metric in (semconv.ML_FEEDBACK_UNMATCHED, semconv.ML_FEEDBACK_ERROR, "ml.feedback.mae"):
        assert telemetry.points(metric) == []
    spans = feedback_spans(telemetry)
    assert sorted(spans) == sorted(ids)
    for pid, outcome in zip(ids, ["correct", "correct", "incorrect"], strict=True):
        assert spans[pid].name == f"feedback {name}"
        assert dict(spans[pid].attributes or {}) == {
            **model_,
            semconv.ML_PREDICTION_ID: pid,
            semconv.ML_FEEDBACK_DELAY_ATTRIBUTE: 5.0,
            semconv.ML_FEEDBACK_OUTCOME: outcome,
        }
        assert_links_to_prediction(telemetry, pid)
    assert_quality_gauges(telemetry, model_)


def assert_quality_gauges(telemetry: Telemetry, model_: dict[str, str]) -> None:
    """setosa and versicolor right, virginica predicted for a versicolor."""
    assert values(telemetry, semconv.ML_FEEDBACK_ACCURACY) == {key(model_): pytest.approx(2 / 3)}
    assert values(telemetry, semconv.ML_FEEDBACK_WINDOW_SIZE) == {key(model_): 3}
    cls = semconv.ML_PREDICTION_CLASS
    assert values(telemetry, semconv.ML_FEEDBACK_PRECISION) == {
        key(model_, {cls: "setosa"}): 1.0,
        key(model_, {cls: "versicolor"}): 1.0,
        key(model_, {cls: "virginica"}): 0.0,
    }
    assert values(telemetry, semconv.ML_FEEDBACK_RECALL) == {
        key(model_, {cls: "setosa"}): 1.0,
        key(model_, {cls: "versicolor"}): 0.5,
    }
    assert telemetry.points(semconv.ML_FEEDBACK_MAE) == []
    assert telemetry.points(semconv.ML_FEEDBACK_BASELINE) == []


def test_regression_labels_record_the_absolute_error(
    regressor: tuple[Ridge, np.ndarray], telemetry: Telemetry, use_store: UseStore
) -> None:
    clock = Clock()
    use_store(100, 3600.0, clock)
    estimator, features = regressor
    name = "reg-error"
    model = otel_ml.wrap_model(estimator, name, "2", feedback=True, **telemetry.providers)
    predicted = [float(model.predict(features[[row]])[0]) for row in range(3)]
    ids = prediction_ids(telemetry, name)
    clock.advance(90.0)

    for pid, value, error in zip(ids, predicted, (0.5, -2.0, 1.5), strict=True):
        assert otel_ml.record_feedback(pid, value + error) == "matched"

    model_ = model_attrs(name, "2")
    [(attrs, histogram)] = telemetry.points(semconv.ML_FEEDBACK_ERROR)
    assert attrs == model_
    assert (histogram.count, histogram.min, histogram.max) == (3, pytest.approx(0.5), 2.0)
    assert histogram.sum == pytest.approx(4.0)
    assert values(telemetry, semconv.ML_FEEDBACK_DELAY) == {key(model_): (3, 270.0)}
    assert values(telemetry, semconv.ML_FEEDBACK_MAE) == {key(model_): pytest.approx(4 / 3)}
    assert values(telemetry, semconv.ML_FEEDBACK_WINDOW_SIZE) == {key(model_): 3}
    for metric in (semconv.ML_FEEDBACK_OUTCOMES, semconv.ML_FEEDBACK_ACCURACY):
        assert telemetry.points(metric) == []
    span = feedback_spans(telemetry)[ids[1]]
    assert dict(span.attributes or {}) == {
        **model_,
        semconv.ML_PREDICTION_ID: ids[1],
        semconv.ML_FEEDBACK_DELAY_ATTRIBUTE: 90.0,
        semconv.ML_FEEDBACK_ERROR_ATTRIBUTE: pytest.approx(2.0),
    }
    assert_links_to_prediction(telemetry, ids[1])


def test_a_batch_prediction_is_labelled_with_a_list(
    classifier: LogisticRegression,
    regressor: tuple[Ridge, np.ndarray],
    telemetry: Telemetry,
) -> None:
    name = "batch-labels"
    model = otel_ml.wrap_model(classifier, name, "1", feedback=True, **telemetry.providers)
    reg = otel_ml.wrap_model(regressor[0], f"{name}-reg", "1", feedback=True, **telemetry.providers)
    assert model.predict(X[[SETOSA, VERSICOLOR, VIRGINICA, 1]]).tolist() == [
        "setosa", "versicolor", "virginica", "setosa",
    ]  # fmt: skip
    values_ = reg.predict(regressor[1][:2]).tolist()
    model.predict(X[[SETOSA, VERSICOLOR]])
    [batch, wrong_length] = prediction_ids(telemetry, name)
    [reg_batch] = prediction_ids(telemetry, f"{name}-reg")

    labels = ["setosa", "versicolor", "versicolor", "setosa"]
    assert otel_ml.record_feedback(batch, labels) == "matched"
    assert otel_ml.record_feedback(reg_batch, [values_[0] + 1.0, values_[1] - 3.0]) == "matched"
    # A list that does not fit the batch is still its label (matched), but compares nothing.
    assert otel_ml.record_feedback(wrong_length, ["setosa"]) == "matched"

    model_ = model_attrs(name)
    assert values(telemetry, semconv.ML_FEEDBACK_OUTCOMES) == {
        key(model_, {semconv.ML_FEEDBACK_OUTCOME: "correct"}): 3,
        key(model_, {semconv.ML_FEEDBACK_OUTCOME: "incorrect"}): 1,
    }
    assert values(telemetry, semconv.ML_FEEDBACK_ACCURACY) == {key(model_): 0.75}
    reg_attrs = model_attrs(f"{name}-reg")
    [(attrs, errors)] = telemetry.points(semconv.ML_FEEDBACK_ERROR)
    assert (attrs, errors.count, errors.sum) == (reg_attrs, 2, pytest.approx(4.0))
    delays = values(telemetry, semconv.ML_FEEDBACK_DELAY)
    assert {k: count for k, (count, _) in delays.items()} == {key(model_): 2, key(reg_attrs): 1}
    spans = feedback_spans(telemetry)
    assert semconv.ML_FEEDBACK_OUTCOME not in (spans[batch].attributes or {})  # many rows
    error = (spans[reg_batch].attributes or {})[semconv.ML_FEEDBACK_ERROR_ATTRIBUTE]
    assert error == pytest.approx(2.0)  # the mean absolute error of the batch
    for pid in (batch, reg_batch, wrong_length):
        assert_links_to_prediction(telemetry, pid)


def test_labels_without_a_prediction_are_counted_by_reason(
    classifier: LogisticRegression, telemetry: Telemetry, use_store: UseStore
) -> None:
    clock = Clock()
    use_store(2, 60.0, clock)
    name = "unmatched-reasons"
    model = otel_ml.wrap_model(classifier, name, "3", feedback=True, **telemetry.providers)
    plain = otel_ml.wrap_model(classifier, f"{name}-off", "3", **telemetry.providers)
    for row in (SETOSA, VERSICOLOR, VIRGINICA):  # a store of 2: the first is evicted
        model.predict(X[[row]])
    plain.predict(X[[SETOSA]])  # feedback is off for this model: never remembered
    evicted, kept, last = prediction_ids(telemetry, name)
    [not_remembered] = prediction_ids(telemetry, f"{name}-off")

    # Unmatched labels are counted on the providers given (the model is unknown).
    providers = telemetry.providers
    assert otel_ml.record_feedback(evicted, "setosa", **providers) == "expired"
    assert otel_ml.record_feedback(kept, "versicolor", **providers) == "matched"
    assert otel_ml.record_feedback(kept, "versicolor", **providers) == "duplicate"
    clock.advance(60.0)
    assert otel_ml.record_feedback(last, "virginica", model_name=name, **providers) == "expired"
    assert otel_ml.record_feedback(not_remembered, 0, model_name=name, **providers) == "unknown"
    assert otel_ml.record_feedback("no-such-id", 1, **providers) == "unknown"
    with pytest.raises(TypeError, match="prediction_id must be a string, got int"):
        otel_ml.record_feedback(42, "setosa", **providers)  # type: ignore[arg-type]

    reason = semconv.ML_FEEDBACK_UNMATCHED_REASON
    named = model_attrs(name, "unknown")  # no version given: the configured default
    assert values(telemetry, semconv.ML_FEEDBACK_UNMATCHED) == {
        key({reason: "expired"}): 1,
        key({reason: "duplicate"}): 1,
        key(named, {reason: "expired"}): 1,
        key(named, {reason: "unknown"}): 1,
        key({reason: "unknown"}): 1,
    }
    assert values(telemetry, semconv.ML_FEEDBACK_OUTCOMES) == {
        key(model_attrs(name, "3"), {semconv.ML_FEEDBACK_OUTCOME: "correct"}): 1
    }
    spans = feedback_spans(telemetry)
    assert spans[last].name == f"feedback {name}" and spans["no-such-id"].name == "feedback"
    assert dict(spans["no-such-id"].attributes or {}) == {
        reason: "unknown",
        semconv.ML_PREDICTION_ID: "no-such-id",
    }
    assert dict(spans[last].attributes or {}) == {
        **named,
        reason: "expired",
        semconv.ML_PREDICTION_ID: last,
    }
    assert all(not s.links for pid, s in spans.items() if pid != kept)


def test_segments_label_the_metrics_with_capped_values(
    classifier: LogisticRegression, telemetry: Telemetry, use_settings: UseSettings
) -> None:
    settings = use_settings(
        OTEL_ML_FEEDBACK_SEGMENTS="country,channel", OTEL_ML_MAX_SEGMENT_VALUES="2"
    )
    name = "segments"
    model = otel_ml.wrap_model(
        classifier, name, "1", feedback=True, **telemetry.providers, settings=settings
    )
    requests = [  # (segments, row, label): each in its own context, like a request
        ({"country": "DE", "channel": "web", "user": "u1"}, SETOSA, "setosa"),
        ({"country": "FR", "channel": "web"}, VERSICOLOR, "setosa"),
        ({"country": "US", "channel": "app"}, VIRGINICA, "virginica"),
        ({"country": "IT"}, SETOSA, "setosa"),
        ({}, SETOSA, "setosa"),
    ]

    def serve(segments: dict[str, str], row: int) -> None:
        otel_ml.set_segments(**segments)
        model.predict(X[[row]])

    for segments, row, _ in requests:
        contextvars.copy_context().run(serve, segments, row)
    for pid, (_, _, label) in zip(prediction_ids(telemetry, name), requests, strict=True):
        assert otel_ml.record_feedback(pid, label) == "matched"

    country, channel = "ml.segment.country", "ml.segment.channel"
    outcome = semconv.ML_FEEDBACK_OUTCOME
    model_ = model_attrs(name)
    assert values(telemetry, semconv.ML_FEEDBACK_OUTCOMES) == {
        key(model_, {country: "DE", channel: "web", outcome: "correct"}): 1,
        key(model_, {country: "FR", channel: "web", outcome: "incorrect"}): 1,
        key(model_, {country: "__other__", channel: "app", outcome: "correct"}): 1,
        key(model_, {country: "__other__", outcome: "correct"}): 1,
        key(model_, {outcome: "correct"}): 1,
    }
    delays = values(telemetry, semconv.ML_FEEDBACK_DELAY)
    assert sum(count for count, _ in delays.values()) == 5 and len(delays) == 5
    # Quality gauges stay per model: segments multiply series only on counters.
    assert values(telemetry, semconv.ML_FEEDBACK_ACCURACY) == {key(model_): 0.8}
    segment_names = {
        name
        for metric in (semconv.ML_FEEDBACK_OUTCOMES, semconv.ML_FEEDBACK_DELAY)
        for attrs, _ in telemetry.points(metric)
        for name in attrs
        if name.startswith(semconv.ML_SEGMENT_PREFIX)
    }
    assert segment_names == {country, channel}  # "user" is not a configured segment


def test_quality_gauges_slide_over_the_last_labels(
    classifier: LogisticRegression, telemetry: Telemetry, use_settings: UseSettings
) -> None:
    settings = use_settings(OTEL_ML_FEEDBACK_WINDOW="4")
    name = "sliding"
    model = otel_ml.wrap_model(
        classifier, name, "1", feedback=True, **telemetry.providers, settings=settings
    )
    for _ in range(6):
        model.predict(X[[SETOSA]])
    ids = prediction_ids(telemetry, name)
    model_ = model_attrs(name)

    for pid in ids[:2]:
        otel_ml.record_feedback(pid, "virginica")
    assert values(telemetry, semconv.ML_FEEDBACK_ACCURACY) == {key(model_): 0.0}
    for pid in ids[2:]:
        otel_ml.record_feedback(pid, "setosa")

    assert values(telemetry, semconv.ML_FEEDBACK_ACCURACY) == {key(model_): 1.0}
    assert values(telemetry, semconv.ML_FEEDBACK_WINDOW_SIZE) == {key(model_): 4}
    cls = semconv.ML_PREDICTION_CLASS
    assert values(telemetry, semconv.ML_FEEDBACK_RECALL) == {key(model_, {cls: "setosa"}): 1.0}
    assert values(telemetry, semconv.ML_FEEDBACK_OUTCOMES) == {  # counters keep every label
        key(model_, {semconv.ML_FEEDBACK_OUTCOME: "correct"}): 4,
        key(model_, {semconv.ML_FEEDBACK_OUTCOME: "incorrect"}): 2,
    }


def test_the_baseline_gauge_exports_the_profiles_offline_accuracy(
    classifier: LogisticRegression, telemetry: Telemetry
) -> None:
    profile = ReferenceProfile.fit(X, metadata={"baseline_accuracy": 0.97, "dataset": "iris"})
    without = ReferenceProfile.fit(X, metadata={"dataset": "iris"})
    name = "baseline"
    otel_ml.wrap_model(classifier, name, "1", reference=profile, feedback=True,
                       **telemetry.providers)  # fmt: skip
    otel_ml.wrap_model(classifier, f"{name}-none", "1", reference=without, feedback=True,
                       **telemetry.providers)  # fmt: skip
    later = otel_ml.wrap_model(classifier, f"{name}-later", "1", feedback=True,
                               **telemetry.providers)  # fmt: skip
    assert values(telemetry, semconv.ML_FEEDBACK_BASELINE) == {key(model_attrs(name)): 0.97}

    otel_ml.wrap_model(later, f"{name}-later", "1", reference=profile, **telemetry.providers)

    assert values(telemetry, semconv.ML_FEEDBACK_BASELINE) == {
        key(model_attrs(name)): 0.97,
        key(model_attrs(f"{name}-later")): 0.97,
    }


def test_the_inference_block_gives_the_prediction_id_to_label(
    telemetry: Telemetry, use_settings: UseSettings
) -> None:
    settings = use_settings(OTEL_ML_FEEDBACK_ENABLED="true")  # every model remembers
    name = "block"
    with otel_ml.inference(name, "1", **telemetry.providers, settings=settings) as invocation:
        invocation.record_predictions(["spam"])

    assert otel_ml.record_feedback(invocation.prediction_id, "ham") == "matched"
    assert values(telemetry, semconv.ML_FEEDBACK_OUTCOMES) == {
        key(model_attrs(name), {semconv.ML_FEEDBACK_OUTCOME: "incorrect"}): 1
    }
    assert_links_to_prediction(telemetry, invocation.prediction_id)


def test_concurrent_predictions_and_labels_count_every_label_once(
    classifier: LogisticRegression, telemetry: Telemetry, use_store: UseStore
) -> None:
    name = "concurrent"
    otel_ml.wrap_model(classifier, name, "1", feedback=True, **telemetry.providers)
    returned: Counter[str] = Counter()
    lock = threading.Lock()
    providers = telemetry.providers

    def worker(index: int) -> None:
        mine: list[str] = []
        for i in range(60):
            with otel_ml.inference(name, "1", **telemetry.providers) as invocation:
                invocation.record_predictions(classifier.predict(X[[SETOSA]]))
            mine.append(invocation.prediction_id)
            got = [otel_ml.record_feedback(mine[-1], "setosa", **providers)]
            if i % 3 == 0:  # a second label for an earlier prediction, and a typo
                got += [otel_ml.record_feedback(mine[max(0, i - 20)], "setosa", **providers)]
                got += [
                    otel_ml.record_feedback(f"typo-{index}-{i}", "x", model_name=name, **providers)
                ]
            with lock:
                returned.update(got)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(thread.is_alive() for thread in threads)
    assert sum(returned.values()) == 4 * (60 + 2 * 20)
    assert returned == Counter(matched=4 * 60, duplicate=4 * 20, unknown=4 * 20)
    counted = values(telemetry, semconv.ML_FEEDBACK_OUTCOMES)
    assert counted == {key(model_attrs(name), {semconv.ML_FEEDBACK_OUTCOME: "correct"}): 240}
    reason = semconv.ML_FEEDBACK_UNMATCHED_REASON
    assert values(telemetry, semconv.ML_FEEDBACK_UNMATCHED) == {
        key({reason: "duplicate"}): 4 * 20,
        key(model_attrs(name, "unknown"), {reason: "unknown"}): 4 * 20,
    }
    assert len(feedback_spans(telemetry)) == 4 * 60 + 4 * 20  # the duplicates share an id


def test_stored_predictions_leave_nothing_for_the_garbage_collector_to_traverse(
    classifier: LogisticRegression, telemetry: Telemetry, use_store: UseStore
) -> None:
    """A full store holds 100k predictions by default: once a collection has seen
    them, none of its records (single rows, batches, segments) is GC-tracked."""
    import gc

    store = use_store(1000, 60.0, Clock())
    model = otel_ml.wrap_model(
        classifier, "gc-untracked", "1", feedback=True, **telemetry.providers
    )
    token = otel_ml.set_segments(country="DE")
    try:
        for row in range(40):
            model.predict(X[[row]])
        model.predict(X[:5])  # a batch keeps its per-row labels
    finally:
        otel_ml.reset_segments(token)
    for _ in range(4):  # a tuple is untracked by the pass after its last tracked item
        gc.collect()

    records = [record for generation in store._generations for record in generation.values()]
    assert len(records) == 41  # in generations of 62 (a store of 1000)
    assert [record for record in records if gc.is_tracked(record)] == []
    assert otel_ml.record_feedback(prediction_ids(telemetry, "gc-untracked")[-1], list(Y[:5])) == (
        "matched"
    )
