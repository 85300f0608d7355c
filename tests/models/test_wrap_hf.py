"""wrap_model on transformers pipelines, transformers models and PyTorch modules:
the values each call records are the ones the bare model returns."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from model_spans import attributes, class_counts, confidence_count, data_issues, model
from support import Telemetry
from tiny_hf import (
    NEGATIVE_TEXT,
    POSITIVE_TEXT,
    SENTIMENT,
    build_pipeline,
    nested_module,
    sentiment_model,
    tokenizer,
)

import otel_ml
from otel_ml import semconv


@pytest.fixture(scope="module")
def classifier() -> Any:
    return sentiment_model()


def test_a_text_classification_pipeline_records_label_and_score(
    telemetry: Telemetry, classifier: Any
) -> None:
    pipe = build_pipeline("text-classification", classifier)
    one, both = pipe(POSITIVE_TEXT), pipe([POSITIVE_TEXT, NEGATIVE_TEXT])
    wrapped = otel_ml.wrap_model(pipe, **telemetry.providers)

    assert wrapped(POSITIVE_TEXT) == one
    assert wrapped([POSITIVE_TEXT, NEGATIVE_TEXT]) == both

    assert [one[0]["label"], both[1]["label"]] == ["POSITIVE", "NEGATIVE"]
    first, second = (attributes(span) for span in telemetry.spans())
    assert first == model(
        "text-classification",
        **{
            semconv.ML_BATCH_SIZE: 1,
            semconv.ML_PREDICTION_CLASS: "POSITIVE",
            semconv.ML_PREDICTION_CONFIDENCE: one[0]["score"],
        },
    )
    scores = [both[0]["score"], both[1]["score"]]
    assert second == model(
        "text-classification",
        **{
            semconv.ML_BATCH_SIZE: 2,
            semconv.ML_PREDICTION_CLASSES: {"POSITIVE", "NEGATIVE"},
            semconv.ML_PREDICTION_CONFIDENCE_MIN: min(scores),
            semconv.ML_PREDICTION_CONFIDENCE_MEAN: pytest.approx(sum(scores) / 2),
        },
    )
    assert class_counts(telemetry) == {"POSITIVE": 2, "NEGATIVE": 1}
    assert confidence_count(telemetry) == 3
    assert data_issues(telemetry) == {}


def test_top_k_answers_for_one_text_are_one_row(telemetry: Telemetry, classifier: Any) -> None:
    pipe = build_pipeline("sentiment-analysis", classifier)
    wrapped = otel_ml.wrap_model(pipe, "sentiment", **telemetry.providers)

    ranked = wrapped(NEGATIVE_TEXT, top_k=2)
    per_text = wrapped([NEGATIVE_TEXT, POSITIVE_TEXT], top_k=None)

    assert [answer["label"] for answer in ranked] == ["NEGATIVE", "POSITIVE"]
    one, two = (attributes(span) for span in telemetry.spans())
    assert one[semconv.ML_BATCH_SIZE] == 1
    assert one[semconv.ML_PREDICTION_CLASS] == "NEGATIVE"
    assert one[semconv.ML_PREDICTION_CONFIDENCE] == ranked[0]["score"]
    assert two[semconv.ML_BATCH_SIZE] == 2
    assert two[semconv.ML_PREDICTION_CONFIDENCE_MIN] == min(
        per_text[0][0]["score"], per_text[1][0]["score"]
    )
    assert class_counts(telemetry) == {"NEGATIVE": 2, "POSITIVE": 1}


def test_a_transformers_model_records_its_logits_as_named_classes(
    telemetry: Telemetry, classifier: Any
) -> None:
    encoded = tokenizer()([POSITIVE_TEXT, NEGATIVE_TEXT], return_tensors="pt", padding=True)
    with torch.no_grad():
        bare = classifier(**encoded).logits
        wrapped = otel_ml.wrap_model(classifier, **telemetry.providers)
        output = wrapped(**encoded)
        wrapped(**tokenizer()([POSITIVE_TEXT], return_tensors="pt"))

    assert torch.equal(output.logits, bare)
    probabilities = bare.double().softmax(-1)
    top = probabilities.max(-1).values
    batch, single = (attributes(span) for span in telemetry.spans())
    assert batch == model(
        "BertForSequenceClassification",
        **{
            semconv.ML_BATCH_SIZE: 2,
            semconv.ML_PREDICTION_CLASSES: {"POSITIVE", "NEGATIVE"},
            semconv.ML_PREDICTION_CONFIDENCE_MIN: pytest.approx(top.min().item()),
            semconv.ML_PREDICTION_CONFIDENCE_MEAN: pytest.approx(top.mean().item()),
        },
    )
    assert single[semconv.ML_BATCH_SIZE] == 1  # from input_ids: one text
    assert single[semconv.ML_PREDICTION_CLASS] == SENTIMENT[int(bare[0].argmax())]
    assert single[semconv.ML_PREDICTION_CONFIDENCE] == pytest.approx(probabilities[0].max().item())
    assert class_counts(telemetry) == {"POSITIVE": 2, "NEGATIVE": 1}


def test_a_torch_module_records_class_and_confidence_from_its_logits(
    telemetry: Telemetry,
) -> None:
    module = nested_module()
    rows = torch.tensor([[1.0, 0.0, -1.0, 2.0], [0.0, 0.0, 0.0, 0.0], [-3.0, 1.0, 2.0, 0.5]])
    with torch.no_grad():
        bare = module(rows)
        output = otel_ml.wrap_model(module, "mlp", "2", **telemetry.providers)(rows)

    assert torch.equal(output, bare)
    top = bare.double().softmax(-1).max(-1)
    [span] = telemetry.spans()
    assert span.name == "predict mlp"
    labels = [str(i) for i in top.indices.tolist()]
    assert attributes(span) == model(
        "mlp",
        "2",
        **{
            semconv.ML_BATCH_SIZE: 3,
            semconv.ML_PREDICTION_CLASSES: set(labels),
            semconv.ML_PREDICTION_CONFIDENCE_MIN: pytest.approx(top.values.min().item()),
            semconv.ML_PREDICTION_CONFIDENCE_MEAN: pytest.approx(top.values.mean().item()),
        },
    )
    assert class_counts(telemetry) == {label: labels.count(label) for label in set(labels)}
    assert confidence_count(telemetry) == 3


def test_a_module_on_an_accelerator_records_rows_only(telemetry: Telemetry) -> None:
    # The meta device holds no data: reading or copying it would raise.
    module = torch.nn.Sequential(torch.nn.Linear(4, 3, device="meta")).eval()
    wrapped = otel_ml.wrap_model(module, "gpu-model", **telemetry.providers)

    output = wrapped(torch.empty((6, 4), device="meta"))

    assert output.device.type == "meta"
    assert attributes(telemetry.span("predict gpu-model")) == model(
        "gpu-model", **{semconv.ML_BATCH_SIZE: 6}
    )
    assert class_counts(telemetry) == {}
    assert confidence_count(telemetry) == 0
