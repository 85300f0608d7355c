"""Flush telemetry when the app's lifespan ends.

Servers do not always run the SDK's ``atexit`` shutdown: uvicorn (0.29 and
later) re-raises the SIGTERM it handled once the app has shut down, so the
process dies by the signal and the spans still queued and the metrics
recorded since the last export are lost. The app's lifespan shutdown is the
last moment the server surely gives the app, so the providers in effect are
flushed there, after the app's own shutdown code, within
``OTEL_ML_SHUTDOWN_TIMEOUT`` whatever the collector does (what could not be
sent is counted and logged once).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import Counter

from otel_ml._internal import guard
from otel_ml.sdk._deadline import run_by_deadline
from otel_ml.sdk._install import configured_handle

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["flush_at_shutdown", "restore_lifespan"]

COMPONENT = "fastapi.shutdown"
_ORIGINAL_ATTRIBUTE = "_otel_ml_original_lifespan"

Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]


def flush_at_shutdown(
    app: Starlette,
    tracer_provider: trace.TracerProvider | None,
    meter_provider: metrics.MeterProvider | None,
    internal_errors: Counter,
    timeout_s: float,
) -> None:
    """Wrap the app's lifespan so the providers (``None``: the global ones) flush at its end,
    within ``timeout_s`` seconds."""
    router = app.router
    original: Lifespan = router.lifespan_context

    @asynccontextmanager
    async def lifespan(scope_app: Any) -> AsyncIterator[Any]:
        try:
            async with original(scope_app) as state:
                yield state
        finally:
            _flush(tracer_provider, meter_provider, internal_errors, timeout_s)

    setattr(lifespan, _ORIGINAL_ATTRIBUTE, original)
    router.lifespan_context = lifespan


def restore_lifespan(app: Starlette) -> None:
    """Undo :func:`flush_at_shutdown` (no-op if the lifespan is not ours)."""
    original = getattr(app.router.lifespan_context, _ORIGINAL_ATTRIBUTE, None)
    if original is not None:
        app.router.lifespan_context = original


def _flush(
    tracer_provider: trace.TracerProvider | None,
    meter_provider: metrics.MeterProvider | None,
    internal_errors: Counter,
    timeout_s: float,
) -> None:
    # configure()'s exporters skip an endpoint that refuses connections rather
    # than hold the server's exit through their retries.
    handle = configured_handle()
    providers = (
        tracer_provider or trace.get_tracer_provider(),
        meter_provider or metrics.get_meter_provider(),
    )

    def flush() -> None:
        with handle.skipping_unreachable() if handle else nullcontext():
            # Spans first: their export may record metrics that the metric flush then carries.
            for provider in providers:
                force_flush = getattr(provider, "force_flush", None)
                if force_flush is not None:  # None: the API's no-op and proxy providers
                    force_flush(timeout_millis=int(timeout_s * 1000))

    try:
        run_by_deadline(flush, timeout_s, handle.watched if handle else ())
    except Exception as exc:
        guard.report(COMPONENT, exc, internal_errors)
