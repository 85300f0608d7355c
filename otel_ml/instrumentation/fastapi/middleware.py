"""The ML layer of the FastAPI one-liner: a pure ASGI middleware.

Per HTTP request it opens the scope that inference calls claim their
prediction id from, tags whatever span is current (the server span of the
HTTP layer around it: otel_ml's, the contrib FastAPI instrumentation's, the
launcher's) with the model and that id, and returns the id to the client in a
response header. It works alone, under any HTTP layer, and inside otel_ml's
:class:`~otel_ml.instrumentation.fastapi.http_server.HttpServerMiddleware`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from opentelemetry import trace
from opentelemetry.metrics import Counter

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml._internal.ids import RequestScope
from otel_ml.config import Settings
from otel_ml.instrumentation.fastapi.app_model import begin_request, end_request

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COMPONENT = "fastapi.middleware"
INSTRUMENTED_ATTRIBUTE = "_otel_ml_instrumentation"
"""Set on an app ``otel_ml.instrument`` instrumented (its handle): it has this layer."""


class _Request:
    """One request as this layer sees it: its scope, its span, whether the id is on it."""

    __slots__ = ("scope", "span", "tagged")

    def __init__(self, scope: RequestScope, span: trace.Span) -> None:
        self.scope = scope
        self.span = span
        self.tagged = False


class ModelRequestMiddleware:
    """Per HTTP request: a fresh request scope, model attributes, the prediction id header.

    Other ASGI scopes (lifespan, websocket) pass through untouched. Failures in
    this code go to the guard; the request itself is never affected.
    """

    __slots__ = ("_app", "_counter", "_header", "_model_attributes", "_name", "_version")

    def __init__(
        self,
        app: ASGIApp,
        *,
        model_name: str | None,
        model_version: str,
        header: str,
        internal_errors: Counter | None = None,
        tag_model: bool = True,
    ) -> None:
        """``tag_model=False``: the server span started with the model on it
        (:class:`~otel_ml.instrumentation.fastapi.http_server.HttpServerMiddleware`'s
        ``span_attributes``), so this layer adds the prediction id only."""
        self._app = app
        self._name = model_name
        self._version = model_version
        self._header = header.encode("latin-1")
        self._counter = internal_errors
        self._model_attributes = model_attributes(model_name, model_version) if tag_model else {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request_scope, token = begin_request(self._name, self._version)
        request_scope.headers = scope.get("headers") or ()
        request = _Request(request_scope, trace.get_current_span())
        self._tag_span(request.span, self._model_attributes)
        try:
            await self._app(scope, receive, functools.partial(self._send, request, send))
        finally:
            end_request(token)
            # No last body chunk went through us (unhandled error), or the HTTP
            # layer ends its span after us: the span is still open.
            self._tag_prediction(request)

    async def _send(self, request: _Request, send: Send, message: Message) -> None:
        prediction_id = request.scope.prediction_id
        if prediction_id is not None:
            kind = message["type"]
            if kind == "http.response.start":
                message = self._with_prediction_id(message, prediction_id)
            elif kind == "http.response.body" and not message.get("more_body", False):
                # The contrib middleware ends the server span on the last body chunk.
                self._tag_prediction(request)
        await send(message)

    def _with_prediction_id(self, message: Message, prediction_id: str) -> Message:
        """A copy of ``message`` with the header added (the app's headers list is not ours)."""
        try:
            headers = message.get("headers", ())
            wanted = self._header
            for name, _ in headers:  # a loop, not any(): no generator frame per response
                if name.lower() == wanted:
                    return message  # the endpoint set it itself: its value wins
            return {**message, "headers": [*headers, (wanted, prediction_id.encode("latin-1"))]}
        except Exception as exc:
            guard.report(COMPONENT, exc, self._counter)
            return message

    def _tag_prediction(self, request: _Request) -> None:
        prediction_id = request.scope.prediction_id
        if prediction_id is not None and not request.tagged:
            request.tagged = True
            self._tag_span(request.span, {semconv.ML_PREDICTION_ID: prediction_id})

    def _tag_span(self, span: trace.Span, attributes: dict[str, Any]) -> None:
        tag_span(span, attributes, COMPONENT, self._counter)


def tag_span(
    span: trace.Span, attributes: dict[str, Any], component: str, errors: Counter | None
) -> None:
    """Add ``attributes`` to a recording ``span``; a failure goes to the guard."""
    if not attributes:
        return
    try:
        if span.is_recording():
            span.set_attributes(attributes)
    except Exception as exc:
        guard.report(component, exc, errors)


def layer_options(settings: Settings, internal_errors: Counter | None) -> dict[str, Any]:
    """The keyword arguments of :class:`ModelRequestMiddleware` for ``settings``' model."""
    return {
        "model_name": settings.model_name,
        "model_version": settings.model_version,
        "header": settings.prediction_id_header,
        "internal_errors": internal_errors,
    }


def model_attributes(model_name: str | None, model_version: str) -> dict[str, Any]:
    """The model's attributes on the server span (none without a model name)."""
    if not model_name:
        return {}
    return {semconv.ML_MODEL_NAME: model_name, semconv.ML_MODEL_VERSION: model_version}
