"""``chat.completions.parse`` (also through ``client.beta.chat``, sync and async)
and the chat attributes the conventions ask of OpenAI: service tiers, system
fingerprint, output type, cached and reasoning tokens, tool definitions."""

from __future__ import annotations

import asyncio

import openai
from openai_support import CHAT_API, SERVED, chat_helpers, identity, loads
from pydantic import BaseModel
from support import Telemetry

from otel_ml.demo.llm_server import PROMPT_TOKENS, RESPONSE_ID, RESPONSE_MODEL
from otel_ml.instrumentation.openai import OpenAIInstrumentor

MESSAGES = [{"role": "user", "content": "Which city? top-secret-prompt"}]
JSON_WORDS = {"fake": {"words": ['{"name": ', '"Paris"}'], "cached": 5, "reasoning": 7}}


class City(BaseModel):
    name: str


def test_parse(instrumented: Telemetry, client: openai.OpenAI, llm_url: str) -> None:
    completion = chat_helpers(client).parse(
        model="m1", messages=MESSAGES, response_format=City, service_tier="priority",  # type: ignore[arg-type]
        extra_body=JSON_WORDS,
    )  # fmt: skip

    assert completion.choices[0].message.parsed == City(name="Paris")
    (span,) = instrumented.spans()
    assert span.name == "chat m1"
    served = {**SERVED, "openai.response.service_tier": "default"}
    assert dict(span.attributes or {}) == {
        **identity(llm_url, "m1"), **CHAT_API, **served,
        "gen_ai.output.type": "json",
        "openai.request.service_tier": "priority",
        "gen_ai.response.model": RESPONSE_MODEL,
        "gen_ai.response.id": RESPONSE_ID,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": PROMPT_TOKENS,
        "gen_ai.usage.output_tokens": 2,
        "gen_ai.usage.cache_read.input_tokens": 5,
        "gen_ai.usage.reasoning.output_tokens": 7,
    }  # fmt: skip
    ((attrs, duration),) = instrumented.points("gen_ai.client.operation.duration")
    assert attrs == {**identity(llm_url, "m1"), **served, "gen_ai.response.model": RESPONSE_MODEL}
    assert duration.count == 1
    assert len(instrumented.points("gen_ai.client.token.usage")) == 2


def test_beta_and_async_parse(instrumented: Telemetry, client: openai.OpenAI, llm_url: str) -> None:
    client.beta.chat.completions.parse(model="m1", messages=MESSAGES, response_format=City,  # type: ignore[arg-type]
                                       extra_body=JSON_WORDS)  # fmt: skip

    async def run() -> City | None:
        async with openai.AsyncOpenAI(base_url=llm_url, api_key="k", max_retries=0) as aclient:
            done = await chat_helpers(aclient).parse(
                model="m1", messages=MESSAGES, response_format=City, extra_body=JSON_WORDS  # type: ignore[arg-type]
            )  # fmt: skip
            return done.choices[0].message.parsed

    assert asyncio.run(run()) == City(name="Paris")
    spans = instrumented.spans()
    assert [s.name for s in spans] == ["chat m1", "chat m1"]
    assert all((s.attributes or {})["gen_ai.output.type"] == "json" for s in spans)


def test_response_format_and_stream_flag(instrumented: Telemetry, client: openai.OpenAI) -> None:
    client.chat.completions.create(model="m1", messages=MESSAGES,  # type: ignore[arg-type]
                                   response_format={"type": "json_object"})  # fmt: skip
    client.chat.completions.create(model="m1", messages=MESSAGES,  # type: ignore[arg-type]
                                   response_format={"type": "text"},
                                   service_tier="auto")  # fmt: skip
    json_span, text_span = (dict(s.attributes or {}) for s in instrumented.spans())
    assert json_span["gen_ai.output.type"] == "json" and text_span["gen_ai.output.type"] == "text"
    assert "openai.request.service_tier" not in text_span  # "auto" is left out
    assert "gen_ai.request.stream" not in json_span


def test_tool_definitions_only_with_capture(telemetry: Telemetry, client: openai.OpenAI) -> None:
    tools = [{"type": "function", "function": {"name": "lookup", "description": "Finds a city.",
                                               "parameters": {"type": "object"}}}]  # fmt: skip
    for capture in (False, True):
        instrumentor = OpenAIInstrumentor()
        instrumentor.instrument(**telemetry.providers, capture_content=capture)
        try:
            client.chat.completions.create(model="m1", messages=MESSAGES, tools=tools)  # type: ignore[arg-type]
        finally:
            instrumentor.uninstrument()
    off, on = (dict(s.attributes or {}) for s in telemetry.spans())
    assert "gen_ai.tool.definitions" not in off
    assert loads(on["gen_ai.tool.definitions"]) == [
        {"type": "function", "name": "lookup", "description": "Finds a city.",
         "parameters": {"type": "object"}}
    ]  # fmt: skip
    assert "gen_ai.system_instructions" not in on  # chat's system messages stay in the messages


def test_chat_stream_helper_early_exit_ends_the_span(
    instrumented: Telemetry, client: openai.OpenAI
) -> None:
    with chat_helpers(client).stream(
        model="m1",
        messages=MESSAGES,
        extra_body={"fake": {"chunks": 50, "first_delay": 0.05}},  # type: ignore[arg-type]
    ) as stream:
        for event in stream:
            if event.type == "content.delta" and event.delta:  # the role chunk has ""
                break
    (span,) = instrumented.spans()
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.response.time_to_first_chunk"] >= 0.05
    assert attrs["gen_ai.request.stream"] is True
