"""Pure readers of transformers outputs: pipelines by task, model outputs by logits.

The pipeline outputs are the shapes transformers 5 returns (the instrumentation
tests check the same readings on real pipelines); the malformed ones are what
a custom pipeline or a future version could return, and must never become a
class or a confidence.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from transformers import BertConfig
from transformers.modeling_outputs import BaseModelOutput, SequenceClassifierOutput

from otel_ml.outputs.extract import OutputSummary
from otel_ml.outputs.hf import (
    class_names,
    input_rows,
    pipeline_task,
    summarize_model_output,
    summarize_pipeline,
)

POS = {"label": "POSITIVE", "score": 0.9}
NEG = {"label": "NEGATIVE", "score": 0.2}


def read(task: str, output: Any, rows: int | None, max_rows: int = 100) -> OutputSummary:
    return summarize_pipeline(task, output, rows, max_rows)


def confidences(summary: OutputSummary) -> list[float]:
    assert summary.confidences is not None
    return summary.confidences.tolist()


@pytest.mark.parametrize(
    ("inputs", "rows"),
    [
        ("one text", 1),
        (b"audio bytes", 1),
        ({"text": "q", "text_pair": "a"}, 1),
        (["a", "b", "c"], 3),
        (("a", "b"), 2),
        ([], 0),
        ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}], 1),
        ([[{"role": "user", "content": "hi"}], [{"role": "user", "content": "yo"}]], 2),
        (np.zeros(16000), 1),  # one audio clip
        (object(), 1),  # an image object
        ((text for text in ["a", "b"]), None),  # streamed: unknown
    ],
)
def test_input_rows(inputs: Any, rows: int | None) -> None:
    assert input_rows(inputs) == rows


def test_one_text_with_top_k_is_one_row_and_n_texts_n_rows() -> None:
    one = read("text-classification", [POS, NEG], rows=1)  # pipe(text, top_k=2)
    assert (one.rows, one.label, one.confidence) == (1, "POSITIVE", 0.9)
    assert one.class_counts == [("POSITIVE", 1)]
    assert confidences(one) == [0.9]

    two = read("text-classification", [POS, NEG], rows=2)  # pipe([text, text])
    assert (two.rows, two.label, two.confidence) == (2, None, None)
    assert two.class_counts == [("POSITIVE", 1), ("NEGATIVE", 1)]
    assert two.row_labels == ["POSITIVE", "NEGATIVE"]
    assert two.distinct_classes == ["POSITIVE", "NEGATIVE"]
    assert confidences(two) == [0.9, 0.2]


def test_top_k_lists_per_text_take_each_texts_best_label() -> None:
    summary = read("text-classification", [[NEG, POS], [POS, NEG], [NEG]], rows=3)
    assert summary.row_labels == ["POSITIVE", "POSITIVE", "NEGATIVE"]
    assert summary.class_counts == [("POSITIVE", 2), ("NEGATIVE", 1)]
    assert confidences(summary) == [0.9, 0.9, 0.2]


def test_a_single_dict_and_aliases_and_other_classifiers() -> None:
    assert read("text-classification", POS, rows=1).label == "POSITIVE"
    image = read("image-classification", [[{"label": "cat", "score": 0.7}]], rows=1)
    assert (image.label, image.confidence) == ("cat", 0.7)
    audio = read("audio-classification", [{"label": "yes", "score": 0.6}], rows=None)
    assert (audio.rows, audio.label) == (1, "yes")


def test_zero_shot_reads_the_first_label_and_score() -> None:
    answer = {"sequence": "s", "labels": ["sport", "food"], "scores": [0.8, 0.2]}
    one = read("zero-shot-classification", answer, rows=1)
    assert (one.rows, one.label, one.confidence) == (1, "sport", 0.8)
    other = {"sequence": "t", "labels": ["food", "sport"], "scores": [0.6, 0.4]}
    two = read("zero-shot-classification", [answer, other], rows=2)
    assert two.class_counts == [("sport", 1), ("food", 1)]
    assert confidences(two) == [0.8, 0.6]


def test_entities_are_counted_by_group_and_texts_are_the_rows() -> None:
    first = [
        {"entity_group": "PER", "score": np.float32(0.9), "word": "john"},
        {"entity_group": "LOC", "score": np.float32(0.5), "word": "paris"},
    ]
    second = [{"entity": "B-PER", "score": 0.7, "word": "ada"}]
    one = read("token-classification", first, rows=1)
    assert (one.rows, one.label, one.confidence) == (1, None, None)
    assert one.class_counts == [("PER", 1), ("LOC", 1)]
    assert one.distinct_classes == ["PER", "LOC"]
    assert confidences(one) == pytest.approx([0.9, 0.5])
    assert one.row_labels is None  # entities are not one class per text

    both = read("token-classification", [first, second, []], rows=3)
    assert both.rows == 3
    assert both.class_counts == [("PER", 1), ("LOC", 1), ("B-PER", 1)]
    none = read("token-classification", [], rows=1)
    assert (none.rows, none.class_counts, confidences(none)) == (1, [], [])


@pytest.mark.parametrize(
    ("task", "output", "rows", "expected"),
    [
        ("feature-extraction", [[[0.1, 0.2], [0.3, 0.4]]], 1, 1),
        ("feature-extraction", torch.zeros(2, 3, 4), 2, 2),
        ("text-generation", [{"generated_text": "hello"}], 1, 1),
        ("text-generation", [[{"generated_text": "a"}], [{"generated_text": "b"}]], None, 2),
        ("fill-mask", [{"score": 0.5, "token_str": "the", "sequence": "x"}], 1, 1),
        ("", [POS, NEG], 2, 2),  # an unknown task is never read as classes
        ("text-classification", iter([POS]), None, 1),  # streamed: nothing read
    ],
)
def test_other_tasks_record_rows_only(task: str, output: Any, rows: Any, expected: int) -> None:
    summary = read(task, output, rows)
    assert summary.rows == expected
    assert (summary.label, summary.class_counts, summary.confidences) == (None, [], None)


@pytest.mark.parametrize(
    ("output", "invalid_predictions", "invalid_confidence"),
    [
        ([{"label": {"nested": 1}, "score": 0.5}], 1, {}),
        ([{"label": "x", "score": "high"}], 1, {}),
        ([{"label": "x"}], 1, {}),
        (["POSITIVE"], 1, {}),
        ([{"label": "x", "score": 1.7}], 0, {"out_of_range": 1}),
        ([{"label": "x", "score": float("nan")}], 0, {"non_finite": 1}),
        ([{"label": 0.25, "score": 0.5}], 1, {}),  # a fractional label is no class
    ],
)
def test_malformed_outputs_are_counted_never_recorded(
    output: Any, invalid_predictions: int, invalid_confidence: dict[str, int]
) -> None:
    summary = read("text-classification", output, rows=1)
    assert summary.invalid_predictions == invalid_predictions
    assert summary.invalid_confidence == invalid_confidence
    assert summary.confidence is None
    assert confidences(summary) == []
    if invalid_predictions:
        assert (summary.label, summary.class_counts) == (None, [])


def test_malformed_zero_shot_and_entities_are_counted() -> None:
    bad = read("zero-shot-classification", [{"labels": [], "scores": []}, "x"], rows=2)
    assert (bad.invalid_predictions, bad.class_counts) == (2, [])
    entities = read("token-classification", [{"score": 0.5}, "x"], rows=1)
    assert (entities.invalid_predictions, entities.class_counts) == (2, [])


def test_confidences_are_sampled_evenly_above_max_rows() -> None:
    output = [{"label": "a", "score": i / 1000} for i in range(1000)]
    summary = read("text-classification", output, rows=1000, max_rows=100)
    assert len(confidences(summary)) == 100
    assert confidences(summary)[:2] == [0.0, 0.01]
    assert summary.row_labels is None  # above the per-row detail limit
    assert summary.class_counts == [("a", 1000)]


class _Pipe:
    def __init__(self, task: str) -> None:
        self.task = task


class TextClassificationPipeline:
    """Named like transformers' class: the task of a pipeline built without one."""


def test_pipeline_task_resolves_aliases_and_classes() -> None:
    assert pipeline_task(_Pipe("sentiment-analysis")) == "text-classification"
    assert pipeline_task(_Pipe("ner")) == "token-classification"
    assert pipeline_task(_Pipe("text-generation")) == "text-generation"
    assert pipeline_task(TextClassificationPipeline()) == "text-classification"
    assert pipeline_task(object()) == ""


def config(**kwargs: Any) -> BertConfig:
    return BertConfig(vocab_size=8, hidden_size=4, num_hidden_layers=1, num_attention_heads=1,
                      intermediate_size=4, **kwargs)  # fmt: skip


def test_class_names_from_id2label() -> None:
    assert class_names(config(id2label={0: "no", 1: "yes"})) == ["no", "yes"]
    assert class_names(config()) == ["LABEL_0", "LABEL_1"]
    assert class_names(object()) is None


def test_sequence_classifier_logits_give_named_classes_through_softmax() -> None:
    logits = torch.tensor([[0.0, 2.0], [1.0, -1.0]])
    output = SequenceClassifierOutput(logits=logits)
    summary = summarize_model_output(output, config(id2label={0: "no", 1: "yes"}), 2, 100)
    assert summary.row_labels == ["yes", "no"]
    assert confidences(summary) == pytest.approx(logits.softmax(-1).max(-1).values.tolist())
    off = summarize_model_output(output, config(), 2, 100, softmax=False)
    assert (off.row_labels, off.confidences) == (["LABEL_1", "LABEL_0"], None)


def test_regression_multi_label_and_logit_free_outputs() -> None:
    one_logit = SequenceClassifierOutput(logits=torch.tensor([[0.25]]))
    regression = summarize_model_output(one_logit, config(num_labels=1), 1, 100)
    assert (regression.value, regression.label) == (0.25, None)
    multi = SequenceClassifierOutput(logits=torch.tensor([[3.0, -3.0, 3.0]] * 2))
    labels = summarize_model_output(
        multi, config(num_labels=3, problem_type="multi_label_classification"), 2, 100
    )
    assert (labels.rows, labels.class_counts) == (2, [])
    hidden = BaseModelOutput(last_hidden_state=torch.zeros(3, 5, 4))
    assert summarize_model_output(hidden, config(), None, 100).rows == 3
    tokens = SequenceClassifierOutput(logits=torch.zeros(2, 7, 5))  # token-level logits
    assert summarize_model_output(tokens, config(), 2, 100).class_counts == []


def test_logits_on_an_accelerator_give_rows_only() -> None:
    output = SequenceClassifierOutput(logits=torch.empty((4, 2), device="meta"))
    summary = summarize_model_output(output, config(), 4, 100)
    assert (summary.rows, summary.class_counts, summary.confidences) == (4, [], None)
