"""Zero-code: a scikit-learn script run under ``opentelemetry-instrument``."""

from __future__ import annotations

import pytest
from launcher import console_spans, run_launched

SCRIPT = """\
import numpy as np
from sklearn.linear_model import LogisticRegression

x = np.array([[0.0], [1.0], [2.0], [3.0]])
model = LogisticRegression().fit(x, np.array([0, 0, 1, 1]))
print("PREDICTED", model.predict(x[:1]).tolist())
print("PATCHED", hasattr(LogisticRegression.predict, "__wrapped__"))
"""
MODEL_ENV = {"OTEL_ML_MODEL_NAME": "launched-model", "OTEL_ML_MODEL_VERSION": "9"}


@pytest.mark.subprocess
def test_launcher_emits_the_inference_span(tmp_path):
    result = run_launched(tmp_path, SCRIPT, **MODEL_ENV)

    assert result.returncode == 0, result.stderr
    assert "PREDICTED [0]" in result.stdout
    assert "PATCHED True" in result.stdout
    spans = console_spans(result.stdout)
    assert [s["name"] for s in spans] == ["predict launched-model"], result.stdout
    (span,) = spans
    assert span["kind"] == "SpanKind.INTERNAL"
    assert span["status"]["status_code"] == "UNSET"
    assert span["resource"]["attributes"]["service.name"] == "launcher-test"
    attrs = span["attributes"]
    assert len(attrs.pop("ml.prediction.id")) == 32
    assert attrs == {
        "ml.model.name": "launched-model",
        "ml.model.version": "9",
        "ml.operation.name": "predict",
        "ml.batch.size": 1,
        "ml.prediction.class": "0",
    }


@pytest.mark.subprocess
def test_disabled_instrumentation_leaves_sklearn_alone(tmp_path):
    result = run_launched(
        tmp_path, SCRIPT, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="otel_ml_sklearn", **MODEL_ENV
    )

    assert result.returncode == 0, result.stderr
    assert "PREDICTED [0]" in result.stdout
    assert "PATCHED False" in result.stdout
    assert console_spans(result.stdout) == []
