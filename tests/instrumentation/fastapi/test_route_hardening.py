"""The one-liner against hostile clients: tokens and start-up warnings of its own routes,
strings no exporter can encode (lone surrogates, through a real OTLP/HTTP exporter),
request strings too long for a span."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from otlp_receiver import HttpReceiver
from support import Telemetry

import otel_ml
from otel_ml import Settings, semconv
from otel_ml.feedback.stores.registry import use_prediction_store
from otel_ml.instrumentation.fastapi import Instrumentation
from otel_ml.instrumentation.fastapi.http_server import MAX_VALUE_CHARS

OPEN = "accepts requests from anyone"


@pytest.fixture(autouse=True)
def _own_store() -> Iterator[None]:
    previous = use_prediction_store(None)
    yield
    use_prediction_store(previous)


def _app(
    telemetry: Telemetry, handles: list[Instrumentation], name: str, **environ: str
) -> FastAPI:
    app = FastAPI()
    handles.append(
        otel_ml.instrument(
            app,
            name,
            feedback_route="/feedback",
            drift_page="/ml/drift",
            instrument_sklearn=False,
            settings=Settings.load(environ=environ),
            **telemetry.providers,
        )
    )
    return app


def test_open_routes_are_announced_once_at_start_up(
    telemetry: Telemetry, handles: list[Instrumentation], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "otel_ml")
    app = _app(telemetry, handles, "open-routes")
    with TestClient(app) as client:
        for _ in range(3):
            client.post("/feedback", json={"prediction_id": "x", "actual": 1})
            assert client.get("/ml/drift?format=json").status_code == 200
    said = [r.getMessage() for r in caplog.records if OPEN in r.getMessage()]
    assert len(said) == 2, said
    assert "feedback route at /feedback" in said[0] and "OTEL_ML_FEEDBACK_TOKEN" in said[0]
    assert "drift page at /ml/drift" in said[1] and "OTEL_ML_DRIFT_PAGE_TOKEN" in said[1]


@pytest.mark.parametrize(
    ("environ", "page_token"),
    [
        ({"OTEL_ML_FEEDBACK_TOKEN": "labels"}, "labels"),
        ({"OTEL_ML_FEEDBACK_TOKEN": "labels", "OTEL_ML_DRIFT_PAGE_TOKEN": "page"}, "page"),
    ],
    ids=["feedback-token", "own-token"],
)
def test_the_drift_page_needs_its_token_or_the_feedback_one(
    environ: dict[str, str],
    page_token: str,
    telemetry: Telemetry,
    handles: list[Instrumentation],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "otel_ml")
    app = _app(telemetry, handles, f"closed-{page_token}", **environ)
    with TestClient(app) as client:
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": page_token}):
            refused = client.get("/ml/drift", headers=headers)
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"] == 'Bearer realm="otel-ml drift page"'
            assert "bearer token" in refused.text and "<" not in refused.text
        shown = client.get("/ml/drift", headers={"authorization": f"Bearer {page_token}"})
        assert shown.status_code == 200 and "<html" in shown.text.lower()
        labelled = client.post(
            "/feedback",
            json={"prediction_id": "x", "actual": 1},
            headers={"authorization": "Bearer labels"},
        )
        assert labelled.status_code == 200
    assert not [r for r in caplog.records if OPEN in r.getMessage()]


@pytest.fixture
def otlp_telemetry(telemetry: Telemetry) -> Iterator[tuple[Telemetry, HttpReceiver]]:
    """Spans through the real OTLP/HTTP exporter (and its encoder) to a loopback receiver."""
    with HttpReceiver() as receiver:
        provider = TracerProvider()
        exporter = OTLPSpanExporter(endpoint=f"{receiver.endpoint}/v1/traces")
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        yield (
            Telemetry(provider, telemetry.meter_provider, telemetry.exporter, telemetry.reader),
            receiver,
        )
        provider.shutdown()


def test_lone_surrogates_are_refused_at_the_route_and_log_nothing(
    otlp_telemetry: tuple[Telemetry, HttpReceiver],
    handles: list[Instrumentation],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """1000 labels (about 40 kB) with lone surrogates: one 422 naming the first, no log
    line per item (it was about 1 MB of exporter tracebacks)."""
    telemetry, _ = otlp_telemetry
    app = _app(telemetry, handles, "surrogates", OTEL_ML_FEEDBACK_TOKEN="t")
    caplog.set_level(logging.INFO)
    items = [{"prediction_id": f"\ud800{i}", "actual": "cat\udc00"} for i in range(1000)]
    body = json.dumps(items)  # JSON escapes the surrogates: "\ud800"
    with TestClient(app) as client:
        answer = client.post("/feedback", content=body, headers={"authorization": "Bearer t"})
        row = client.post(
            "/feedback",
            content=json.dumps({"prediction_id": "a", "actual": ["ok", "b\ud800d"]}),
            headers={"authorization": "Bearer t"},
        )
    assert answer.status_code == 422
    assert answer.json() == {
        "detail": "items[0].prediction_id: not valid Unicode (a lone surrogate at character 0)"
    }
    assert row.status_code == 422
    assert row.json()["detail"] == "actual[1]: not valid Unicode (a lone surrogate at character 1)"
    logged = sum(len(r.getMessage()) + len(r.exc_text or "") for r in caplog.records)
    assert logged < 2000, [r.getMessage() for r in caplog.records][:5]


def test_record_feedback_cleans_an_id_no_exporter_could_encode(
    otlp_telemetry: tuple[Telemetry, HttpReceiver], caplog: pytest.LogCaptureFixture
) -> None:
    """In-process labels are never refused: the id is cleaned, the span exported with it."""
    telemetry, receiver = otlp_telemetry
    caplog.set_level(logging.INFO)
    for i in range(1000):
        outcome = otel_ml.record_feedback(
            f"\ud800{i}", "cat\udc00", model_name="surrogate-labels", **telemetry.providers
        )
        assert outcome == "unknown"
    telemetry.tracer_provider.force_flush()
    ids = [
        next(kv.value.string_value for kv in span.attributes if kv.key == semconv.ML_PREDICTION_ID)
        for _, span in receiver.spans()
    ]
    assert len(ids) == 1000
    assert ids[:2] == ["?0", "?1"]  # outputs.extract.encodable, as for class labels
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_long_request_strings_are_capped_on_the_server_span(
    telemetry: Telemetry, handles: list[Instrumentation]
) -> None:
    app = FastAPI()

    @app.get("/{path:path}")
    def anything(path: str) -> dict[str, int]:
        return {"length": len(path)}

    handles.append(
        otel_ml.instrument(app, "capped", instrument_sklearn=False, **telemetry.providers)
    )
    with TestClient(app) as client:
        long = "a" * 10_000
        answer = client.get(f"/{long}?q={long}", headers={"user-agent": "u" * 10_240})
    assert answer.json() == {"length": 10_000}
    attributes = telemetry.span("GET /{path}").attributes or {}
    for key in ("user_agent.original", "url.path", "url.query"):
        assert len(attributes[key]) == MAX_VALUE_CHARS, key
    assert attributes["user_agent.original"] == "u" * MAX_VALUE_CHARS
