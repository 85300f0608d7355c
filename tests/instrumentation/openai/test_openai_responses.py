"""The Responses API through the real ``openai`` client against the stand-in's
``/v1/responses``: ``create`` (sync, async, ``stream=True``), the ``stream()``
helper and ``parse``, read as chat calls with ``openai.api.type=responses``."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import openai
import pytest
from openai_support import RESPONSES_API, exported_text, identity, loads
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel
from support import Telemetry

from otel_ml.demo.llm_responses import RESPONSE_ID
from otel_ml.demo.llm_server import PROMPT_TOKENS, RESPONSE_MODEL
from otel_ml.instrumentation.openai import OpenAIInstrumentor

# The Responses API came in openai 1.66; the lowest-versions lane pins 1.40.
pytestmark = pytest.mark.newest
PROMPT = "What is the capital of France? top-secret-prompt"
TIER = {"openai.response.service_tier": "default"}
USAGE = {"gen_ai.usage.input_tokens": PROMPT_TOKENS, "gen_ai.usage.cache_read.input_tokens": 4,
         "gen_ai.usage.reasoning.output_tokens": 2}  # fmt: skip
FAKE = {"cached": 4, "reasoning": 2}


class City(BaseModel):
    name: str


def _create(client: openai.OpenAI, **fake: Any) -> Any:
    return client.responses.create(
        model="r1", input=PROMPT, stream=True, extra_body={"fake": {**FAKE, **fake}}
    )


def _one_span(t: Telemetry) -> tuple[Any, dict[str, Any]]:
    (span,) = t.spans()
    assert span.name == "chat r1" and span.kind is SpanKind.CLIENT
    return span, dict(span.attributes or {})


def test_create(instrumented: Telemetry, client: openai.OpenAI, llm_url: str) -> None:
    result = client.responses.create(
        model="r1", input=PROMPT, instructions="Be brief.", temperature=0.2,
        max_output_tokens=50, service_tier="flex", extra_body={"fake": FAKE},
    )  # fmt: skip

    assert result.output_text == "w0 w1 w2 "
    span, attrs = _one_span(instrumented)
    assert span.status.status_code is StatusCode.UNSET
    assert attrs == {
        **identity(llm_url, "r1"), **RESPONSES_API, **USAGE,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 50,
        "openai.request.service_tier": "flex",
        "openai.response.service_tier": "flex",
        "gen_ai.response.model": RESPONSE_MODEL,
        "gen_ai.response.id": RESPONSE_ID,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.output_tokens": 3,
    }  # fmt: skip
    ((metric_attrs, duration),) = instrumented.points("gen_ai.client.operation.duration")
    assert metric_attrs == {**identity(llm_url, "r1"), "gen_ai.response.model": RESPONSE_MODEL,
                            "openai.response.service_tier": "flex"}  # fmt: skip
    assert duration.count == 1
    tokens = {a["gen_ai.token.type"]: p.sum
              for a, p in instrumented.points("gen_ai.client.token.usage")}  # fmt: skip
    assert tokens == {"input": PROMPT_TOKENS, "output": 3}
    assert instrumented.points("gen_ai.client.operation.time_to_first_chunk") == []


def test_stream_true_times_chunks_against_the_injected_delays(
    instrumented: Telemetry, client: openai.OpenAI, llm_url: str
) -> None:
    events = list(_create(client, chunks=5, first_delay=0.15, delay=0.03))

    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert deltas == ["w0 ", "w1 ", "w2 ", "w3 ", "w4 "]
    span, attrs = _one_span(instrumented)
    ttft = attrs.pop("gen_ai.response.time_to_first_chunk")
    assert attrs == {
        **identity(llm_url, "r1"), **RESPONSES_API, **USAGE, **TIER,
        "gen_ai.request.stream": True,
        "gen_ai.response.model": RESPONSE_MODEL,
        "gen_ai.response.id": RESPONSE_ID,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.output_tokens": 5,
    }  # fmt: skip
    duration_s = (span.end_time - span.start_time) / 1e9
    assert 0.15 <= ttft < duration_s
    ((first_attrs, first),) = instrumented.points("gen_ai.client.operation.time_to_first_chunk")
    assert first.count == 1 and first.sum == pytest.approx(ttft)
    assert first_attrs == {**identity(llm_url, "r1"), **TIER,
                           "gen_ai.response.model": RESPONSE_MODEL}  # fmt: skip
    assert first.explicit_bounds[0] == 0.01 and first.explicit_bounds[-1] == 81.92
    ((_, gaps),) = instrumented.points("gen_ai.client.operation.time_per_output_chunk")
    assert gaps.count == 4 and gaps.sum >= 4 * 0.03 * 0.75


def test_calls_in_a_request_are_children_of_its_span(
    instrumented: Telemetry, client: openai.OpenAI
) -> None:
    tracer = instrumented.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("handle request"):
        client.responses.create(model="r1", input=PROMPT)
        for _ in _create(client):
            pass
        with client.responses.stream(model="r1", input=PROMPT) as stream:
            stream.get_final_response()

    *calls, parent = instrumented.spans()
    assert [s.name for s in calls] == ["chat r1"] * 3 and parent.name == "handle request"
    for call in calls:
        assert call.parent is not None and call.parent.span_id == parent.context.span_id
        assert call.context.trace_id == parent.context.trace_id


def test_stream_helper_is_one_span(instrumented: Telemetry, client: openai.OpenAI) -> None:
    with client.responses.stream(
        model="r1", input=PROMPT, extra_body={"fake": {**FAKE, "first_delay": 0.1}}
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()

    assert final.output_text == "w0 w1 w2 "
    _, attrs = _one_span(instrumented)
    assert attrs["gen_ai.response.time_to_first_chunk"] >= 0.1
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.usage.output_tokens"] == 3


def test_async_create_and_stream_helper(instrumented: Telemetry, llm_url: str) -> None:
    async def run() -> list[str]:
        async with openai.AsyncOpenAI(base_url=llm_url, api_key="k", max_retries=0) as client:
            plain = await client.responses.create(model="r1", input=PROMPT)
            slow = {"fake": {"first_delay": 0.05}}
            streamed = await client.responses.create(
                model="r1", input=PROMPT, stream=True, extra_body=slow
            )
            kinds = [event.type async for event in streamed]
            async with client.responses.stream(model="r1", input=PROMPT) as helper:
                final = await helper.get_final_response()
            return [plain.output_text, kinds[-1], final.output_text]

    assert asyncio.run(run()) == ["w0 w1 w2 ", "response.completed", "w0 w1 w2 "]
    spans = instrumented.spans()
    assert [s.name for s in spans] == ["chat r1"] * 3
    ttfts = [(s.attributes or {}).get("gen_ai.response.time_to_first_chunk") for s in spans]
    assert ttfts[0] is None and ttfts[1] >= 0.05 and ttfts[2] > 0  # type: ignore[operator]
    ((_, duration),) = instrumented.points("gen_ai.client.operation.duration")
    assert duration.count == 3


def test_parse_records_a_json_output(instrumented: Telemetry, client: openai.OpenAI) -> None:
    answer = {"fake": {"words": ['{"name": "Paris"}']}}
    parsed = client.responses.parse(model="r1", input=PROMPT, text_format=City, extra_body=answer)
    assert parsed.output_parsed == City(name="Paris")
    _, attrs = _one_span(instrumented)
    assert attrs["gen_ai.output.type"] == "json"
    assert attrs["gen_ai.usage.output_tokens"] == 1 and "gen_ai.request.stream" not in attrs


def test_early_close_ends_the_span(instrumented: Telemetry, client: openai.OpenAI) -> None:
    stream = _create(client, chunks=50)
    for event in stream:
        if event.type == "response.output_text.delta":
            break
    assert instrumented.spans() == []
    stream.close()
    del stream
    gc.collect()

    span, attrs = _one_span(instrumented)
    assert span.status.status_code is StatusCode.UNSET
    assert attrs["gen_ai.response.id"] == RESPONSE_ID  # known from response.created
    assert "gen_ai.response.finish_reasons" not in attrs
    ((_, duration),) = instrumented.points("gen_ai.client.operation.duration")
    assert duration.count == 1


def test_leaving_the_stream_helper_early_ends_the_span(
    instrumented: Telemetry, client: openai.OpenAI
) -> None:
    with client.responses.stream(
        model="r1", input=PROMPT, extra_body={"fake": {"chunks": 50, "first_delay": 0.05}}
    ) as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                break
        assert instrumented.spans() == []
    span, attrs = _one_span(instrumented)  # the helper closed the response: the call ended
    assert span.status.status_code is StatusCode.UNSET
    assert attrs["gen_ai.response.time_to_first_chunk"] >= 0.05


def test_an_error_event_fails_the_call_without_raising(
    instrumented: Telemetry, client: openai.OpenAI, llm_url: str
) -> None:
    kinds = [event.type for event in _create(client, chunks=5, error_after=2)]

    assert kinds[-1] == "error"  # the SDK hands the event over, raises nothing
    span, attrs = _one_span(instrumented)
    assert span.status.status_code is StatusCode.ERROR
    assert attrs["error.type"] == "server_error"
    assert attrs["gen_ai.response.finish_reasons"] == ("error",)
    ((metric_attrs, _),) = instrumented.points("gen_ai.client.operation.duration")
    assert metric_attrs == {**identity(llm_url, "r1"), "gen_ai.response.model": RESPONSE_MODEL,
                            "error.type": "server_error"}  # fmt: skip


def test_a_dropped_connection_is_an_error(instrumented: Telemetry, client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIConnectionError):
        list(_create(client, chunks=5, truncate_after=2))
    _, attrs = _one_span(instrumented)
    assert attrs["error.type"] == "openai.APIConnectionError"
    assert attrs["gen_ai.response.time_to_first_chunk"] >= 0


@pytest.mark.parametrize(
    ("fake", "reason"), [({"tool_call": True}, "tool_call"), ({"incomplete": True}, "length")]
)
def test_finish_reasons_from_the_status(
    instrumented: Telemetry, client: openai.OpenAI, fake: dict[str, Any], reason: str
) -> None:
    client.responses.create(model="r1", input=PROMPT, extra_body={"fake": fake})
    list(_create(client, **fake))
    assert [(s.attributes or {})["gen_ai.response.finish_reasons"]
            for s in instrumented.spans()] == [(reason,), (reason,)]  # fmt: skip


def test_http_error(instrumented: Telemetry, client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model="r1", input=PROMPT, extra_body={"fake": {"status": 429}})
    _, attrs = _one_span(instrumented)
    assert attrs["error.type"] == "openai.RateLimitError"
    assert attrs["http.response.status_code"] == 429


def test_content_is_off_by_default(instrumented: Telemetry, client: openai.OpenAI) -> None:
    tools = [{"type": "function", "name": "lookup", "description": "secret-tool-doc",
              "parameters": {"type": "object", "properties": {}}}]  # fmt: skip
    client.responses.create(model="r1", input=PROMPT, instructions="secret-instructions",
                            tools=tools)  # type: ignore[arg-type]  # fmt: skip
    list(_create(client))
    exported = exported_text(instrumented)
    for secret in ("top-secret-prompt", "secret-instructions", "secret-tool-doc", "w0 w1"):
        assert secret not in exported
    for span in instrumented.spans():
        assert not {k for k in span.attributes or {} if "messages" in k or "definitions" in k}


def test_captured_content(telemetry: Telemetry, client: openai.OpenAI) -> None:
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(**telemetry.providers, capture_content=True)
    tools = [{"type": "function", "name": "lookup", "description": "Finds a city.",
              "parameters": {"type": "object"}, "strict": True}]  # fmt: skip
    conversation = [
        {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
        {"type": "function_call", "call_id": "c0", "name": "lookup", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c0", "output": "sunny"},
    ]
    try:
        client.responses.create(model="r1", input=conversation, instructions="Be brief.",  # type: ignore[arg-type]
                                tools=tools, extra_body={"fake": {"tool_call": True}})  # type: ignore[arg-type]  # fmt: skip
        list(_create(client, chunks=2))
    finally:
        instrumentor.uninstrument()

    called, streamed = (dict(s.attributes or {}) for s in telemetry.spans())
    assert loads(called["gen_ai.system_instructions"]) == [{"type": "text", "content": "Be brief."}]
    assert loads(called["gen_ai.tool.definitions"]) == [
        {"type": "function", "name": "lookup", "description": "Finds a city.",
         "parameters": {"type": "object"}}
    ]  # fmt: skip
    assert loads(called["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather?"}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "c0", "name": "lookup",
                                         "arguments": "{}"}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c0",
                                    "response": "sunny"}]},
    ]  # fmt: skip
    call = {"type": "tool_call", "id": "call_1", "name": "lookup", "arguments": '{"city": "Paris"}'}
    assert loads(called["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [call], "finish_reason": "tool_call"}
    ]
    assert loads(streamed["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": PROMPT}]}
    ]
    assert loads(streamed["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "w0 w1 "}],
         "finish_reason": "stop"}
    ]  # fmt: skip
