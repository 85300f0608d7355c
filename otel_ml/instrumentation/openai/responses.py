"""Pure readers of the OpenAI Responses API (``client.responses``): request
input, the ``Response`` object and its stream of typed events.

They fill the same :class:`~.extract.ResponseFields` as chat completions, so
one patch serves both APIs. The Responses API has no finish reason of its own:
the response's ``status`` is read as the conventions' reasons (``stop``,
``tool_call``, ``length``, ``content_filter``, ``error``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_ml.genai.content import text_message

from .extract import ResponseFields, read_usage

_INCOMPLETE = {"max_output_tokens": "length", "content_filter": "content_filter"}
_TEXT_PARTS = frozenset({"input_text", "output_text", "text"})


class ResponseStreamError(Exception):
    """A Responses API stream reported a failure as an event (the SDK raises nothing)."""


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    return [
        {"type": "text", "content": part.get("text")}
        for part in content if isinstance(part, Mapping) and part.get("type") in _TEXT_PARTS
    ] if isinstance(content, list | tuple) else []  # fmt: skip


def _input_item(item: Mapping[str, Any]) -> dict[str, Any] | None:
    kind = item.get("type")
    if kind == "function_call_output":
        part = {"type": "tool_call_response", "id": item.get("call_id"),
                "response": item.get("output")}  # fmt: skip
        return {"role": "tool", "parts": [part]}
    if kind == "function_call":
        part = {"type": "tool_call", "id": item.get("call_id"), "name": item.get("name"),
                "arguments": item.get("arguments")}  # fmt: skip
        return {"role": "assistant", "parts": [part]}
    role = item.get("role")
    return {"role": role, "parts": _parts(item.get("content"))} if isinstance(role, str) else None


def input_messages(kwargs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``input`` (a string or a list of items) as semconv messages (callers gate content)."""
    value = kwargs.get("input")
    if isinstance(value, str):
        return [text_message("user", value)]
    items = value if isinstance(value, list | tuple) else ()
    messages = [_input_item(item) for item in items if isinstance(item, Mapping)]
    return [message for message in messages if message is not None]


def system_instructions(kwargs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``instructions`` as semconv parts: the Responses API gives them apart from the input."""
    value = kwargs.get("instructions")
    return [{"type": "text", "content": value}] if isinstance(value, str) and value else []


def finish_reason(response: Any, called_tools: bool) -> str | None:
    """The conventions' finish reason of a response's ``status`` (``None``: not finished)."""
    status = getattr(response, "status", None)
    if status == "completed":
        return "tool_call" if called_tools else "stop"
    if status == "incomplete":
        reason = getattr(getattr(response, "incomplete_details", None), "reason", None)
        return _INCOMPLETE.get(reason or "", reason or "length")
    return "error" if status in ("failed", "cancelled") else None


def read_response(response: Any, keep_text: bool) -> ResponseFields:
    """Fields of a ``Response`` (or ``ParsedResponse``)."""
    fields = ResponseFields(model=getattr(response, "model", None),
                            response_id=getattr(response, "id", None))  # fmt: skip
    read_usage(fields, getattr(response, "usage", None))
    fields.service_tier = getattr(response, "service_tier", None)
    output = getattr(response, "output", None) or ()
    calls = [item for item in output if getattr(item, "type", None) == "function_call"]
    reason = finish_reason(response, bool(calls))
    if reason is not None:
        fields.finish_reasons[0] = reason
    error = getattr(response, "error", None)
    if error is not None:
        fields.error = (str(getattr(error, "code", None) or "error"), str(error.message))
    if keep_text:
        _keep_output(fields, output, calls)
    return fields


def _keep_output(fields: ResponseFields, output: Any, calls: list[Any]) -> None:
    texts = [part.text for item in output if getattr(item, "type", None) == "message"
             for part in item.content if getattr(part, "type", None) == "output_text"]  # fmt: skip
    if texts:
        fields.texts[0] = texts
    for position, call in enumerate(calls):
        fields.tool_calls.setdefault(0, {})[position] = {
            "id": call.call_id,
            "name": call.name,
            "arguments": call.arguments,
        }


class StreamReader:
    """Accumulates a Responses API event stream into :class:`ResponseFields`.

    Every ``*.delta`` event is an output chunk (text, refusal, tool arguments,
    reasoning, audio); the terminal event's ``response`` has the rest.
    """

    __slots__ = ("fields", "keep_text")

    def __init__(self, keep_text: bool) -> None:
        self.fields = ResponseFields()
        self.keep_text = keep_text

    def add(self, event: Any) -> bool:
        """Read one event; return whether it carries output."""
        kind = getattr(event, "type", None) or ""
        if kind.endswith(".delta"):
            if self.keep_text and kind == "response.output_text.delta":
                self.fields.texts.setdefault(0, []).append(event.delta)
            return True
        response = getattr(event, "response", None)
        if response is not None:
            self._read(response)
        elif kind == "error":
            code = getattr(event, "code", None) or "error"
            self.fields.error = (str(code), str(getattr(event, "message", "")))
        return False

    def _read(self, response: Any) -> None:
        final = read_response(response, self.keep_text)
        if final.finish_reasons:  # response.completed / incomplete / failed
            if not final.texts:
                final.texts = self.fields.texts
            self.fields = final
        else:  # response.created / in_progress: who answers, before any output
            self.fields.response_id = final.response_id
            self.fields.model = final.model
