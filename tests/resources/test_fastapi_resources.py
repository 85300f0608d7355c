"""The FastAPI one-liner turns on resource metrics and reports the app's model."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from support import Telemetry

import otel_ml
from otel_ml import semconv


def test_one_liner_exports_model_info_and_process_metrics(telemetry: Telemetry) -> None:
    app = FastAPI()
    handle = otel_ml.instrument(
        app, model_name="fraud-model", model_version="8-canary", **telemetry.providers
    )

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"ok": True}

    try:
        with TestClient(app) as client:
            assert client.get("/health").status_code == 200
    finally:
        handle.uninstrument()  # the one-liner also turned the sklearn hook on

    found = telemetry.metrics()
    [info] = found[semconv.ML_MODEL_INFO].data.data_points
    assert (dict(info.attributes), info.value) == (
        {semconv.ML_MODEL_NAME: "fraud-model", semconv.ML_MODEL_VERSION: "8-canary"},
        1,
    )
    process = {
        semconv.PROCESS_CPU_TIME,
        semconv.PROCESS_CPU_UTILIZATION,
        semconv.PROCESS_MEMORY_USAGE,
        semconv.PROCESS_MEMORY_VIRTUAL,
        semconv.PROCESS_THREAD_COUNT,
        semconv.PROCESS_UNIX_FILE_DESCRIPTOR_COUNT,
        semconv.CPYTHON_GC_COLLECTIONS,
    }
    assert process <= set(found)
    assert not any(name.startswith("hw.") for name in found)  # no GPU here


def test_one_liner_without_a_model_name_reports_no_model(telemetry: Telemetry) -> None:
    otel_ml.instrument(FastAPI(), **telemetry.providers).uninstrument()

    found = telemetry.metrics()  # resource metrics stay on: they are process-wide

    assert semconv.ML_MODEL_INFO not in found
    assert semconv.PROCESS_MEMORY_USAGE in found
