"""Pure readers of the ``openai`` SDK's requests, responses and stream chunks.

Nothing here touches OpenTelemetry: functions take SDK objects and keyword
arguments and return plain values. Only request *bodies* are read; headers,
``api_key`` and ``extra_headers`` never are, so credentials cannot leak.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from otel_ml import semconv

# Hosts of OpenAI-compatible APIs with a well-known ``gen_ai.provider.name``;
# anything else (vLLM, TGI, llama.cpp, Ollama, a gateway) speaks the OpenAI
# flavour of the conventions and is told apart by ``server.address``.
_PROVIDER_HOSTS = (
    ("openai.azure.com", "azure.ai.openai"),
    ("api.deepseek.com", "deepseek"),
    ("api.groq.com", "groq"),
    ("api.mistral.ai", "mistral_ai"),
    ("api.x.ai", "x_ai"),
    ("api.perplexity.ai", "perplexity"),
    ("generativelanguage.googleapis.com", "gcp.gemini"),
)
DEFAULT_PROVIDER = "openai"
_DEFAULT_PORTS = {"https": 443, "http": 80}

_NUMBER_PARAMS = (
    ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
    ("frequency_penalty", semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", semconv.GEN_AI_REQUEST_PRESENCE_PENALTY),
)
_INT_PARAMS = (
    ("max_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
    ("max_completion_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
    ("max_output_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
    ("seed", semconv.GEN_AI_REQUEST_SEED),
    ("dimensions", semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT),
)


def endpoint(resource: Any) -> tuple[str, str | None, int | None]:
    """``(provider, server.address, server.port)`` from a resource's client base URL."""
    client = getattr(resource, "_client", None)
    url = getattr(client, "base_url", None)
    host = getattr(url, "host", None) or None
    if host is None:
        return DEFAULT_PROVIDER, None, None
    port = getattr(url, "port", None) or _DEFAULT_PORTS.get(getattr(url, "scheme", ""))
    provider = DEFAULT_PROVIDER
    for suffix, name in _PROVIDER_HOSTS:
        if host == suffix or host.endswith("." + suffix):
            provider = name
            break
    return provider, host, port


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def request_attributes(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Span attributes of the request parameters the caller actually passed."""
    attrs: dict[str, Any] = {}
    for name, key in _NUMBER_PARAMS:
        value = kwargs.get(name)
        if _number(value):
            attrs[key] = float(value)
    for name, key in _INT_PARAMS:
        value = kwargs.get(name)
        if _number(value):
            attrs[key] = int(value)
    stop = kwargs.get("stop")
    if isinstance(stop, str):
        attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = [stop]
    elif isinstance(stop, list | tuple) and all(isinstance(s, str) for s in stop):
        attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = list(stop)
    n = kwargs.get("n")
    if _number(n) and n != 1:
        attrs[semconv.GEN_AI_REQUEST_CHOICE_COUNT] = int(n)
    encoding = kwargs.get("encoding_format")
    if isinstance(encoding, str):
        attrs[semconv.GEN_AI_REQUEST_ENCODING_FORMATS] = [encoding]
    tier = kwargs.get("service_tier")
    if isinstance(tier, str) and tier != "auto":  # the conventions leave "auto" out
        attrs[semconv.OPENAI_REQUEST_SERVICE_TIER] = tier
    kind = output_type(kwargs)
    if kind is not None:
        attrs[semconv.GEN_AI_OUTPUT_TYPE] = kind
    return attrs


_OUTPUT_TYPES = {"text": "text", "json_object": "json", "json_schema": "json"}


def output_type(kwargs: Mapping[str, Any]) -> str | None:
    """``gen_ai.output.type`` of the format the request asked for (chat's
    ``response_format``, the Responses API's ``text.format``; a class given to
    ``parse()`` is a JSON schema); ``None`` when it asked for none."""
    fmt = kwargs.get("response_format")
    text = kwargs.get("text")
    if fmt is None and isinstance(text, Mapping):
        fmt = text.get("format")
    if isinstance(fmt, type) or isinstance(kwargs.get("text_format"), type):
        return "json"
    return _OUTPUT_TYPES.get(str(fmt.get("type"))) if isinstance(fmt, Mapping) else None


def tool_definitions(kwargs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The request's tools in the conventions' flat shape (content: callers gate it)."""
    tools = kwargs.get("tools")
    defined = []
    for tool in tools if isinstance(tools, list | tuple) else ():
        if not isinstance(tool, Mapping):
            continue
        function = tool.get("function")
        spec = function if isinstance(function, Mapping) else tool  # chat nests it
        entry = {"type": tool.get("type") or "function", "name": spec.get("name"),
                 "description": spec.get("description"),
                 "parameters": spec.get("parameters")}  # fmt: skip
        defined.append({k: v for k, v in entry.items() if v is not None})
    return defined


def requested_stream(kwargs: Mapping[str, Any]) -> bool:
    """Whether the caller asked for a stream."""
    return kwargs.get("stream") is True


def input_count(kwargs: Mapping[str, Any]) -> int | None:
    """Number of inputs of an embeddings request."""
    value = kwargs.get("input")
    if isinstance(value, str):
        return 1
    if isinstance(value, list | tuple):
        return 1 if value and isinstance(value[0], int) else len(value)
    return None


def input_messages(operation: str, kwargs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The request's messages in the semconv shape (content included: callers gate it;
    embeddings have none: their inputs are not messages)."""
    if operation == semconv.GEN_AI_TEXT_COMPLETION:
        prompt = kwargs.get("prompt")
        prompts = prompt if isinstance(prompt, list) else [prompt]
        return [{"role": "user", "parts": [{"type": "text", "content": p}]} for p in prompts]
    return [_chat_message(m) for m in kwargs.get("messages") or () if isinstance(m, Mapping)]


def _chat_message(message: Mapping[str, Any]) -> dict[str, Any]:
    role = message.get("role") or "user"
    parts: list[dict[str, Any]] = []
    content = message.get("content")
    if role == "tool":
        parts.append({"type": "tool_call_response", "id": message.get("tool_call_id"),
                      "response": content})  # fmt: skip
    elif isinstance(content, str):
        parts.append({"type": "text", "content": content})
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, Mapping) and part.get("type") == "text":
                parts.append({"type": "text", "content": part.get("text")})
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        parts.append({"type": "tool_call", "id": call.get("id"), "name": function.get("name"),
                      "arguments": function.get("arguments")})  # fmt: skip
    return {"role": role, "parts": parts}


@dataclass
class ResponseFields:
    """What a response (or a whole stream) said about itself."""

    model: str | None = None
    response_id: str | None = None
    finish_reasons: dict[int, str] = field(default_factory=dict)
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    reasoning_tokens: int | None = None
    service_tier: str | None = None
    fingerprint: str | None = None
    error: tuple[str, str] | None = None
    """``(code, message)`` of a failure the response reported (Responses API)."""
    dimensions: int | None = None
    texts: dict[int, list[str]] = field(default_factory=dict)
    tool_calls: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)

    def answer_text(self) -> str:
        """The first choice's text: the answer online evaluation judges."""
        return "".join(self.texts.get(0, ()))

    def output_messages(self) -> list[dict[str, Any]]:
        """The choices as semconv output messages (content included: callers gate it)."""
        indexes = sorted(set(self.texts) | set(self.tool_calls) | set(self.finish_reasons))
        messages = []
        for index in indexes:
            parts: list[dict[str, Any]] = []
            if self.texts.get(index):
                parts.append({"type": "text", "content": "".join(self.texts[index])})
            for call in self.tool_calls.get(index, {}).values():
                parts.append({"type": "tool_call", **call})
            # A choice without a reason was interrupted (a failure, an early close).
            messages.append({"role": "assistant", "parts": parts,
                             "finish_reason": self.finish_reasons.get(index, "error")})  # fmt: skip
        return messages


def _count(owner: Any, *names: str) -> int | None:
    for name in names:
        # SDKs older than a field keep it as an extra: a plain dict
        value = owner.get(name) if isinstance(owner, Mapping) else getattr(owner, name, None)
        if isinstance(value, int):
            return value
    return None


def read_usage(fields: ResponseFields, usage: Any) -> None:
    """Token counts of a chat/completions ``usage`` or a Responses API one."""
    if usage is None:
        return
    fields.input_tokens = _count(usage, "prompt_tokens", "input_tokens")
    fields.output_tokens = _count(usage, "completion_tokens", "output_tokens")
    inputs = getattr(usage, "prompt_tokens_details", None) or getattr(
        usage, "input_tokens_details", None
    )
    outputs = getattr(usage, "completion_tokens_details", None) or getattr(
        usage, "output_tokens_details", None
    )
    fields.cache_read_tokens = _count(inputs, "cached_tokens")
    fields.reasoning_tokens = _count(outputs, "reasoning_tokens")


def read_response(result: Any, keep_text: bool) -> ResponseFields:
    """Fields of a ``ChatCompletion``, ``Completion`` or ``CreateEmbeddingResponse``."""
    fields = ResponseFields(
        model=getattr(result, "model", None), response_id=getattr(result, "id", None)
    )
    read_usage(fields, getattr(result, "usage", None))
    fields.service_tier = getattr(result, "service_tier", None)
    fields.fingerprint = getattr(result, "system_fingerprint", None)
    data = getattr(result, "data", None)
    if isinstance(data, list) and data:
        embedding = getattr(data[0], "embedding", None)
        if isinstance(embedding, list):
            fields.dimensions = len(embedding)
    for choice in getattr(result, "choices", None) or ():
        index = getattr(choice, "index", 0) or 0
        if choice.finish_reason:
            fields.finish_reasons[index] = choice.finish_reason
        if keep_text:
            message = getattr(choice, "message", None)
            text = getattr(message, "content", None) if message else getattr(choice, "text", None)
            if text:
                fields.texts[index] = [text]
            for position, call in enumerate(getattr(message, "tool_calls", None) or ()):
                function = getattr(call, "function", None)
                fields.tool_calls.setdefault(index, {})[position] = {
                    "id": call.id,
                    "name": getattr(function, "name", None),
                    "arguments": getattr(function, "arguments", None),
                }
    return fields


class StreamReader:
    """Accumulates a stream's chunks into :class:`ResponseFields`."""

    __slots__ = ("fields", "keep_text")

    def __init__(self, keep_text: bool) -> None:
        self.fields = ResponseFields()
        self.keep_text = keep_text

    def add(self, chunk: Any) -> bool:
        """Read one chunk; return whether it carries output (text or tool calls)."""
        fields = self.fields
        if fields.response_id is None:
            fields.response_id = getattr(chunk, "id", None)
            fields.model = getattr(chunk, "model", None)
            fields.service_tier = getattr(chunk, "service_tier", None)
            fields.fingerprint = getattr(chunk, "system_fingerprint", None)
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            read_usage(fields, usage)
        output = False
        for choice in getattr(chunk, "choices", None) or ():
            if choice.finish_reason:
                fields.finish_reasons[choice.index] = choice.finish_reason
            delta = getattr(choice, "delta", None)
            if delta is None:  # text completion chunk
                text, calls = getattr(choice, "text", None), None
            else:
                text, calls = delta.content, delta.tool_calls
            if text or calls:
                output = True
                if self.keep_text:
                    self._keep(choice.index, text, calls)
        return output

    def _keep(self, index: int, text: str | None, calls: Iterable[Any] | None) -> None:
        if text:
            self.fields.texts.setdefault(index, []).append(text)
        for call in calls or ():
            entry = self.fields.tool_calls.setdefault(index, {}).setdefault(
                call.index, {"id": None, "name": None, "arguments": ""}
            )
            function = getattr(call, "function", None)
            if call.id:
                entry["id"] = call.id
            if function is not None and function.name:
                entry["name"] = function.name
            if function is not None and function.arguments:
                entry["arguments"] += function.arguments


def error_kind(exc: BaseException) -> str | None:
    """``error.type`` of an SDK exception as its public name (``openai.RateLimitError``);
    ``None`` for others (the generic qualified class name then applies)."""
    cls = type(exc)
    if not cls.__module__.startswith("openai"):
        return None
    import openai

    return f"openai.{cls.__name__}" if getattr(openai, cls.__name__, None) is cls else None


def status_code(exc: BaseException) -> int | None:
    """HTTP status of an ``openai.APIStatusError``."""
    code = getattr(exc, "status_code", None)
    return code if isinstance(code, int) else None
