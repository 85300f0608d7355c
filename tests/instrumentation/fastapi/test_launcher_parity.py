"""Zero code, real launcher: a FastAPI app under ``opentelemetry-instrument`` gets
what ``otel_ml.instrument(app)`` gives (the prediction id header and span
attribute, the stable HTTP duration metric the dashboard reads)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from launcher import console_metrics, console_spans, run_launched

SCRIPT = """
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sklearn.linear_model import LogisticRegression

model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
app = FastAPI()


@app.get("/predict")
def predict() -> dict[str, int]:
    return {"class": int(model.predict([[1.0]])[0])}


with TestClient(app) as client:
    response = client.get("/predict")
print("HEADER", response.headers.get("x-prediction-id"))
"""


@pytest.mark.subprocess
def test_the_launcher_returns_the_prediction_id_and_the_stable_http_metric(
    tmp_path: Path,
) -> None:
    result = run_launched(
        tmp_path,
        SCRIPT,
        OTEL_METRICS_EXPORTER="console",
        OTEL_ML_MODEL_NAME="churn",
        OTEL_ML_MODEL_VERSION="4",
    )
    assert result.returncode == 0, result.stderr
    found = re.search(r"HEADER ([0-9a-f]{32})", result.stdout)
    assert found, result.stdout[-2000:]
    [server] = [s for s in console_spans(result.stdout) if s["kind"] == "SpanKind.SERVER"]
    assert server["attributes"]["ml.prediction.id"] == found.group(1)
    assert server["attributes"]["ml.model.name"] == "churn"
    [inference] = [s for s in console_spans(result.stdout) if s["name"] == "predict churn"]
    assert inference["attributes"]["ml.prediction.id"] == found.group(1)
    metrics = console_metrics(result.stdout)
    assert "http.server.request.duration" in metrics
    assert "http.server.duration" not in metrics
