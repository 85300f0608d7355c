"""ONNX Runtime outputs read by role, from sessions of real skl2onnx conversions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from model_zoo import ROWS, onnx_session

from otel_ml.outputs.extract import summarize_predictions
from otel_ml.outputs.onnx import OnnxLayout, onnx_layout, summarize_onnx


def layout_of(kind: str) -> OnnxLayout:
    return onnx_layout(onnx_session(kind).get_outputs())


def test_roles_come_from_the_declared_outputs() -> None:
    assert layout_of("zipmap").roles == {
        "output_label": "label",
        "output_probability": "probabilities",
    }
    assert layout_of("matrix").roles == {"label": "label", "probabilities": "probabilities"}
    assert layout_of("strings").names == ("output_label", "output_probability")
    assert layout_of("ridge").roles == {"variable": "value"}


@pytest.mark.parametrize("kind", ["zipmap", "matrix"])
def test_a_classifier_reads_its_label_and_highest_probability(kind: str) -> None:
    session = onnx_session(kind)
    outputs = session.run(None, {"X": ROWS[:1]})
    probabilities = outputs[1][0]
    top = max(probabilities.values()) if kind == "zipmap" else float(probabilities.max())

    summary = summarize_onnx(layout_of(kind), None, outputs, 100)

    assert summary is not None
    assert (summary.rows, summary.label) == (1, str(int(outputs[0][0])))
    assert summary.confidence == pytest.approx(top)


def test_a_batch_counts_classes_and_keeps_every_confidence() -> None:
    session = onnx_session("strings")
    outputs = session.run(None, {"X": ROWS[:6]})

    summary = summarize_onnx(layout_of("strings"), None, outputs, 100)

    assert summary is not None and summary.rows == 6
    labels, counts = np.unique(outputs[0].astype(str), return_counts=True)
    assert dict(summary.class_counts) == dict(zip(labels.tolist(), counts.tolist(), strict=True))
    assert summary.confidences is not None
    expected = [max(row.values()) for row in outputs[1]]
    assert summary.confidences.tolist() == pytest.approx(expected)


def test_probabilities_alone_give_the_arg_max_class() -> None:
    session = onnx_session("strings")
    (zipmap,) = session.run(["output_probability"], {"X": ROWS[:1]})
    (matrix,) = onnx_session("matrix").run(["probabilities"], {"X": ROWS[:1]})

    by_name = summarize_onnx(layout_of("strings"), ["output_probability"], [zipmap], 100)
    by_column = summarize_onnx(layout_of("matrix"), ["probabilities"], [matrix], 100)

    best = max(zipmap[0], key=zipmap[0].get)
    assert by_name is not None and by_name.label == best
    assert by_name.confidence == pytest.approx(zipmap[0][best])
    assert by_column is not None and by_column.label == str(int(matrix[0].argmax()))


def test_labels_alone_give_the_class_without_confidence() -> None:
    (labels,) = onnx_session("zipmap").run(["output_label"], {"X": ROWS[:1]})
    summary = summarize_onnx(layout_of("zipmap"), ["output_label"], [labels], 100)
    assert summary is not None and summary.label == str(int(labels[0]))
    assert summary.confidence is None


def test_a_regressor_reads_its_values() -> None:
    outputs = onnx_session("ridge").run(None, {"X": ROWS[:3]})
    summary = summarize_onnx(layout_of("ridge"), None, outputs, 100)
    assert summary is not None
    assert summary.value_mean == pytest.approx(float(outputs[0].mean()))
    assert summary.class_counts == [] and summary.label is None


@dataclass
class _Declared:
    name: str
    type: str
    shape: Any


@pytest.mark.parametrize(
    ("declared", "outputs"),
    [
        ([_Declared("logits", "tensor(float)", ["N", 3])], [np.zeros((2, 3), np.float32)]),
        ([_Declared("hidden", "tensor(float)", ["N", 8, 4])], [np.zeros((2, 8, 4), np.float32)]),
        ([_Declared("x", "tensor(float)", ["N"]), _Declared("y", "tensor(float)", ["N"])],
         [np.zeros(2, np.float32), np.ones(2, np.float32)]),
        ([_Declared("out", "tensor(float)", None)], [np.zeros(2, np.float32)]),
        ([_Declared("out", "seq(map(int64,tensor(float)))", [])], [[{0: "a", 1: "b"}]]),
        ([_Declared("out", "seq(map(int64,tensor(float)))", [])], [[[0.1, 0.9]]]),
        ([_Declared("out", "seq(map(int64,tensor(float)))", [])], [[{0: 0.1}, {1: 0.9}]]),
        ([_Declared("out", "tensor(string)", ["N"])], "not a list"),
        ([_Declared("out", "tensor(string)", ["N"])], [np.array(["a"]), np.array(["b"])]),
    ],
)  # fmt: skip
def test_outputs_that_fit_no_role_give_no_summary(declared: list[_Declared], outputs: Any) -> None:
    assert summarize_onnx(onnx_layout(declared), None, outputs, 100) is None


def test_garbage_probabilities_leave_the_label_and_drop_the_confidence() -> None:
    declared = [
        _Declared("label", "tensor(int64)", ["N"]),
        _Declared("probabilities", "seq(map(int64,tensor(float)))", []),
    ]
    outputs = [np.array([1]), [{0: "low", 1: "high"}]]
    summary = summarize_onnx(onnx_layout(declared), None, outputs, 100)
    assert summary is not None
    assert (summary.label, summary.confidence, summary.confidences) == ("1", None, None)


def test_probabilities_outside_zero_one_are_counted_not_recorded() -> None:
    declared = [
        _Declared("label", "tensor(int64)", ["N"]),
        _Declared("p", "tensor(float)", [None, 2]),
    ]
    outputs = [np.array([0, 1]), np.array([[3.0, -2.0], [0.4, 0.6]], np.float32)]
    summary = summarize_onnx(onnx_layout(declared), None, outputs, 100)
    assert summary is not None and summary.class_counts == [("0", 1), ("1", 1)]
    assert summary.invalid_confidence == {"out_of_range": 1}
    assert summary.confidences is not None
    assert summary.confidences.tolist() == pytest.approx([0.6])


def test_several_outputs_through_the_default_reader_are_rows_only() -> None:
    outputs = onnx_session("zipmap").run(None, {"X": ROWS[:3]})
    summary = summarize_predictions(outputs, None)
    assert summary.rows == 3
    assert (summary.label, summary.class_counts, summary.invalid_predictions) == (None, [], 0)
    ragged_rows = summarize_predictions([[1, 2], [3]], None)
    assert (ragged_rows.rows, ragged_rows.class_counts) == (2, [])
