"""``otel_ml.instrument(app, ...)``: the FastAPI one-liner.

It applies a list of parts (:mod:`~otel_ml.instrumentation.fastapi.parts`),
each with ``apply`` and ``undo``, and returns them as the undo handle. The
HTTP layer (one server span per request and ``http.server.request.duration``)
is by default otel_ml's own
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

import dataclasses
import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry.util.http import parse_excluded_urls
from starlette.middleware import Middleware

from otel_ml._internal.arguments import check_name
from otel_ml._internal.log_once import limit_repeated_logs
from otel_ml.config import Settings, get_settings
from otel_ml.instrumentation.fastapi.app_model import AppModel
from otel_ml.instrumentation.fastapi.contrib import (
    CONTRIB_ATTRIBUTE,
    ContribHttpLayer,
    fastapi_instrumentor,
)
from otel_ml.instrumentation.fastapi.drift_route import DriftPage
from otel_ml.instrumentation.fastapi.http_server import HttpServerMiddleware
from otel_ml.instrumentation.fastapi.isolation import ContextIsolation
from otel_ml.instrumentation.fastapi.middleware import (
    INSTRUMENTED_ATTRIBUTE,
    ModelRequestMiddleware,
    layer_options,
    model_attributes,
)
from otel_ml.instrumentation.fastapi.parts import (
    AppMiddleware,
    FeedbackRoute,
    ModelSetup,
    MuteFastApiTelemetry,
    Part,
    ResourceMetrics,
    ShutdownFlush,
    SklearnHook,
)
from otel_ml.instrumentation.fastapi.paths import check_route_path

if TYPE_CHECKING:
    from pathlib import Path

    from opentelemetry import metrics, trace
    from starlette.applications import Starlette

    from otel_ml.drift.profile import ReferenceProfile

__all__ = ["Instrumentation", "instrument"]

_P = TypeVar("_P")


class Instrumentation:
    """What :func:`instrument` turned on for one app; :meth:`uninstrument` undoes it.

    It holds the parts the call applied, in order, and undoes them last first.
    Only what this call applied is undone: an HTTP instrumentation that was
    already there (``opentelemetry-instrument``) and a scikit-learn hook that
    was already on stay as they were. Like drift monitoring, feedback stays on
    for the model: its predictions can still be labelled in-process.
    """

    def __init__(
        self,
        app: Starlette,
        parts: Sequence[Part],
        model_name: str | None,
        model_version: str,
        http_layer: str | None,
    ) -> None:
        self._app: Starlette | None = app
        self._parts = tuple(parts)
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
        hook = self._part(SklearnHook)
        return hook is not None and hook.instrumentor is not None

    @property
    def feedback_route(self) -> str | None:
        """The path of the feedback route this call added, if any."""
        route = self._part(FeedbackRoute)
        return route.path if route is not None else None

    @property
    def drift_page(self) -> str | None:
        """The path of the drift page this call added, if any."""
        page = self._part(DriftPage)
        return page.path if page is not None else None

    def uninstrument(self) -> None:
        """Undo what :func:`instrument` applied, last part first; idempotent."""
        app, self._app = self._app, None
        if app is None:
            return
        _undo(app, self._parts)
        if getattr(app, INSTRUMENTED_ATTRIBUTE, None) is self:
            delattr(app, INSTRUMENTED_ATTRIBUTE)

    def _part(self, kind: type[_P]) -> _P | None:
        return next((part for part in self._parts if isinstance(part, kind)), None)

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
    feedback_store: str | None = None,
    drift_page: str | None = None,
    settings: Settings | None = None,
) -> Instrumentation:
    """Instrument a FastAPI (or Starlette) app for model serving; returns the undo handle.

    One HTTP server span per request and the HTTP server metrics, the model and the request's
    prediction id on the span, the id in the ``x-prediction-id`` response header. ``http``:
    the HTTP layer, ``"otel_ml"`` (one lean middleware, span and ``http.server.request.duration``)
    or ``"contrib"`` (the contrib FastAPI instrumentation, four HTTP metrics;
    ``http_asgi_spans=True`` keeps its ASGI ``receive``/``send`` spans and selects it).
    ``instrument_sklearn``: scikit-learn estimators too. ``excluded_urls``: comma separated
    URL regexes left untraced. ``reference`` (a reference profile or its JSON path): drift
    monitoring of the model's inputs and outputs. ``feedback_route`` (e.g. ``"/feedback"``):
    a POST route joining delayed labels to the model's predictions, kept in ``feedback_store``
    (``OTEL_ML_FEEDBACK_STORE``: ``memory``, ``sqlite:///path``, ``redis://...``); both need
    ``model_name``. ``drift_page`` (e.g. ``"/ml/drift"``): a GET route showing the drift
    monitor (HTML, or ``?format=json``). Unset arguments come from ``settings`` (default: the
    process's). Call it before the app serves (again: the first handle); flushes at shutdown.
    """
    _check_app(app)
    settings = _resolve(settings, http, http_asgi_spans, instrument_sklearn, excluded_urls,
                        feedback_store, (model_name, model_version))  # fmt: skip
    feedback_route, drift_page = _check_paths(feedback_route, drift_page)
    existing = getattr(app, INSTRUMENTED_ATTRIBUTE, None)
    if isinstance(existing, Instrumentation) and existing.active:
        return existing
    _check_can_instrument(app, settings, reference, feedback_route)
    limit_repeated_logs()  # process-wide, like the resource metrics: nothing to undo
    layer = _layer_to_apply(app, settings)
    model = AppModel(
        settings.model_name, settings.model_version, tracer_provider, meter_provider, settings
    )
    parts = _parts(app, settings, model, layer, reference, feedback_route, drift_page)
    handle = Instrumentation(app, _apply(app, parts), model.name, model.version, layer)
    setattr(app, INSTRUMENTED_ATTRIBUTE, handle)
    return handle


def _resolve(
    settings: Settings | None,
    http: str | None,
    http_asgi_spans: bool | None,
    instrument_sklearn: bool | None,
    excluded_urls: str | None,
    feedback_store: str | None,
    names: tuple[str | None, str | None],
) -> Settings:
    """``settings`` (default: the process settings) with the keyword arguments applied,
    ``http_instrumentation`` resolved to the layer to apply, ``names`` (model name and version)
    checked as ``wrap_model`` checks them."""
    if settings is None:
        settings = get_settings()
    elif not isinstance(settings, Settings):
        raise TypeError(f"settings must be an otel_ml.Settings, got {type(settings).__name__}")
    if excluded_urls is not None and not isinstance(excluded_urls, str):
        raise TypeError(f"excluded_urls must be a comma separated string, got {excluded_urls!r}")
    settings = settings.replace(
        http_asgi_spans=http_asgi_spans,
        http_instrumentation=http,
        instrument_sklearn=instrument_sklearn,
        http_excluded_urls=excluded_urls,
        feedback_store=feedback_store,
    )
    layer = _http_layer(settings.http_instrumentation, settings.http_asgi_spans, explicit=http)
    return _with_names(settings.replace(http_instrumentation=layer), *names)


def _with_names(settings: Settings, model_name: str | None, model_version: str | None) -> Settings:
    """``settings`` with the model name and version given, checked like ``wrap_model``'s."""
    # Kept exactly as given, as wrap_model keeps them (Settings.replace strips).
    if model_name is not None:
        settings = dataclasses.replace(settings, model_name=check_name("model_name", model_name))
    if model_version is not None:
        version = check_name("model_version", model_version)
        settings = dataclasses.replace(settings, model_version=version)
    return settings


def _check_paths(feedback: str | None, page: str | None) -> tuple[str | None, str | None]:
    if feedback is not None:
        feedback = check_route_path("feedback_route", feedback, "/feedback")
    if page is not None:
        page = check_route_path("drift_page", page, "/ml/drift")
    return feedback, page


def _layer_to_apply(app: Starlette, settings: Settings) -> str | None:
    """The HTTP layer this call applies: none to an app the contrib instrumentation
    already traces (the launcher), which gets the ML layer only."""
    return None if getattr(app, CONTRIB_ATTRIBUTE, False) else settings.http_instrumentation


def _parts(
    app: Starlette,
    settings: Settings,
    model: AppModel,
    layer: str | None,
    reference: ReferenceProfile | str | Path | None,
    feedback_path: str | None,
    page_path: str | None,
) -> list[Part]:
    """What this call applies, in order; building them checks the route paths."""
    parts: list[Part] = [ModelSetup(model, reference), *_layers(settings, model, layer)]
    parts.append(ContextIsolation())  # after the HTTP layer: outermost of the stack
    if settings.instrument_sklearn:
        parts.append(SklearnHook(model))
    parts += [ResourceMetrics(model, settings), ShutdownFlush(model)]
    if feedback_path is not None:
        parts.append(FeedbackRoute(app, feedback_path, model, settings))
    if page_path is not None:
        if page_path == feedback_path:
            raise ValueError(f"drift_page={page_path!r}: feedback_route has that path already")
        # The page looks the model's monitor up per request, so a monitor added
        # later (`wrap_model(..., reference=...)`) shows up too.
        token = settings.drift_page_token or settings.feedback_token
        page = DriftPage.check(
            app, page_path, model.name, model.monitor, model.internal_errors, token
        )
        parts.append(page)
    return parts


def _layers(settings: Settings, model: AppModel, layer: str | None) -> list[Part]:
    """The HTTP layer (if any) and the one middleware that holds the ML layer."""
    ml_layer = layer_options(settings, model.internal_errors)
    excluded = settings.http_excluded_urls
    if layer == "otel_ml":
        server = Middleware(
            HttpServerMiddleware,
            inner=functools.partial(ModelRequestMiddleware, **ml_layer, tag_model=False),
            tracer_provider=model.tracer_provider,
            meter_provider=model.meter_provider,
            excluded_urls=parse_excluded_urls(excluded) if excluded.strip() else None,
            internal_errors=model.internal_errors,
            span_attributes=model_attributes(model.name, model.version),
        )
        return [MuteFastApiTelemetry(), AppMiddleware(server)]
    ml_only = AppMiddleware(Middleware(ModelRequestMiddleware, **ml_layer))
    if layer == "contrib":
        return [ContribHttpLayer(model, excluded, settings.http_asgi_spans), ml_only]
    return [ml_only]


def _apply(app: Starlette, parts: Sequence[Part]) -> list[Part]:
    """Apply ``parts`` in order; if one fails, take back those applied and re-raise."""
    applied: list[Part] = []
    try:
        for part in parts:
            part.apply(app)
            applied.append(part)
    except BaseException:
        _undo(app, applied)
        raise
    return applied


def _undo(app: Starlette, parts: Sequence[Part]) -> None:
    for part in reversed(parts):
        part.undo(app)


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


def _check_app(app: Any) -> None:
    """FastAPI and its instrumentation are installed (else the pip hint); ``app`` is an app."""
    fastapi_instrumentor()
    from starlette.applications import Starlette

    if not isinstance(app, Starlette):
        raise TypeError(
            f"otel_ml.instrument() needs a FastAPI or Starlette app, got {type(app).__name__}"
        )


def _check_can_instrument(
    app: Starlette,
    settings: Settings,
    reference: ReferenceProfile | str | Path | None,
    feedback_route: str | None,
) -> None:
    if app.middleware_stack is not None:
        raise RuntimeError(
            "otel_ml.instrument() must be called before the app starts serving "
            "(Starlette cannot add middleware to a running app): call it right after "
            "creating the app"
        )
    for argument, value in (("reference", reference), ("feedback_route", feedback_route)):
        if value is not None and settings.model_name is None:
            raise ValueError(
                f"instrument(app, {argument}=...) needs model_name (or OTEL_ML_MODEL_NAME)"
            )
