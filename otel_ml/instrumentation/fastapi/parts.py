"""The parts :func:`~otel_ml.instrumentation.fastapi.instrument` applies to an app.

Each part has ``apply(app)`` and ``undo(app)``; ``undo`` takes back only what
``apply`` did. Building a part checks its arguments and may raise; applying it
should not, and ``instrument`` takes back the parts already applied if one
does. The HTTP layer of the contrib instrumentation is in
:mod:`~otel_ml.instrumentation.fastapi.contrib`, the drift page is
:class:`~otel_ml.instrumentation.fastapi.drift_route.DriftPage`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from otel_ml._internal import guard
from otel_ml.instrumentation.fastapi.auth import announce_open
from otel_ml.instrumentation.fastapi.feedback_route import FeedbackConfig, feedback_route
from otel_ml.instrumentation.fastapi.http_server import mute_fastapi_telemetry
from otel_ml.instrumentation.fastapi.shutdown import flush_at_shutdown, restore_lifespan
from otel_ml.resources import enable_resource_metrics

if TYPE_CHECKING:
    from pathlib import Path

    from starlette.applications import Starlette
    from starlette.middleware import Middleware

    from otel_ml.config import Settings
    from otel_ml.drift.profile import ReferenceProfile
    from otel_ml.instrumentation.fastapi.app_model import AppModel
    from otel_ml.instrumentation.sklearn import SklearnInstrumentor

__all__ = [
    "AppMiddleware",
    "FeedbackRoute",
    "ModelSetup",
    "MuteFastApiTelemetry",
    "Part",
    "ResourceMetrics",
    "ShutdownFlush",
    "SklearnHook",
]


class Part(Protocol):
    """One thing ``instrument(app)`` turns on, and how to turn it off again."""

    def apply(self, app: Starlette) -> None:
        """Turn it on for ``app``."""

    def undo(self, app: Starlette) -> None:
        """Take back what :meth:`apply` did (called once, after it)."""


class ModelSetup:
    """Part: drift monitoring against ``reference`` and the model on ``ml.model.info``.

    Applied first, so a reference that does not load changes nothing. Nothing
    to undo: like feedback, drift monitoring stays on for the model, whose
    in-process calls keep feeding it.
    """

    def __init__(self, model: AppModel, reference: ReferenceProfile | str | Path | None) -> None:
        self._model = model
        self._reference = reference

    def apply(self, app: Starlette) -> None:
        if self._reference is not None:
            self._model.watch(self._reference)
        self._model.register_info()

    def undo(self, app: Starlette) -> None:
        pass


class MuteFastApiTelemetry:
    """Part of otel_ml's HTTP layer: FastAPI's built-in HTTP spans and metrics off for the app."""

    def __init__(self) -> None:
        self._restore: Callable[[Any], None] | None = None

    def apply(self, app: Starlette) -> None:
        self._restore = mute_fastapi_telemetry(app)

    def undo(self, app: Starlette) -> None:
        if self._restore is not None:
            self._restore(app)


class AppMiddleware:
    """Part: one middleware, outermost of the app's own (the ML layer, inside
    otel_ml's HTTP server layer when that is the HTTP layer)."""

    def __init__(self, entry: Middleware) -> None:
        self.entry = entry

    def apply(self, app: Starlette) -> None:
        app.user_middleware.insert(0, self.entry)

    def undo(self, app: Starlette) -> None:
        app.user_middleware = [m for m in app.user_middleware if m is not self.entry]
        # A running app needs its stack rebuilt now; one that has not started
        # builds it lazily, and must stay unstarted so it can be instrumented again.
        if app.middleware_stack is not None:
            app.middleware_stack = app.build_middleware_stack()


class SklearnHook:
    """Part: the scikit-learn hook, when scikit-learn is installed and the hook is off."""

    def __init__(self, model: AppModel) -> None:
        self._model = model
        self.instrumentor: SklearnInstrumentor | None = None
        """The hook this part turned on; ``None`` when it found it on or could not."""

    def apply(self, app: Starlette) -> None:
        if importlib.util.find_spec("sklearn") is None:
            return
        try:
            from otel_ml.instrumentation.sklearn import SklearnInstrumentor

            instrumentor = SklearnInstrumentor()
            if instrumentor.is_instrumented_by_opentelemetry:
                return
            instrumentor.instrument(
                tracer_provider=self._model.tracer_provider,
                meter_provider=self._model.meter_provider,
            )
        except Exception as exc:
            guard.report("fastapi.sklearn", exc, self._model.internal_errors)
            return
        self.instrumentor = instrumentor

    def undo(self, app: Starlette) -> None:
        if self.instrumentor is not None:
            self.instrumentor.uninstrument()


class ResourceMetrics:
    """Part: the process and GPU metrics the settings allow. Nothing to undo: they
    are process-wide, shared with ``configure()`` and the launcher."""

    def __init__(self, model: AppModel, settings: Settings) -> None:
        self._model = model
        self._settings = settings

    def apply(self, app: Starlette) -> None:
        enable_resource_metrics(self._model.meter_provider, self._settings)

    def undo(self, app: Starlette) -> None:
        pass


class ShutdownFlush:
    """Part: the providers flushed when the app's lifespan ends (see
    :mod:`~otel_ml.instrumentation.fastapi.shutdown`)."""

    def __init__(self, model: AppModel) -> None:
        self._model = model

    def apply(self, app: Starlette) -> None:
        model = self._model
        timeout = model.settings.shutdown_timeout
        flush_at_shutdown(
            app, model.tracer_provider, model.meter_provider, model.internal_errors, timeout
        )

    def undo(self, app: Starlette) -> None:
        restore_lifespan(app)


class FeedbackRoute:
    """Part: a POST route that joins delayed labels to the model's predictions.

    Undo removes the route only: like drift monitoring, feedback stays on for
    the model, so its predictions can still be labelled in-process.
    """

    def __init__(self, app: Starlette, path: str, model: AppModel, settings: Settings) -> None:
        """The route to add, after checking that no route of the app owns ``path``."""
        if any(getattr(route, "path", None) == path for route in app.router.routes):
            raise ValueError(f"feedback_route={path!r}: the app already has a route at that path")
        if model.name is None:
            raise ValueError("instrument(app, feedback_route=...) needs model_name")
        self.path = path
        self._model = model
        self._token = settings.feedback_token
        self._route = feedback_route(
            path,
            FeedbackConfig(
                model.name,
                model.version,
                max_items=settings.feedback_max_items,
                max_body_bytes=settings.feedback_max_body_bytes,
                token=settings.feedback_token,
                tracer_provider=model.tracer_provider,
                meter_provider=model.meter_provider,
                settings=settings,
            ),
        )

    def apply(self, app: Starlette) -> None:
        """Remember the model's predictions; put the route first so no catch-all hides it."""
        self._model.enable_feedback()
        app.router.routes.insert(0, self._route)
        announce_open(self._token, "feedback route", self.path, "OTEL_ML_FEEDBACK_TOKEN")

    def undo(self, app: Starlette) -> None:
        app.router.routes[:] = [r for r in app.router.routes if r is not self._route]
