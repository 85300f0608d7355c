"""Zero-code: a scikit-learn script run under ``opentelemetry-instrument``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

LAUNCHER = Path(sys.executable).parent / "opentelemetry-instrument"

SCRIPT = """\
import numpy as np
from sklearn.linear_model import LogisticRegression

x = np.array([[0.0], [1.0], [2.0], [3.0]])
model = LogisticRegression().fit(x, np.array([0, 0, 1, 1]))
print("PREDICTED", model.predict(x[:1]).tolist())
print("PATCHED", hasattr(LogisticRegression.predict, "__wrapped__"))
"""


def run_launched(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "serve.py"
    script.write_text(SCRIPT)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environ.update(
        OTEL_ML_STRICT="1",
        OTEL_TRACES_EXPORTER="console",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_SERVICE_NAME="launcher-test",
        OTEL_ML_MODEL_NAME="launched-model",
        OTEL_ML_MODEL_VERSION="9",
        **env,
    )
    return subprocess.run(
        [str(LAUNCHER), sys.executable, str(script)],
        env=environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def console_spans(stdout: str) -> list[dict[str, Any]]:
    """The JSON span objects the console exporter printed between other output."""
    decoder = json.JSONDecoder()
    spans, position = [], 0
    while (start := stdout.find("{", position)) != -1:
        try:
            found, position = decoder.raw_decode(stdout, start)
        except json.JSONDecodeError:
            position = start + 1
            continue
        if isinstance(found, dict) and "context" in found:
            spans.append(found)
    return spans


@pytest.mark.subprocess
def test_launcher_emits_the_inference_span(tmp_path):
    result = run_launched(tmp_path)

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
    result = run_launched(tmp_path, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="otel_ml_sklearn")

    assert result.returncode == 0, result.stderr
    assert "PREDICTED [0]" in result.stdout
    assert "PATCHED False" in result.stdout
    assert console_spans(result.stdout) == []
