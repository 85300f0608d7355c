"""Wrappers around the ``openai`` SDK's ``create`` methods (sync and async).

One wrapper per sync/async flavour serves chat, text completions and
embeddings: the operation is bound with ``functools.partial`` at
``instrument()``, and everything that differs lives in :mod:`.extract`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import openai
import wrapt
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml.genai.content import ContentPolicy
from otel_ml.genai.instruments import GenAITelemetry
from otel_ml.genai.invocation import GenAIInvocation, identity, traced_elsewhere
from otel_ml.genai.stream import AsyncStream, SyncStream
from otel_ml.instrumentation._patching import Target, restore

from . import extract

_logger = logging.getLogger(__name__)

"""``(class, method name, original __dict__ entry)``."""


class PatchedCreate(wrapt.FunctionWrapper):  # type: ignore[type-arg]
    """Marks a method otel_ml patched, so it is never patched twice."""


@dataclass(frozen=True)
class PatchConfig:
    """What every patched call shares, bound once at ``instrument()``."""

    telemetry: GenAITelemetry
    content: ContentPolicy


def _start(
    config: PatchConfig, operation: str, resource: Any, kwargs: dict[str, Any]
) -> GenAIInvocation:
    try:
        model = kwargs.get("model")
        model = model if isinstance(model, str) else None
        metric_attrs = identity(operation, *_endpoint(resource, model))
        attrs = extract.request_attributes(kwargs)
        attrs[semconv.GEN_AI_REQUEST_STREAM] = extract.requested_stream(kwargs)
        if operation == semconv.GEN_AI_EMBEDDINGS:
            attrs[semconv.ML_EMBEDDINGS_INPUT_COUNT] = extract.input_count(kwargs)
            del attrs[semconv.GEN_AI_REQUEST_STREAM]
        if config.content.capture:
            messages = extract.input_messages(operation, kwargs)
            attrs[semconv.GEN_AI_INPUT_MESSAGES] = config.content.messages_json(messages)
        attrs = {k: v for k, v in attrs.items() if v is not None}
    except Exception as exc:
        guard.report("openai.request", exc, config.telemetry.internal_errors)
        metric_attrs, attrs, model = identity(operation), {}, None
    return GenAIInvocation.start(
        config.telemetry, metric_attrs, semconv.genai_span_name(operation, model), attrs
    )


def _endpoint(resource: Any, model: str | None) -> tuple[str, str | None, str | None, int | None]:
    provider, address, port = extract.endpoint(resource)
    return provider, model, address, port


def _apply(
    invocation: GenAIInvocation, fields: extract.ResponseFields, content: ContentPolicy
) -> None:
    reasons = [fields.finish_reasons[i] for i in sorted(fields.finish_reasons)]
    invocation.set_response(fields.model, fields.response_id, reasons)
    invocation.set_usage(fields.input_tokens, fields.output_tokens)
    attrs: dict[str, Any] = {}
    if fields.dimensions is not None:
        attrs[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = fields.dimensions
    if content.capture and (fields.texts or fields.tool_calls):
        attrs[semconv.GEN_AI_OUTPUT_MESSAGES] = content.messages_json(fields.output_messages())
    invocation.set_attributes(attrs)


def _fail(invocation: GenAIInvocation, exc: BaseException) -> None:
    code = extract.status_code(exc)
    if code is not None:
        invocation.set_attributes({"http.response.status_code": code})
    invocation.fail(exc, extract.error_kind(exc))


class StreamHandler:
    """Reads a response stream's chunks into its invocation."""

    __slots__ = ("_content", "_invocation", "_reader")

    def __init__(self, invocation: GenAIInvocation, content: ContentPolicy) -> None:
        self._invocation = invocation
        self._content = content
        self._reader = extract.StreamReader(keep_text=content.capture)

    def on_chunk(self, chunk: Any) -> None:
        if self._reader.add(chunk):
            self._invocation.chunk()

    def on_end(self, abandoned: bool) -> None:
        _apply(self._invocation, self._reader.fields, self._content)
        self._invocation.stop(abandoned)

    def on_error(self, exc: BaseException) -> None:
        _apply(self._invocation, self._reader.fields, self._content)
        _fail(self._invocation, exc)


def _finish(config: PatchConfig, invocation: GenAIInvocation, result: Any, streaming: type) -> Any:
    """Hand a stream over to a proxy, or read a response and end the call."""
    try:
        if isinstance(result, openai.Stream | openai.AsyncStream):
            invocation.leave_call()
            return streaming(result, StreamHandler(invocation, config.content))
        body = _body(result)
        if body is not None:
            _apply(invocation, extract.read_response(body, config.content.capture), config.content)
    except Exception as exc:
        guard.report("openai.response", exc, config.telemetry.internal_errors)
    invocation.stop()
    return result


def _body(result: Any) -> Any:
    """The parsed body; ``with_raw_response`` results are parsed here (``parse()``
    caches, so the caller pays nothing), except raw streams, which are left
    alone: the span then ends when the response starts (no chunk timing)."""
    if not isinstance(result, openai._legacy_response.LegacyAPIResponse):
        return result
    if getattr(result, "_stream", False):
        return None
    return result.parse()


def traced_create(
    config: PatchConfig,
    operation: str,
    wrapped: Callable[..., Any],
    instance: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """A sync ``create``: one span per call, unless suppressed or already traced."""
    if not is_instrumentation_enabled() or traced_elsewhere(operation):
        return wrapped(*args, **kwargs)
    invocation = _start(config, operation, instance, kwargs)
    try:
        result = wrapped(*args, **kwargs)
    except BaseException as exc:
        _fail(invocation, exc)
        raise
    return _finish(config, invocation, result, SyncStream)


async def atraced_create(
    config: PatchConfig,
    operation: str,
    wrapped: Callable[..., Any],
    instance: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """An async ``create``: as :func:`traced_create`, awaited."""
    if not is_instrumentation_enabled() or traced_elsewhere(operation):
        return await wrapped(*args, **kwargs)
    invocation = _start(config, operation, instance, kwargs)
    try:
        result = await wrapped(*args, **kwargs)
    except BaseException as exc:
        _fail(invocation, exc)
        raise
    return _finish(config, invocation, result, AsyncStream)


def foreign_instrumentation(original: Any) -> str | None:
    """The module of another OpenTelemetry instrumentation already wrapping ``original``."""
    if not isinstance(original, wrapt.FunctionWrapper) or isinstance(original, PatchedCreate):
        return None
    module = getattr(getattr(original, "_self_wrapper", None), "__module__", "") or ""
    return module if module.startswith("opentelemetry.instrumentation.") else None


def apply(targets: Iterable[tuple[type, str, str, bool]], config: PatchConfig) -> list[Target]:
    """Wrap each ``(class, method, operation, is_async)``; return what to restore.

    A method another OpenTelemetry instrumentation already wraps is left to
    it (one span per call). All or nothing: a failure undoes what was done.
    """
    done: list[Target] = []
    try:
        for owner, name, operation, is_async in targets:
            original = owner.__dict__[name]
            if isinstance(original, PatchedCreate):
                continue
            other = foreign_instrumentation(original)
            if other is not None:
                _logger.info("otel_ml: %s.%s is traced by %s", owner.__qualname__, name, other)
                continue
            wrapper = functools.partial(
                atraced_create if is_async else traced_create, config, operation
            )
            setattr(owner, name, PatchedCreate(original, wrapper))
            done.append((owner, name, original))
    except BaseException:
        restore(done)
        raise
    return done
