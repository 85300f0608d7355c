"""The ML layer for FastAPI apps under ``opentelemetry-instrument`` (entry point
``otel_ml_fastapi``): zero-code parity with ``otel_ml.instrument(app)``.

The contrib FastAPI instrumentation gives every app its server span; this
hook adds, when an app first builds its middleware stack, the ML layer inside
that span (the request's prediction id in the ``x-prediction-id`` header and
on the span, the model from ``OTEL_ML_MODEL_NAME``/``_VERSION``), and has the
contrib layer emit the stable HTTP conventions (``http.server.request.duration``,
which the dashboard and alert rules read). An app that ``otel_ml.instrument``
already instrumented is left to it.
"""

from __future__ import annotations

from typing import Any

import wrapt
from starlette.middleware import Middleware

from otel_ml.config import Settings
from otel_ml.inference.instruments import InferenceTelemetry
from otel_ml.instrumentation._patching import (
    Args,
    Kwargs,
    PatchingInstrumentor,
    Target,
    Wrapped,
    replace_all,
)
from otel_ml.instrumentation.fastapi.contrib import opt_in_stable_http
from otel_ml.instrumentation.fastapi.middleware import (
    INSTRUMENTED_ATTRIBUTE,
    ModelRequestMiddleware,
    layer_options,
)

__all__ = ["FastAPIModelInstrumentor"]

_ADDED = "_otel_ml_ml_layer"


class _PatchedBuild(wrapt.FunctionWrapper):  # type: ignore[type-arg]
    """Marks ``FastAPI.build_middleware_stack`` as patched by otel_ml."""


class FastAPIModelInstrumentor(PatchingInstrumentor):
    """Adds otel_ml's ML layer to FastAPI apps (``instrument()`` takes
    ``tracer_provider``, ``meter_provider`` and ``settings``)."""

    library = "fastapi"
    instruments = ("fastapi >= 0.100",)
    patch_on_import = "fastapi"

    def _patch(self, settings: Settings, options: dict[str, Any]) -> list[Target]:
        import fastapi

        telemetry = InferenceTelemetry.of(
            options.get("tracer_provider"), options.get("meter_provider")
        )
        opt_in_stable_http(telemetry.internal_errors)
        layer = Middleware(
            ModelRequestMiddleware, **layer_options(settings, telemetry.internal_errors)
        )
        # The class that defines it: under the launcher, fastapi.FastAPI may be
        # the contrib instrumentation's subclass of it.
        owner = next(c for c in fastapi.FastAPI.__mro__ if "build_middleware_stack" in c.__dict__)
        original = owner.__dict__["build_middleware_stack"]
        if isinstance(original, _PatchedBuild):
            return []
        wrapper = _PatchedBuild(original, _with_ml_layer(layer))
        return replace_all([(owner, "build_middleware_stack", original, wrapper)])


def _with_ml_layer(layer: Middleware) -> Any:
    def build(wrapped: Wrapped, app: Any, args: Args, kwargs: Kwargs) -> Any:
        if not getattr(app, INSTRUMENTED_ATTRIBUTE, None) and not getattr(app, _ADDED, False):
            # Last in the list is innermost: inside the contrib server span.
            app.user_middleware.append(layer)
            setattr(app, _ADDED, True)
        return wrapped(*args, **kwargs)

    return build
