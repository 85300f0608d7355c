"""Zero-code: an ONNX Runtime script run under ``opentelemetry-instrument``."""

from __future__ import annotations

import pytest
from launcher import console_spans, printed, run_launched

SCRIPT = """\
import json
import sys

print("IMPORTED EARLY", json.dumps([m for m in ("onnxruntime", "skl2onnx") if m in sys.modules]))
import numpy as np
import onnxruntime as ort
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression, Ridge

rows = np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)
labels = np.array(["no", "yes"])[(rows[:, 0] > 0).astype(int)]
classifier = to_onnx(LogisticRegression().fit(rows, labels), rows[:1]).SerializeToString()
regressor = to_onnx(Ridge().fit(rows, rows[:, 1]), rows[:1]).SerializeToString()
cpu = ["CPUExecutionProvider"]
classes, probabilities = ort.InferenceSession(classifier, providers=cpu).run(None, {"X": rows[:1]})
(values,) = ort.InferenceSession(regressor, providers=cpu).run(None, {"X": rows[:4]})
print("C", json.dumps([classes[0], max(probabilities[0].values())]))
print("V", json.dumps(values[:, 0].tolist()))
print("PATCHED", type(vars(ort.InferenceSession).get("run")).__name__)
"""


@pytest.mark.subprocess
def test_each_run_is_one_span_with_class_confidence_or_values(tmp_path):
    result = run_launched(tmp_path, SCRIPT, OTEL_ML_MODEL_NAME="scorer")

    assert result.returncode == 0, result.stderr
    assert "IMPORTED EARLY []" in result.stdout
    assert "PATCHED AdaptedMethod" in result.stdout
    spans = console_spans(result.stdout)
    assert [s["name"] for s in spans] == ["run scorer", "run scorer"], result.stdout
    classified, regressed = (s["attributes"] for s in spans)
    label, confidence = printed(result.stdout, "C")
    assert classified["ml.prediction.class"] == label
    assert classified["ml.prediction.confidence"] == pytest.approx(confidence)
    assert classified["ml.batch.size"] == 1
    values = [float(str(v)) for v in printed(result.stdout, "V")]
    assert regressed["ml.batch.size"] == 4
    assert regressed["ml.prediction.value.mean"] == pytest.approx(sum(values) / 4)


@pytest.mark.subprocess
def test_disabled_by_name(tmp_path):
    disabled = {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "otel_ml_onnxruntime"}
    result = run_launched(tmp_path, SCRIPT, **disabled)

    assert result.returncode == 0, result.stderr
    assert "PATCHED NoneType" in result.stdout
    assert console_spans(result.stdout) == []
