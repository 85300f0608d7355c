"""Fuzzed GenAI traffic: the real ``openai`` client against a loopback server that
answers with malformed JSON and broken SSE streams, and the ``llm`` /
``retrieval`` / ``embedding`` hooks fed junk.

The property: with the instrumentation on, the caller sees exactly what it
sees with it suppressed (the same parsed response or chunks, the same
exception type and message); each call makes one span that ends; every
failure inside otel_ml is counted.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest
from hostile_support import anything, scalars, values
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.instrumentation.utils import suppress_instrumentation
from reliability_support import RawResponse, RawServer, fuzz_settings, internal_errors
from support import Telemetry

import otel_ml
from otel_ml._internal import guard
from otel_ml.instrumentation.openai import OpenAIInstrumentor

GENAI_COMPONENTS = {"openai.request", "openai.response", "genai.start", "genai.stop",
                    "genai.fail", "genai.close", "genai.record", "genai.stream.chunk",
                    "genai.stream.end", "genai.stream.error", "genai.content.redact"}  # fmt: skip


@pytest.fixture(autouse=True)
def production() -> None:
    guard.set_strict(False)


@pytest.fixture(scope="module")
def raw_server() -> Iterator[tuple[RawServer, str]]:
    server = RawServer()
    with server.running() as url:
        yield server, url


@pytest.fixture(params=[False, True], ids=["content-off", "content-on"])
def instrumented(telemetry: Telemetry, request: pytest.FixtureRequest) -> Iterator[Telemetry]:
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(**telemetry.providers, capture_content=request.param,
                            max_content_length=64)  # fmt: skip
    yield telemetry
    instrumentor.uninstrument()


def assert_failures_counted(telemetry: Telemetry) -> None:
    exported = internal_errors(telemetry)
    assert all(count == guard.error_count(c) for c, count in exported.items())
    tallied = {c for c in GENAI_COMPONENTS if guard.error_count(c)}
    assert sum(guard.error_count(c) for c in tallied) == guard.error_count()


junk = st.one_of(
    values.filter(lambda v: _is_json(v)),
    st.sampled_from([10**30, -1, -(2**63) - 1, "x" * 100_000, [], {}, "", None, 1.5, True]),
)


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def maybe(valid: Any) -> st.SearchStrategy[Any]:
    return st.just(valid) | junk


def fields(valid: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``valid`` with any field dropped or replaced by junk."""
    return st.fixed_dictionaries({}, optional={key: maybe(v) for key, v in valid.items()})


USAGE = fields({"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5})
MESSAGE = fields({"role": "assistant", "content": "fuzzed answer",
                  "tool_calls": [{"id": "t1", "type": "function",
                                  "function": {"name": "f", "arguments": "{}"}}]})  # fmt: skip
CHOICE = st.fixed_dictionaries({}, optional={
    "index": maybe(0), "finish_reason": maybe("stop"), "message": MESSAGE | junk,
    "text": maybe("fuzzed text"), "delta": MESSAGE | junk,
})  # fmt: skip
BODY = st.fixed_dictionaries({}, optional={
    "id": maybe("resp-1"), "object": maybe("chat.completion"), "created": maybe(1),
    "model": maybe("m-1"), "choices": st.lists(CHOICE | junk, max_size=3) | junk,
    "usage": USAGE | junk,
    "data": st.lists(fields({"object": "embedding", "index": 0, "embedding": [0.5, 0.25]}),
                     max_size=2) | junk,
})  # fmt: skip
RAW_BODIES = st.one_of(
    BODY.map(lambda b: json.dumps(b).encode()),
    st.binary(max_size=64),
    st.sampled_from([b"", b"null", b"[]", b"5", b"\xff\xfe{", b'{"error": {"message": "x"}}']),
)
EVENTS = st.one_of(
    BODY.map(lambda b: b"data: " + json.dumps(b).encode() + b"\n\n"),
    st.sampled_from([b"data: [DONE]\n\n", b": keep-alive\n\n", b"data: not json\n\n",
                     b"\xff\xfe\n\n", b"event: error\ndata: {}\n\n", b"retry: 5\n\n",
                     b'data: {"error": {"message": "mid-stream failure"}}\n\n', b"data:",
                     b"data: " + b"[" * 5_000 + b"\n\n"]),
)  # fmt: skip
STREAMS = st.lists(EVENTS, max_size=6).map(b"".join)


def outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    """What a call did, comparably: the response's repr, every chunk's repr, or the
    exception's type and message (at whatever point it was raised)."""
    try:
        result = call()
        if not isinstance(result, openai.Stream):
            return ("returned", repr(result))
        chunks: list[str] = []
        try:
            for chunk in result:
                chunks.append(repr(chunk))
        except Exception as exc:
            return ("streamed", chunks, type(exc), str(exc))
        return ("streamed", chunks)
    except Exception as exc:
        return ("raised", type(exc), str(exc))


def is_stream(result: Any) -> bool:
    return isinstance(result, openai.Stream)


OPERATIONS: dict[str, Callable[[openai.OpenAI, bool], Any]] = {
    "chat": lambda c, s: c.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "q"}], stream=s),
    "completion": lambda c, s: c.completions.create(model="m", prompt="q", stream=s),
    "embeddings": lambda c, s: c.embeddings.create(model="m", input=["q", "r"]),
}  # fmt: skip


@fuzz_settings(max_examples=30)
@given(
    operation=st.sampled_from(sorted(OPERATIONS)),
    stream=st.booleans(),
    body=RAW_BODIES,
    sse=STREAMS,
    status=st.sampled_from([200, 200, 200, 400, 429, 500]),
)
def test_malformed_responses_reach_the_caller_exactly_as_without_instrumentation(
    instrumented: Telemetry,
    raw_server: tuple[RawServer, str],
    operation: str,
    stream: bool,
    body: bytes,
    sse: bytes,
    status: int,
) -> None:
    server, url = raw_server
    streaming = stream and operation != "embeddings"
    server.response = (
        RawResponse(sse, status, "text/event-stream") if streaming else RawResponse(body, status)
    )
    with openai.OpenAI(base_url=url, api_key="sk-fuzz", max_retries=0, timeout=10) as client:

        def call() -> Any:
            return OPERATIONS[operation](client, streaming)

        with suppress_instrumentation():
            expected = outcome(call)
        spans = len(instrumented.spans())
        got = outcome(call)

    assert got == expected
    assert len(instrumented.spans()) == spans + 1  # one span, ended whatever happened
    assert_failures_counted(instrumented)


@fuzz_settings(max_examples=15)
@given(stream=st.booleans(), body=RAW_BODIES, sse=STREAMS)
def test_the_async_client_sees_malformed_responses_as_without_instrumentation(
    instrumented: Telemetry, raw_server: tuple[RawServer, str], stream: bool, body: bytes,
    sse: bytes,
) -> None:  # fmt: skip
    server, url = raw_server
    server.response = RawResponse(sse, 200, "text/event-stream") if stream else RawResponse(body)

    async def run() -> tuple[Any, ...]:
        async with openai.AsyncOpenAI(base_url=url, api_key="sk-fuzz", max_retries=0) as client:
            try:
                result = await client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "q"}], stream=stream
                )
                if not isinstance(result, openai.AsyncStream):
                    return ("returned", repr(result))
                chunks: list[str] = []
                try:
                    async for chunk in result:
                        chunks.append(repr(chunk))
                except Exception as exc:
                    return ("streamed", chunks, type(exc), str(exc))
                return ("streamed", chunks)
            except Exception as exc:
                return ("raised", type(exc), str(exc))

    with suppress_instrumentation():
        expected = asyncio.run(run())
    spans = len(instrumented.spans())
    got = asyncio.run(run())

    assert got == expected
    assert len(instrumented.spans()) == spans + 1
    assert_failures_counted(instrumented)


RECORDERS: dict[str, Callable[[Any, Any, Any], None]] = {
    "record_documents": lambda call, v, _: call.record_documents(v),
    "record_embeddings": lambda call, v, _: call.record_embeddings(v),
    "record_query": lambda call, v, _: call.record_query(v),
    "record_output": lambda call, v, _: call.record_output(v),
    "set_usage": lambda call, v, w: call.set_usage(v, w),
    "set_response": lambda call, v, w: call.set_response(v, w, v),
    "chunk": lambda call, v, w: call.chunk(),
}


@fuzz_settings(max_examples=50)
@given(
    hook=st.sampled_from(["llm", "embedding", "retrieval"]),
    calls=st.lists(st.tuples(st.sampled_from(sorted(RECORDERS)), anything, scalars), max_size=5),
    capture=st.booleans(),
    error=st.none() | st.builds(ValueError, values),
)
def test_genai_hooks_take_junk_and_let_the_blocks_exception_through(
    telemetry: Telemetry, hook: str, calls: list[tuple[str, Any, Any]], capture: bool, error: Any
) -> None:
    scope = {
        "llm": lambda: otel_ml.llm("m", capture_content=capture, **telemetry.providers),
        "embedding": lambda: otel_ml.embedding("e", capture_content=capture,
                                               **telemetry.providers),
        "retrieval": lambda: otel_ml.retrieval("idx", top_k=3, capture_content=capture,
                                               **telemetry.providers),
    }[hook]  # fmt: skip

    def block() -> None:
        with scope() as call:
            for name, value, other in calls:
                RECORDERS[name](call, value, other)
            if error is not None:
                raise error

    if error is None:
        block()
    else:
        with pytest.raises(type(error)) as raised:
            block()
        assert raised.value is error
    assert telemetry.spans()[-1].end_time is not None
    assert_failures_counted(telemetry)


@fuzz_settings(max_examples=25)
@given(items=st.lists(anything, max_size=5), result=anything)
def test_decorated_generators_and_functions_yield_and_return_exactly_their_own(
    telemetry: Telemetry, items: list[Any], result: Any
) -> None:
    @otel_ml.llm("m", **telemetry.providers)
    def stream() -> Iterator[Any]:
        yield from items

    @otel_ml.retrieval("idx", **telemetry.providers)
    def search() -> Any:
        return result

    got = list(stream())
    assert len(got) == len(items) and all(a is b for a, b in zip(got, items, strict=True))
    assert search() is result
    assert_failures_counted(telemetry)
