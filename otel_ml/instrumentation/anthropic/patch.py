"""Wrappers around the ``anthropic`` SDK's ``messages.create`` and ``messages.stream``.

``create`` returns a ``Message`` or (``stream=True``) a ``Stream`` of events,
which the one stream proxy follows. ``stream()`` returns a manager whose
``__enter__`` sends the request: the call starts there, and the proxy goes
around the raw event stream that the SDK's ``MessageStream`` reads, so
``text_stream``, ``get_final_message()`` and ``until_done()`` are timed too.

The SDK traces its own calls (scope ``com.anthropic.sdk.python``) when a
recording tracer provider is there for it. Then otel_ml steps aside for the
span (one span per call: the SDK's) and records only the GenAI metrics,
which the SDK does not emit; otherwise the span is otel_ml's.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any

import anthropic
import wrapt
from opentelemetry import context, trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml._internal.sampling import inherited
from otel_ml._internal.scope import run_async, run_sync
from otel_ml._internal.stream import follow_stream
from otel_ml.genai.evaluation.online import draw
from otel_ml.genai.invocation import GenAIConfig, GenAIInvocation, identity, traced_elsewhere
from otel_ml.instrumentation._genai_hooks import HookCall, ReadingHandler
from otel_ml.instrumentation._patching import Args, Kwargs, Target, Wrapped, replace_all

from . import extract

_CHAT = semconv.GEN_AI_CHAT


class _ParentSpanTracer(trace.NoOpTracer):
    """Starts no span: hands back the parent's span context, so a call that
    steps aside keeps the trace (the SDK's span becomes the parent's child)."""

    def start_span(self, name: str, context: context.Context | None = None,
                   *args: Any, **kwargs: Any) -> trace.Span:  # fmt: skip
        return inherited(context)


def metrics_only(config: GenAIConfig) -> GenAIConfig:
    """``config`` with no span of its own (its metrics and content policy kept)."""
    telemetry = copy.copy(config.telemetry)
    telemetry.tracer = _ParentSpanTracer()
    return dataclasses.replace(config, telemetry=telemetry)


def sdk_traces(resource: Any) -> bool:
    """Whether the SDK's own tracing records this client's calls."""
    options = getattr(getattr(resource, "_client", None), "open_telemetry", None)
    if not isinstance(options, dict) or not options.get("traces", {}).get("enabled"):
        return False
    provider = options.get("tracer_provider") or trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def _start(config: GenAIConfig, resource: Any, kwargs: Kwargs, stream: bool) -> GenAIInvocation:
    try:
        model = kwargs.get("model")
        model = model if isinstance(model, str) else None
        metric_attrs = identity(_CHAT, extract.PROVIDER, model, *extract.server(resource))
        attrs: dict[str, Any] = extract.request_attributes(kwargs)
        if stream:
            attrs[semconv.GEN_AI_REQUEST_STREAM] = True
        if config.content.capture:
            messages = extract.input_messages(kwargs)
            attrs[semconv.GEN_AI_INPUT_MESSAGES] = config.content.messages_json(messages)
    except Exception as exc:
        guard.report("anthropic.request", exc, config.telemetry.internal_errors)
        metric_attrs, attrs, model = identity(_CHAT, extract.PROVIDER), {}, None
    return config.start(metric_attrs, semconv.genai_span_name(_CHAT, model), attrs)


class AnthropicCall(HookCall):
    """One ``messages`` call in progress."""

    __slots__ = ()
    error_kind = staticmethod(extract.error_kind)

    def apply(self, fields: extract.MessageFields) -> None:
        """Record what the message said: model, id, finish reason, usage, content."""
        invocation, content = self.invocation, self.config.content
        invocation.set_response(fields.model, fields.message_id, fields.finish_reasons())
        invocation.set_usage(fields.total_input_tokens(), fields.output_tokens,
                             cache_read=fields.cache_read,
                             cache_write=fields.cache_creation)  # fmt: skip
        attrs: dict[str, Any] = fields.usage_attributes()
        if content.capture and (fields.texts or fields.tool_calls):
            messages = content.messages_json(fields.output_messages())
            attrs = {**attrs, semconv.GEN_AI_OUTPUT_MESSAGES: messages}
        invocation.set_attributes(attrs)

    def finish(self, result: Any) -> Any:
        """Follow a stream, or read a message and end the call."""
        try:
            if isinstance(result, anthropic.Stream | anthropic.AsyncStream):
                self.invocation.leave_call()
                return follow_stream(result, self._handler())
            raw = getattr(result, "_raw_stream", None)  # a MessageStream of stream()
            if raw is not None:
                self.invocation.leave_call()
                result._raw_stream = follow_stream(raw, self._handler())
                return result
            if isinstance(result, anthropic.types.Message):
                fields = extract.read_message(result, self.keep_text)
                self.apply(fields)
                self.evaluate(fields)
        except Exception as exc:
            guard.report("anthropic.response", exc, self.config.telemetry.internal_errors)
        self.invocation.stop()
        return result

    def _handler(self) -> ReadingHandler:
        return ReadingHandler(self, extract.EventReader(keep_text=self.keep_text))


class Traced:
    """Starts calls of one entry point: otel_ml's span, or metrics only where
    the SDK traces the client itself."""

    __slots__ = ("aside", "config")

    def __init__(self, config: GenAIConfig) -> None:
        self.config = config
        self.aside = metrics_only(config)

    def __call__(self, wrapped: Wrapped, instance: Any, args: Args, kwargs: Kwargs) -> Any:
        raise NotImplementedError

    def begin(self, resource: Any, kwargs: Kwargs, stream: bool) -> AnthropicCall | None:
        """A call to record, unless instrumentation is suppressed or it is traced already."""
        if not is_instrumentation_enabled() or traced_elsewhere(_CHAT):
            return None
        config = self.aside if sdk_traces(resource) else self.config
        invocation = _start(config, resource, kwargs, stream)
        sample = draw(config.evaluation, _CHAT, config.content.capture,
                      lambda: extract.input_messages(kwargs))  # fmt: skip
        return AnthropicCall(config, invocation, sample)


class TracedCreate(Traced):
    """A sync ``messages.create``."""

    def __call__(self, wrapped: Wrapped, instance: Any, args: Args, kwargs: Kwargs) -> Any:
        call = self.begin(instance, kwargs, kwargs.get("stream") is True)
        return run_sync(call, AnthropicCall.finish, wrapped, args, kwargs)


class AsyncTracedCreate(Traced):
    """An async ``messages.create``: the call starts when it is awaited."""

    async def __call__(self, wrapped: Wrapped, instance: Any, args: Args, kwargs: Kwargs) -> Any:
        call = self.begin(instance, kwargs, kwargs.get("stream") is True)
        return await run_async(call, AnthropicCall.finish, wrapped, args, kwargs)


class TracedStream(Traced):
    """``messages.stream`` (sync or async): the manager it returns starts the call."""

    def __call__(self, wrapped: Wrapped, instance: Any, args: Args, kwargs: Kwargs) -> Any:
        return StreamManager(wrapped(*args, **kwargs), lambda: self.begin(instance, kwargs, True))


class StreamManager(wrapt.ObjectProxy):  # type: ignore[type-arg]
    """A ``MessageStreamManager`` (or its async twin) whose enter starts the call."""

    def __init__(self, manager: Any, begin: Any) -> None:
        super().__init__(manager)
        self._self_begin = begin

    def __enter__(self) -> Any:
        enter = self.__wrapped__.__enter__
        return run_sync(self._self_begin(), AnthropicCall.finish, enter, (), {})

    def __exit__(self, *exc_info: Any) -> Any:
        return self.__wrapped__.__exit__(*exc_info)

    async def __aenter__(self) -> Any:
        enter = self.__wrapped__.__aenter__
        return await run_async(self._self_begin(), AnthropicCall.finish, enter, (), {})

    async def __aexit__(self, *exc_info: Any) -> Any:
        return await self.__wrapped__.__aexit__(*exc_info)


class Patched(wrapt.FunctionWrapper):  # type: ignore[type-arg]
    """Marks a method otel_ml patched, so it is never patched twice."""


def apply(targets: Iterable[tuple[type, str, type[Traced]]], config: GenAIConfig) -> list[Target]:
    """Wrap each ``(class, method, wrapper class)``; return what to restore (all or nothing)."""
    return replace_all(_replacements(targets, config))


def _replacements(
    targets: Iterable[tuple[type, str, type[Traced]]], config: GenAIConfig
) -> Iterator[tuple[type, str, Any, Any]]:
    for owner, name, wrapper in targets:
        original = owner.__dict__[name]
        if not isinstance(original, Patched):
            yield owner, name, original, Patched(original, wrapper(config))
