"""A stand-in LLM: a real HTTP server speaking the OpenAI wire format on 127.0.0.1.

The demo's RAG endpoint talks to it through the real ``openai`` client, and the
tests use it to drive every streaming edge case.

It serves ``/v1/chat/completions``, ``/v1/completions`` and ``/v1/embeddings``
(SSE streaming included) with uvicorn in a background thread. Each request
chooses its behaviour through ``extra_body={"fake": {...}}``:

- ``chunks`` (int): content chunks of a stream, ``words`` (list): their text;
- ``first_delay`` / ``delay`` (s): before the first chunk / between chunks;
- ``usage`` (bool): send the final usage chunk (also ``stream_options.include_usage``);
- ``status`` (int): answer with this HTTP error instead;
- ``error_after`` (int): send an SSE error event after this many chunks;
- ``truncate_after`` (int): drop the connection after this many chunks;
- ``tool_call`` (bool): stream a tool call instead of text.

Every loop is bounded (at most 1000 chunks) and every sleep short.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import struct
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

MAX_CHUNKS = 1000
PROMPT_TOKENS = 11
RESPONSE_ID = "chatcmpl-fake-1"
RESPONSE_MODEL = "fake-model-2024-01-01"


def _options(body: dict[str, Any]) -> dict[str, Any]:
    fake = body.get("fake") or {}
    return {
        "chunks": min(int(fake.get("chunks", 3)), MAX_CHUNKS),
        "words": fake.get("words"),
        "first_delay": min(float(fake.get("first_delay", 0.0)), 2.0),
        "delay": min(float(fake.get("delay", 0.0)), 0.5),
        "usage": bool(fake.get("usage"))
        or bool((body.get("stream_options") or {}).get("include_usage")),
        "status": fake.get("status"),
        "error_after": fake.get("error_after"),
        "truncate_after": fake.get("truncate_after"),
        "tool_call": bool(fake.get("tool_call")),
    }


def _error(status: int) -> JSONResponse:
    body = {"error": {"message": f"fake error {status}", "type": "fake", "code": str(status)}}
    return JSONResponse(body, status_code=status)


def _words(opts: dict[str, Any]) -> list[str]:
    return list(opts["words"] or [f"w{i} " for i in range(opts["chunks"])])


class _Truncated(Exception):
    """Raised inside the response body: uvicorn then drops the connection."""


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def _chunk(choices: list[dict[str, Any]], kind: str, usage: dict[str, Any] | None = None) -> bytes:
    return _sse({"id": RESPONSE_ID, "object": kind, "created": 1, "model": RESPONSE_MODEL,
                 "choices": choices, "usage": usage})  # fmt: skip


def _chat_deltas(opts: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield {"role": "assistant", "content": ""}  # role only: carries no output
    if opts["tool_call"]:
        yield {"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                               "function": {"name": "lookup", "arguments": ""}}]}  # fmt: skip
        for piece in ('{"city"', ': "Paris"}'):
            yield {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
        return
    for word in _words(opts):
        yield {"content": word}


async def _stream(opts: dict[str, Any], chat: bool) -> AsyncIterator[bytes]:
    kind = "chat.completion.chunk" if chat else "text_completion"
    deltas = list(_chat_deltas(opts)) if chat else [{"text": w} for w in _words(opts)]
    sent = 0
    for position, delta in enumerate(deltas):
        await asyncio.sleep(
            opts["first_delay"] if position == (1 if chat else 0) else opts["delay"]
        )
        if opts["error_after"] is not None and sent >= opts["error_after"]:
            yield _sse({"error": {"message": "fake mid-stream failure", "type": "server_error"}})
            return
        if opts["truncate_after"] is not None and sent >= opts["truncate_after"]:
            raise _Truncated
        choice = {"index": 0, "finish_reason": None, **({"delta": delta} if chat else delta)}
        yield _chunk([choice], kind)
        sent += 0 if chat and position == 0 else 1
    reason = "tool_calls" if opts["tool_call"] else "stop"
    ending: dict[str, Any] = {"delta": {}} if chat else {"text": ""}
    last = {"index": 0, "finish_reason": reason, **ending}
    yield _chunk([last], kind)
    if opts["usage"]:
        yield _chunk([], kind, _usage(sent))
    yield b"data: [DONE]\n\n"


def _pause(opts: dict[str, Any], output_position: int) -> float:
    """Seconds before a chunk: none before chat's role-only chunk (position -1)."""
    if output_position < 0:
        return 0.0
    return float(opts["first_delay"] if output_position == 0 else opts["delay"])


def _usage(output_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": output_tokens,
            "total_tokens": PROMPT_TOKENS + output_tokens}  # fmt: skip


def create_app() -> FastAPI:
    """The OpenAI-compatible app."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        return await _complete(await request.json(), chat=True)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await _complete(await request.json(), chat=False)

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Response:
        body = await request.json()
        opts = _options(body)
        if opts["status"]:
            return _error(int(opts["status"]))
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vector = [0.25, -0.5, 0.125, 1.0]
        packed = base64.b64encode(struct.pack("<4f", *vector)).decode()
        value: Any = packed if body.get("encoding_format") == "base64" else vector
        data = [{"object": "embedding", "index": i, "embedding": value} for i in range(len(inputs))]
        return JSONResponse({"object": "list", "data": data, "model": RESPONSE_MODEL,
                             "usage": {"prompt_tokens": 3 * len(inputs),
                                       "total_tokens": 3 * len(inputs)}})  # fmt: skip

    return app


async def _complete(body: dict[str, Any], chat: bool) -> Response:
    opts = _options(body)
    if opts["status"]:
        return _error(int(opts["status"]))
    if body.get("stream"):
        return StreamingResponse(_stream(opts, chat), media_type="text/event-stream")
    words = _words(opts)
    text = "".join(words)
    if chat:
        choice: dict[str, Any] = {"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": text}}  # fmt: skip
    else:
        choice = {"index": 0, "finish_reason": "length", "text": text}
    kind = "chat.completion" if chat else "text_completion"
    return JSONResponse({"id": RESPONSE_ID, "object": kind, "created": 1, "model": RESPONSE_MODEL,
                         "choices": [choice], "usage": _usage(len(words))})  # fmt: skip


@contextmanager
def running_server() -> Iterator[str]:
    """Serve the app on a free 127.0.0.1 port; yield its ``/v1`` base URL; stop it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(), log_level="critical", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.01)
    assert server.started, "the fake LLM server did not start"
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
