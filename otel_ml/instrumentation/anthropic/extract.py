"""Pure readers of the ``anthropic`` SDK's requests, messages and stream events.

Nothing here touches OpenTelemetry. Only request bodies are read, never
headers or ``api_key``. Anthropic reports input tokens without the cached
ones; the conventions count every input token, so the input total here is
``input_tokens + cache_read_input_tokens + cache_creation_input_tokens``,
with the two cached parts on their own attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from otel_ml import semconv

PROVIDER = "anthropic"
_DEFAULT_PORTS = {"https": 443, "http": 80}

# Anthropic ``stop_reason`` -> the conventions' finish reason; others pass as they are.
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_call",
    "refusal": "content_filter",
}

_REQUEST_PARAMS = (
    ("max_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS, int),
    ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE, float),
    ("top_p", semconv.GEN_AI_REQUEST_TOP_P, float),
    ("top_k", semconv.GEN_AI_REQUEST_TOP_K, int),
)


def server(resource: Any) -> tuple[str | None, int | None]:
    """``(server.address, server.port)`` from a resource's client base URL."""
    url = getattr(getattr(resource, "_client", None), "base_url", None)
    host = getattr(url, "host", None) or None
    if host is None:
        return None, None
    return host, getattr(url, "port", None) or _DEFAULT_PORTS.get(getattr(url, "scheme", ""))


def request_attributes(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Span attributes of the request parameters the caller passed."""
    attrs: dict[str, Any] = {}
    for name, key, kind in _REQUEST_PARAMS:
        value = kwargs.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            attrs[key] = kind(value)
    stops = kwargs.get("stop_sequences")
    if isinstance(stops, list | tuple) and all(isinstance(s, str) for s in stops):
        attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = list(stops)
    return attrs


def input_messages(kwargs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The request's messages in the semconv shape (content included: callers gate it)."""
    return [_message(m) for m in kwargs.get("messages") or () if isinstance(m, Mapping)]


def _message(message: Mapping[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or ()
    parts: list[dict[str, Any]] = []
    for block in blocks:
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "text":
            parts.append({"type": "text", "content": block.get("text")})
        elif kind == "tool_use":
            parts.append({"type": "tool_call", "id": block.get("id"), "name": block.get("name"),
                          "arguments": block.get("input")})  # fmt: skip
        elif kind == "tool_result":
            parts.append({"type": "tool_call_response", "id": block.get("tool_use_id"),
                          "response": block.get("content")})  # fmt: skip
    return {"role": message.get("role") or "user", "parts": parts}


@dataclass
class MessageFields:
    """What a message (or a whole stream of events) said about itself."""

    model: str | None = None
    message_id: str | None = None
    stop_reason: str | None = None
    input_tokens: int | None = None
    cache_read: int | None = None
    cache_creation: int | None = None
    output_tokens: int | None = None
    texts: list[str] = field(default_factory=list)
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)

    def finish_reasons(self) -> list[str]:
        """The stop reason as the conventions' finish reason (none while unknown)."""
        if self.stop_reason is None:
            return []
        return [FINISH_REASONS.get(self.stop_reason, self.stop_reason)]

    def total_input_tokens(self) -> int | None:
        """Every input token: uncached, read from and written to the cache."""
        if self.input_tokens is None:
            return None
        return self.input_tokens + (self.cache_read or 0) + (self.cache_creation or 0)

    def usage_attributes(self) -> dict[str, Any]:
        """The cached-token span attributes the provider reported."""
        return {semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: self.cache_read,
                semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: self.cache_creation}  # fmt: skip

    def answer_text(self) -> str:
        """The message's text: the answer online evaluation judges."""
        return "".join(self.texts)

    def output_messages(self) -> list[dict[str, Any]]:
        """The answer as one semconv output message (content included: callers gate it)."""
        parts: list[dict[str, Any]] = []
        if self.texts:
            parts.append({"type": "text", "content": "".join(self.texts)})
        parts += [{"type": "tool_call", **call} for call in self.tool_calls.values()]
        reasons = self.finish_reasons()
        return [{"role": "assistant", "parts": parts,
                 "finish_reason": reasons[0] if reasons else "error"}]  # fmt: skip


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_usage(fields: MessageFields, usage: Any) -> None:
    """Token counts of a ``Usage`` (message, ``message_start``) or a
    ``MessageDeltaUsage`` (cumulative: later values replace earlier ones)."""
    if usage is None:
        return
    for name, attr in (("input_tokens", "input_tokens"), ("output_tokens", "output_tokens"),
                       ("cache_read_input_tokens", "cache_read"),
                       ("cache_creation_input_tokens", "cache_creation")):  # fmt: skip
        value = _count(getattr(usage, name, None))
        if value is not None:
            setattr(fields, attr, value)


def read_message(message: Any, keep_text: bool) -> MessageFields:
    """Fields of a ``Message``."""
    fields = MessageFields(getattr(message, "model", None), getattr(message, "id", None),
                           getattr(message, "stop_reason", None))  # fmt: skip
    read_usage(fields, getattr(message, "usage", None))
    if keep_text:
        for position, block in enumerate(getattr(message, "content", None) or ()):
            if getattr(block, "type", None) == "text":
                fields.texts.append(block.text)
            elif getattr(block, "type", None) == "tool_use":
                fields.tool_calls[position] = {"id": block.id, "name": block.name,
                                               "arguments": block.input}  # fmt: skip
    return fields


class EventReader:
    """Accumulates a stream's events (``RawMessageStreamEvent``) into :class:`MessageFields`."""

    __slots__ = ("fields", "keep_text")

    def __init__(self, keep_text: bool) -> None:
        self.fields = MessageFields()
        self.keep_text = keep_text

    def add(self, event: Any) -> bool:
        """Read one event; return whether it carries output (a content delta)."""
        kind = getattr(event, "type", None)
        if kind == "content_block_delta":
            if self.keep_text:
                self._keep_delta(getattr(event, "index", 0), event.delta)
            return True
        fields = self.fields
        if kind == "message_start":
            message = event.message
            fields.model, fields.message_id = message.model, message.id
            read_usage(fields, message.usage)
        elif kind == "message_delta":
            fields.stop_reason = getattr(event.delta, "stop_reason", None) or fields.stop_reason
            read_usage(fields, getattr(event, "usage", None))
        elif kind == "content_block_start" and self.keep_text:
            block = event.content_block
            if getattr(block, "type", None) == "tool_use":
                fields.tool_calls[event.index] = {"id": block.id, "name": block.name,
                                                  "arguments": ""}  # fmt: skip
        return False

    def _keep_delta(self, index: int, delta: Any) -> None:
        kind = getattr(delta, "type", None)
        if kind == "text_delta":
            self.fields.texts.append(delta.text)
        elif kind == "input_json_delta" and index in self.fields.tool_calls:
            self.fields.tool_calls[index]["arguments"] += delta.partial_json


def error_kind(exc: BaseException) -> str | None:
    """``error.type`` of an SDK exception as its public name (``anthropic.RateLimitError``)."""
    cls = type(exc)
    if not cls.__module__.startswith("anthropic"):
        return None
    import anthropic

    return f"anthropic.{cls.__name__}" if getattr(anthropic, cls.__name__, None) is cls else None
