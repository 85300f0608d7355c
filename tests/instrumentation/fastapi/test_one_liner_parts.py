"""``instrument(app)`` as a list of parts: settings handed in, the undo stack, the layers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.instrumentation._semconv import (
    _OpenTelemetrySemanticConventionStability,
    _OpenTelemetryStabilitySignalType,
    _StabilityMode,
)
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.trace import SpanKind
from sklearn.linear_model import LogisticRegression
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from support import Telemetry

import otel_ml
from otel_ml import Settings
from otel_ml.instrumentation.fastapi import Instrumentation
from otel_ml.instrumentation.fastapi.contrib import opt_in_stable_http
from otel_ml.instrumentation.fastapi.drift_route import DriftPage
from otel_ml.instrumentation.fastapi.http_server import HttpServerMiddleware
from otel_ml.instrumentation.fastapi.middleware import ASGIApp, ModelRequestMiddleware

ROWS = [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.2, 0.9]]
LABELS = ["a", "b", "a", "a"]
HTTP = _OpenTelemetryStabilitySignalType.HTTP
FASTAPI = "OTEL_PYTHON_FASTAPI_EXCLUDED_URLS"
GENERIC = "OTEL_PYTHON_EXCLUDED_URLS"


def make_app(telemetry: Telemetry) -> FastAPI:
    classifier = LogisticRegression().fit(ROWS, LABELS)
    model = otel_ml.wrap_model(classifier, "m", "1", **telemetry.providers)
    app = FastAPI()

    @app.get("/predict")
    def predict() -> dict[str, str]:
        return {"class": str(model.predict(ROWS[:1])[0])}

    @app.get("/health")
    def health() -> dict[str, bool]:
        return {"ok": True}

    return app


def instrument(
    app: Any, telemetry: Telemetry, handles: list[Instrumentation], **kwargs: Any
) -> Instrumentation:
    kwargs = {"model_name": "m", "model_version": "1", "instrument_sklearn": False, **kwargs}
    handle = otel_ml.instrument(app, **telemetry.providers, **kwargs)
    handles.append(handle)
    return handle


def server_spans(telemetry: Telemetry) -> list[Any]:
    return [s for s in telemetry.spans() if s.kind is SpanKind.SERVER]


def test_settings_are_handed_in_and_keyword_arguments_win(
    telemetry: Telemetry, handles: list[Instrumentation]
) -> None:
    settings = Settings.load(
        environ={"OTEL_ML_PREDICTION_ID_HEADER": "x-pid", "OTEL_ML_MODEL_VERSION": "from-env"}
    )
    app = make_app(telemetry)
    handle = instrument(app, telemetry, handles, model_version="9", settings=settings)
    with TestClient(app) as client:
        response = client.get("/predict")

    assert (handle.model_name, handle.model_version) == ("m", "9")
    (server,) = server_spans(telemetry)
    assert (server.attributes or {})["ml.prediction.id"] == response.headers["x-pid"]
    assert (server.attributes or {})["ml.model.version"] == "9"
    assert "x-prediction-id" not in response.headers


def test_settings_of_another_type_are_refused(telemetry: Telemetry) -> None:
    app = FastAPI()
    with pytest.raises(TypeError, match=r"settings must be an otel_ml\.Settings, got dict"):
        otel_ml.instrument(app, settings={"model_name": "m"})  # type: ignore[arg-type]
    assert app.user_middleware == []


@pytest.mark.parametrize(
    ("environ", "kwargs", "traced"),
    [
        ({GENERIC: "health"}, {}, False),
        ({FASTAPI: "", GENERIC: "health"}, {}, True),  # set, even empty, FastAPI's wins
        ({FASTAPI: "health", GENERIC: ""}, {}, False),
        ({"OTEL_ML_HTTP_EXCLUDED_URLS": "x", FASTAPI: "health"}, {}, True),
        ({"OTEL_ML_HTTP_EXCLUDED_URLS": "health"}, {}, False),
        ({FASTAPI: "health"}, {"excluded_urls": ""}, True),
        ({GENERIC: "health"}, {"http": "contrib"}, False),
        ({GENERIC: "health"}, {"http": "contrib", "excluded_urls": "nothing"}, True),
    ],
)
def test_excluded_urls_follow_the_contrib_precedence(
    telemetry: Telemetry,
    handles: list[Instrumentation],
    environ: dict[str, str],
    kwargs: dict[str, Any],
    traced: bool,
) -> None:
    app = make_app(telemetry)
    instrument(app, telemetry, handles, settings=Settings.load(environ=environ), **kwargs)
    with TestClient(app) as client:
        assert client.get("/health").json() == {"ok": True}
    assert len(server_spans(telemetry)) == int(traced)


def test_instrument_neither_reads_nor_writes_the_environment(
    telemetry: Telemetry, handles: list[Instrumentation], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FASTAPI, "health")  # not the settings: ignored
    before = dict(os.environ)
    app = make_app(telemetry)
    handle = instrument(app, telemetry, handles, http="contrib", settings=Settings.load(environ={}))
    with TestClient(app) as client:
        client.get("/health")
    handle.uninstrument()
    assert dict(os.environ) == before
    assert len(server_spans(telemetry)) == 1


@pytest.fixture
def http_semconv() -> Iterator[dict[Any, Any]]:
    """The contrib stability modes as if read from an unset ``OTEL_SEMCONV_STABILITY_OPT_IN``."""
    stability = _OpenTelemetrySemanticConventionStability
    saved = (stability._initialized, stability._OTEL_SEMCONV_STABILITY_SIGNAL_MAPPING)
    modes = dict.fromkeys(_OpenTelemetryStabilitySignalType, _StabilityMode.DEFAULT)
    stability._OTEL_SEMCONV_STABILITY_SIGNAL_MAPPING = modes
    stability._initialized = True
    yield modes
    stability._initialized, stability._OTEL_SEMCONV_STABILITY_SIGNAL_MAPPING = saved


def test_the_contrib_layer_opts_in_to_stable_http_names_without_the_environment(
    telemetry: Telemetry, handles: list[Instrumentation], http_semconv: dict[Any, Any]
) -> None:
    app = make_app(telemetry)
    instrument(app, telemetry, handles, http="contrib")
    with TestClient(app) as client:
        client.get("/predict")

    assert http_semconv[HTTP] is _StabilityMode.HTTP
    assert telemetry.points("http.server.request.duration") != []
    assert telemetry.points("http.server.duration") == []
    assert http_semconv[_OpenTelemetryStabilitySignalType.DATABASE] is _StabilityMode.DEFAULT


def test_an_http_mode_the_user_chose_stays(http_semconv: dict[Any, Any]) -> None:
    http_semconv[HTTP] = _StabilityMode.HTTP_DUP
    opt_in_stable_http()
    assert http_semconv[HTTP] is _StabilityMode.HTTP_DUP


class Recorder:
    """A part that records what it was asked to do."""

    def __init__(self, name: str, log: list[str], fail: bool = False) -> None:
        self.name, self.log, self.fail = name, log, fail

    def apply(self, app: Starlette) -> None:
        if self.fail:
            raise RuntimeError(f"{self.name} failed")
        self.log.append(f"apply {self.name}")

    def undo(self, app: Starlette) -> None:
        self.log.append(f"undo {self.name}")


def test_the_handle_undoes_its_parts_last_first_and_once() -> None:
    log: list[str] = []
    parts = [Recorder("http", log), Recorder("ml", log), Recorder("route", log)]
    handle = Instrumentation(FastAPI(), parts, "m", "1", "otel_ml")
    handle.uninstrument()
    handle.uninstrument()
    assert log == ["undo route", "undo ml", "undo http"]
    assert (handle.active, handle.http_layer, handle.feedback_route) == (False, "otel_ml", None)


def test_a_part_that_fails_to_apply_takes_back_the_parts_before_it(
    telemetry: Telemetry, handles: list[Instrumentation], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: DriftPage, app: Starlette) -> None:
        raise RuntimeError("no page today")

    monkeypatch.setattr(DriftPage, "apply", broken)
    app = make_app(telemetry)
    lifespan, routes = app.router.lifespan_context, list(app.router.routes)
    with pytest.raises(RuntimeError, match="no page today"):
        instrument(app, telemetry, handles, http="contrib", feedback_route="/fb", drift_page="/d")

    assert (app.user_middleware, app.middleware_stack, app.router.routes) == ([], None, routes)
    assert app.router.lifespan_context is lifespan
    assert not getattr(app, "_is_instrumented_by_opentelemetry", False)
    assert not hasattr(app, "_otel_ml_instrumentation")
    with TestClient(app) as client:
        assert "x-prediction-id" not in client.get("/predict").headers
    assert server_spans(telemetry) == []


def test_the_server_layer_runs_its_inner_layer_inside_the_span(telemetry: Telemetry) -> None:
    def tagging(app: ASGIApp) -> ASGIApp:
        async def inner(scope: Any, receive: Any, send: Any) -> None:
            trace.get_current_span().set_attribute("inner.ran", True)
            await app(scope, receive, send)

        return inner

    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hi")

    server = Middleware(HttpServerMiddleware, inner=tagging, **telemetry.providers)
    app = Starlette(routes=[Route("/hello", hello)], middleware=[server])
    with TestClient(app) as client:
        assert client.get("/hello").text == "hi"

    (span,) = server_spans(telemetry)
    assert (span.name, (span.attributes or {})["inner.ran"]) == ("GET /hello", True)


def test_the_ml_layer_works_alone_under_the_contrib_instrumentation(
    telemetry: Telemetry,
) -> None:
    app = make_app(telemetry)
    app.add_middleware(ModelRequestMiddleware, model_name="m", model_version="1", header="x-id")
    FastAPIInstrumentor.instrument_app(app, **telemetry.providers, exclude_spans=["send"])
    try:
        with TestClient(app) as client:
            response = client.get("/predict")
    finally:
        FastAPIInstrumentor.uninstrument_app(app)

    (server,) = server_spans(telemetry)
    assert server.instrumentation_scope is not None
    assert server.instrumentation_scope.name == "opentelemetry.instrumentation.fastapi"
    attributes = server.attributes or {}
    assert (attributes["ml.model.name"], attributes["ml.model.version"]) == ("m", "1")
    assert attributes["ml.prediction.id"] == response.headers["x-id"]
