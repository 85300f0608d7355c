"""Zero code: the demo app under ``opentelemetry-instrument`` reaches Jaeger and Prometheus.

No otel_ml call in the app: the launcher configures the SDK from ``OTEL_*``
variables, the contrib FastAPI instrumentation makes the server spans and
otel_ml's scikit-learn hook (an ``opentelemetry_instrumentor`` entry point)
the inference spans, named by ``OTEL_ML_MODEL_NAME`` / ``_VERSION``. (The
app trains its model with instrumentation suppressed: every inference is a
request's.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_support import (
    Stack,
    app_process,
    otel_environment,
    poll,
    spans_named,
    tags,
    unique_service,
)

from otel_ml.demo.model import train

MODEL = "zero-code-model"
REQUESTS = 5


def test_the_launched_app_reaches_jaeger_and_prometheus(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    service = unique_service("otel-ml-e2e-zero-code")
    environ = otel_environment(
        service,
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="otlp",
        OTEL_LOGS_EXPORTER="none",
        OTEL_ML_MODEL_NAME=MODEL,
        OTEL_ML_MODEL_VERSION="7",
    )
    rows = train().rows
    log = Path(tmp_path_factory.mktemp("zero-code-app")) / "app.log"
    with app_process("zero-code", environ, log) as client:
        for i in range(REQUESTS):
            assert client.post("/predict", json={"rows": [rows[i]]}).status_code == 200
    inference_name = f"predict_proba {MODEL}"
    traces = poll(
        lambda: stack.jaeger.traces(service, operation=inference_name),
        lambda found: len(found) == REQUESTS,
        f"{REQUESTS} traces of {service} in Jaeger",
    )
    for trace in traces:
        (server,) = [s for s in trace["spans"] if tags(s).get("span.kind") == "server"]
        (inference,) = spans_named(trace, inference_name)
        assert server["operationName"] == "POST /predict"
        assert inference["references"][0]["spanID"] == server["spanID"]
        attributes = tags(inference)
        assert (attributes["ml.model.name"], attributes["ml.model.version"]) == (MODEL, "7")
        assert 0.5 <= attributes["ml.prediction.confidence"] <= 1.0
        assert attributes["ml.prediction.id"]
    poll(
        lambda: stack.prometheus.query(
            "sum(ml_inference_duration_seconds_count"
            f'{{job="{service}", ml_model_name="{MODEL}", ml_operation_name="predict_proba"}})'
        ),
        lambda found: [v for _, v in found] == [REQUESTS],
        f"{REQUESTS} inferences of {service} in Prometheus",
    )
