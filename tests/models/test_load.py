"""Model lifecycle: load spans, load duration and ml.model.info, with real models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
import sklearn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from support import Telemetry

import otel_ml
from otel_ml import semconv
from otel_ml.models.load import load_model
from otel_ml.models.wrapper import InstrumentedModel
from otel_ml.resources.framework import detect_framework

SKLEARN = {
    semconv.ML_MODEL_FRAMEWORK: "sklearn",
    semconv.ML_MODEL_FRAMEWORK_VERSION: sklearn.__version__,
}


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, LogisticRegression]:
    data = load_iris()
    return data.data, LogisticRegression(max_iter=1000).fit(data.data, data.target)


@pytest.fixture
def saved(tmp_path: Path, iris: Any) -> Path:
    path = tmp_path / "fraud-model.joblib"
    joblib.dump(iris[1], path)
    return path


def _info(telemetry: Telemetry) -> list[tuple[dict[str, Any], Any]]:
    return [(attrs, p.value) for attrs, p in telemetry.points(semconv.ML_MODEL_INFO)]


def test_load_from_path_emits_span_duration_and_info(
    saved: Path, iris: Any, telemetry: Telemetry
) -> None:
    model = load_model(saved, version="3", **telemetry.providers)

    assert isinstance(model, InstrumentedModel)
    assert model.otel_ml_model == ("fraud-model", "3")
    model.predict(iris[0][:1])
    span = telemetry.span("load fraud-model")
    assert span.kind is SpanKind.INTERNAL
    assert span.parent is None
    assert span.status.status_code is StatusCode.UNSET
    identity = {semconv.ML_MODEL_NAME: "fraud-model", semconv.ML_MODEL_VERSION: "3"}
    assert dict(span.attributes or {}) == {
        **identity,
        **SKLEARN,
        semconv.ML_MODEL_SIZE: saved.stat().st_size,
    }
    [(attrs, duration)] = telemetry.points(semconv.ML_MODEL_LOAD_DURATION)
    assert attrs == identity
    assert duration.count == 1
    assert 0 < duration.sum < (span.end_time - span.start_time) / 1e9  # type: ignore[operator]
    assert list(duration.explicit_bounds) == list(semconv.MODEL_LOAD_DURATION_BUCKETS)
    assert _info(telemetry) == [({**identity, **SKLEARN}, 1)]
    assert [s.name for s in telemetry.spans()] == ["load fraud-model", "predict fraud-model"]


def test_failed_load_records_error_and_reraises_the_loaders_exception(
    tmp_path: Path, telemetry: Telemetry
) -> None:
    boom = ValueError("corrupt model file")

    def broken(path: Path) -> Any:
        raise boom

    with pytest.raises(ValueError, match="corrupt") as info:
        load_model(tmp_path / "m.bin", "fraud-model", "4", loader=broken, **telemetry.providers)

    assert info.value is boom
    span = telemetry.span("load fraud-model")
    identity = {semconv.ML_MODEL_NAME: "fraud-model", semconv.ML_MODEL_VERSION: "4"}
    assert dict(span.attributes or {}) == {**identity, semconv.ERROR_TYPE: "ValueError"}
    assert span.status.status_code is StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]
    [(attrs, duration)] = telemetry.points(semconv.ML_MODEL_LOAD_DURATION)
    assert (attrs, duration.count) == ({**identity, semconv.ERROR_TYPE: "ValueError"}, 1)
    assert _info(telemetry) == []


def test_function_source_names_the_model_after_its_class_and_parents_loader_spans(
    iris: Any, telemetry: Telemetry
) -> None:
    tracer = telemetry.tracer_provider.get_tracer("registry-client")

    def fetch() -> LogisticRegression:
        with tracer.start_as_current_span("GET model artifact"):
            return iris[1]

    model = load_model(fetch, version="5", **telemetry.providers)

    assert model.otel_ml_model == ("LogisticRegression", "5")
    load = telemetry.span("load LogisticRegression")
    child = telemetry.span("GET model artifact")
    assert child.parent is not None and child.parent.span_id == load.context.span_id
    identity = {semconv.ML_MODEL_NAME: "LogisticRegression", semconv.ML_MODEL_VERSION: "5"}
    assert dict(load.attributes or {}) == {**identity, **SKLEARN}  # no file, no size
    assert _info(telemetry) == [({**identity, **SKLEARN}, 1)]


def test_folder_size_is_the_sum_of_its_files(tmp_path: Path, telemetry: Telemetry) -> None:
    folder = tmp_path / "bert"
    (folder / "tokenizer").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"w" * 1000)
    (folder / "tokenizer" / "vocab.txt").write_bytes(b"v" * 24)

    def read(path: Path) -> Any:
        return lambda rows: [0 for _ in rows]

    load_model(folder, version="1", loader=read, **telemetry.providers)

    attrs = dict(telemetry.span("load bert").attributes or {})
    assert attrs == {
        semconv.ML_MODEL_NAME: "bert",
        semconv.ML_MODEL_VERSION: "1",
        semconv.ML_MODEL_SIZE: 1024,
    }


def test_wrap_model_reports_each_version_once_on_model_info(
    iris: Any, telemetry: Telemetry
) -> None:
    def rules(rows: Any) -> list[int]:
        return [0 for _ in rows]

    otel_ml.wrap_model(iris[1], "fraud", "7", **telemetry.providers)
    otel_ml.wrap_model(iris[1], "fraud", "8-canary", **telemetry.providers)
    otel_ml.wrap_model(iris[1], "fraud", "7", **telemetry.providers)
    otel_ml.wrap_model(rules, "rules", "1", **telemetry.providers)

    info = sorted(_info(telemetry), key=lambda item: str(item[0]))
    assert info == [
        ({semconv.ML_MODEL_NAME: "fraud", semconv.ML_MODEL_VERSION: "7", **SKLEARN}, 1),
        ({semconv.ML_MODEL_NAME: "fraud", semconv.ML_MODEL_VERSION: "8-canary", **SKLEARN}, 1),
        ({semconv.ML_MODEL_NAME: "rules", semconv.ML_MODEL_VERSION: "1"}, 1),
    ]
    assert telemetry.spans() == []  # wrapping alone loads nothing


def test_framework_is_found_through_base_classes() -> None:
    class InHouse(LogisticRegression):
        pass

    def plain(rows: Any) -> Any:
        return rows

    assert detect_framework(InHouse()) == ("sklearn", sklearn.__version__)
    assert detect_framework(np.zeros(2)) is None
    assert detect_framework(plain) is None


def test_bad_arguments_raise_before_loading(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="loader= only with a path"):
        load_model(lambda: None, loader=joblib.load)
    with pytest.raises(TypeError, match="needs a path or a function"):
        load_model(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name"):
        load_model(tmp_path / "m.joblib", name="  ")


def test_fastapi_app_loading_its_model_at_startup(
    saved: Path, iris: Any, telemetry: Telemetry
) -> None:
    app = FastAPI()
    handle = otel_ml.instrument(
        app, model_name="fraud-model", model_version="3", **telemetry.providers
    )
    model = load_model(saved, version="3", **telemetry.providers)

    @app.post("/predict")
    def predict(rows: list[list[float]]) -> dict[str, Any]:
        return {"class": int(model.predict(np.asarray(rows))[0])}

    try:
        with TestClient(app) as client:
            response = client.post("/predict", json=iris[0][:1].tolist())
    finally:
        handle.uninstrument()

    assert response.status_code == 200
    names = [s.name for s in telemetry.spans()]
    assert names[0] == "load fraud-model"
    assert "predict fraud-model" in names and "POST /predict" in names
    load = telemetry.span("load fraud-model")
    server = telemetry.span("POST /predict")
    assert load.context.trace_id != server.context.trace_id  # startup, not a request
    identity = {semconv.ML_MODEL_NAME: "fraud-model", semconv.ML_MODEL_VERSION: "3"}
    assert _info(telemetry) == [({**identity, **SKLEARN}, 1)]
    assert trace.get_current_span() is trace.INVALID_SPAN
