"""The one-liner with its default scikit-learn hook, in-process and under the launcher."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from launcher import console_spans, run_launched
from opentelemetry.trace import SpanKind
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from support import Telemetry

import otel_ml

APP = """\
import numpy as np
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import otel_ml

data = load_iris()
model = LogisticRegression(max_iter=1000).fit(data.data, data.target)
app = FastAPI()

@app.get("/async/{row}")
async def predict_async(row: int):
    return {"label": int(model.predict(data.data[row : row + 1])[0])}

@app.get("/sync/{row}")
def predict_sync(row: int):
    return {"confidence": float(model.predict_proba(data.data[row : row + 1]).max())}

otel_ml.instrument(app, "iris", "3")
with TestClient(app) as client:
    for path in ("/async/0", "/sync/60", "/async/120"):
        response = client.get(path)
        print("HEADER", path, response.status_code, response.headers.get("x-prediction-id"))
"""


def test_plain_estimators_in_an_instrumented_app_give_one_inference_span(
    telemetry: Telemetry,
) -> None:
    data = load_iris()
    model = LogisticRegression(max_iter=1000).fit(data.data, data.target)
    app = FastAPI()

    @app.get("/label/{row}")
    def label(row: int) -> dict[str, int]:
        return {"label": int(model.predict(data.data[row : row + 1])[0])}

    handle = otel_ml.instrument(app, "iris", "3", **telemetry.providers)
    try:
        assert handle.instrumented_sklearn
        with TestClient(app) as client:
            headers = [client.get(f"/label/{row}").headers["x-prediction-id"] for row in (0, 75)]
    finally:
        handle.uninstrument()

    spans = telemetry.spans()
    assert sorted(s.name for s in spans) == ["GET /label/{row}"] * 2 + ["predict iris"] * 2
    servers = {s.context.span_id: s for s in spans if s.kind is SpanKind.SERVER}
    for inference in (s for s in spans if s.kind is SpanKind.INTERNAL):
        assert inference.parent is not None
        server = servers[inference.parent.span_id]
        prediction_id = (inference.attributes or {})["ml.prediction.id"]
        assert (server.attributes or {})["ml.prediction.id"] == prediction_id
        assert prediction_id in headers
        assert (inference.attributes or {})["ml.model.version"] == "3"
    assert not hasattr(LogisticRegression.predict, "__wrapped__")  # the handle undid the hook


@pytest.mark.subprocess
def test_one_liner_under_the_launcher_makes_no_duplicate_spans(tmp_path: Path) -> None:
    result = run_launched(tmp_path, APP)

    assert result.returncode == 0, result.stderr
    headers = [line.split() for line in result.stdout.splitlines() if line.startswith("HEADER")]
    assert [(h[1], h[2]) for h in headers] == [
        ("/async/0", "200"),
        ("/sync/60", "200"),
        ("/async/120", "200"),
    ]
    spans = console_spans(result.stdout)
    servers = [s for s in spans if s["kind"] == "SpanKind.SERVER"]
    inferences = [s for s in spans if s["name"].endswith(" iris")]
    assert len(servers) == 3, [s["name"] for s in spans]
    assert sorted(s["name"] for s in inferences) == [
        "predict iris",
        "predict iris",
        "predict_proba iris",
    ]
    by_id = {s["context"]["span_id"]: s for s in servers}
    for inference in inferences:
        server = by_id[inference["parent_id"]]
        assert (
            server["attributes"]["ml.prediction.id"] == inference["attributes"]["ml.prediction.id"]
        )
    assert {h[3] for h in headers} == {s["attributes"]["ml.prediction.id"] for s in inferences}
    assert np.all([s["attributes"]["ml.model.name"] == "iris" for s in servers])
