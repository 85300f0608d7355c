"""Tensors and logits: host reads that never touch an accelerator, softmax and sigmoid."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from otel_ml.outputs.extract import summarize_predictions
from otel_ml.outputs.host import host_array, on_accelerator
from otel_ml.outputs.tensors import summarize_logits


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
