"""Wrappers around LiteLLM's entry functions: ``completion``, ``acompletion``,
``embedding``, ``aembedding``.

LiteLLM talks to most providers with its own HTTP code, so the hook sits at
its entry functions, whatever the provider. Where LiteLLM does go through
the ``openai`` client, the openai hook sees the LiteLLM call in progress and
records nothing of its own: one span per user call.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import litellm
import wrapt
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml._internal.scope import run_async, run_sync
from otel_ml._internal.stream import AsyncStream, SyncStream
from otel_ml.genai.evaluation.online import Sample, draw
from otel_ml.genai.invocation import GenAIConfig, GenAIInvocation, identity, traced_elsewhere
from otel_ml.instrumentation._genai_hooks import HookCall, ReadingHandler
from otel_ml.instrumentation._patching import Args, Kwargs, Target, Wrapped, replace_all
from otel_ml.instrumentation.openai import extract as openai_extract

from . import extract

_EMBEDDINGS = semconv.GEN_AI_EMBEDDINGS


def _start(config: GenAIConfig, operation: str, kwargs: Kwargs) -> GenAIInvocation:
    try:
        provider, model, address, port = extract.route(litellm.get_llm_provider, kwargs)
        metric_attrs = identity(operation, provider, model, address, port)
        attrs: dict[str, Any] = openai_extract.request_attributes(kwargs)
        if operation == _EMBEDDINGS:
            attrs[semconv.ML_EMBEDDINGS_INPUT_COUNT] = openai_extract.input_count(kwargs)
        elif openai_extract.requested_stream(kwargs):
            attrs[semconv.GEN_AI_REQUEST_STREAM] = True
        if config.content.capture and operation != _EMBEDDINGS:
            messages = openai_extract.input_messages(operation, kwargs)
            attrs[semconv.GEN_AI_INPUT_MESSAGES] = config.content.messages_json(messages)
    except Exception as exc:
        guard.report("litellm.request", exc, config.telemetry.internal_errors)
        metric_attrs, attrs, model = identity(operation, extract.FALLBACK_PROVIDER), {}, None
    return config.start(metric_attrs, semconv.genai_span_name(operation, model), attrs)


class LiteLLMCall(HookCall):
    """One LiteLLM call in progress."""

    __slots__ = ("is_async",)
    error_kind = staticmethod(extract.error_kind)

    def __init__(self, config: GenAIConfig, invocation: GenAIInvocation, is_async: bool,
                 sample: Sample | None) -> None:  # fmt: skip
        super().__init__(config, invocation, sample)
        self.is_async = is_async

    def apply(self, fields: openai_extract.ResponseFields) -> None:
        """Record the response's model, id, finish reasons, usage and (captured) output."""
        invocation, content = self.invocation, self.config.content
        reasons = [fields.finish_reasons[i] for i in sorted(fields.finish_reasons)]
        invocation.set_response(fields.model, fields.response_id, reasons)
        invocation.set_usage(fields.input_tokens, fields.output_tokens,
                             cache_read=fields.cache_read_tokens,
                             reasoning=fields.reasoning_tokens)  # fmt: skip
        attrs: dict[str, Any] = {semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: fields.dimensions}
        if content.capture and (fields.texts or fields.tool_calls):
            attrs[semconv.GEN_AI_OUTPUT_MESSAGES] = content.messages_json(fields.output_messages())
        invocation.set_attributes(attrs)

    def finish(self, result: Any) -> Any:
        """Follow a stream, or read a response and end the call."""
        try:
            if isinstance(result, litellm.CustomStreamWrapper):
                self.invocation.leave_call()
                proxy = AsyncStream if self.is_async else SyncStream
                reader = openai_extract.StreamReader(keep_text=self.keep_text)
                return proxy(result, ReadingHandler(self, reader))
            fields = openai_extract.read_response(result, self.keep_text)
            fields.dimensions = extract.embedding_dimension(result)
            self.apply(fields)
            self.evaluate(fields)
        except Exception as exc:
            guard.report("litellm.response", exc, self.config.telemetry.internal_errors)
        self.invocation.stop()
        return result


class Traced:
    """A sync entry function (the wrapt wrapper): one span per call."""

    __slots__ = ("config", "operation")
    is_async = False

    def __init__(self, config: GenAIConfig, operation: str) -> None:
        self.config = config
        self.operation = operation

    def begin(self, kwargs: Kwargs) -> LiteLLMCall | None:
        """A call to record, unless instrumentation is suppressed or it is traced already."""
        if not is_instrumentation_enabled() or traced_elsewhere(self.operation):
            return None
        config, operation = self.config, self.operation
        invocation = _start(config, operation, kwargs)
        sample = draw(config.evaluation, operation, config.content.capture,
                      lambda: openai_extract.input_messages(operation, kwargs))  # fmt: skip
        return LiteLLMCall(config, invocation, self.is_async, sample)

    def __call__(self, wrapped: Wrapped, instance: Any, args: Args, kwargs: Kwargs) -> Any:
        return run_sync(self.begin(kwargs), LiteLLMCall.finish, wrapped, args, kwargs)


class AsyncTraced(Traced):
    """An async entry function: the call starts when it is awaited."""

    __slots__ = ()
    is_async = True

    async def __call__(self, wrapped: Wrapped, instance: Any, args: Args, kwargs: Kwargs) -> Any:
        return await run_async(self.begin(kwargs), LiteLLMCall.finish, wrapped, args, kwargs)


class Patched(wrapt.FunctionWrapper):  # type: ignore[type-arg]
    """Marks a function otel_ml patched, so it is never patched twice."""


def apply(targets: Iterable[tuple[Any, str, str, bool]], config: GenAIConfig) -> list[Target]:
    """Wrap each ``(module, function, operation, is_async)``; what to restore (all or nothing)."""
    return replace_all(_replacements(targets, config))


def _replacements(
    targets: Iterable[tuple[Any, str, str, bool]], config: GenAIConfig
) -> Iterator[tuple[Any, str, Any, Any]]:
    for owner, name, operation, is_async in targets:
        original = getattr(owner, name)
        if not isinstance(original, Patched):
            wrapper = (AsyncTraced if is_async else Traced)(config, operation)
            yield owner, name, original, Patched(original, wrapper)
