"""otel_ml's own HTTP server layer (``instrument(app)``'s default) on real FastAPI apps."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from fastapi import APIRouter, FastAPI, HTTPException, WebSocket
from fastapi.responses import PlainTextResponse, StreamingResponse
from fastapi.testclient import TestClient
from opentelemetry import propagate
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBasedTraceIdRatio,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import SpanKind, StatusCode
from sklearn.linear_model import LogisticRegression
from starlette.requests import Request
from support import Telemetry

import otel_ml
from otel_ml import Settings, SettingsError
from otel_ml.instrumentation.fastapi import Instrumentation
from otel_ml.instrumentation.fastapi.http_server import DURATION_BUCKETS, SCOPE_NAME

DURATION = "http.server.request.duration"
HEADER = "x-prediction-id"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
ROWS = np.random.default_rng(0).normal(size=(200, 4))
LABELS = np.where(ROWS[:, 0] > 0, "yes", "no")


@pytest.fixture(scope="module")
def model() -> LogisticRegression:
    return LogisticRegression().fit(ROWS, LABELS)


def instrument(
    app: FastAPI, telemetry: Telemetry, handles: list[Instrumentation], **kwargs: Any
) -> Instrumentation:
    kwargs = {"instrument_sklearn": False, **kwargs}
    handle = otel_ml.instrument(app, "scorer", "2", **telemetry.providers, **kwargs)
    handles.append(handle)
    return handle


def make_app(model: LogisticRegression, telemetry: Telemetry) -> FastAPI:
    """Routes with a path converter, a router prefix, errors and a streamed body."""
    wrapped = otel_ml.wrap_model(model, "scorer", "2", **telemetry.providers)
    app = FastAPI()
    router = APIRouter(prefix="/v1")

    @router.get("/score/{row:int}")
    async def score(row: int) -> dict[str, str]:
        return {"class": str(wrapped.predict(ROWS[row : row + 1])[0])}

    @app.get("/unavailable")
    async def unavailable() -> None:
        raise HTTPException(status_code=503, detail="warming up")

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("boom")

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        label = str(wrapped.predict(ROWS[:1])[0])

        async def chunks() -> AsyncIterator[bytes]:
            for index in range(3):
                yield f"{label}-{index};".encode()

        return StreamingResponse(chunks(), media_type="text/plain")

    app.include_router(router)
    return app


def server_span(telemetry: Telemetry) -> ReadableSpan:
    servers = [s for s in telemetry.spans() if s.kind is SpanKind.SERVER]
    assert len(servers) == 1, [s.name for s in telemetry.spans()]
    return servers[0]


def test_server_span_has_the_semconv_attributes_and_parents_the_inference(
    model: LogisticRegression, telemetry: Telemetry, handles: list[Instrumentation]
) -> None:
    app = make_app(model, telemetry)
    handle = instrument(app, telemetry, handles)
    with TestClient(app) as client:
        response = client.get("/v1/score/3?verbose=1", headers={"user-agent": "probe/1.0"})

    assert response.status_code == 200
    assert (handle.http_layer, handle.instrumented_http) == ("otel_ml", True)
    assert len(app.user_middleware) == 1  # one layer for HTTP and ML
    server = server_span(telemetry)
    assert server.name == "GET /v1/score/{row}"
    assert server.instrumentation_scope is not None
    assert server.instrumentation_scope.name == SCOPE_NAME
    assert dict(server.attributes or {}) == {
        "ml.model.name": "scorer",
        "ml.model.version": "2",
        "http.request.method": "GET",
        "url.path": "/v1/score/3",
        "url.query": "verbose=1",
        "url.scheme": "http",
        "network.protocol.version": "1.1",
        "server.address": "testserver",
        "server.port": 80,
        "client.address": "testclient",
        "user_agent.original": "probe/1.0",
        "http.route": "/v1/score/{row}",
        "http.response.status_code": 200,
        "ml.prediction.id": response.headers[HEADER],
    }
    assert server.status.status_code is StatusCode.UNSET
    (inference,) = [s for s in telemetry.spans() if s.kind is SpanKind.INTERNAL]
    assert inference.parent is not None and inference.parent.span_id == server.context.span_id


def test_traceparent_header_makes_the_server_span_a_remote_child(
    model: LogisticRegression, telemetry: Telemetry, handles: list[Instrumentation]
) -> None:
    app = make_app(model, telemetry)
    instrument(app, telemetry, handles)
    traceparent = f"00-{TRACE_ID}-{PARENT_ID}-01"
    with TestClient(app) as client:
        client.get("/v1/score/0", headers={"traceparent": traceparent})

    server = server_span(telemetry)
    assert f"{server.context.trace_id:032x}" == TRACE_ID
    assert server.parent is not None and server.parent.is_remote
    assert f"{server.parent.span_id:016x}" == PARENT_ID


def test_status_codes_errors_and_the_duration_metric(
    model: LogisticRegression, telemetry: Telemetry, handles: list[Instrumentation]
) -> None:
    app = make_app(model, telemetry)
    instrument(app, telemetry, handles)
    with TestClient(app, raise_server_exceptions=False) as client:
        # Twice each: the second request of a kind reuses the first one's metric attributes.
        paths = ("/v1/score/1", "/nowhere", "/unavailable", "/crash") * 2
        statuses = [client.get(path).status_code for path in paths]

    assert statuses == [200, 404, 503, 500] * 2
    by_path = {
        (s.attributes or {})["url.path"]: s for s in telemetry.spans() if s.kind.name == "SERVER"
    }
    missing, unavailable, crash = by_path["/nowhere"], by_path["/unavailable"], by_path["/crash"]
    assert (missing.name, missing.status.status_code) == ("GET", StatusCode.UNSET)
    assert "http.route" not in (missing.attributes or {})
    assert "error.type" not in (missing.attributes or {})
    assert unavailable.status.status_code is StatusCode.ERROR
    assert (unavailable.attributes or {})["error.type"] == "503"
    assert crash.status.status_code is StatusCode.ERROR
    assert (crash.attributes or {})["error.type"] == "RuntimeError"
    assert (crash.attributes or {})["http.response.status_code"] == 500
    assert [e.name for e in crash.events] == ["exception"]

    points = telemetry.points(DURATION)
    base = {"http.request.method": "GET", "url.scheme": "http", "network.protocol.version": "1.1"}
    assert sorted((attrs for attrs, _ in points), key=lambda a: a["http.response.status_code"]) == [
        {**base, "http.route": "/v1/score/{row}", "http.response.status_code": 200},
        {**base, "http.response.status_code": 404},
        {
            **base,
            "http.route": "/crash",
            "http.response.status_code": 500,
            "error.type": "RuntimeError",
        },
        {
            **base,
            "http.route": "/unavailable",
            "http.response.status_code": 503,
            "error.type": "503",
        },
    ]
    for _, point in points:
        assert point.count == 2
        assert tuple(point.explicit_bounds) == DURATION_BUCKETS
    (metric,) = [m for name, m in telemetry.metrics().items() if name == DURATION]
    assert metric.unit == "s"


def test_mounted_app_routes_and_unknown_methods(
    telemetry: Telemetry, handles: list[Instrumentation]
) -> None:
    app, sub = FastAPI(), FastAPI()

    async def plain(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.path_params["name"])

    app.add_route("/plain/{name}", plain, methods=["POST"])  # a Starlette route, not FastAPI's

    @sub.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    app.mount("/v2", sub)
    instrument(app, telemetry, handles)
    with TestClient(app) as client:
        assert client.post("/plain/b").text == "b"
        assert server_span(telemetry).name == "POST /plain/{name}"
        telemetry.exporter.clear()
        assert client.get("/v2/things/a").json() == {"id": "a"}
        assert server_span(telemetry).name == "GET /v2/things/{thing_id}"
        telemetry.exporter.clear()
        assert client.request("BREW", "/v2/things/a").status_code == 405

    server = server_span(telemetry)
    assert server.name == "HTTP /v2/things/{thing_id}"
    attributes = server.attributes or {}
    assert (attributes["http.request.method"], attributes["http.request.method_original"]) == (
        "_OTHER",
        "BREW",
    )
    routes = {attrs.get("http.route") for attrs, _ in telemetry.points(DURATION)}
    assert routes == {"/v2/things/{thing_id}", "/plain/{name}"}


def test_streamed_response_span_ends_after_the_last_chunk(
    model: LogisticRegression, telemetry: Telemetry, handles: list[Instrumentation]
) -> None:
    app = make_app(model, telemetry)
    instrument(app, telemetry, handles)
    with TestClient(app) as client:
        response = client.get("/stream")

    label = str(model.predict(ROWS[:1])[0])
    assert response.text == f"{label}-0;{label}-1;{label}-2;"
    server = server_span(telemetry)
    assert (server.attributes or {})["http.response.status_code"] == 200
    assert (server.attributes or {})["ml.prediction.id"] == response.headers[HEADER]
    assert [point.count for _, point in telemetry.points(DURATION)] == [1]


def test_websocket_and_lifespan_pass_through(
    telemetry: Telemetry, handles: list[Instrumentation]
) -> None:
    started: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        started.append("up")
        yield

    app = FastAPI(lifespan=lifespan)

    @app.websocket("/echo")
    async def echo(socket: WebSocket) -> None:
        await socket.accept()
        await socket.send_text(await socket.receive_text())
        await socket.close()

    instrument(app, telemetry, handles)
    with TestClient(app) as client, client.websocket_connect("/echo") as socket:
        socket.send_text("ping")
        assert socket.receive_text() == "ping"

    assert started == ["up"]
    assert telemetry.spans() == []
    assert telemetry.points(DURATION) == []


def test_no_second_server_span_under_the_contrib_instrumentation(
    model: LogisticRegression, telemetry: Telemetry, handles: list[Instrumentation]
) -> None:
    app = make_app(model, telemetry)
    FastAPIInstrumentor.instrument_app(app, **telemetry.providers, exclude_spans=["send"])
    try:
        handle = instrument(app, telemetry, handles)
        with TestClient(app) as client:
            response = client.get("/v1/score/2")
        assert handle.http_layer is None
        server = server_span(telemetry)
        assert server.instrumentation_scope is not None
        assert server.instrumentation_scope.name == "opentelemetry.instrumentation.fastapi"
        assert (server.attributes or {})["ml.prediction.id"] == response.headers[HEADER]
        scopes = {s.instrumentation_scope.name for s in telemetry.spans()}  # type: ignore[union-attr]
        assert SCOPE_NAME not in scopes
    finally:
        handle.uninstrument()
        FastAPIInstrumentor.uninstrument_app(app)


@pytest.mark.newest  # FastAPI's own telemetry needs opentelemetry-api 1.44
def test_fastapi_builtin_telemetry_is_muted_while_instrumented(
    model: LogisticRegression, telemetry: Telemetry, handles: list[Instrumentation]
) -> None:
    app = make_app(model, telemetry)
    if not isinstance(getattr(app, "_telemetry", None), dict):
        pytest.fail("this FastAPI has no built-in telemetry to check against")
    app._telemetry.update(telemetry.providers)  # as FastAPI(telemetry={...}) would
    handle = instrument(app, telemetry, handles)
    with TestClient(app) as client:
        client.get("/v1/score/2")

    spans = telemetry.spans()
    assert sorted(s.name for s in spans) == ["GET /v1/score/{row}", "predict scorer"]
    assert server_span(telemetry).instrumentation_scope.name == SCOPE_NAME  # type: ignore[union-attr]
    assert [point.count for _, point in telemetry.points(DURATION)] == [1]

    handle.uninstrument()
    assert (app._telemetry["tracing"], app._telemetry["metrics"]) == (True, True)


def test_contrib_layer_is_one_setting_away(
    model: LogisticRegression, telemetry: Telemetry, handles: list[Instrumentation]
) -> None:
    app = make_app(model, telemetry)
    handle = instrument(app, telemetry, handles, http="contrib")
    with TestClient(app) as client:
        client.get("/v1/score/2")

    assert handle.http_layer == "contrib"
    scope = server_span(telemetry).instrumentation_scope
    assert scope is not None and scope.name == "opentelemetry.instrumentation.fastapi"
    spans_app = make_app(model, telemetry)
    assert instrument(spans_app, telemetry, handles, http_asgi_spans=True).http_layer == "contrib"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"http": "starlette"}, SettingsError, "expected one of otel_ml, contrib"),
        ({"http": "otel_ml", "http_asgi_spans": True}, ValueError, "needs http='contrib'"),
    ],
)
def test_bad_http_layer_arguments_fail_clearly(
    telemetry: Telemetry,
    handles: list[Instrumentation],
    kwargs: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    app = FastAPI()
    with pytest.raises(error, match=message):
        instrument(app, telemetry, handles, **kwargs)
    assert app.user_middleware == []


def test_the_contrib_excluded_urls_variable_is_honoured(
    model: LogisticRegression, telemetry: Telemetry, handles: list[Instrumentation]
) -> None:
    settings = Settings.load(environ={"OTEL_PYTHON_FASTAPI_EXCLUDED_URLS": "/unavailable,/nowhere"})
    app = make_app(model, telemetry)
    instrument(app, telemetry, handles, settings=settings)
    with TestClient(app) as client:
        assert client.get("/unavailable").status_code == 503
        response = client.get("/v1/score/4")

    server = server_span(telemetry)
    assert (server.attributes or {})["url.path"] == "/v1/score/4"
    assert (server.attributes or {})["ml.prediction.id"] == response.headers[HEADER]
    assert [attrs["http.route"] for attrs, _ in telemetry.points(DURATION)] == ["/v1/score/{row}"]


class _SeenAtStart(Sampler):
    """Samples everything; keeps the attributes each SERVER span started with."""

    def __init__(self) -> None:
        self.server: list[dict[str, Any]] = []

    def should_sample(self, parent_context: Any, trace_id: int, name: str,
                      kind: SpanKind | None = None, attributes: Any = None,
                      links: Any = None, trace_state: Any = None) -> SamplingResult:  # fmt: skip
        if kind is SpanKind.SERVER:
            self.server.append(dict(attributes or {}))
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

    def get_description(self) -> str:
        return "seen-at-start"


def test_a_sampler_sees_the_model_when_the_server_span_starts(
    model: LogisticRegression, handles: list[Instrumentation]
) -> None:
    sampler = _SeenAtStart()
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider(sampler=sampler)
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry = Telemetry(tracer_provider, MeterProvider(), exporter, InMemoryMetricReader())
    app = make_app(model, telemetry)
    instrument(app, telemetry, handles)
    with TestClient(app) as client:
        response = client.get("/v1/score/2")
    [started] = sampler.server
    assert started["ml.model.name"] == "scorer" and started["ml.model.version"] == "2"
    attributes = server_span(telemetry).attributes or {}
    assert attributes["ml.model.name"] == "scorer"
    assert attributes["ml.prediction.id"] == response.headers[HEADER]


def test_a_server_span_of_another_instrumentation_gets_the_model(
    model: LogisticRegression, telemetry: Telemetry, handles: list[Instrumentation]
) -> None:
    app = make_app(model, telemetry)
    instrument(app, telemetry, handles)
    tracer = telemetry.tracer_provider.get_tracer("outer-server")

    async def outer(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        with tracer.start_as_current_span("GET outer", kind=SpanKind.SERVER):
            await app(scope, receive, send)

    with TestClient(outer) as client:  # type: ignore[arg-type]
        response = client.get("/v1/score/2")
    [server] = [s for s in telemetry.spans() if s.kind is SpanKind.SERVER]
    assert server.name == "GET outer"
    attributes = server.attributes or {}
    assert attributes["ml.model.name"] == "scorer"
    assert attributes["ml.prediction.id"] == response.headers[HEADER]


def test_a_sampled_out_request_keeps_the_callers_trace_for_downstream_calls(
    model: LogisticRegression, telemetry: Telemetry, handles: list[Instrumentation]
) -> None:
    """No server or inference span is started for a caller that is not sampled
    (the default sampler drops its children), yet the endpoint's own outgoing
    calls carry the caller's trace, and every metric is recorded."""
    app = make_app(model, telemetry)
    wrapped = otel_ml.wrap_model(model, "scorer", "2", **telemetry.providers)

    @app.get("/forward")
    async def forward() -> dict[str, str]:
        wrapped.predict(ROWS[:1])
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        return carrier

    instrument(app, telemetry, handles)
    traceparent = f"00-{TRACE_ID}-{PARENT_ID}-00"
    with TestClient(app) as client:
        response = client.get("/forward", headers={"traceparent": traceparent})

    assert response.json()["traceparent"] == traceparent
    assert response.headers[HEADER]
    assert telemetry.spans() == []
    (attributes, point), *_ = telemetry.points(DURATION)
    assert (attributes["http.route"], point.count) == ("/forward", 1)
    assert telemetry.points("ml.inference.duration")


def test_a_ratio_sampled_server_span_has_every_attribute(
    model: LogisticRegression, handles: list[Instrumentation]
) -> None:
    """A ``parentbased_traceidratio`` root is decided by otel_ml (most are dropped,
    with no SDK span); one that records gets them all, as with the default sampler."""
    found = {}
    for name, sampler in (("ratio", ParentBasedTraceIdRatio(1.0)), ("default", None)):
        exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
        tracer_provider = TracerProvider(sampler=sampler)
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
        telemetry = Telemetry(
            tracer_provider, MeterProvider(metric_readers=[reader]), exporter, reader
        )
        try:
            app = make_app(model, telemetry)
            instrument(app, telemetry, handles)
            with TestClient(app) as client:
                client.get("/v1/score/0?x=1", headers={"user-agent": "probe"})
            found[name] = dict(server_span(telemetry).attributes or {})
            assert found[name].pop("ml.prediction.id")  # a new one per request
        finally:
            handles.pop().uninstrument()
            telemetry.shutdown()
    assert found["ratio"] == found["default"]
    assert found["ratio"]["user_agent.original"] == "probe"
