"""otel_ml's own HTTP server layer: one pure ASGI middleware around the ML layer.

Per HTTP request one SERVER span with the stable HTTP semantic-convention
attributes, named ``{method} {route}`` once Starlette has routed the request,
its parent taken from the incoming headers by the global propagator, and one
``http.server.request.duration`` record. Its inner app (for the one-liner,
:class:`~otel_ml.instrumentation.fastapi.middleware.ModelRequestMiddleware`)
runs inside that span, so the ML layer tags the span and sets the
``x-prediction-id`` header itself: this layer knows nothing of models.

Cheaper than the contrib ASGI middleware because it does less: no ASGI
``receive``/``send`` spans, one metric instead of four, the route read from
``scope["route"]`` instead of matching the routes again. When another
instrumentation already opened a server span for the request (the contrib
middleware, e.g. under ``opentelemetry-instrument``), it runs the inner app
only; FastAPI's own built-in telemetry is switched off for the app while this
layer is on (:func:`mute_fastapi_telemetry`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.metrics import Counter, MeterProvider, get_meter
from opentelemetry.propagators.textmap import Getter
from opentelemetry.semconv.attributes import (
    client_attributes,
    error_attributes,
    http_attributes,
    network_attributes,
    server_attributes,
    url_attributes,
    user_agent_attributes,
)
from opentelemetry.semconv.metrics import http_metrics
from opentelemetry.trace import SpanKind, TracerProvider
from opentelemetry.util.http import ExcludeList

from otel_ml._internal import guard
from otel_ml._internal.cells import create_histogram
from otel_ml._internal.lifecycle import error_type, mark_failed
from otel_ml._internal.sampling import INHERITED, UNREAD, dropped_span, inherited
from otel_ml.instrumentation.fastapi.http_request import (
    redacted_query,
    request_headers,
    request_url,
    route_template,
    server_address,
)
from otel_ml.instrumentation.fastapi.middleware import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    tag_span,
)
from otel_ml.version import __version__

__all__ = [
    "DURATION_BUCKETS",
    "MAX_VALUE_CHARS",
    "SCOPE_NAME",
    "HttpServerMiddleware",
    "mute_fastapi_telemetry",
]

SCOPE_NAME = "otel_ml.instrumentation.fastapi"
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
"""The semantic conventions' advisory for ``http.server.request.duration`` (seconds)."""
COMPONENT = "fastapi.http_server"
_METHODS = frozenset(
    ("CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE")
)
_MAX_METRIC_ATTRIBUTE_SETS = 256  # methods x routes x statuses a server answers with
MAX_VALUE_CHARS = 1024
"""Longest request-supplied string put on a span (User-Agent, path, query, method):
a client's 10 kB header would otherwise go unchanged to every span and exporter."""


_HEADER_NAMES: dict[str, bytes] = {}


class _HeaderGetter(Getter[Iterable[tuple[bytes, bytes]]]):
    """Reads propagation headers from an ASGI header list (lower-case names)."""

    def get(self, carrier: Iterable[tuple[bytes, bytes]], key: str) -> list[str] | None:
        wanted = _HEADER_NAMES.get(key)
        if wanted is None:
            wanted = key.lower().encode("latin-1")
            if len(_HEADER_NAMES) < 64:  # propagators read a handful of fixed names
                _HEADER_NAMES[key] = wanted
        found = [value.decode("latin-1") for name, value in carrier if name == wanted]
        return found or None

    def keys(self, carrier: Iterable[tuple[bytes, bytes]]) -> list[str]:
        return [name.decode("latin-1") for name, _ in carrier]


_GETTER = _HeaderGetter()


class _Exchange:
    """What the response of one request told us so far."""

    __slots__ = ("status",)

    def __init__(self) -> None:
        self.status: int | None = None


class HttpServerMiddleware:
    """The server span and ``http.server.request.duration`` around an inner ASGI app.

    ``inner`` builds the app that runs inside the span from the next app of
    the stack (the one-liner gives the ML layer); without it the next app runs
    there directly. ``span_attributes`` are on every server span from its
    start, where samplers see them (the one-liner gives the model). Lifespan
    and websocket scopes pass through untouched; excluded URLs (the contrib
    ``excluded_urls`` regexes) and requests that another instrumentation
    already traces run the inner app without a span of ours (that other
    server span gets the ``span_attributes``).
    Failures in this code go to the guard; the user's exception propagates
    unchanged.
    """

    __slots__ = ("_app", "_attributes", "_counter", "_duration", "_excluded", "_metric_attributes",
                 "_tracer")  # fmt: skip

    def __init__(
        self,
        app: ASGIApp,
        *,
        inner: Callable[[ASGIApp], ASGIApp] | None = None,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        excluded_urls: ExcludeList | None = None,
        internal_errors: Counter | None = None,
        span_attributes: Mapping[str, Any] | None = None,
    ) -> None:
        self._app = app if inner is None else inner(app)
        self._attributes = dict(span_attributes or {})
        self._tracer = trace.get_tracer(SCOPE_NAME, __version__, tracer_provider=tracer_provider)
        self._duration = create_histogram(
            get_meter(SCOPE_NAME, __version__, meter_provider=meter_provider),
            meter_provider,
            http_metrics.HTTP_SERVER_REQUEST_DURATION,
            unit="s",
            description="Duration of HTTP server requests.",
            boundaries=DURATION_BUCKETS,
        )
        self._excluded = excluded_urls
        self._counter = internal_errors
        self._metric_attributes: dict[tuple[Any, ...], dict[str, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        if self._skip(scope):
            self._tag_server_span()
            await self._app(scope, receive, send)
            return
        start = time.perf_counter()
        try:
            span, method = self._start_span(scope)
        except Exception as exc:
            guard.report(COMPONENT, exc, self._counter)
            await self._app(scope, receive, send)
            return
        root_path = scope.get("root_path", "")
        activation = context.attach(trace.set_span_in_context(span))
        exchange = _Exchange()
        error: BaseException | None = None
        try:
            await self._app(scope, receive, functools.partial(_observe, exchange, send))
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._finish(span, scope, (root_path, method), exchange.status, error, start)
            context.detach(activation)

    def _skip(self, scope: Scope) -> bool:
        """Excluded URL, or a server span of another instrumentation is already current."""
        current = trace.get_current_span()
        if current.get_span_context().is_valid and (
            not current.is_recording() or getattr(current, "kind", None) is SpanKind.SERVER
        ):
            return True
        return self._excluded is not None and self._excluded.url_disabled(request_url(scope))

    def _tag_server_span(self) -> None:
        """Another instrumentation's server span is current: give it ``span_attributes``."""
        current = trace.get_current_span()
        if getattr(current, "kind", None) is SpanKind.SERVER:
            tag_span(current, self._attributes, COMPONENT, self._counter)

    def _start_span(self, scope: Scope) -> tuple[trace.Span, str]:
        headers = scope.get("headers") or ()
        raw_method = scope.get("method", "")
        method = raw_method if raw_method in _METHODS else "_OTHER"
        parent = propagate.extract(headers, getter=_GETTER)
        name = "HTTP" if method == "_OTHER" else method
        span = dropped_span(self._tracer, parent)
        if span is None:
            attributes = self._request_attributes(scope, method, raw_method, headers)
            return self._tracer.start_span(name, parent, SpanKind.SERVER, attributes), method
        if span is UNREAD:  # a ratio child, most often dropped: attributes only if it records
            span = self._tracer.start_span(name, parent, SpanKind.SERVER)
            if span.is_recording():
                span.set_attributes(self._request_attributes(scope, method, raw_method, headers))
        elif span is INHERITED:  # the caller's sampled-out context goes on downstream
            span = inherited(parent)
        return span, method  # no attribute work for a span certain to be dropped

    def _request_attributes(
        self, scope: Scope, method: str, raw_method: str, headers: Iterable[tuple[bytes, bytes]]
    ) -> dict[str, Any]:
        """The server span's attributes known at its start."""
        scheme = scope.get("scheme", "http")
        attributes: dict[str, Any] = {
            **self._attributes,
            http_attributes.HTTP_REQUEST_METHOD: method,
            url_attributes.URL_PATH: scope.get("path", "")[:MAX_VALUE_CHARS],
            url_attributes.URL_SCHEME: scheme,
            network_attributes.NETWORK_PROTOCOL_VERSION: scope.get("http_version", "1.1"),
        }
        if method == "_OTHER":
            attributes[http_attributes.HTTP_REQUEST_METHOD_ORIGINAL] = raw_method[:MAX_VALUE_CHARS]
        if query := scope.get("query_string"):
            redacted = redacted_query(query.decode("latin-1"))
            attributes[url_attributes.URL_QUERY] = redacted[:MAX_VALUE_CHARS]
        host, user_agent = request_headers(headers)
        address, port = server_address(host, scope.get("server"), scheme)
        if address:
            attributes[server_attributes.SERVER_ADDRESS] = address[:MAX_VALUE_CHARS]
        if port:
            attributes[server_attributes.SERVER_PORT] = port
        if client := scope.get("client"):
            attributes[client_attributes.CLIENT_ADDRESS] = client[0]
        if user_agent:
            attributes[user_agent_attributes.USER_AGENT_ORIGINAL] = user_agent[:MAX_VALUE_CHARS]
        return attributes

    def _metric_attributes_for(self, key: tuple[Any, ...]) -> dict[str, Any]:
        """The duration's attributes for ``key`` (method, scheme, version, route,
        status, error type), kept up to a bound so that the same dict, found by
        identity in the histogram, serves every such request."""
        found = self._metric_attributes.get(key)
        if found is not None:
            return found
        method, scheme, version, route, status, kind = key
        metric = {
            http_attributes.HTTP_REQUEST_METHOD: method,
            url_attributes.URL_SCHEME: scheme,
            network_attributes.NETWORK_PROTOCOL_VERSION: version,
            **_end_attributes(route, status, kind),
        }
        if len(self._metric_attributes) < _MAX_METRIC_ATTRIBUTE_SETS:
            self._metric_attributes[key] = metric
        return metric

    def _finish(
        self,
        span: trace.Span,
        scope: Scope,
        request: tuple[str, str],
        status: int | None,
        error: BaseException | None,
        start: float,
    ) -> None:
        """Route, status and error on the span, the duration record; end the span."""
        root_path, method = request
        try:
            if status is None and isinstance(error, Exception):
                status = 500  # what Starlette's ServerErrorMiddleware, outside us, will send
            route = route_template(scope, root_path)
            kind = _error_type(status, error)
            if span.is_recording():  # the dropped 99% skip the attribute work
                if route is not None:
                    span.update_name(f"{'HTTP' if method == '_OTHER' else method} {route}")
                span.set_attributes(_end_attributes(route, status, kind))
                if kind is not None:
                    mark_failed(span, kind, error, str(error) if error else None)
            scheme, version = scope.get("scheme", "http"), scope.get("http_version", "1.1")
            metric = self._metric_attributes_for((method, scheme, version, route, status, kind))
            self._duration.record(time.perf_counter() - start, metric)
        except Exception as exc:
            guard.report(COMPONENT, exc, self._counter)
        finally:
            span.end()


def _end_attributes(route: str | None, status: int | None, kind: str | None) -> dict[str, Any]:
    """The attributes known once the response is sent: route, status, error type."""
    end: dict[str, Any] = {}
    if route is not None:
        end[http_attributes.HTTP_ROUTE] = route
    if status is not None:
        end[http_attributes.HTTP_RESPONSE_STATUS_CODE] = status
    if kind is not None:
        end[error_attributes.ERROR_TYPE] = kind
    return end


async def _observe(exchange: _Exchange, send: Send, message: Message) -> None:
    if message["type"] == "http.response.start":
        exchange.status = message.get("status")
    await send(message)


def mute_fastapi_telemetry(app: Any) -> Callable[[Any], None] | None:
    """Turn FastAPI's built-in HTTP spans and metrics off for ``app``; what undoes it.

    FastAPI versions with ``FastAPI(telemetry=...)`` open their own server span
    (plus operation spans) and duration record whenever a global SDK is set,
    outside every middleware. With this middleware as the HTTP layer that would
    be a second server span, so its ``tracing`` and ``metrics`` settings are
    switched off (logs of unhandled exceptions stay). None for other apps.
    """
    config = getattr(app, "_telemetry", None)
    if not isinstance(config, dict) or not {"tracing", "metrics"} <= config.keys():
        return None
    saved = {key: config[key] for key in ("tracing", "metrics")}
    config.update(tracing=False, metrics=False)

    def restore(_: Any) -> None:
        config.update(saved)

    return restore


def _error_type(status: int | None, error: BaseException | None) -> str | None:
    if error is not None:
        return error_type(error)
    if status is not None and status >= 500:
        return str(status)
    return None
