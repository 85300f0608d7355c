"""The stand-in LLM's Anthropic Messages route (``POST /v1/messages``).

It follows the wire format of the Anthropic API as the ``anthropic`` SDK
reads it: a ``message`` body with ``content`` blocks, ``stop_reason`` and
``usage``; or, with ``"stream": true``, the SSE events ``message_start``,
``content_block_start``, ``ping``, ``content_block_delta``,
``content_block_stop``, ``message_delta`` and ``message_stop`` (an ``error``
event for a mid-stream failure). The ``fake`` options of
:mod:`otel_ml.demo.llm_server` apply (``chunks``, ``words``,
``first_delay``, ``delay``, ``status``, ``error_after``, ``truncate_after``,
``tool_call``), and ``cache_read`` / ``cache_creation`` (ints) report cached
input tokens.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi.responses import JSONResponse, Response, StreamingResponse

MESSAGE_ID = "msg_fake_1"
_TOOL_INPUT = ('{"city"', ': "Paris"}')


class _Truncated(Exception):
    """Raised inside the response body: uvicorn then drops the connection."""


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **payload})}\n\n".encode()


def _usage(opts: dict[str, Any], output_tokens: int) -> dict[str, Any]:
    fake = opts["fake"]
    return {"input_tokens": opts["prompt_tokens"], "output_tokens": output_tokens,
            "cache_creation_input_tokens": int(fake.get("cache_creation", 0)),
            "cache_read_input_tokens": int(fake.get("cache_read", 0))}  # fmt: skip


def _message(model: str, content: list[dict[str, Any]], stop: str | None,
             usage: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    return {"id": MESSAGE_ID, "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": usage}  # fmt: skip


def error_response(status: int) -> JSONResponse:
    """An Anthropic API error body."""
    body = {"type": "error", "error": {"type": "api_error", "message": f"fake error {status}"}}
    return JSONResponse(body, status_code=status)


def messages_reply(opts: dict[str, Any], words: list[str], model: str) -> Response:
    """The answer to one ``/v1/messages`` request (``opts``: the parsed ``fake`` options)."""
    if opts["status"]:
        return error_response(int(opts["status"]))
    if opts["stream"]:
        events = _stream(opts, words, model)
        return StreamingResponse(events, media_type="text/event-stream")
    if opts["tool_call"]:
        content = [{"type": "tool_use", "id": "toolu_1", "name": "lookup",
                    "input": {"city": "Paris"}}]  # fmt: skip
        stop, produced = "tool_use", len(_TOOL_INPUT)
    else:
        content, stop, produced = [{"type": "text", "text": "".join(words)}], "end_turn", len(words)
    return JSONResponse(_message(model, content, stop, _usage(opts, produced)))


def _deltas(opts: dict[str, Any], words: list[str]) -> Iterator[dict[str, Any]]:
    if opts["tool_call"]:
        for piece in _TOOL_INPUT:
            yield {"type": "input_json_delta", "partial_json": piece}
        return
    for word in words:
        yield {"type": "text_delta", "text": word}


async def _stream(opts: dict[str, Any], words: list[str], model: str) -> AsyncIterator[bytes]:
    yield _event("message_start", {"message": _message(model, [], None, _usage(opts, 1))})
    block = ({"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}}
             if opts["tool_call"] else {"type": "text", "text": ""})  # fmt: skip
    yield _event("content_block_start", {"index": 0, "content_block": block})
    yield _event("ping", {})
    sent = 0
    for delta in _deltas(opts, words):
        await asyncio.sleep(opts["first_delay"] if sent == 0 else opts["delay"])
        if opts["error_after"] is not None and sent >= opts["error_after"]:
            error = {"type": "overloaded_error", "message": "fake mid-stream failure"}
            yield _event("error", {"error": error})
            return
        if opts["truncate_after"] is not None and sent >= opts["truncate_after"]:
            raise _Truncated
        yield _event("content_block_delta", {"index": 0, "delta": delta})
        sent += 1
    yield _event("content_block_stop", {"index": 0})
    stop = "tool_use" if opts["tool_call"] else "end_turn"
    yield _event("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None},
                                   "usage": {"output_tokens": sent}})  # fmt: skip
    yield _event("message_stop", {})
