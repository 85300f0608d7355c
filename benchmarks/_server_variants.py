"""The rows of the server benchmark (``server.py``): its variants, the ratios it
reports as context and issue 23's targets. Each variant's instrumentation is
applied by ``_server_app.py``, under the same name."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    """A row of the table."""

    name: str
    label: str
    emits: str


VARIANTS = (
    Variant("bare", "bare", "nothing"),
    Variant(
        "contrib",
        "contrib FastAPI instrumentation, defaults",
        "4 spans per request (server + ASGI receive/send), 4 HTTP metrics",
    ),
    Variant(
        "prometheus",
        "prometheus-fastapi-instrumentator",
        "HTTP metrics on /metrics, no traces",
    ),
    Variant(
        "otel_ml",
        "otel_ml full, traces 100%",
        "server span + inference span, `http.server.request.duration`, ML metrics, "
        "drift, feedback store",
    ),
    Variant(
        "otel_ml_contrib_http",
        'otel_ml full, traces 100%, `http="contrib"`',
        "the same, HTTP layer from the contrib instrumentation (1 server span, its 4 HTTP metrics)",
    ),
    Variant(
        "otel_ml_sampled",
        "otel_ml full, traces 1% (ParentBased(TraceIdRatioBased(0.01)))",
        "the same metrics, drift and feedback; 1% of the spans",
    ),
    Variant(
        "otel_ml_lean_sampled",
        "otel_ml one-liner without drift and feedback, traces 1%",
        "server span + inference span (1% of them), `http.server.request.duration`, ML metrics",
    ),
    Variant(
        "sdk_floor",
        "SDK floor, traces 100% (hand-written, not a product)",
        "server span + inference span with otel_ml's attributes, `http.server.request.duration`, "
        "inference duration and confidence histograms; no ML extras",
    ),
    Variant(
        "sdk_floor_sampled",
        "SDK floor, traces 1%",
        "the same, 1% of the spans",
    ),
)
# (numerator, denominator, what it says): context for the targets, not targets
BOUNDS = (
    ("sdk_floor", "contrib", "the SDK floor at 100% tracing vs the contrib instrumentation"),
    ("sdk_floor_sampled", "bare", "the SDK floor at 1% tracing vs bare"),
    ("otel_ml", "sdk_floor", "otel_ml at 100% tracing vs the SDK floor at 100%"),
    ("otel_ml_sampled", "sdk_floor_sampled", "otel_ml at 1% tracing vs the SDK floor at 1%"),
    ("otel_ml_lean_sampled", "bare", "otel_ml without drift and feedback at 1% vs bare"),
    (
        "otel_ml_lean_sampled",
        "prometheus",
        "otel_ml without drift and feedback at 1% vs prometheus-fastapi-instrumentator",
    ),
)
# (numerator, denominator, target ratio, what it says): issue 23's targets
TARGETS = (
    ("otel_ml", "contrib", 1.5, "otel_ml at 100% tracing vs the contrib instrumentation"),
    ("otel_ml_sampled", "bare", 0.9, "otel_ml at 1% tracing vs bare"),
    (
        "otel_ml_sampled",
        "prometheus",
        1.0,
        "otel_ml at 1% tracing vs prometheus-fastapi-instrumentator",
    ),
)
