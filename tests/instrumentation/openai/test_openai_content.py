"""Embeddings, text completions, and opt-in content capture with redaction and truncation."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import openai
import pytest
from openai_support import API_KEY, NO_CACHE, SERVED, exported_text, identity
from support import Telemetry

from otel_ml.config import Settings
from otel_ml.demo.llm_server import PROMPT_TOKENS, RESPONSE_MODEL
from otel_ml.genai.content import TRUNCATED
from otel_ml.instrumentation.openai import OpenAIInstrumentor


def test_embeddings(instrumented: Telemetry, client: openai.OpenAI, llm_url: str) -> None:
    result = client.embeddings.create(model="e1", input=["alpha", "beta"], dimensions=4)

    assert len(result.data) == 2 and len(result.data[0].embedding) == 4
    (span,) = instrumented.spans()
    assert span.name == "embeddings e1"
    assert dict(span.attributes or {}) == {
        **identity(llm_url, "e1", "embeddings"),
        "gen_ai.embeddings.dimension.count": 4,
        "ml.embeddings.input.count": 2,
        "gen_ai.response.model": RESPONSE_MODEL,
        "gen_ai.usage.input_tokens": 6,
    }
    tokens = [
        (a["gen_ai.token.type"], p.sum) for a, p in instrumented.points("gen_ai.client.token.usage")
    ]
    assert tokens == [("input", 6)]


def test_embeddings_carry_no_messages_even_when_captured(
    capturing: Telemetry, client: openai.OpenAI
) -> None:
    client.embeddings.create(model="e1", input=["alpha"])
    (span,) = capturing.spans()
    assert not {"gen_ai.input.messages", "gen_ai.output.messages"} & set(span.attributes or {})


def test_text_completion_stream(
    instrumented: Telemetry, client: openai.OpenAI, llm_url: str
) -> None:
    stream = client.completions.create(
        model="c1", prompt="Once", stream=True, stream_options={"include_usage": True},
        extra_body={"fake": {"chunks": 3}},
    )  # fmt: skip
    assert "".join(c.choices[0].text for c in stream if c.choices) == "w0 w1 w2 "

    (span,) = instrumented.spans()
    assert span.name == "text_completion c1"
    attrs = dict(span.attributes or {})
    assert attrs.pop("gen_ai.response.time_to_first_chunk") > 0
    assert attrs == {
        **identity(llm_url, "c1", "text_completion"),
        **SERVED,
        **NO_CACHE,
        "gen_ai.request.stream": True,
        "gen_ai.response.model": RESPONSE_MODEL,
        "gen_ai.response.id": "chatcmpl-fake-1",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": PROMPT_TOKENS,
        "gen_ai.usage.output_tokens": 3,
    }


@pytest.fixture
def capturing(telemetry: Telemetry) -> Iterator[Telemetry]:
    def redact(text: str) -> str:
        return re.sub(r"\d{3}-\d{4}", "<phone>", text)

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(**telemetry.providers, capture_content=True, redact=redact,
                            max_content_length=40)  # fmt: skip
    yield telemetry
    instrumentor.uninstrument()


def test_captured_content_is_redacted_then_truncated(
    capturing: Telemetry, client: openai.OpenAI
) -> None:
    long_question = "Call me at 555-1234 about " + "x" * 100
    client.chat.completions.create(
        model="m1",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": long_question},
        ],
        extra_body={"fake": {"words": ["Sure, ", "555-9876."]}},
    )

    (span,) = capturing.spans()
    inputs = json.loads(span.attributes["gen_ai.input.messages"])  # type: ignore[index,arg-type]
    outputs = json.loads(span.attributes["gen_ai.output.messages"])  # type: ignore[index,arg-type]
    redacted_and_cut = "Call me at <phone> about " + "x" * 15 + TRUNCATED
    assert inputs == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": redacted_and_cut}]},
    ]
    assert outputs == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Sure, <phone>."}],
         "finish_reason": "stop"}
    ]  # fmt: skip
    exported = exported_text(capturing)
    assert "555-1234" not in exported and "555-9876" not in exported and API_KEY not in exported


def test_streamed_tool_call_is_captured_whole(capturing: Telemetry, client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="m1", messages=[{"role": "user", "content": "Weather?"}], stream=True,
        extra_body={"fake": {"tool_call": True}},
    )  # fmt: skip
    list(stream)
    (span,) = capturing.spans()
    outputs = json.loads(span.attributes["gen_ai.output.messages"])  # type: ignore[index,arg-type]
    call = {"type": "tool_call", "id": "call_1", "name": "lookup", "arguments": '{"city": "Paris"}'}
    assert outputs == [{"role": "assistant", "finish_reason": "tool_calls", "parts": [call]}]


def test_the_semconv_variable_turns_capture_on(telemetry: Telemetry, client: openai.OpenAI) -> None:
    env = {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(**telemetry.providers, settings=Settings.load(environ=env))
    try:
        client.chat.completions.create(model="m1", messages=[{"role": "user", "content": "hello"}])
    finally:
        instrumentor.uninstrument()
    (span,) = telemetry.spans()
    assert json.loads(span.attributes["gen_ai.input.messages"]) == [  # type: ignore[index,arg-type]
        {"role": "user", "parts": [{"type": "text", "content": "hello"}]}
    ]


def test_a_failing_redactor_drops_the_text_and_never_fails_the_call(
    telemetry: Telemetry, client: openai.OpenAI
) -> None:
    from otel_ml._internal import guard

    def broken(text: str) -> str:
        raise RuntimeError("redactor bug")

    guard.set_strict(False)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(**telemetry.providers, capture_content=True, redact=broken)
    try:
        result = client.chat.completions.create(
            model="m1", messages=[{"role": "user", "content": "pii"}]
        )
    finally:
        instrumentor.uninstrument()
    assert result.choices[0].message.content == "w0 w1 w2 "
    (span,) = telemetry.spans()
    inputs = json.loads(span.attributes["gen_ai.input.messages"])  # type: ignore[index,arg-type]
    assert inputs == [{"role": "user", "parts": [{"type": "text", "content": None}]}]
    assert guard.error_count("genai.content.redact") == 2  # the input and the output text
