"""One variant of the server benchmark's app, served by uvicorn on 127.0.0.1.

Run by ``server.py``, one process per variant::

    python benchmarks/_server_app.py VARIANT PORT [--otlp HOST:PORT]

The app is the same in every variant: FastAPI, a fitted scikit-learn
``LogisticRegression`` on 20 features, ``POST /predict`` with a JSON list of
20 floats answered with ``predict_proba``. Only the instrumentation differs.
Without ``--otlp`` the SDK variants export into discarding exporters.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import uvicorn
from fastapi import FastAPI
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, TraceIdRatioBased
from sklearn.linear_model import LogisticRegression

FEATURES = 20
SAMPLED_RATIO = 0.01
METRIC_INTERVAL_MS = 10_000  # collections (and drift scoring) fall inside the measured windows

VARIANTS = (
    "bare",
    "contrib",
    "prometheus",
    "otel_ml",
    "otel_ml_contrib_http",
    "otel_ml_sampled",
    "otel_ml_lean_sampled",
    "sdk_floor",
    "sdk_floor_sampled",
)
SAMPLED = ("otel_ml_sampled", "otel_ml_lean_sampled", "sdk_floor_sampled")
HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]


class DiscardingSpanExporter(SpanExporter):
    """Accepts every batch and drops it."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class DiscardingMetricExporter(MetricExporter):
    """Accepts every collection and drops it."""

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        return None


def training_data() -> tuple[np.ndarray, np.ndarray]:
    """20 normal features and a label that depends on two of them (fixed seed)."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(5000, FEATURES))
    labels = np.where(features[:, 0] + 0.5 * features[:, 1] > 0, "yes", "no")
    return features, labels


def install_sdk(variant: str, otlp: str | None) -> None:
    """Global tracer and meter providers: batch span processor, periodic metric reader
    (for otel_ml variants the cells reader that ``otel_ml.configure()`` builds)."""
    sampler: Sampler | None = (
        ParentBased(TraceIdRatioBased(SAMPLED_RATIO)) if variant in SAMPLED else None
    )
    span_exporter: SpanExporter
    metric_exporter: MetricExporter
    if otlp:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        span_exporter = OTLPSpanExporter(endpoint=otlp, insecure=True)
        metric_exporter = OTLPMetricExporter(endpoint=otlp, insecure=True)
    else:
        span_exporter, metric_exporter = DiscardingSpanExporter(), DiscardingMetricExporter()
    resource = Resource.create({"service.name": f"bench-{variant}"})
    tracer_provider = TracerProvider(resource=resource, sampler=sampler)
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
    trace.set_tracer_provider(tracer_provider)
    if variant.startswith("otel_ml"):
        # What otel_ml.configure() builds: otel_ml's histograms record into cells.
        from otel_ml.sdk import cells_meter_provider

        metrics.set_meter_provider(
            cells_meter_provider(
                [metric_exporter], resource=resource, export_interval_millis=METRIC_INTERVAL_MS
            )
        )
        return
    reader = PeriodicExportingMetricReader(
        metric_exporter, export_interval_millis=METRIC_INTERVAL_MS
    )
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[reader]))


class FloorHttp:
    """The least an HTTP server instrumentation emitting a server span and
    ``http.server.request.duration`` can do: a pure ASGI middleware with no
    options, no propagation, no route lookup (the one route is known)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.tracer = trace.get_tracer("bench.floor")
        self.duration = metrics.get_meter("bench.floor").create_histogram(
            "http.server.request.duration",
            unit="s",
            explicit_bucket_boundaries_advisory=HTTP_BUCKETS,
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def send_status(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        attrs: dict[str, str | int] = {"http.request.method": scope["method"], "url.scheme":
                                       scope["scheme"], "http.route": "/predict"}  # fmt: skip
        with self.tracer.start_as_current_span(
            f"{scope['method']} /predict",
            kind=trace.SpanKind.SERVER,
            attributes={**attrs, "url.path": scope["path"]},
        ) as span:
            await self.app(scope, receive, send_status)
            span.set_attribute("http.response.status_code", status[0])
        self.duration.record(
            time.perf_counter() - start, {**attrs, "http.response.status_code": status[0]}
        )


def floor_inference(model: Any) -> Any:
    """``model.predict_proba`` in the least an inference instrumentation emitting
    otel_ml's span attributes and its two histograms can do."""
    tracer = trace.get_tracer("bench.floor")
    meter = metrics.get_meter("bench.floor")
    duration = meter.create_histogram("ml.inference.duration", unit="s")
    confidence = meter.create_histogram("ml.prediction.confidence", unit="1")
    attrs = {
        "ml.model.name": "bench",
        "ml.model.version": "1",
        "ml.operation.name": "predict_proba",
    }
    start_attrs: dict[str, str | int] = {**attrs, "ml.prediction.id": "0" * 32, "ml.batch.size": 1}

    def predict_proba(rows: np.ndarray) -> np.ndarray:
        with tracer.start_as_current_span("predict_proba bench", attributes=start_attrs) as span:
            start = time.perf_counter()
            out: np.ndarray = model.predict_proba(rows)
            duration.record(time.perf_counter() - start, attrs)
            best = float(out[0].max())
            confidence.record(best, attrs)
            span.set_attributes({"ml.prediction.class": str(model.classes_[int(out[0].argmax())]),
                                 "ml.prediction.confidence": best})  # fmt: skip
        return out

    return predict_proba


def build_app(variant: str, otlp: str | None) -> FastAPI:
    """The app with ``variant``'s instrumentation applied."""
    features, labels = training_data()
    model = LogisticRegression().fit(features, labels)
    app = FastAPI()
    floor = None
    if variant.startswith("sdk_floor"):
        from otel_ml.instrumentation.fastapi.http_server import mute_fastapi_telemetry

        install_sdk(variant, otlp)
        floor = floor_inference(model)
        app.add_middleware(FloorHttp)
        mute_fastapi_telemetry(app)  # FastAPI's own spans and metrics would be extra telemetry

    @app.post("/predict")
    async def predict(values: list[float]) -> dict[str, Any]:
        # Looked up per request, as endpoints do: the one-liner patches the
        # class after start-up, and a method bound before that would bypass it.
        infer = model.predict_proba if floor is None else floor
        probabilities = infer(np.asarray([values]))[0]
        best = int(np.argmax(probabilities))
        return {"class": str(model.classes_[best]), "confidence": float(probabilities[best])}

    if variant == "prometheus":
        # Only in the peer's virtualenv, on PYTHONPATH for this variant.
        from prometheus_fastapi_instrumentator import Instrumentator  # type: ignore[import-not-found]

        Instrumentator().instrument(app).expose(app)
    elif variant != "bare" and not variant.startswith("sdk_floor"):
        install_sdk(variant, otlp)
    if variant == "contrib":
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app)
    elif variant.startswith("otel_ml"):
        import otel_ml
        from otel_ml.drift.profile import ReferenceProfile

        profile = ReferenceProfile.fit(
            features,
            predictions=model.predict(features),
            scores=model.predict_proba(features).max(axis=1),
        )
        extra: dict[str, Any] = {"reference": profile, "feedback_route": "/feedback"}
        if variant == "otel_ml_contrib_http":
            extra["http"] = "contrib"
        elif variant == "otel_ml_lean_sampled":
            extra = {}  # the one-liner's defaults: no reference profile, no feedback route
        otel_ml.instrument(app, "bench", "1", **extra)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Serve one variant until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=VARIANTS)
    parser.add_argument("port", type=int)
    parser.add_argument("--otlp", help="OTLP/gRPC endpoint (host:port) of a collector")
    args = parser.parse_args(argv)
    app = build_app(args.variant, args.otlp)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
