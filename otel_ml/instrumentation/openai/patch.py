"""Wrappers around the ``openai`` SDK's ``create`` and ``parse`` methods (sync and async).

One wrapper per sync/async flavour serves chat, the Responses API, text
completions and embeddings: the operation and the API are bound when
``instrument()`` patches, and everything that differs lives in
:mod:`.extract` and :mod:`.responses`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import openai
import wrapt
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml._internal.scope import run_async, run_sync
from otel_ml._internal.stream import AsyncStream, SyncStream
from otel_ml.genai.content import ContentPolicy
from otel_ml.genai.evaluation.online import draw
from otel_ml.genai.invocation import GenAIConfig, GenAIInvocation, identity, traced_elsewhere
from otel_ml.instrumentation._genai_hooks import HookCall
from otel_ml.instrumentation._patching import Args, Kwargs, Target, Wrapped, replace_all

from . import extract, responses

_logger = logging.getLogger(__name__)
RESPONSES = "responses"
"""``openai.api.type`` of the Responses API (``chat_completions``: chat's)."""


class Api(NamedTuple):
    """How one OpenAI API is read: its ``openai.api.type`` and readers."""

    type: str | None
    read: Callable[[Any, bool], extract.ResponseFields]
    stream_reader: Callable[[bool], Any]


_APIS = {
    "chat_completions": Api("chat_completions", extract.read_response, extract.StreamReader),
    RESPONSES: Api(RESPONSES, responses.read_response, responses.StreamReader),
    None: Api(None, extract.read_response, extract.StreamReader),
}


class PatchedCreate(wrapt.FunctionWrapper):  # type: ignore[type-arg]
    """Marks a method otel_ml patched, so it is never patched twice."""


def _content(api: Api, operation: str, kwargs: dict[str, Any], content: ContentPolicy
             ) -> dict[str, Any]:  # fmt: skip
    """The opt-in attributes: messages, separate instructions, tool definitions."""
    if operation == semconv.GEN_AI_EMBEDDINGS:
        return {}
    messages = _messages(api, operation, kwargs)
    instructions = None
    if api.type == RESPONSES:
        instructions = content.parts_json(responses.system_instructions(kwargs))
    tools = extract.tool_definitions(kwargs)
    return {
        semconv.GEN_AI_INPUT_MESSAGES: content.messages_json(messages),
        semconv.GEN_AI_SYSTEM_INSTRUCTIONS: instructions if instructions != "[]" else None,
        semconv.GEN_AI_TOOL_DEFINITIONS: content.tools_json(tools) if tools else None,
    }


def _messages(api: Api, operation: str, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's input messages, read as its API writes them."""
    if api.type == RESPONSES:
        return responses.input_messages(kwargs)
    return extract.input_messages(operation, kwargs)


def _start(
    config: GenAIConfig, target: tuple[str, Api], resource: Any, kwargs: dict[str, Any]
) -> GenAIInvocation:
    operation, api = target
    try:
        model = kwargs.get("model")
        model = model if isinstance(model, str) else None
        metric_attrs = identity(operation, *_endpoint(resource, model))
        attrs = extract.request_attributes(kwargs)
        if extract.requested_stream(kwargs):  # the conventions: set only when streaming
            attrs[semconv.GEN_AI_REQUEST_STREAM] = True
        attrs[semconv.OPENAI_API_TYPE] = api.type
        if operation == semconv.GEN_AI_EMBEDDINGS:
            attrs[semconv.ML_EMBEDDINGS_INPUT_COUNT] = extract.input_count(kwargs)
        if config.content.capture:
            attrs.update(_content(api, operation, kwargs, config.content))
        attrs = {k: v for k, v in attrs.items() if v is not None}
    except Exception as exc:
        guard.report("openai.request", exc, config.telemetry.internal_errors)
        metric_attrs, attrs, model = identity(operation), {}, None
    return config.start(metric_attrs, semconv.genai_span_name(operation, model), attrs)


def _endpoint(resource: Any, model: str | None) -> tuple[str, str | None, str | None, int | None]:
    provider, address, port = extract.endpoint(resource)
    return provider, model, address, port


def _apply(
    invocation: GenAIInvocation, fields: extract.ResponseFields, content: ContentPolicy
) -> None:
    reasons = [fields.finish_reasons[i] for i in sorted(fields.finish_reasons)]
    invocation.set_response(fields.model, fields.response_id, reasons)
    invocation.set_usage(fields.input_tokens, fields.output_tokens,
                         cache_read=fields.cache_read_tokens,
                         reasoning=fields.reasoning_tokens)  # fmt: skip
    invocation.set_metric_attributes({
        semconv.OPENAI_RESPONSE_SERVICE_TIER: fields.service_tier,
        semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: fields.fingerprint,
    })  # fmt: skip
    attrs: dict[str, Any] = {
        semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: fields.cache_read_tokens,
        semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: fields.reasoning_tokens,
    }
    if fields.dimensions is not None:
        attrs[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = fields.dimensions
    if content.capture and (fields.texts or fields.tool_calls):
        attrs[semconv.GEN_AI_OUTPUT_MESSAGES] = content.messages_json(fields.output_messages())
    invocation.set_attributes(attrs)


class OpenAICall(HookCall):
    """One ``create`` call in progress: its invocation, the config and the API it reads
    with; for a call drawn for online evaluation, its :class:`Sample`."""

    __slots__ = ("api",)

    def __init__(self, config: GenAIConfig, invocation: GenAIInvocation, api: Api,
                 kwargs: Kwargs, operation: str = semconv.GEN_AI_CHAT) -> None:  # fmt: skip
        sample = draw(config.evaluation, operation, config.content.capture,
                      lambda: _messages(api, operation, kwargs))  # fmt: skip
        super().__init__(config, invocation, sample)
        self.api = api

    def fail(self, exc: BaseException) -> None:
        """End the call with the API error's status code and ``error.type``."""
        code = extract.status_code(exc)
        if code is not None:
            self.invocation.set_attributes({"http.response.status_code": code})
        self.invocation.fail(exc, extract.error_kind(exc))

    def finish(self, result: Any) -> Any:
        """Hand a stream over to a proxy, or read a response and end the call."""
        invocation, content = self.invocation, self.config.content
        try:
            if isinstance(result, openai.Stream | openai.AsyncStream):
                invocation.leave_call()
                followed = FollowedAsync if isinstance(result, openai.AsyncStream) else FollowedSync
                return followed(result, StreamHandler(self))
            body = _body(result)
            if body is not None:
                fields = self.api.read(body, self.keep_text)
                _apply(invocation, fields, content)
                if fields.error is not None:
                    self.fail_reported(fields.error)
                else:
                    self.evaluate(fields)
        except Exception as exc:
            guard.report("openai.response", exc, self.config.telemetry.internal_errors)
        invocation.stop()
        return result

    def fail_reported(self, error: tuple[str, str]) -> None:
        """End the call with a failure the response reported (no exception was raised)."""
        code, message = error
        self.invocation.fail(responses.ResponseStreamError(message), code)


class StreamHandler:
    """Reads a response stream's chunks into its call."""

    __slots__ = ("_call", "_reader")

    def __init__(self, call: OpenAICall) -> None:
        self._call = call
        self._reader = call.api.stream_reader(call.keep_text)

    def on_chunk(self, chunk: Any) -> None:
        if self._reader.add(chunk):
            self._call.invocation.chunk()

    def on_end(self, abandoned: bool) -> None:
        fields = self._reader.fields
        if fields.error is not None:
            self._interrupted(fields)
            self._call.fail_reported(fields.error)
            return
        _apply(self._call.invocation, fields, self._call.config.content)
        if not abandoned:
            self._call.evaluate(fields)
        self._call.invocation.stop(abandoned)

    def on_error(self, exc: BaseException) -> None:
        self._interrupted(self._reader.fields)
        self._call.fail(exc)

    def _interrupted(self, fields: extract.ResponseFields) -> None:
        """A stream that failed: choices without a finish reason end with ``error``."""
        for index in set(fields.texts) | set(fields.tool_calls) | {0}:
            fields.finish_reasons.setdefault(index, "error")
        _apply(self._call.invocation, fields, self._call.config.content)


class _ClosingResponse(wrapt.ObjectProxy):  # type: ignore[type-arg]
    """The HTTP response of a followed stream: the SDK's ``stream()`` helpers close
    it, not the stream, when their ``with`` block ends early; that ends the call."""

    def __init__(self, response: Any, stream: SyncStream | AsyncStream) -> None:
        super().__init__(response)
        self._self_stream = stream

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_stream._self_finish()

    async def aclose(self) -> None:
        try:
            await self.__wrapped__.aclose()
        finally:
            self._self_stream._self_finish()


class FollowedSync(SyncStream):
    """An ``openai.Stream`` followed to its end, also when a helper closes its response."""

    @property
    def response(self) -> Any:
        return _ClosingResponse(self.__wrapped__.response, self)


class FollowedAsync(AsyncStream):
    """An ``openai.AsyncStream`` followed to its end (see :class:`FollowedSync`)."""

    @property
    def response(self) -> Any:
        return _ClosingResponse(self.__wrapped__.response, self)


def _body(result: Any) -> Any:
    """The parsed body; ``with_raw_response`` results are parsed here (``parse()``
    caches, so the caller pays nothing), except raw streams, which are left
    alone: the span then ends when the response starts (no chunk timing)."""
    if not isinstance(result, openai._legacy_response.LegacyAPIResponse):
        return result
    if getattr(result, "_stream", False):
        return None
    return result.parse()


def _begin(
    config: GenAIConfig, target: tuple[str, Api], resource: Any, kwargs: dict[str, Any]
) -> OpenAICall | None:
    """A call to record, unless instrumentation is suppressed or it is traced already."""
    if not is_instrumentation_enabled() or traced_elsewhere(target[0]):
        return None
    invocation = _start(config, target, resource, kwargs)
    return OpenAICall(config, invocation, target[1], kwargs, target[0])


class TracedCreate:
    """A sync ``create`` or ``parse`` (the wrapt wrapper): one span per call."""

    __slots__ = ("config", "target")

    def __init__(self, config: GenAIConfig, operation: str, api: str | None = None) -> None:
        self.config = config
        self.target = (operation, _APIS[api])

    def __call__(self, wrapped: Wrapped, instance: Any, args: Args, kwargs: Kwargs) -> Any:
        call = _begin(self.config, self.target, instance, kwargs)
        return run_sync(call, OpenAICall.finish, wrapped, args, kwargs)


class AsyncTracedCreate(TracedCreate):
    """An async ``create`` or ``parse``: the span starts when the call is awaited."""

    async def __call__(self, wrapped: Wrapped, instance: Any, args: Args, kwargs: Kwargs) -> Any:
        call = _begin(self.config, self.target, instance, kwargs)
        return await run_async(call, OpenAICall.finish, wrapped, args, kwargs)


def foreign_instrumentation(original: Any) -> str | None:
    """The module of another OpenTelemetry instrumentation already wrapping ``original``."""
    if not isinstance(original, wrapt.FunctionWrapper) or isinstance(original, PatchedCreate):
        return None
    module = getattr(getattr(original, "_self_wrapper", None), "__module__", "") or ""
    return module if module.startswith("opentelemetry.instrumentation.") else None


Method = tuple[type, str, str, str | None, bool]
"""``(class, method, operation, openai.api.type, is_async)``: one patched method."""


def apply(targets: Iterable[Method], config: GenAIConfig) -> list[Target]:
    """Wrap each :data:`Method`; return what to restore.

    A method another OpenTelemetry instrumentation already wraps is left to
    it (one span per call). All or nothing: a failure undoes what was done.
    """
    return replace_all(_replacements(targets, config))


def _replacements(
    targets: Iterable[Method], config: GenAIConfig
) -> Iterator[tuple[type, str, Any, Any]]:
    for owner, name, operation, api, is_async in targets:
        original = owner.__dict__[name]
        if isinstance(original, PatchedCreate):
            continue
        other = foreign_instrumentation(original)
        if other is not None:
            _logger.info("otel_ml: %s.%s is traced by %s", owner.__qualname__, name, other)
            continue
        wrapper = (AsyncTracedCreate if is_async else TracedCreate)(config, operation, api)
        yield owner, name, original, PatchedCreate(original, wrapper)
