"""``otel_ml.instrument(app)`` on a real FastAPI app serving a real scikit-learn model."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from fastapi.testclient import TestClient
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from sklearn.datasets import load_iris
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from starlette.requests import Request
from support import Telemetry

import otel_ml
from otel_ml import SettingsError
from otel_ml.instrumentation.fastapi import Instrumentation

IRIS = load_iris()
X = IRIS.data
Y = IRIS.target_names[IRIS.target]
HEADER = "x-prediction-id"
ML_ATTRIBUTES = ("ml.model.name", "ml.model.version", "ml.prediction.id")

Instrument = Callable[..., Instrumentation]


@pytest.fixture(scope="module")
def classifier() -> LogisticRegression:
    return LogisticRegression(max_iter=1000).fit(X, Y)


def make_app(classifier: LogisticRegression, telemetry: Telemetry) -> FastAPI:
    """Async ``predict_proba``, sync ``predict``, a model that raises, no inference."""
    model = otel_ml.wrap_model(classifier, "iris", "7", **telemetry.providers)
    broken = otel_ml.wrap_model(LogisticRegression(), "iris", "7", **telemetry.providers)
    app = FastAPI()

    @app.get("/proba/{row}")
    async def proba(row: int) -> dict[str, Any]:
        await asyncio.sleep(0)  # let concurrent requests interleave
        probabilities = model.predict_proba(X[row : row + 1])[0]
        return {"class": str(classifier.classes_[int(np.argmax(probabilities))])}

    @app.get("/label/{row}")
    def label(row: int) -> dict[str, Any]:
        return {"class": str(model.predict(X[row : row + 1])[0])}

    @app.get("/broken/{row}")
    def broken_model(row: int) -> dict[str, Any]:
        return {"class": str(broken.predict(X[row : row + 1])[0])}

    @app.get("/health")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    return app


@pytest.fixture
def instrument(telemetry: Telemetry) -> Iterator[Instrument]:
    """``otel_ml.instrument`` with the test providers; undone after the test."""
    handles: list[Instrumentation] = []

    def apply(app: Any, **kwargs: Any) -> Instrumentation:
        kwargs = {"model_name": "iris", "model_version": "7", "instrument_sklearn": False, **kwargs}
        handle = otel_ml.instrument(app, **telemetry.providers, **kwargs)
        handles.append(handle)
        return handle

    yield apply
    for handle in handles:
        handle.uninstrument()


def request_spans(telemetry: Telemetry) -> tuple[ReadableSpan, ReadableSpan]:
    """The server span and its one inference child: the only spans of one request."""
    spans = telemetry.spans()
    assert len(spans) == 2, [s.name for s in spans]
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    (inference,) = [s for s in spans if s.kind is SpanKind.INTERNAL]
    assert server.instrumentation_scope is not None
    assert server.instrumentation_scope.name == "otel_ml.instrumentation.fastapi"
    assert inference.parent is not None
    assert inference.parent.span_id == server.context.span_id
    assert inference.context.trace_id == server.context.trace_id
    return server, inference


def ml_attributes(span: ReadableSpan) -> dict[str, Any]:
    return {k: v for k, v in (span.attributes or {}).items() if k in ML_ATTRIBUTES}


def http_status(span: ReadableSpan) -> Any:
    attributes = span.attributes or {}
    return attributes.get("http.response.status_code", attributes.get("http.status_code"))


def http_duration_metrics() -> set[str]:
    """The contrib HTTP server duration histogram under the stable conventions we opt into."""
    return {"http.server.request.duration"}


def test_async_request_server_span_parents_inference_span(
    classifier: LogisticRegression, telemetry: Telemetry, instrument: Instrument
) -> None:
    app = make_app(classifier, telemetry)
    instrument(app)
    with TestClient(app) as client:
        response = client.get("/proba/0")

    assert response.status_code == 200
    prediction_id = response.headers[HEADER]
    assert len(prediction_id) == 32 and int(prediction_id, 16) >= 0
    server, inference = request_spans(telemetry)
    assert server.name == "GET /proba/{row}"
    assert http_status(server) == 200
    assert (server.attributes or {})["http.route"] == "/proba/{row}"
    assert ml_attributes(server) == {
        "ml.model.name": "iris",
        "ml.model.version": "7",
        "ml.prediction.id": prediction_id,
    }
    expected_confidence = float(classifier.predict_proba(X[:1]).max())
    assert inference.name == "predict_proba iris"
    assert dict(inference.attributes or {}) == {
        "ml.model.name": "iris",
        "ml.model.version": "7",
        "ml.operation.name": "predict_proba",
        "ml.batch.size": 1,
        "ml.prediction.id": prediction_id,
        "ml.prediction.class": response.json()["class"],
        "ml.prediction.confidence": pytest.approx(expected_confidence),
    }
    assert response.json()["class"] == "setosa"
    assert isinstance((inference.attributes or {})["ml.prediction.confidence"], float)
    assert inference.status.status_code is StatusCode.UNSET


@pytest.mark.parametrize(
    ("path", "operation", "label"),
    [("/proba/60", "predict_proba", "versicolor"), ("/label/120", "predict", "virginica")],
    ids=["async-endpoint", "sync-endpoint-in-threadpool"],
)
def test_sync_and_async_endpoints_get_header_and_parentage(
    classifier: LogisticRegression,
    telemetry: Telemetry,
    instrument: Instrument,
    path: str,
    operation: str,
    label: str,
) -> None:
    app = make_app(classifier, telemetry)
    instrument(app)
    with TestClient(app) as client:
        response = client.get(path)

    assert response.json() == {"class": label}
    server, inference = request_spans(telemetry)
    assert inference.name == f"{operation} iris"
    assert (inference.attributes or {})["ml.prediction.class"] == label
    assert (inference.attributes or {})["ml.prediction.id"] == response.headers[HEADER]
    assert ml_attributes(server)["ml.prediction.id"] == response.headers[HEADER]


@pytest.mark.parametrize(("asgi_spans", "expected"), [(False, 2), (True, 4)])
def test_asgi_send_receive_spans_only_on_request(
    classifier: LogisticRegression,
    telemetry: Telemetry,
    instrument: Instrument,
    asgi_spans: bool,
    expected: int,
) -> None:
    app = make_app(classifier, telemetry)
    instrument(app, http_asgi_spans=asgi_spans)
    with TestClient(app) as client:
        client.get("/label/0")

    names = sorted(s.name for s in telemetry.spans())
    assert len(names) == expected
    assert [n for n in names if "http send" not in n] == ["GET /label/{row}", "predict iris"]
    assert names.count("GET /label/{row} http send") == expected - 2


def test_red_metrics_and_a_failing_model(
    classifier: LogisticRegression, telemetry: Telemetry, instrument: Instrument
) -> None:
    app = make_app(classifier, telemetry)
    instrument(app)
    with TestClient(app, raise_server_exceptions=False) as client:
        statuses = [client.get(f"/label/{row}").status_code for row in (0, 50, 100)]
        failed = client.get("/broken/0")

    assert statuses == [200, 200, 200]
    assert failed.status_code == 500
    assert HEADER not in failed.headers  # the 500 is written outside the app's middleware
    failed_spans = [s for s in telemetry.spans() if s.name == "predict iris" and not s.status.is_ok]
    (inference,) = failed_spans
    (server,) = [s for s in telemetry.spans() if s.context.span_id == inference.parent.span_id]  # type: ignore[union-attr]
    assert inference.status.status_code is StatusCode.ERROR
    assert (inference.attributes or {})["error.type"] == "sklearn.exceptions.NotFittedError"
    assert [e.name for e in inference.events] == ["exception"]
    assert server.status.status_code is StatusCode.ERROR
    assert http_status(server) == 500
    prediction_id = (inference.attributes or {})["ml.prediction.id"]
    assert ml_attributes(server)["ml.prediction.id"] == prediction_id

    points = telemetry.points("ml.inference.duration")
    durations = {attrs.get("error.type"): point.count for attrs, point in points}
    assert durations == {None: 3, "sklearn.exceptions.NotFittedError": 1}
    for name in http_duration_metrics():
        by_status = {
            attrs.get("http.response.status_code", attrs.get("http.status_code")): point.count
            for attrs, point in telemetry.points(name)
        }
        assert by_status == {200: 3, 500: 1}, name


def test_app_exception_handler_response_carries_the_failed_prediction_id(
    classifier: LogisticRegression, telemetry: Telemetry, instrument: Instrument
) -> None:
    app = make_app(classifier, telemetry)

    @app.exception_handler(NotFittedError)
    async def not_ready(request: Request, exc: NotFittedError) -> JSONResponse:
        return JSONResponse({"error": "model not ready"}, status_code=503)

    instrument(app)
    with TestClient(app) as client:
        response = client.get("/broken/3")

    assert response.status_code == 503
    server, inference = request_spans(telemetry)
    assert inference.status.status_code is StatusCode.ERROR
    assert (inference.attributes or {})["ml.prediction.id"] == response.headers[HEADER]
    assert ml_attributes(server)["ml.prediction.id"] == response.headers[HEADER]
    assert http_status(server) == 503


def test_endpoint_without_inference_gets_no_header(
    classifier: LogisticRegression, telemetry: Telemetry, instrument: Instrument
) -> None:
    app = make_app(classifier, telemetry)
    instrument(app)
    with TestClient(app) as client:
        response = client.get("/health")

    assert response.json() == {"ok": True}
    assert HEADER not in response.headers
    (server,) = telemetry.spans()
    assert server.kind is SpanKind.SERVER
    assert ml_attributes(server) == {"ml.model.name": "iris", "ml.model.version": "7"}
    assert telemetry.points("ml.inference.duration") == []


def test_concurrent_requests_each_get_their_own_prediction_id(
    classifier: LogisticRegression, telemetry: Telemetry, instrument: Instrument
) -> None:
    app = make_app(classifier, telemetry)
    instrument(app)
    paths = [f"/proba/{row}" for row in range(0, 150, 25)] + ["/label/1", "/label/149", "/health"]

    async def fetch_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(*(client.get(path) for path in paths))

    responses = asyncio.run(fetch_all())

    ids = [r.headers.get(HEADER) for r in responses]
    assert ids[-1] is None
    assert len(set(ids[:-1])) == len(paths) - 1
    spans = telemetry.spans()
    servers = {s.context.span_id: s for s in spans if s.kind is SpanKind.SERVER}
    inferences = [s for s in spans if s.kind is SpanKind.INTERNAL]
    assert len(servers) == len(paths) and len(inferences) == len(paths) - 1
    for inference in inferences:
        server = servers[inference.parent.span_id]  # type: ignore[union-attr]
        prediction_id = (inference.attributes or {})["ml.prediction.id"]
        assert ml_attributes(server)["ml.prediction.id"] == prediction_id
        attributes = server.attributes or {}
        target = attributes.get("url.path", attributes.get("http.target"))
        assert target == paths[ids.index(prediction_id)]


def test_instrument_is_idempotent_and_uninstrument_undoes_everything(
    classifier: LogisticRegression, telemetry: Telemetry, instrument: Instrument
) -> None:
    app = make_app(classifier, telemetry)
    handle = instrument(app)
    assert instrument(app) is handle
    assert len(app.user_middleware) == 1
    assert (handle.active, handle.instrumented_http, handle.instrumented_sklearn) == (
        True,
        True,
        False,
    )

    handle.uninstrument()  # before the app started: it can be instrumented again
    handle.uninstrument()
    assert (handle.active, app.user_middleware, app.middleware_stack) == (False, [], None)
    again = instrument(app)
    assert again is not handle
    with TestClient(app) as client:
        assert HEADER in client.get("/label/0").headers
        assert len(telemetry.spans()) == 2

        again.uninstrument()  # after start: the running stack is rebuilt without us
        telemetry.exporter.clear()
        response = client.get("/label/0")

    assert response.json() == {"class": "setosa"}
    assert HEADER not in response.headers
    assert [s.name for s in telemetry.spans()] == ["predict iris"]  # wrap_model's own span
    assert telemetry.spans()[0].parent is None
    assert app.user_middleware == []
    assert not getattr(app, "_is_instrumented_by_opentelemetry", False)


def test_already_instrumented_app_gets_the_ml_layer_and_one_server_span(
    classifier: LogisticRegression, telemetry: Telemetry, instrument: Instrument
) -> None:
    app = make_app(classifier, telemetry)
    FastAPIInstrumentor.instrument_app(app, **telemetry.providers)  # as the launcher does
    try:
        handle = instrument(app)
        assert not handle.instrumented_http
        with TestClient(app) as client:
            response = client.get("/label/50")

        spans = telemetry.spans()
        (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
        (inference,) = [s for s in spans if s.name == "predict iris"]
        assert inference.parent is not None
        assert inference.parent.span_id == server.context.span_id
        assert ml_attributes(server)["ml.prediction.id"] == response.headers[HEADER]
        # The launcher's own settings stand: it keeps its ASGI send spans.
        assert sorted({s.name for s in spans} - {server.name, inference.name}) == [
            "GET /label/{row} http send"
        ]

        handle.uninstrument()
        assert getattr(app, "_is_instrumented_by_opentelemetry", None) is True
        telemetry.exporter.clear()
        with TestClient(app) as client:
            response = client.get("/label/50")
        assert HEADER not in response.headers
        (server,) = [s for s in telemetry.spans() if s.kind is SpanKind.SERVER]
        assert ml_attributes(server) == {}
    finally:
        FastAPIInstrumentor.uninstrument_app(app)


def test_instrument_after_the_app_started_is_a_clear_error(
    classifier: LogisticRegression, telemetry: Telemetry, instrument: Instrument
) -> None:
    app = make_app(classifier, telemetry)
    with TestClient(app) as client:
        client.get("/health")
    with pytest.raises(RuntimeError, match="before the app starts serving"):
        instrument(app)
    assert app.user_middleware == []
    assert not getattr(app, "_is_instrumented_by_opentelemetry", False)


@pytest.mark.parametrize(
    ("target", "kwargs", "error", "message"),
    [
        (object(), {}, TypeError, "needs a FastAPI or Starlette app, got object"),
        (FastAPI, {}, TypeError, "got type"),
        (None, {"model_name": ""}, ValueError, "model_name must not be empty"),
        (None, {"model_name": 3}, TypeError, "model_name must be a string, got int"),
        (None, {"model_version": "  "}, ValueError, "model_version must not be empty"),
        (None, {"http_asgi_spans": "yes"}, SettingsError, "http_asgi_spans='yes'"),
        (None, {"excluded_urls": ["/health"]}, TypeError, "excluded_urls must be"),
    ],
)
def test_bad_arguments_fail_clearly_and_change_nothing(
    telemetry: Telemetry,
    instrument: Instrument,
    target: Any,
    kwargs: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    app = FastAPI()
    with pytest.raises(error, match=message):
        instrument(app if target is None else target, **kwargs)
    assert app.user_middleware == []
    assert not getattr(app, "_is_instrumented_by_opentelemetry", False)


def test_missing_fastapi_raises_the_pip_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fastapi", None)  # what `import fastapi` sees uninstalled
    with pytest.raises(ImportError, match=r"pip install 'otel-ml\[fastapi\]'"):
        otel_ml.instrument(object(), model_name="iris")


def test_excluded_urls_get_no_server_span_but_keep_the_header(
    classifier: LogisticRegression, telemetry: Telemetry, instrument: Instrument
) -> None:
    app = make_app(classifier, telemetry)
    instrument(app, excluded_urls="label")
    with TestClient(app) as client:
        excluded = client.get("/label/0")
        traced = client.get("/proba/0")

    assert HEADER in excluded.headers and HEADER in traced.headers
    by_name = {s.name: s for s in telemetry.spans()}
    assert sorted(by_name) == ["GET /proba/{row}", "predict iris", "predict_proba iris"]
    untraced = by_name["predict iris"]
    assert untraced.parent is None
    assert (untraced.attributes or {})["ml.prediction.id"] == excluded.headers[HEADER]


def test_a_header_the_endpoint_sets_itself_is_kept(
    classifier: LogisticRegression, telemetry: Telemetry, instrument: Instrument
) -> None:
    model = otel_ml.wrap_model(classifier, "iris", "7", **telemetry.providers)
    app = FastAPI()

    @app.get("/own-id")
    def own_id(response: Response) -> dict[str, str]:
        response.headers[HEADER] = "order-42"
        return {"class": str(model.predict(X[:1])[0])}

    instrument(app)
    with TestClient(app) as client:
        response = client.get("/own-id")

    assert response.headers.get_list(HEADER) == ["order-42"]
    server, inference = request_spans(telemetry)
    assert (
        ml_attributes(server)["ml.prediction.id"]
        == (inference.attributes or {})["ml.prediction.id"]
    )
