"""Probability rows with infinities or NaNs, and outputs that are no data at all:
the class never disagrees with ``np.argmax``, nothing is mislabelled, and the
oddities are counted as data-quality issues."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.linear_model import LogisticRegression
from support import Telemetry

import otel_ml
from otel_ml.feedback.stores.registry import use_prediction_store
from otel_ml.outputs.extract import summarize_probabilities

CLASSES = np.array(["cat", "dog", "bird"])
ENTRIES = st.one_of(
    st.floats(0, 1), st.just(np.inf), st.just(-np.inf), st.floats(-1e300, 1e300, width=64)
)


@settings(max_examples=300, deadline=None, database=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.just(3)), elements=ENTRIES))
def test_class_is_the_arg_max_of_every_finite_or_infinite_row(probs: np.ndarray) -> None:
    summary = summarize_probabilities(probs, CLASSES, 1024)
    expected = CLASSES[np.argmax(probs, axis=1)].tolist()
    if len(probs) == 1:
        assert summary.label == expected[0]
    else:
        assert summary.row_labels == expected
    non_finite = int((~np.isfinite(probs)).any(axis=1).sum())
    assert summary.invalid_confidence.get("non_finite", 0) == non_finite


@pytest.mark.parametrize(
    ("rows", "label", "counts", "row_labels"),
    [
        ([[np.inf, 0, 0]], "cat", [("cat", 1)], None),
        ([[0.1, 0.2, np.inf]], "bird", [("bird", 1)], None),
        ([[np.inf, 0, 0], [0.2, 0.7, 0.1]], None, [("cat", 1), ("dog", 1)], ["cat", "dog"]),
        ([[np.nan, 0.5, 0.2]], None, [], None),
        ([[np.nan, 0.5, 0.2], [0.2, 0.7, 0.1]], None, [("dog", 1)], None),
    ],
)
def test_a_row_with_a_nan_has_no_class_and_an_infinite_row_its_arg_max(
    rows: list[list[float]], label: str | None, counts: list[Any], row_labels: Any
) -> None:
    summary = summarize_probabilities(np.array(rows), CLASSES, 1024)
    assert (summary.label, summary.class_counts, summary.row_labels) == (label, counts, row_labels)
    assert summary.invalid_confidence == {"non_finite": 1}
    assert summary.confidence is None


class _Generating:
    classes_ = CLASSES

    def predict(self, rows: Any) -> Any:
        return (row for row in rows)


def test_generator_outputs_never_become_labels(telemetry: Telemetry) -> None:
    model = otel_ml.wrap_model(_Generating(), "generating", **telemetry.providers)
    model.predict(np.zeros((1, 2)))
    for span in telemetry.spans():
        assert not {"ml.prediction.class", "ml.prediction.confidence"} & set(span.attributes or {})
    assert not telemetry.points("ml.predictions")
    issues = {
        (a["ml.feature.name"], a["ml.data.issue"]): p.value
        for a, p in telemetry.points("ml.data.quality.issues")
    }
    assert issues == {("__prediction__", "type"): 1}


@pytest.fixture
def own_store() -> Iterator[None]:
    previous = use_prediction_store(None)
    yield
    use_prediction_store(previous)


@pytest.mark.parametrize("actual", [(x for x in [1]), iter(["a"]), {"a": 1}, {"a"}])
def test_labels_that_are_no_data_never_become_classes(
    actual: Any, telemetry: Telemetry, own_store: None
) -> None:
    rows = np.random.default_rng(0).normal(size=(20, 2))
    fitted = LogisticRegression().fit(rows, np.where(rows[:, 0] > 0, "yes", "no"))
    model = otel_ml.wrap_model(fitted, "no-data-labels", feedback=True, **telemetry.providers)
    model.predict(rows[:1])
    prediction_id = otel_ml.last_prediction_id()
    assert prediction_id is not None
    assert otel_ml.record_feedback(prediction_id, actual, **telemetry.providers) == "matched"
    assert not telemetry.points("ml.feedback.outcomes")
    feedback = telemetry.span("feedback no-data-labels")
    assert "ml.feedback.outcome" not in (feedback.attributes or {})
    assert otel_ml.record_feedback("never-seen", actual) == "unknown"
