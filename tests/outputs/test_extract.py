"""The pure output readers, against hand-computed answers and properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from otel_ml.outputs.extract import (
    batch_size_of,
    check_confidence,
    label_of,
    summarize_predictions,
    summarize_probabilities,
)


@pytest.mark.parametrize(
    ("inputs", "rows"),
    [
        (np.zeros((1, 20)), 1),
        (np.zeros((5, 20)), 5),
        (np.float64(3.0), 1),
        ([[1, 2], [3, 4], [5, 6]], 3),
        ({"age": 3, "city": "x"}, 1),
        ("a single text", 1),
        (pd.DataFrame({"a": [1, 2]}), 2),
        ((x for x in range(3)), None),
    ],
)
def test_batch_size_of(inputs: object, rows: int | None) -> None:
    assert batch_size_of(inputs) == rows


def test_single_class_prediction() -> None:
    summary = summarize_predictions(np.array([2]), "classification")
    assert (summary.rows, summary.label, summary.class_counts) == (1, "2", [("2", 1)])
    assert summary.value is None


def test_float_labels_read_as_integers_in_single_and_batch_calls() -> None:
    assert summarize_predictions(np.array([1.0]), "classification").label == "1"
    batch = summarize_predictions(np.array([1.0, 0.0, 1.0]), "classification")
    assert batch.class_counts == [("1", 2), ("0", 1)]


def test_batch_classes_most_frequent_first_and_span_list_capped() -> None:
    labels = np.array(["b"] * 3 + ["a"] * 5 + [f"c{i}" for i in range(20)])
    summary = summarize_predictions(labels, None)
    assert summary.class_counts[:2] == [("a", 5), ("b", 3)]
    assert sum(count for _, count in summary.class_counts) == labels.size
    assert len(summary.distinct_classes) == 10
    assert summary.label is None


def test_regression_single_value_and_batch_mean() -> None:
    assert summarize_predictions(np.array([2.5]), None).value == 2.5
    batch = summarize_predictions(np.array([[1.0], [2.0], [6.0]]), "regression")
    assert (batch.rows, batch.value_mean, batch.class_counts) == (3, 3.0, [])


def test_scalars_lists_series_and_empty_outputs() -> None:
    assert summarize_predictions("spam", None).label == "spam"
    assert summarize_predictions([0.25], None).value == 0.25
    assert summarize_predictions(pd.Series([1, 1]), None).class_counts == [("1", 2)]
    assert summarize_predictions(np.array([]), None).rows == 0


def test_probabilities_use_class_names_and_max_probability() -> None:
    probs = np.array([[0.1, 0.7, 0.2]])
    summary = summarize_probabilities(probs, np.array(["cat", "dog", "eel"]), max_rows=10)
    assert (summary.label, summary.confidence) == ("dog", 0.7)
    assert summary.confidences is not None and summary.confidences.tolist() == [0.7]


def test_probabilities_without_classes_use_column_index() -> None:
    summary = summarize_probabilities([[0.2, 0.8], [0.9, 0.1]], None, max_rows=10)
    assert summary.class_counts == [("0", 1), ("1", 1)]


def test_invalid_probabilities_are_counted_not_recorded() -> None:
    probs = np.array([[np.nan, 0.5], [0.2, 1.7], [0.4, 0.6], [np.inf, 0.0]])
    summary = summarize_probabilities(probs, None, max_rows=10)
    assert summary.invalid_confidence == {"non_finite": 2, "out_of_range": 1}
    assert summary.confidences is not None and summary.confidences.tolist() == [0.6]


def test_non_numeric_probabilities_are_a_type_issue() -> None:
    summary = summarize_probabilities(np.array([["a", "b"]]), None, max_rows=10)
    assert summary.invalid_confidence == {"type": 1}
    assert summary.confidences is None


def test_probability_array_of_wrong_rank_is_rejected() -> None:
    with pytest.raises(ValueError, match="2-D"):
        summarize_probabilities(np.zeros((2, 2, 2)), None, max_rows=10)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.5, (0.5, None)),
        (1, (1.0, None)),
        (np.float32(0.25), (0.25, None)),
        (float("nan"), (None, "non_finite")),
        (1.5, (None, "out_of_range")),
        ("high", (None, "type")),
        (True, (None, "type")),
        (None, (None, "type")),
    ],
)
def test_check_confidence(value: object, expected: tuple[float | None, str | None]) -> None:
    assert check_confidence(value) == expected


@settings(max_examples=60, deadline=None)
@given(
    probs=arrays(
        np.float64,
        st.tuples(st.integers(1, 300), st.integers(1, 6)),
        elements=st.floats(0, 1, allow_nan=False),
    ),
    max_rows=st.integers(1, 64),
)
def test_probability_summary_properties(probs: np.ndarray, max_rows: int) -> None:
    summary = summarize_probabilities(probs, None, max_rows=max_rows)
    assert sum(count for _, count in summary.class_counts) == probs.shape[0]
    assert summary.confidences is not None
    assert summary.confidences.size <= max_rows
    assert np.all((summary.confidences >= 0) & (summary.confidences <= 1))
    assert summary.confidences.max() <= probs.max()


@settings(max_examples=200, deadline=None)
@given(
    row=st.lists(
        st.one_of(st.floats(0, 1), st.floats(allow_nan=True, allow_infinity=True)),
        min_size=1,
        max_size=6,
    ),
    named=st.booleans(),
)
def test_single_row_fast_path_agrees_with_the_batch_path(row: list[float], named: bool) -> None:
    classes = np.array([f"c{i}" for i in range(len(row))]) if named else None
    one = summarize_probabilities(np.array([row]), classes, max_rows=10)
    two = summarize_probabilities(np.array([row, row]), classes, max_rows=10)
    assert one.rows == 1
    assert [(label, 2 * n) for label, n in one.class_counts] == two.class_counts
    assert {k: 2 * v for k, v in one.invalid_confidence.items()} == two.invalid_confidence
    if one.confidence is not None:
        assert two.confidences is not None
        assert two.confidences.tolist() == [one.confidence] * 2


class _NoStr:
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


def test_a_label_that_cannot_name_itself_is_unprintable_not_a_failure() -> None:
    # A delayed label (any object a caller sends) goes through label_of too.
    assert label_of(_NoStr()) == "<unprintable>"
    assert label_of(b"\xff") == "\ufffd"
    assert label_of(2.0) == "2"
