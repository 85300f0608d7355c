"""Tensors and logits: host reads that never touch an accelerator, softmax and sigmoid."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from otel_ml.outputs.extract import summarize_predictions
from otel_ml.outputs.host import host_array, on_accelerator
from otel_ml.outputs.tensors import summarize_logits, summarize_tensor


def test_a_cpu_tensor_is_read_without_a_copy_and_half_precision_widened() -> None:
    tensor = torch.tensor([[1.0, 2.0]], requires_grad=True)
    array = host_array(tensor)
    assert array is not None and array.tolist() == [[1.0, 2.0]]
    assert np.shares_memory(array, tensor.detach().numpy())
    bf16 = host_array(torch.tensor([0.5], dtype=torch.bfloat16))
    assert bf16 is not None and bf16.dtype == np.float32 and bf16.tolist() == [0.5]


def test_a_tensor_off_the_host_is_never_read_unless_allowed() -> None:
    # The meta device has no data at all: any copy or synchronisation would fail.
    off_host = torch.empty((2, 3), device="meta")
    assert on_accelerator(off_host)
    assert host_array(off_host) is None
    with pytest.raises(NotImplementedError):
        host_array(off_host, read_device=True)  # allowed: it tries, and meta cannot copy


def test_logits_give_the_softmax_class_and_confidence() -> None:
    logits = np.array([[2.0, 0.0, -1.0], [0.0, 3.0, 0.0]])
    summary = summarize_logits(logits, ["cat", "dog", "eel"], max_rows=10)
    expected = np.exp(2.0) / (np.exp(2.0) + 1.0 + np.exp(-1.0))
    assert summary.class_counts == [("cat", 1), ("dog", 1)]
    assert summary.confidences is not None
    assert summary.confidences[0] == pytest.approx(expected)
    one = summarize_logits(logits[:1], None, max_rows=10)
    assert (one.label, one.confidence) == ("0", pytest.approx(expected))


def test_one_logit_column_is_the_sigmoid_score_of_class_one() -> None:
    summary = summarize_logits(np.array([[1.5]]), None, max_rows=10)
    assert summary.label == "1"
    assert summary.confidence == pytest.approx(1 / (1 + np.exp(-1.5)))
    negative = summarize_logits(np.array([-0.5]), ["no", "yes"], max_rows=10)
    assert (negative.label, negative.confidence) == ("no", pytest.approx(1 / (1 + np.exp(-0.5))))


def test_softmax_off_keeps_the_arg_max_class_and_no_confidence() -> None:
    summary = summarize_logits(np.array([[0.1, 5.0]]), ["a", "b"], max_rows=10, softmax=False)
    assert (summary.label, summary.confidence, summary.confidences) == ("b", None, None)


def test_predictions_on_an_accelerator_count_rows_without_reading_them() -> None:
    off_host = torch.empty((4,), device="meta")
    summary = summarize_predictions(off_host, "classification")
    assert (summary.rows, summary.label, summary.class_counts) == (4, None, [])
    on_host = summarize_predictions(torch.tensor([1, 0, 1]), "classification")
    assert on_host.class_counts == [("1", 2), ("0", 1)]


def test_a_module_output_is_read_by_its_shape_and_dtype() -> None:
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 3.0, 0.0]])
    scores = summarize_tensor(logits, None, None, max_rows=10)
    assert scores.row_labels == ["0", "1"]
    assert scores.confidences is not None
    assert scores.confidences.tolist() == pytest.approx(logits.softmax(-1).max(-1).values.tolist())
    named = summarize_tensor(logits[:1], None, ["cat", "dog", "eel"], max_rows=10)
    assert (named.label, named.rows) == ("cat", 1)

    classes = summarize_tensor(torch.tensor([2, 0, 2]), None, ["a", "b", "c"], max_rows=10)
    assert classes.class_counts == [("c", 2), ("a", 1)]
    column = summarize_tensor(torch.tensor([[1], [1]]), None, None, max_rows=10)
    assert column.class_counts == [("1", 2)]

    values = summarize_tensor(torch.tensor([[0.5], [1.5]]), None, None, max_rows=10)
    assert (values.value_mean, values.class_counts) == (1.0, [])
    one = summarize_tensor(torch.tensor(0.25), None, None, max_rows=10)
    assert (one.rows, one.value) == (1, 0.25)


def test_probabilities_are_not_put_through_softmax_twice() -> None:
    probabilities = torch.tensor([[0.9, 0.1], [0.3, 0.7]])
    summary = summarize_tensor(probabilities, None, None, max_rows=10)
    assert summary.confidences is not None
    assert summary.confidences.tolist() == pytest.approx([0.9, 0.7])


def test_the_task_decides_what_one_column_and_many_columns_mean() -> None:
    logit = summarize_tensor(torch.tensor([[1.5]]), "classification", ["no", "yes"], 10)
    assert (logit.label, logit.confidence) == ("yes", pytest.approx(1 / (1 + np.exp(-1.5))))
    embedding = summarize_tensor(torch.ones(2, 8), "regression", None, 10)
    assert (embedding.rows, embedding.class_counts, embedding.confidences) == (2, [], None)
    off = summarize_tensor(torch.tensor([[0.1, 5.0]]), None, None, 10, softmax=False)
    assert (off.label, off.confidence) == ("1", None)


@pytest.mark.parametrize(
    ("output", "rows"),
    [
        (torch.zeros(4, 3, 2), 4),  # sequences, images: rows only
        (torch.zeros(3, 2, dtype=torch.int64), 3),  # multi-label integers
        (torch.zeros(2, 2, dtype=torch.complex64), 2),
        (torch.zeros(0, 3), 0),
        (torch.empty((5, 3), device="meta"), 5),  # off the host: never read
        (torch.empty((5,), dtype=torch.int64, device="meta"), 5),
    ],
)
def test_other_outputs_give_rows_only(output: torch.Tensor, rows: int) -> None:
    summary = summarize_tensor(output, None, None, max_rows=10)
    assert summary.rows == rows
    assert (summary.label, summary.value, summary.class_counts) == (None, None, [])
    assert summary.confidences is None


def test_rows_of_scores_that_are_not_finite_have_no_class() -> None:
    logits = torch.tensor([[2.0, 0.0], [float("nan"), 1.0], [0.0, float("inf")]])
    summary = summarize_tensor(logits, None, ["a", "b"], max_rows=10)
    assert (summary.rows, summary.label, summary.row_labels) == (3, None, None)
    assert summary.class_counts == [("a", 1)]
    assert summary.invalid_confidence == {"non_finite": 2}
    assert summary.confidences is not None and summary.confidences.size == 1
    nothing = summarize_tensor(torch.full((1, 3), float("nan")), None, None, max_rows=10)
    assert (nothing.rows, nothing.class_counts, nothing.invalid_confidence) == (
        1,
        [],
        {"non_finite": 1},
    )


@pytest.mark.parametrize("columns", [2, 5, 32, 33, 200])
def test_one_row_reads_as_the_same_row_in_a_batch(columns: int) -> None:
    scores = torch.randn(2, columns, generator=torch.Generator().manual_seed(columns))
    batch = summarize_tensor(scores, None, None, max_rows=10)
    for rows in (scores[:1], scores[:1].softmax(-1)):  # logits, and probabilities as they are
        one = summarize_tensor(rows, None, None, max_rows=10)
        assert batch.row_labels is not None and batch.confidences is not None
        assert one.label == batch.row_labels[0]
        assert one.confidence == pytest.approx(batch.confidences[0])
