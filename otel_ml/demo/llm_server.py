"""A stand-in LLM: a real HTTP server speaking the OpenAI wire format on 127.0.0.1.

The demo's RAG endpoint talks to it through the real ``openai`` client, and the
tests use it to drive every streaming edge case.

It serves ``/v1/chat/completions``, ``/v1/completions``, ``/v1/embeddings``,
the Responses API's ``/v1/responses`` (:mod:`otel_ml.demo.llm_responses`) and
Anthropic's ``/v1/messages`` (:mod:`otel_ml.demo.anthropic_messages`), SSE
streaming included, with uvicorn in a background thread. Each request
chooses its behaviour through ``extra_body={"fake": {...}}``:

- ``chunks`` (int): content chunks of a stream, ``words`` (list): their text;
- ``first_delay`` / ``delay`` (s): before the first chunk / between chunks;
- ``usage`` (bool): send the final usage chunk (also ``stream_options.include_usage``);
- ``status`` (int): answer with this HTTP error instead;
- ``error_after`` (int): send an SSE error event after this many chunks;
- ``truncate_after`` (int): drop the connection after this many chunks;
- ``tool_call`` (bool): stream a tool call instead of text;
- ``cached`` / ``reasoning`` (int): cached input and reasoning output tokens
  reported in the usage details (default 0); ``prompt_tokens`` (int): input tokens;
- ``incomplete`` (bool): Responses API only, end as ``incomplete``;
- ``id`` (str): the response id of a chat or text completion not streamed.

Chat requests that carry otel-ml's judge prompt are answered by the judge
stand-in (:mod:`otel_ml.demo.llm_judge`) with a deterministic verdict.

Without ``fake`` options a :data:`Responder` given to :func:`create_app` (the
demo's) writes the answer and sets the pace; with neither, the answer is
``chunks`` placeholder words, sent at once.

Every loop is bounded (at most 1000 chunks) and every sleep short.
"""

from __future__ import annotations

import asyncio
import base64
import json
import struct
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from otel_ml.demo import llm_responses
from otel_ml.demo.anthropic_messages import messages_reply
from otel_ml.demo.llm_judge import JudgeStandIn, is_judge_request
from otel_ml.demo.server import serve

MAX_CHUNKS = 1000
PROMPT_TOKENS = 11
RESPONSE_ID = "chatcmpl-fake-1"
RESPONSE_MODEL = "fake-model-2024-01-01"


@dataclass(frozen=True)
class Reply:
    """What a :data:`Responder` answers: the output chunks, the prompt's token
    count and the pace (seconds before the first chunk and between chunks)."""

    chunks: list[str]
    prompt_tokens: int = PROMPT_TOKENS
    first_delay: float = 0.0
    delay: float = 0.0


Responder = Callable[[dict[str, Any]], Reply]
"""Writes the answer to a request body (chat or completion) as a :class:`Reply`."""


def _options(body: dict[str, Any], responder: Responder | None = None) -> dict[str, Any]:
    fake = body.get("fake") or {}
    reply = responder(body) if responder is not None and not fake else Reply([])
    return {
        "chunks": min(int(fake.get("chunks", 3)), MAX_CHUNKS),
        "words": fake.get("words") or reply.chunks[:MAX_CHUNKS] or None,
        "prompt_tokens": int(fake.get("prompt_tokens", reply.prompt_tokens)),
        "first_delay": min(float(fake.get("first_delay", reply.first_delay)), 2.0),
        "delay": min(float(fake.get("delay", reply.delay)), 0.5),
        "usage": bool(fake.get("usage"))
        or bool((body.get("stream_options") or {}).get("include_usage")),
        "status": fake.get("status"),
        "error_after": fake.get("error_after"),
        "truncate_after": fake.get("truncate_after"),
        "tool_call": bool(fake.get("tool_call")),
        "stream": bool(body.get("stream")),
        "cached": int(fake.get("cached", 0)),
        "reasoning": int(fake.get("reasoning", 0)),
        "incomplete": bool(fake.get("incomplete")),
        "id": str(fake.get("id", RESPONSE_ID)),
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


def _chunk(choices: list[dict[str, Any]], kind: str, model: str,
           usage: dict[str, Any] | None = None) -> bytes:  # fmt: skip
    return _sse({"id": RESPONSE_ID, "object": kind, "created": 1, "model": model,
                 "choices": choices, "usage": usage, **_FINGERPRINT})  # fmt: skip


SYSTEM_FINGERPRINT = "fp_fake_1"
_FINGERPRINT = {"system_fingerprint": SYSTEM_FINGERPRINT, "service_tier": "default"}


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


async def _stream(opts: dict[str, Any], chat: bool, model: str) -> AsyncIterator[bytes]:
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
        yield _chunk([choice], kind, model)
        sent += 0 if chat and position == 0 else 1
    reason = "tool_calls" if opts["tool_call"] else "stop"
    ending: dict[str, Any] = {"delta": {}} if chat else {"text": ""}
    last = {"index": 0, "finish_reason": reason, **ending}
    yield _chunk([last], kind, model)
    if opts["usage"]:
        yield _chunk([], kind, model, _usage(sent, opts))
    yield b"data: [DONE]\n\n"


def _pause(opts: dict[str, Any], output_position: int) -> float:
    """Seconds before a chunk: none before chat's role-only chunk (position -1)."""
    if output_position < 0:
        return 0.0
    return float(opts["first_delay"] if output_position == 0 else opts["delay"])


def _usage(output_tokens: int, opts: dict[str, Any]) -> dict[str, Any]:
    prompt = opts["prompt_tokens"]
    return {"prompt_tokens": prompt, "completion_tokens": output_tokens,
            "total_tokens": prompt + output_tokens,
            "prompt_tokens_details": {"cached_tokens": opts["cached"]},
            "completion_tokens_details": {"reasoning_tokens": opts["reasoning"]}}  # fmt: skip


def create_app(responder: Responder | None = None, model: str = RESPONSE_MODEL,
               judge: JudgeStandIn | None = None) -> FastAPI:  # fmt: skip
    """The OpenAI-compatible app reporting ``model``; ``judge`` answers judge prompts."""
    app = FastAPI()
    judge = judge or JudgeStandIn()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.json()
        if is_judge_request(body):
            return await judge.reply(body, str(body.get("model") or model))
        return await _complete(_options(body, responder), True, model)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await _complete(_options(await request.json(), responder), False, model)

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
        return JSONResponse({"object": "list", "data": data, "model": model,
                             "usage": {"prompt_tokens": 3 * len(inputs),
                                       "total_tokens": 3 * len(inputs)}})  # fmt: skip

    @app.post("/v1/responses")
    async def responses(request: Request) -> Response:
        body = await request.json()
        opts = _options(body, responder)
        if opts["status"]:
            return _error(int(opts["status"]))
        if opts["stream"]:
            events = llm_responses.stream(body, opts, _words(opts), model)
            return StreamingResponse(events, media_type="text/event-stream")
        return JSONResponse(llm_responses.complete(body, opts, _words(opts), model))

    @app.post("/v1/messages")
    async def messages(request: Request) -> Response:
        body = await request.json()
        opts = {**_options(body), "fake": body.get("fake") or {}}
        return messages_reply(opts, _words(opts), model)

    return app


async def _complete(opts: dict[str, Any], chat: bool, model: str) -> Response:
    if opts["status"]:
        return _error(int(opts["status"]))
    if opts["stream"]:
        return StreamingResponse(_stream(opts, chat, model), media_type="text/event-stream")
    words = _words(opts)
    text = "".join(words)
    if chat:
        choice: dict[str, Any] = {"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": text}}  # fmt: skip
    else:
        choice = {"index": 0, "finish_reason": "length", "text": text}
    kind = "chat.completion" if chat else "text_completion"
    return JSONResponse({"id": opts["id"], "object": kind, "created": 1, "model": model,
                         "choices": [choice], "usage": _usage(len(words), opts),
                         **_FINGERPRINT})  # fmt: skip


@contextmanager
def running_server(
    responder: Responder | None = None,
    model: str = RESPONSE_MODEL,
    judge: JudgeStandIn | None = None,
) -> Iterator[str]:
    """Serve the app on a free 127.0.0.1 port; yield its ``/v1`` base URL; stop it."""
    app = create_app(responder, model, judge)
    with serve(app, lifespan="off", log_level="critical") as url:
        yield f"{url}/v1"
