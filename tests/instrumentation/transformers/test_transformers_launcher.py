"""Zero-code: a transformers script run under ``opentelemetry-instrument``, with
both model hooks on, and with each switched off by its entry point's name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from launcher import console_spans, run_launched

TESTS = str(Path(__file__).resolve().parents[2])  # tiny_hf, for the launched script
SCRIPT = """\
import json
import torch
from tiny_hf import NEGATIVE_TEXT, POSITIVE_TEXT, build_pipeline, sentiment_model
from transformers.pipelines.base import Pipeline

pipe = build_pipeline("text-classification", sentiment_model())
answers = [pipe(POSITIVE_TEXT), pipe([POSITIVE_TEXT, NEGATIVE_TEXT])]
with torch.no_grad():
    logits = pipe.model(**pipe.tokenizer([NEGATIVE_TEXT], return_tensors="pt")).logits
print("RESULT", json.dumps({
    "answers": answers,
    "probabilities": logits.double().softmax(-1).tolist(),
    "pipeline patched": hasattr(Pipeline.__call__, "__wrapped__"),
    "module patched": getattr(torch.nn.Module.__call__, "__otel_ml_patched__", False),
}))
"""
PIPELINE = "predict text-classification"
MODEL = "predict BertForSequenceClassification"


def launch(tmp_path: Path, **env: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    result = run_launched(tmp_path, SCRIPT, PYTHONPATH=TESTS, **env)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT ")), console_spans(result.stdout)


def prediction(span: dict[str, Any]) -> dict[str, Any]:
    attrs = span["attributes"]
    keys = ("ml.batch.size", "ml.prediction.class", "ml.prediction.confidence")
    return {key: attrs[key] for key in keys if key in attrs}


@pytest.mark.subprocess
def test_both_hooks_give_one_span_per_pipeline_call_and_per_model_call(tmp_path: Path) -> None:
    found, spans = launch(tmp_path)

    assert found["pipeline patched"] and found["module patched"]
    assert [span["name"] for span in spans] == [PIPELINE, PIPELINE, MODEL], spans
    one, both = found["answers"]
    assert prediction(spans[0]) == {
        "ml.batch.size": 1,
        "ml.prediction.class": one[0]["label"],
        "ml.prediction.confidence": pytest.approx(one[0]["score"]),
    }
    assert spans[1]["attributes"]["ml.batch.size"] == 2
    assert sorted(spans[1]["attributes"]["ml.prediction.classes"]) == ["NEGATIVE", "POSITIVE"]
    lowest = min(answer["score"] for answer in both)
    assert spans[1]["attributes"]["ml.prediction.confidence.min"] == pytest.approx(lowest)
    [probabilities] = found["probabilities"]
    assert prediction(spans[2]) == {
        "ml.batch.size": 1,
        "ml.prediction.class": "NEGATIVE",
        "ml.prediction.confidence": pytest.approx(max(probabilities)),
    }
    assert all(span["attributes"]["ml.model.version"] == "unknown" for span in spans)


@pytest.mark.subprocess
def test_without_the_transformers_hook_the_torch_hook_traces_the_model(tmp_path: Path) -> None:
    found, spans = launch(tmp_path, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="otel_ml_transformers")

    assert not found["pipeline patched"] and found["module patched"]
    # The pipeline's forward passes are the model's: one per text here.
    assert [span["name"] for span in spans] == [MODEL, MODEL, MODEL, MODEL], spans
    one, _ = found["answers"]
    assert prediction(spans[0]) == {
        "ml.batch.size": 1,
        "ml.prediction.class": one[0]["label"],
        "ml.prediction.confidence": pytest.approx(one[0]["score"]),
    }


@pytest.mark.subprocess
def test_without_the_torch_hook_only_pipeline_calls_are_traced(tmp_path: Path) -> None:
    found, spans = launch(
        tmp_path,
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="otel_ml_torch",
        OTEL_ML_MODEL_NAME="sentiment",
        OTEL_ML_MODEL_VERSION="4",
    )

    assert found["pipeline patched"] and not found["module patched"]
    assert [span["name"] for span in spans] == ["predict sentiment", "predict sentiment"]
    assert spans[0]["attributes"]["ml.model.version"] == "4"
