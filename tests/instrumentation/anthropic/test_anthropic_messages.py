"""``messages.create`` / ``messages.stream`` through the real ``anthropic`` SDK
against the stand-in server's Anthropic Messages route."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import pytest
from opentelemetry.trace import SpanKind, StatusCode
from support import Telemetry

from otel_ml.config import Settings
from otel_ml.demo.anthropic_messages import MESSAGE_ID
from otel_ml.demo.llm_server import PROMPT_TOKENS, RESPONSE_MODEL, running_server
from otel_ml.instrumentation._patching import PatchingInstrumentor
from otel_ml.instrumentation.anthropic import AnthropicInstrumentor, instrument_anthropic

MESSAGES = [{"role": "user", "content": "Capital of France? top-secret-prompt"}]
Instrument = Callable[..., PatchingInstrumentor]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_server() as url:
        yield url.removesuffix("/v1")


@pytest.fixture
def client(base_url: str) -> anthropic.Anthropic:
    # The SDK's own tracing off: otel_ml's span is the call's span.
    return anthropic.Anthropic(base_url=base_url, api_key="k", max_retries=0, open_telemetry=False)


@pytest.fixture
def hooked(instrumented: Instrument, telemetry: Telemetry) -> Telemetry:
    instrumented(AnthropicInstrumentor)
    return telemetry


def _identity(base_url: str) -> dict[str, Any]:
    return {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": "claude-t", "server.address": "127.0.0.1",
            "server.port": int(base_url.rsplit(":", 1)[1])}  # fmt: skip


def _create(client: Any, **fake: Any) -> Any:
    return client.messages.create(model="claude-t", max_tokens=64, messages=MESSAGES,
                                  extra_body={"fake": fake}, **fake.pop("kw", {}))  # fmt: skip


def _counts(t: Telemetry) -> dict[str, int]:
    return {name: sum(p.count for _, p in t.points(name)) for name in (
        "gen_ai.client.operation.duration", "gen_ai.client.operation.time_to_first_chunk",
        "gen_ai.client.operation.time_per_output_chunk")}  # fmt: skip


def test_create_records_the_message_usage_with_cached_tokens(
    hooked: Telemetry, client: anthropic.Anthropic, base_url: str
) -> None:
    message = _create(client, cache_read=5, cache_creation=2, kw={"stop_sequences": ["END"]})

    assert message.content[0].text == "w0 w1 w2 "
    (span,) = hooked.spans()
    assert (span.name, span.kind, span.status.status_code) == (
        "chat claude-t", SpanKind.CLIENT, StatusCode.UNSET)  # fmt: skip
    assert dict(span.attributes or {}) == {
        **_identity(base_url),
        "gen_ai.request.max_tokens": 64,
        "gen_ai.request.stop_sequences": ("END",),
        "gen_ai.response.model": RESPONSE_MODEL,
        "gen_ai.response.id": MESSAGE_ID,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": PROMPT_TOKENS + 5 + 2,
        "gen_ai.usage.cache_read.input_tokens": 5,
        "gen_ai.usage.cache_creation.input_tokens": 2,
        "gen_ai.usage.output_tokens": 3,
    }
    tokens = {a["gen_ai.token.type"]: p.sum for a, p in hooked.points("gen_ai.client.token.usage")}
    assert tokens == {"input": PROMPT_TOKENS + 7, "output": 3}
    ((attrs, _),) = hooked.points("gen_ai.client.operation.duration")
    assert attrs == {**_identity(base_url), "gen_ai.response.model": RESPONSE_MODEL}
    assert _counts(hooked) == {"gen_ai.client.operation.duration": 1,
                               "gen_ai.client.operation.time_to_first_chunk": 0,
                               "gen_ai.client.operation.time_per_output_chunk": 0}  # fmt: skip
    assert "top-secret" not in span.to_json()  # content is off by default


def test_create_stream_times_the_first_chunk_against_the_injected_delay(
    hooked: Telemetry, client: anthropic.Anthropic
) -> None:
    stream = _create(client, chunks=4, first_delay=0.15, delay=0.02, kw={"stream": True})
    kinds = [event.type for event in stream]

    assert kinds == ["message_start", "content_block_start", *["content_block_delta"] * 4,
                     "content_block_stop", "message_delta", "message_stop"]  # fmt: skip
    (span,) = hooked.spans()
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.response.time_to_first_chunk"] >= 0.15
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (
        PROMPT_TOKENS, 4)  # fmt: skip
    ((_, first),) = hooked.points("gen_ai.client.operation.time_to_first_chunk")
    assert first.sum >= 0.15
    assert _counts(hooked)["gen_ai.client.operation.time_per_output_chunk"] == 3


def test_messages_stream_helper_is_one_span_read_through_text_stream(
    hooked: Telemetry, client: anthropic.Anthropic
) -> None:
    fake = {"chunks": 3, "first_delay": 0.1}
    with client.messages.stream(model="claude-t", max_tokens=64, messages=MESSAGES,
                                extra_body={"fake": fake}) as stream:  # fmt: skip
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert text == "w0 w1 w2 " and final.stop_reason == "end_turn"
    (span,) = hooked.spans()
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.response.time_to_first_chunk"] >= 0.1
    assert attrs["gen_ai.usage.output_tokens"] == 3
    assert _counts(hooked)["gen_ai.client.operation.time_per_output_chunk"] == 2


def test_async_create_and_async_stream_helper(hooked: Telemetry, base_url: str) -> None:
    async def main() -> str:
        client = anthropic.AsyncAnthropic(base_url=base_url, api_key="k", open_telemetry=False)
        await client.messages.create(model="claude-t", max_tokens=8, messages=MESSAGES)
        stream = await client.messages.create(model="claude-t", max_tokens=8,
                                              messages=MESSAGES, stream=True)  # fmt: skip
        async for _ in stream:
            pass
        async with client.messages.stream(model="claude-t", max_tokens=8,
                                          messages=MESSAGES) as helper:  # fmt: skip
            text = "".join([t async for t in helper.text_stream])
        await client.close()
        return text

    assert asyncio.run(main()) == "w0 w1 w2 "
    spans = hooked.spans()
    assert [s.name for s in spans] == ["chat claude-t"] * 3
    assert ["gen_ai.request.stream" in (s.attributes or {}) for s in spans] == [False, True, True]
    assert _counts(hooked)["gen_ai.client.operation.time_to_first_chunk"] == 2


# The abandoned stream's socket is the SDK's to close; at collection it may warn
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_breaking_out_of_a_stream_ends_the_span(
    hooked: Telemetry, client: anthropic.Anthropic
) -> None:
    stream = _create(client, chunks=50, kw={"stream": True})
    for event in stream:
        if event.type == "content_block_delta":
            break
    del stream, event
    gc.collect()

    (span,) = hooked.spans()
    assert "gen_ai.response.time_to_first_chunk" in (span.attributes or {})
    assert "gen_ai.response.finish_reasons" not in (span.attributes or {})


def test_a_mid_stream_error_and_an_http_error_fail_the_call(
    hooked: Telemetry, client: anthropic.Anthropic
) -> None:
    with pytest.raises(anthropic.APIStatusError):
        list(_create(client, chunks=3, error_after=1, kw={"stream": True}))
    with pytest.raises(anthropic.RateLimitError):
        _create(client, status=429)

    streamed, refused = hooked.spans()
    assert streamed.status.status_code is StatusCode.ERROR
    assert refused.attributes["error.type"] == "anthropic.RateLimitError"  # type: ignore[index]
    assert refused.attributes["http.response.status_code"] == 429  # type: ignore[index]
    errors = sorted(a["error.type"] for a, _ in hooked.points("gen_ai.client.operation.duration"))
    assert errors == ["anthropic.APIStatusError", "anthropic.RateLimitError"]


def test_tool_use_and_content_captured_when_asked(
    instrumented: Instrument, telemetry: Telemetry, client: anthropic.Anthropic
) -> None:
    instrumented(AnthropicInstrumentor, capture_content=True)
    _create(client, tool_call=True)
    list(_create(client, tool_call=True, kw={"stream": True}))

    for span in telemetry.spans():
        attrs = dict(span.attributes or {})
        assert attrs["gen_ai.response.finish_reasons"] == ("tool_call",)
        assert "top-secret-prompt" in attrs["gen_ai.input.messages"]
        (output,) = json.loads(attrs["gen_ai.output.messages"])
        (part,) = output["parts"]
        assert (part["type"], part["name"], output["finish_reason"]) == (
            "tool_call", "lookup", "tool_call")  # fmt: skip


def test_where_the_sdk_traces_itself_its_span_is_the_only_one_and_metrics_are_ours(
    hooked: Telemetry, base_url: str
) -> None:
    client = anthropic.Anthropic(
        base_url=base_url,
        api_key="k",
        max_retries=0,
        open_telemetry={"tracer_provider": hooked.tracer_provider},
    )
    tracer = hooked.tracer_provider.get_tracer("app")
    with client, tracer.start_as_current_span("request"):
        list(_create(client, chunks=3, first_delay=0.05, kw={"stream": True}))

    sdk_span, parent = hooked.spans()
    assert sdk_span.instrumentation_scope.name == "com.anthropic.sdk.python"
    assert sdk_span.parent.span_id == parent.context.span_id  # type: ignore[union-attr]
    ((_, first),) = hooked.points("gen_ai.client.operation.time_to_first_chunk")
    assert first.count == 1 and first.sum >= 0.05
    assert _counts(hooked)["gen_ai.client.operation.duration"] == 1


def test_instrument_anthropic_returns_its_undo(telemetry: Telemetry) -> None:
    original = anthropic.resources.messages.Messages.__dict__["create"]
    undo = instrument_anthropic(**telemetry.providers, settings=Settings.load(environ={}))
    assert anthropic.resources.messages.Messages.__dict__["create"] is not original
    undo()
    assert anthropic.resources.messages.Messages.__dict__["create"] is original
