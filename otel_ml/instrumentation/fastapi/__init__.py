"""``otel_ml.instrument(app, ...)``: the FastAPI one-liner.

Two layers. The HTTP layer (one server span per request and
``http.server.request.duration``) is by default otel_ml's own
:class:`~otel_ml.instrumentation.fastapi.http_server.HttpServerMiddleware`,
with ``http="contrib"`` the contrib FastAPI instrumentation; it is applied only
when the app is not instrumented already, e.g. by ``opentelemetry-instrument``.
The ML layer is
:class:`~otel_ml.instrumentation.fastapi.middleware.ModelRequestMiddleware`,
inside the server span: per request a prediction id scope, model attributes on
the server span, and the ``x-prediction-id`` response header. Opt-in, a
feedback route (:mod:`~otel_ml.instrumentation.fastapi.feedback_route`) takes
delayed labels for the app's model, and a drift page
(:mod:`~otel_ml.instrumentation.fastapi.drift_route`) shows its drift monitor.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import Counter
from opentelemetry.util.http import ExcludeList, parse_excluded_urls

from otel_ml._internal import guard
from otel_ml.config import get_settings
from otel_ml.inference.instruments import inference_telemetry
from otel_ml.inference.invocation import ModelContext, model_context
from otel_ml.inference.scope import check_name
from otel_ml.instrumentation.fastapi.drift_route import DriftPage
from otel_ml.instrumentation.fastapi.feedback_route import FeedbackConfig, feedback_route
from otel_ml.instrumentation.fastapi.http_server import (
    HttpServerMiddleware,
    mute_fastapi_telemetry,
)
from otel_ml.instrumentation.fastapi.middleware import ModelRequestMiddleware
from otel_ml.instrumentation.fastapi.paths import check_route_path
from otel_ml.instrumentation.fastapi.shutdown import flush_at_shutdown, restore_lifespan
from otel_ml.resources import enable_resource_metrics, register_model_info

if TYPE_CHECKING:
    from pathlib import Path

    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.routing import BaseRoute

    from otel_ml.drift.profile import ReferenceProfile
    from otel_ml.instrumentation.sklearn import SklearnInstrumentor

__all__ = ["Instrumentation", "instrument"]

_HANDLE_ATTRIBUTE = "_otel_ml_instrumentation"
_CONTRIB_ATTRIBUTE = "_is_instrumented_by_opentelemetry"
_PIP_HINT = "pip install 'otel-ml[fastapi]'"


class Instrumentation:
    """What :func:`instrument` turned on for one app; :meth:`uninstrument` undoes it.

    Only what this call applied is undone: an HTTP instrumentation that was
    already there (``opentelemetry-instrument``) and a scikit-learn hook that
    was already on stay as they were. Like drift monitoring, feedback stays on
    for the model: its predictions can still be labelled in-process.
    """

    def __init__(
        self,
        app: Starlette,
        middleware: Middleware,
        model_name: str | None,
        model_version: str,
        http_undo: Callable[[Any], None] | None,
        sklearn: SklearnInstrumentor | None,
        feedback: _Feedback | None = None,
        drift_page: DriftPage | None = None,
        http_layer: str | None = None,
    ) -> None:
        self._app: Starlette | None = app
        self._middleware = middleware
        self._http_undo = http_undo
        self._sklearn = sklearn
        self._feedback = feedback
        self._drift_page = drift_page
        self._http_layer = http_layer
        self.model_name = model_name
        self.model_version = model_version

    @property
    def active(self) -> bool:
        """Whether the instrumentation is still applied."""
        return self._app is not None

    @property
    def instrumented_http(self) -> bool:
        """Whether this call applied an HTTP server layer (see :attr:`http_layer`)."""
        return self._http_layer is not None

    @property
    def http_layer(self) -> str | None:
        """``"otel_ml"`` or ``"contrib"``: the HTTP server layer this call applied;
        None when the app was already instrumented (e.g. by the launcher)."""
        return self._http_layer

    @property
    def instrumented_sklearn(self) -> bool:
        """Whether this call turned the scikit-learn hook on."""
        return self._sklearn is not None

    @property
    def feedback_route(self) -> str | None:
        """The path of the feedback route this call added, if any."""
        return self._feedback.path if self._feedback is not None else None

    @property
    def drift_page(self) -> str | None:
        """The path of the drift page this call added, if any."""
        return self._drift_page.path if self._drift_page is not None else None

    def uninstrument(self) -> None:
        """Remove the middleware, the feedback route and the drift page and undo what
        :func:`instrument` applied; idempotent."""
        app, self._app = self._app, None
        if app is None:
            return
        started = app.middleware_stack is not None
        app.user_middleware = [m for m in app.user_middleware if m is not self._middleware]
        if self._http_undo is not None:
            self._http_undo(app)
        # A running app needs its stack rebuilt now; one that has not started
        # builds it lazily, and must stay unstarted so it can be instrumented again.
        app.middleware_stack = app.build_middleware_stack() if started else None
        restore_lifespan(app)
        if self._sklearn is not None:
            self._sklearn.uninstrument()
        if self._feedback is not None:
            self._feedback.undo(app)
        if self._drift_page is not None:
            self._drift_page.undo(app)
        if getattr(app, _HANDLE_ATTRIBUTE, None) is self:
            delattr(app, _HANDLE_ATTRIBUTE)

    def __repr__(self) -> str:
        state = "active" if self.active else "undone"
        return f"<Instrumentation {self.model_name!r} {self.model_version!r} {state}>"


def instrument(
    app: Any,
    model_name: str | None = None,
    model_version: str | None = None,
    *,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
    http_asgi_spans: bool | None = None,
    http: str | None = None,
    instrument_sklearn: bool | None = None,
    excluded_urls: str | None = None,
    reference: ReferenceProfile | str | Path | None = None,
    feedback_route: str | None = None,
    drift_page: str | None = None,
) -> Instrumentation:
    """Instrument a FastAPI (or Starlette) app for model serving; returns the undo handle.

    One HTTP server span per request, the HTTP server metrics, the model on the
    server span and the request's prediction id in the ``x-prediction-id``
    response header and on the server span. With ``instrument_sklearn``
    scikit-learn estimators are instrumented too. ``http`` picks the HTTP layer:
    ``"otel_ml"`` (one lean middleware, span and ``http.server.request.duration``)
    or ``"contrib"`` (the contrib FastAPI instrumentation and its four HTTP
    metrics; ``http_asgi_spans=True`` keeps its ASGI ``receive``/``send`` spans
    and selects it). Unset arguments come from the
    ``OTEL_ML_*`` settings; ``excluded_urls`` is the contrib comma separated
    list of URL regexes. ``reference`` (a reference profile or the path of its
    JSON) monitors the model's inputs and outputs for drift; it needs
    ``model_name``. ``feedback_route`` (a path such as ``"/feedback"``) keeps
    the model's recent predictions and adds a POST route that joins delayed
    labels to them; it needs ``model_name`` too. ``drift_page`` (a path such
    as ``"/ml/drift"``) adds a GET route showing the model's drift monitor as
    an HTML page, or JSON with ``?format=json``. Call it before the app starts
    serving. Calling it again for the same app returns the first call's handle
    unchanged. When the app's lifespan ends, the tracer and meter providers
    are flushed (:mod:`~otel_ml.instrumentation.fastapi.shutdown`).
    """
    instrumentor = _fastapi_instrumentor()
    _check_app(app)
    settings = get_settings().replace(
        http_asgi_spans=http_asgi_spans,
        http_instrumentation=http,
        instrument_sklearn=instrument_sklearn,
    )
    if excluded_urls is not None and not isinstance(excluded_urls, str):
        raise TypeError(f"excluded_urls must be a comma separated string, got {excluded_urls!r}")
    if feedback_route is not None:
        feedback_route = check_route_path("feedback_route", feedback_route, "/feedback")
    if drift_page is not None:
        drift_page = check_route_path("drift_page", drift_page, "/ml/drift")
    config = _Config(
        settings.model_name if model_name is None else check_name("model_name", model_name),
        settings.model_version
        if model_version is None
        else check_name("model_version", model_version),
        settings.prediction_id_header,
        settings.http_asgi_spans,
        settings.instrument_sklearn,
        excluded_urls,
        tracer_provider,
        meter_provider,
        _http_layer(settings.http_instrumentation, settings.http_asgi_spans, explicit=http),
    )
    existing = getattr(app, _HANDLE_ATTRIBUTE, None)
    if isinstance(existing, Instrumentation) and existing.active:
        return existing
    if app.middleware_stack is not None:
        raise RuntimeError(
            "otel_ml.instrument() must be called before the app starts serving "
            "(Starlette cannot add middleware to a running app): call it right after "
            "creating the app"
        )
    for argument, value in (("reference", reference), ("feedback_route", feedback_route)):
        if value is not None and config.model_name is None:
            raise ValueError(
                f"instrument(app, {argument}=...) needs model_name (or OTEL_ML_MODEL_NAME)"
            )
    feedback = _Feedback.check(app, feedback_route, config) if feedback_route else None
    page = _drift_page(app, drift_page, feedback_route, config) if drift_page else None
    if reference is not None:
        config.model().watch(reference)
    handle = _apply(app, instrumentor, config, feedback, page)
    setattr(app, _HANDLE_ATTRIBUTE, handle)
    return handle


@dataclass(frozen=True)
class _Config:
    model_name: str | None
    model_version: str
    header: str
    asgi_spans: bool
    sklearn: bool
    excluded_urls: str | None
    tracer_provider: trace.TracerProvider | None
    meter_provider: metrics.MeterProvider | None
    http_layer: str = "otel_ml"

    @property
    def internal_errors(self) -> Counter:
        return inference_telemetry(self.tracer_provider, self.meter_provider).internal_errors

    def model(self) -> ModelContext:
        """The app's model context (needs ``model_name``)."""
        assert self.model_name is not None
        telemetry = inference_telemetry(self.tracer_provider, self.meter_provider)
        return model_context(self.model_name, self.model_version, telemetry)


class _Feedback:
    """The feedback route of one app and the model it labels."""

    def __init__(self, path: str, route: BaseRoute, model: ModelContext) -> None:
        self.path = path
        self.route = route
        self.model = model

    @classmethod
    def check(cls, app: Starlette, path: str, config: _Config) -> _Feedback:
        """The route to add, after checking that no route of the app owns ``path``."""
        if any(getattr(route, "path", None) == path for route in app.router.routes):
            raise ValueError(f"feedback_route={path!r}: the app already has a route at that path")
        settings = get_settings()
        assert config.model_name is not None
        feedback_config = FeedbackConfig(
            config.model_name,
            config.model_version,
            max_items=settings.feedback_max_items,
            max_body_bytes=settings.feedback_max_body_bytes,
            token=settings.feedback_token,
            tracer_provider=config.tracer_provider,
            meter_provider=config.meter_provider,
        )
        return cls(path, feedback_route(path, feedback_config), config.model())

    def apply(self, app: Starlette) -> None:
        """Remember the model's predictions; put the route first so no catch-all hides it."""
        self.model.enable_feedback()
        app.router.routes.insert(0, self.route)

    def undo(self, app: Starlette) -> None:
        """Remove the route (records of remembered predictions stay joinable)."""
        app.router.routes[:] = [r for r in app.router.routes if r is not self.route]


def _drift_page(app: Starlette, path: str, feedback: str | None, config: _Config) -> DriftPage:
    """The drift page; it looks the model's monitor up per request, so a monitor
    added later (``wrap_model(..., reference=...)``) shows up too."""
    if path == feedback:
        raise ValueError(f"drift_page={path!r}: feedback_route has that path already")
    return DriftPage.check(
        app,
        path,
        config.model_name,
        lambda: config.model().monitor if config.model_name else None,
        config.internal_errors,
    )


def _apply(
    app: Starlette,
    instrumentor: Any,
    config: _Config,
    feedback: _Feedback | None,
    drift_page: DriftPage | None = None,
) -> Instrumentation:
    """The HTTP layer unless already there, the ML middleware inside it, the sklearn hook."""
    http_undo: Callable[[Any], None] | None = None
    # An app the contrib instrumentation already traces (the launcher) gets the ML layer only.
    layer = None if getattr(app, _CONTRIB_ATTRIBUTE, False) else config.http_layer
    if layer == "contrib":
        _opt_in_stable_http_conventions()
        instrumentor.instrument_app(
            app,
            tracer_provider=config.tracer_provider,
            meter_provider=config.meter_provider,
            excluded_urls=config.excluded_urls,
            exclude_spans=None if config.asgi_spans else ["receive", "send"],
        )
        http_undo = functools.partial(_uninstrument_contrib, instrumentor)
    ml_layer: dict[str, Any] = {
        "model_name": config.model_name,
        "model_version": config.model_version,
        "header": config.header,
        "internal_errors": config.internal_errors,
    }
    if layer == "otel_ml":
        http_undo = mute_fastapi_telemetry(app)
        app.add_middleware(
            HttpServerMiddleware,
            **ml_layer,
            tracer_provider=config.tracer_provider,
            meter_provider=config.meter_provider,
            excluded_urls=_excluded_urls(config.excluded_urls),
        )
    else:
        app.add_middleware(ModelRequestMiddleware, **ml_layer)
    middleware = app.user_middleware[0]
    sklearn = _instrument_sklearn(config) if config.sklearn else None
    enable_resource_metrics(config.meter_provider)
    flush_at_shutdown(app, config.tracer_provider, config.meter_provider, config.internal_errors)
    if config.model_name is not None:
        register_model_info(config.model())
    if feedback is not None:
        feedback.apply(app)
    if drift_page is not None:
        drift_page.apply(app)
    return Instrumentation(
        app,
        middleware,
        config.model_name,
        config.model_version,
        http_undo,
        sklearn,
        feedback,
        drift_page,
        http_layer=layer,
    )


def _http_layer(setting: str, asgi_spans: bool, explicit: str | None) -> str:
    """The HTTP layer to apply: the ASGI ``receive``/``send`` spans only exist in the
    contrib one, so asking for them selects it, unless ``http`` says otherwise."""
    if not asgi_spans or setting == "contrib":
        return setting
    if explicit is not None:
        raise ValueError(
            f"http_asgi_spans=True needs http='contrib' (the otel_ml HTTP layer has no ASGI "
            f"receive/send spans), got http={explicit!r}"
        )
    return "contrib"


def _uninstrument_contrib(instrumentor: Any, app: Starlette) -> None:
    if getattr(app, _CONTRIB_ATTRIBUTE, False):
        instrumentor.uninstrument_app(app)


def _excluded_urls(excluded: str | None) -> ExcludeList | None:
    """``excluded_urls``, else the contrib variables the launcher would honour; None
    when nothing is excluded, so requests skip building their URL."""
    if excluded is None:
        names = ("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", "OTEL_PYTHON_EXCLUDED_URLS")
        excluded = next((os.environ[name] for name in names if name in os.environ), "")
    return parse_excluded_urls(excluded) if excluded.strip() else None


def _opt_in_stable_http_conventions() -> None:
    # The contrib HTTP instrumentations emit the stable names
    # (`http.server.request.duration`, seconds) only when opted in, and read the
    # choice once per process; an explicit user choice is left alone.
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")


def _fastapi_instrumentor() -> Any:
    try:
        import fastapi  # noqa: F401 - the one-liner is for FastAPI apps
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    except ImportError as exc:
        raise ImportError(
            f"otel_ml.instrument(app) needs FastAPI and its OpenTelemetry "
            f"instrumentation: {_PIP_HINT}"
        ) from exc
    return FastAPIInstrumentor


def _check_app(app: Any) -> None:
    from starlette.applications import Starlette

    if not isinstance(app, Starlette):
        raise TypeError(
            f"otel_ml.instrument() needs a FastAPI or Starlette app, got {type(app).__name__}"
        )


def _instrument_sklearn(config: _Config) -> SklearnInstrumentor | None:
    """Turn the scikit-learn hook on; the instrumentor only if this call did it."""
    if importlib.util.find_spec("sklearn") is None:
        return None
    try:
        from otel_ml.instrumentation.sklearn import SklearnInstrumentor

        instrumentor = SklearnInstrumentor()
        if instrumentor.is_instrumented_by_opentelemetry:
            return None
        instrumentor.instrument(
            tracer_provider=config.tracer_provider, meter_provider=config.meter_provider
        )
    except Exception as exc:
        guard.report("fastapi.sklearn", exc, config.internal_errors)
        return None
    return instrumentor
