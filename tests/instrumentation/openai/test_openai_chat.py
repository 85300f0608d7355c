"""Chat completions through the real ``openai`` client against a real local server."""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import httpx
import openai
import pytest
from openai_support import API_KEY, CHAT_API, NO_CACHE, SERVED, exported_text, identity
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import SpanKind, StatusCode
from support import Telemetry

from otel_ml.config import Settings
from otel_ml.demo.llm_server import PROMPT_TOKENS, RESPONSE_ID, RESPONSE_MODEL
from otel_ml.instrumentation.openai import OpenAIInstrumentor

MESSAGES = [{"role": "user", "content": "What is the capital of France? top-secret-prompt"}]


def _points(t: Telemetry, name: str) -> list[tuple[dict[str, Any], Any]]:
    return t.points(name)


def _stream(client: openai.OpenAI, **fake: Any) -> Any:
    return client.chat.completions.create(
        model="m1", messages=MESSAGES, stream=True, extra_body={"fake": fake}
    )


def test_non_streaming_chat(instrumented: Telemetry, client: openai.OpenAI, llm_url: str) -> None:
    result = client.chat.completions.create(
        model="m1", messages=MESSAGES, temperature=0.5, max_tokens=20, top_p=0.9, seed=7,
        stop=["END"], n=1, extra_body={"fake": {"chunks": 3}},
    )  # fmt: skip

    assert result.choices[0].message.content == "w0 w1 w2 "
    (span,) = instrumented.spans()
    assert span.name == "chat m1"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes or {}) == {
        **identity(llm_url, "m1"), **CHAT_API, **SERVED, **NO_CACHE,
        "gen_ai.request.temperature": 0.5,
        "gen_ai.request.max_tokens": 20,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.seed": 7,
        "gen_ai.request.stop_sequences": ("END",),
        "gen_ai.response.model": RESPONSE_MODEL,
        "gen_ai.response.id": RESPONSE_ID,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": PROMPT_TOKENS,
        "gen_ai.usage.output_tokens": 3,
    }  # fmt: skip
    metric_attrs = {**identity(llm_url, "m1"), **SERVED, "gen_ai.response.model": RESPONSE_MODEL}
    ((attrs, duration),) = _points(instrumented, "gen_ai.client.operation.duration")
    assert attrs == metric_attrs and duration.count == 1
    assert duration.explicit_bounds[:3] == (0.01, 0.02, 0.04)
    tokens = {
        a["gen_ai.token.type"]: p.sum for a, p in _points(instrumented, "gen_ai.client.token.usage")
    }
    assert tokens == {"input": PROMPT_TOKENS, "output": 3}
    assert _points(instrumented, "gen_ai.client.operation.time_to_first_chunk") == []
    assert _points(instrumented, "gen_ai.client.operation.time_per_output_chunk") == []


def test_stream_consumed_fully_times_chunks_against_server_delays(
    instrumented: Telemetry, client: openai.OpenAI, llm_url: str
) -> None:
    stream = client.chat.completions.create(
        model="m1", messages=MESSAGES, stream=True, stream_options={"include_usage": True},
        extra_body={"fake": {"chunks": 5, "first_delay": 0.15, "delay": 0.03}},
    )  # fmt: skip
    texts = [c.choices[0].delta.content for c in stream if c.choices]

    assert texts == ["", "w0 ", "w1 ", "w2 ", "w3 ", "w4 ", None]
    (span,) = instrumented.spans()
    attrs = dict(span.attributes or {})
    ttft = attrs.pop("gen_ai.response.time_to_first_chunk")
    assert attrs == {
        **identity(llm_url, "m1"), **CHAT_API, **SERVED, **NO_CACHE,
        "gen_ai.request.stream": True,
        "gen_ai.response.model": RESPONSE_MODEL,
        "gen_ai.response.id": RESPONSE_ID,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": PROMPT_TOKENS,
        "gen_ai.usage.output_tokens": 5,
    }  # fmt: skip
    duration_s = (span.end_time - span.start_time) / 1e9  # type: ignore[operator]
    assert 0.15 <= ttft < duration_s
    ((_, first),) = _points(instrumented, "gen_ai.client.operation.time_to_first_chunk")
    assert first.count == 1 and first.sum == pytest.approx(ttft)
    ((_, gaps),) = _points(instrumented, "gen_ai.client.operation.time_per_output_chunk")
    assert gaps.count == 4  # five content chunks: four gaps after the first
    # Network jitter moves single arrivals; their sum spans the server's four delays.
    assert 4 * 0.03 * 0.75 <= gaps.sum < duration_s - ttft + 1e-6
    assert gaps.explicit_bounds[:2] == (0.01, 0.02)  # the conventions' advice, to 81.92 s
    assert {
        a["gen_ai.token.type"] for a, _ in _points(instrumented, "gen_ai.client.token.usage")
    } == {
        "input",
        "output",
    }


def test_per_chunk_metric_off_keeps_first_chunk_duration_and_tokens(
    telemetry: Telemetry, client: openai.OpenAI
) -> None:
    off = Settings.load(environ={"OTEL_ML_GENAI_TIME_PER_CHUNK": "false"})
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(**telemetry.providers, settings=off)
    try:
        stream = client.chat.completions.create(
            model="m1", messages=MESSAGES, stream=True, stream_options={"include_usage": True},
            extra_body={"fake": {"chunks": 5}},
        )  # fmt: skip
        assert len(list(stream)) == 8  # role, five contents, finish reason, usage
    finally:
        instrumentor.uninstrument()

    (span,) = telemetry.spans()
    assert "gen_ai.response.time_to_first_chunk" in dict(span.attributes or {})
    assert _points(telemetry, "gen_ai.client.operation.time_per_output_chunk") == []
    ((_, first),) = _points(telemetry, "gen_ai.client.operation.time_to_first_chunk")
    ((_, duration),) = _points(telemetry, "gen_ai.client.operation.duration")
    assert first.count == duration.count == 1
    tokens = {
        a["gen_ai.token.type"]: p.sum for a, p in _points(telemetry, "gen_ai.client.token.usage")
    }
    assert tokens == {"input": PROMPT_TOKENS, "output": 5}


def test_stream_without_usage_chunk_invents_no_tokens(
    instrumented: Telemetry, client: openai.OpenAI
) -> None:
    assert len(list(_stream(client, chunks=3))) == 5
    (span,) = instrumented.spans()
    attrs = dict(span.attributes or {})
    assert "gen_ai.usage.input_tokens" not in attrs and "gen_ai.usage.output_tokens" not in attrs
    assert _points(instrumented, "gen_ai.client.token.usage") == []
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)


def test_break_then_garbage_collection_ends_the_span_at_the_last_chunk(
    instrumented: Telemetry, client: openai.OpenAI
) -> None:
    stream = _stream(client, chunks=50, delay=0.001)
    for position, _ in enumerate(stream):
        if position == 2:
            break
    after_break = time.time_ns()
    assert instrumented.spans() == []  # still open: nobody closed it
    time.sleep(0.05)
    del stream
    gc.collect()

    (span,) = instrumented.spans()
    assert span.end_time is not None and span.end_time <= after_break
    assert span.status.status_code is StatusCode.UNSET
    assert "gen_ai.response.finish_reasons" not in (span.attributes or {})
    ((_, duration),) = _points(instrumented, "gen_ai.client.operation.duration")
    assert duration.count == 1


def test_close_ends_the_span_once(instrumented: Telemetry, client: openai.OpenAI) -> None:
    stream = _stream(client, chunks=50)
    next(stream)
    next(stream)
    stream.close()
    stream.close()
    del stream
    gc.collect()

    (span,) = instrumented.spans()
    assert span.status.status_code is StatusCode.UNSET
    ((_, duration),) = _points(instrumented, "gen_ai.client.operation.duration")
    assert duration.count == 1
    ((_, first),) = _points(instrumented, "gen_ai.client.operation.time_to_first_chunk")
    assert first.count == 1


def test_context_manager_exit_ends_the_span(instrumented: Telemetry, client: openai.OpenAI) -> None:
    with _stream(client, chunks=50) as stream:
        for _ in stream:
            break
        assert instrumented.spans() == []
    (span,) = instrumented.spans()
    assert span.name == "chat m1" and span.status.status_code is StatusCode.UNSET


def test_error_event_mid_stream_propagates_and_marks_the_span(
    instrumented: Telemetry, client: openai.OpenAI, llm_url: str
) -> None:
    stream = _stream(client, chunks=5, error_after=2)
    received = []
    with pytest.raises(openai.APIError, match="fake mid-stream failure"):
        received.extend(stream)

    assert len(received) == 3  # role chunk and two content chunks
    (span,) = instrumented.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "openai.APIError"  # type: ignore[index]
    assert [e.name for e in span.events] == ["exception"]
    ((attrs, duration),) = _points(instrumented, "gen_ai.client.operation.duration")
    assert attrs == {
        **identity(llm_url, "m1"), **SERVED,
        "gen_ai.response.model": RESPONSE_MODEL,
        "error.type": "openai.APIError",
    }  # fmt: skip
    assert span.attributes["gen_ai.response.finish_reasons"] == ("error",)  # type: ignore[index]
    assert duration.count == 1


def test_truncated_stream_is_a_connection_error(
    instrumented: Telemetry, client: openai.OpenAI
) -> None:
    # openai 3 raises its own APIConnectionError; before, httpx's error came through.
    with pytest.raises((openai.APIConnectionError, httpx.RemoteProtocolError)) as raised:
        for _ in _stream(client, chunks=5, truncate_after=2):
            pass
    (span,) = instrumented.spans()
    error = type(raised.value)
    assert span.attributes["error.type"] == f"{error.__module__}.{error.__qualname__}"  # type: ignore[index]
    assert span.attributes["gen_ai.response.time_to_first_chunk"] >= 0  # type: ignore[index,operator]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, openai.BadRequestError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
    ],
)
def test_http_errors_propagate_with_error_type(
    instrumented: Telemetry, client: openai.OpenAI, llm_url: str, status: int, error: type
) -> None:
    with pytest.raises(error) as caught:
        client.chat.completions.create(
            model="m1", messages=MESSAGES, extra_body={"fake": {"status": status}}
        )

    assert caught.value.status_code == status
    (span,) = instrumented.spans()
    kind = f"openai.{error.__name__}"
    assert dict(span.attributes or {}) == {
        **identity(llm_url, "m1"),
        **CHAT_API,
        "http.response.status_code": status,
        "error.type": kind,
    }
    assert span.status.status_code is StatusCode.ERROR
    ((attrs, _),) = _points(instrumented, "gen_ai.client.operation.duration")
    assert attrs == {**identity(llm_url, "m1"), "error.type": kind}
    assert _points(instrumented, "gen_ai.client.token.usage") == []


def test_spans_created_while_iterating_are_children_of_the_llm_span(
    instrumented: Telemetry, client: openai.OpenAI
) -> None:
    tracer = instrumented.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("request") as request:
        for _ in _stream(client, chunks=2):
            with tracer.start_as_current_span("per-chunk"):
                pass
        with tracer.start_as_current_span("after-loop"):
            pass
        assert trace.get_current_span() is request

    llm = instrumented.span("chat m1")
    assert llm.parent is not None and llm.parent.span_id == request.get_span_context().span_id
    children = [s for s in instrumented.spans() if s.name == "per-chunk"]
    assert len(children) == 4
    assert all(c.parent is not None and c.parent.span_id == llm.context.span_id for c in children)
    after = instrumented.span("after-loop")
    assert after.parent is not None and after.parent.span_id == request.get_span_context().span_id


def test_tool_call_chunks_count_as_output(instrumented: Telemetry, client: openai.OpenAI) -> None:
    chunks = list(_stream(client, tool_call=True, first_delay=0.05))
    calls = [
        c.choices[0].delta.tool_calls for c in chunks if c.choices and c.choices[0].delta.tool_calls
    ]
    assert len(calls) == 3
    (span,) = instrumented.spans()
    assert span.attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)  # type: ignore[index]
    assert span.attributes["gen_ai.response.time_to_first_chunk"] >= 0.05  # type: ignore[index,operator]
    ((_, gaps),) = _points(instrumented, "gen_ai.client.operation.time_per_output_chunk")
    assert gaps.count == 2


def test_stream_helper_and_raw_response(instrumented: Telemetry, client: openai.OpenAI) -> None:
    # The helper left openai's beta namespace in 1.92.
    chat = client.chat if hasattr(client.chat.completions, "stream") else client.beta.chat
    with chat.completions.stream(model="m1", messages=MESSAGES) as stream:
        events = [event.type for event in stream]
    assert "content.done" in events
    raw = client.chat.completions.with_raw_response.create(model="m1", messages=MESSAGES)
    assert raw.parse().id == RESPONSE_ID

    helper, plain = instrumented.spans()
    assert helper.attributes["gen_ai.request.stream"] is True  # type: ignore[index]
    assert helper.attributes["gen_ai.response.finish_reasons"] == ("stop",)  # type: ignore[index]
    assert plain.attributes["gen_ai.usage.output_tokens"] == 3  # type: ignore[index]


def test_suppressed_instrumentation_records_nothing(
    instrumented: Telemetry, client: openai.OpenAI
) -> None:
    with suppress_instrumentation():
        client.chat.completions.create(model="m1", messages=MESSAGES)
    assert instrumented.spans() == []


def test_async_chat_and_streams(instrumented: Telemetry, async_client: openai.AsyncOpenAI) -> None:
    async def scenario() -> list[Any]:
        result = await async_client.chat.completions.create(model="a1", messages=MESSAGES)
        stream = await async_client.chat.completions.create(
            model="a2", messages=MESSAGES, stream=True, stream_options={"include_usage": True},
            extra_body={"fake": {"chunks": 4, "first_delay": 0.05, "delay": 0.01}},
        )  # fmt: skip
        chunks = [c async for c in stream]
        early = await async_client.chat.completions.create(
            model="a3", messages=MESSAGES, stream=True, extra_body={"fake": {"chunks": 50}}
        )
        async with early:
            async for _ in early:
                break
        await async_client.close()
        return [result, chunks]

    result, chunks = asyncio.run(scenario())
    assert result.choices[0].message.content == "w0 w1 w2 "
    assert len(chunks) == 7
    plain, streamed, early = instrumented.spans()
    assert plain.name == "chat a1" and plain.attributes["gen_ai.usage.output_tokens"] == 3  # type: ignore[index]
    assert streamed.attributes["gen_ai.usage.output_tokens"] == 4  # type: ignore[index]
    assert streamed.attributes["gen_ai.response.time_to_first_chunk"] >= 0.05  # type: ignore[index,operator]
    assert early.name == "chat a3" and early.status.status_code is StatusCode.UNSET
    gaps = {
        a["gen_ai.request.model"]: p
        for a, p in _points(instrumented, "gen_ai.client.operation.time_per_output_chunk")
    }
    assert gaps["a2"].count == 3 and gaps["a2"].sum >= 3 * 0.01 * 0.75


def test_no_content_and_no_credentials_by_default(
    instrumented: Telemetry, client: openai.OpenAI
) -> None:
    client.chat.completions.create(model="m1", messages=MESSAGES)
    list(_stream(client, chunks=2))
    client.embeddings.create(model="e1", input="top-secret-prompt")

    exported = exported_text(instrumented)
    assert len(instrumented.spans()) == 3
    for forbidden in (
        "top-secret-prompt",
        "w0",
        API_KEY,
        "Bearer",
        "uthorization",
        "gen_ai.input.messages",
    ):
        assert forbidden not in exported
