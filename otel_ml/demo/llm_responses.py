"""The stand-in LLM's OpenAI Responses API (``POST /v1/responses``), on the wire
as the real one: a ``response`` object whose ``output`` holds a message (or a
function call) and whose ``usage`` has ``input_tokens_details.cached_tokens``
and ``output_tokens_details.reasoning_tokens``; streamed, the typed SSE events
``response.created`` ... ``response.output_text.delta`` ... ``response.completed``.

It reads the options :mod:`otel_ml.demo.llm_server` parses from
``extra_body={"fake": {...}}`` (pace, chunks, errors, tool call) and two more:
``cached`` / ``reasoning`` (token counts reported in the usage details) and
``incomplete`` (end with ``status: incomplete``, reason ``max_output_tokens``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

RESPONSE_ID = "resp_fake_1"
MESSAGE_ID = "msg_fake_1"
CALL_ID = "call_1"
TOOL_ARGUMENTS = ('{"city"', ': "Paris"}')


class _Dropped(Exception):
    """Raised inside the response body: uvicorn then drops the connection."""


def _event(payload: dict[str, Any]) -> bytes:
    return f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n".encode()


def usage(opts: dict[str, Any], output_tokens: int) -> dict[str, Any]:
    """The Responses API's usage object."""
    prompt = opts["prompt_tokens"]
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": opts["cached"], "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": opts["reasoning"]},
        "total_tokens": prompt + output_tokens,
    }


def _message(text: str, status: str) -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    return {"type": "message", "id": MESSAGE_ID, "role": "assistant", "status": status,
            "content": content if status == "completed" else []}  # fmt: skip


def _call(arguments: str, status: str) -> dict[str, Any]:
    return {"type": "function_call", "id": "fc_1", "call_id": CALL_ID, "name": "lookup",
            "arguments": arguments, "status": status}  # fmt: skip


def response(body: dict[str, Any], model: str, **state: Any) -> dict[str, Any]:
    """A ``response`` object; ``state`` overrides ``status``, ``output``, ``usage``."""
    tier = body.get("service_tier")
    done = {"status": "completed", "output": [], "usage": None, **state}
    incomplete = {"reason": "max_output_tokens"} if done["status"] == "incomplete" else None
    return {
        "id": RESPONSE_ID, "object": "response", "created_at": 1, "model": model,
        "instructions": body.get("instructions"), "metadata": {}, "error": None,
        "incomplete_details": incomplete, "parallel_tool_calls": True, "tool_choice": "auto",
        "tools": body.get("tools") or [], "temperature": body.get("temperature", 1.0),
        "top_p": body.get("top_p", 1.0), "text": body.get("text") or {"format": {"type": "text"}},
        "service_tier": "default" if tier in (None, "auto") else tier, **done,
    }  # fmt: skip


def complete(body: dict[str, Any], opts: dict[str, Any], words: list[str], model: str
             ) -> dict[str, Any]:  # fmt: skip
    """The non-streamed answer."""
    if opts["tool_call"]:
        output, count = [_call("".join(TOOL_ARGUMENTS), "completed")], len(TOOL_ARGUMENTS)
    else:
        output, count = [_message("".join(words), "completed")], len(words)
    status = "incomplete" if opts["incomplete"] else "completed"
    return response(body, model, status=status, output=output, usage=usage(opts, count))


def _deltas(opts: dict[str, Any], words: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(event type, fields)`` of the output events, deltas in the middle."""
    if opts["tool_call"]:
        yield "response.output_item.added", {"item": _call("", "in_progress")}
        for piece in TOOL_ARGUMENTS:
            yield "response.function_call_arguments.delta", {"item_id": "fc_1", "delta": piece}
        arguments = "".join(TOOL_ARGUMENTS)
        yield "response.function_call_arguments.done", {"item_id": "fc_1", "arguments": arguments}
        yield "response.output_item.done", {"item": _call(arguments, "completed")}
        return
    yield "response.output_item.added", {"item": _message("", "in_progress")}
    part = {"type": "output_text", "text": "", "annotations": []}
    at = {"item_id": MESSAGE_ID, "content_index": 0}
    yield "response.content_part.added", {**at, "part": part}
    for word in words:
        yield "response.output_text.delta", {**at, "delta": word, "logprobs": []}
    text = "".join(words)
    yield "response.output_text.done", {**at, "text": text, "logprobs": []}
    yield "response.content_part.done", {**at, "part": {**part, "text": text}}
    yield "response.output_item.done", {"item": _message(text, "completed")}


async def stream(body: dict[str, Any], opts: dict[str, Any], words: list[str], model: str
                 ) -> AsyncIterator[bytes]:  # fmt: skip
    """The streamed answer, paced by ``first_delay`` / ``delay`` before each delta."""
    started = response(body, model, status="in_progress")
    yield _event({"type": "response.created", "sequence_number": 0, "response": started})
    sequence, sent = 1, 0
    for kind, fields in _deltas(opts, words):
        if kind.endswith(".delta"):
            await asyncio.sleep(opts["first_delay"] if sent == 0 else opts["delay"])
            if opts["error_after"] is not None and sent >= opts["error_after"]:
                yield _event({"type": "error", "code": "server_error", "param": None,
                              "message": "fake mid-stream failure",
                              "sequence_number": sequence})  # fmt: skip
                return
            if opts["truncate_after"] is not None and sent >= opts["truncate_after"]:
                raise _Dropped
            sent += 1
        yield _event({"type": kind, "sequence_number": sequence, "output_index": 0, **fields})
        sequence += 1
    final = complete(body, opts, words, model)
    done = "response.incomplete" if opts["incomplete"] else "response.completed"
    yield _event({"type": done, "sequence_number": sequence, "response": final})
