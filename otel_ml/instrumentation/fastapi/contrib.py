"""The contrib FastAPI instrumentation as the one-liner's HTTP layer (``http="contrib"``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otel_ml._internal import guard

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter
    from starlette.applications import Starlette

    from otel_ml.instrumentation.fastapi.app_model import AppModel

__all__ = ["CONTRIB_ATTRIBUTE", "ContribHttpLayer", "fastapi_instrumentor", "opt_in_stable_http"]

CONTRIB_ATTRIBUTE = "_is_instrumented_by_opentelemetry"
"""Set on an app the contrib FastAPI instrumentation traces (also by the launcher)."""
COMPONENT = "fastapi.contrib"
_PIP_HINT = "pip install 'otel-ml[fastapi]'"


def fastapi_instrumentor() -> Any:
    """The contrib ``FastAPIInstrumentor`` class; an ImportError with the pip hint
    when FastAPI or its instrumentation is missing."""
    try:
        import fastapi  # noqa: F401 - the one-liner is for FastAPI apps
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    except ImportError as exc:
        raise ImportError(
            f"otel_ml.instrument(app) needs FastAPI and its OpenTelemetry "
            f"instrumentation: {_PIP_HINT}"
        ) from exc
    return FastAPIInstrumentor


class ContribHttpLayer:
    """Part: the app instrumented by the contrib FastAPI instrumentation."""

    def __init__(self, model: AppModel, excluded_urls: str, asgi_spans: bool) -> None:
        self._instrumentor = fastapi_instrumentor()
        self._options: dict[str, Any] = {
            "tracer_provider": model.tracer_provider,
            "meter_provider": model.meter_provider,
            "excluded_urls": excluded_urls,
            "exclude_spans": None if asgi_spans else ["receive", "send"],
        }
        self._errors = model.internal_errors

    def apply(self, app: Starlette) -> None:
        """Opt in to the stable HTTP conventions, then instrument the app."""
        opt_in_stable_http(self._errors)
        self._instrumentor.instrument_app(app, **self._options)

    def undo(self, app: Starlette) -> None:
        """Uninstrument the app; one that has not started stays unstarted."""
        if not getattr(app, CONTRIB_ATTRIBUTE, False):
            return
        started = app.middleware_stack is not None
        self._instrumentor.uninstrument_app(app)  # it builds the middleware stack
        if not started:
            app.middleware_stack = None


def opt_in_stable_http(internal_errors: Counter | None = None) -> None:
    """Have the contrib HTTP instrumentations emit the stable HTTP conventions
    (``http.server.request.duration`` in seconds), unless the user chose an HTTP
    mode (``http`` or ``http/dup`` in ``OTEL_SEMCONV_STABILITY_OPT_IN``).

    The contrib packages read that variable once per process into
    ``_OpenTelemetrySemanticConventionStability``; the HTTP mode is set there,
    after their own reading, rather than in the environment: a variable written
    now is ignored if anything read it before, and leaks into child processes.
    Like the variable, it holds for the process, for instrumentations created
    from now on. It is private contrib state, so a contrib release without it
    is reported to the guard and leaves the contrib default.
    """
    try:
        from opentelemetry.instrumentation._semconv import (
            _OpenTelemetrySemanticConventionStability as Stability,
        )
        from opentelemetry.instrumentation._semconv import (
            _OpenTelemetryStabilitySignalType as Signal,
        )
        from opentelemetry.instrumentation._semconv import _StabilityMode as Mode

        Stability._initialize()  # type: ignore[no-untyped-call]  # contrib's, untyped
        with Stability._lock:
            modes = Stability._OTEL_SEMCONV_STABILITY_SIGNAL_MAPPING
            if modes.get(Signal.HTTP, Mode.DEFAULT) == Mode.DEFAULT:
                modes[Signal.HTTP] = Mode.HTTP
    except (ImportError, AttributeError) as exc:
        guard.report(COMPONENT, exc, internal_errors)
