"""The Instrumentor contract: entry point, idempotence, undo, and one span per call
when another instrumentation (the contrib openai-v2, an otel_ml hook) is active."""

from __future__ import annotations

from importlib.metadata import entry_points

import openai
import pytest
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as ContribInstrumentor
from support import Telemetry

from otel_ml.genai import llm
from otel_ml.instrumentation.openai import OpenAIInstrumentor, instrument_openai
from otel_ml.instrumentation.openai.patch import PatchedCreate

MESSAGES = [{"role": "user", "content": "hi"}]
ORIGINAL = openai.resources.chat.completions.Completions.__dict__["create"]


def test_entry_point_names_the_instrumentor() -> None:
    (found,) = [
        ep for ep in entry_points(group="opentelemetry_instrumentor") if ep.name == "otel_ml_openai"
    ]
    assert found.load() is OpenAIInstrumentor


def test_instrument_is_idempotent_and_undo_restores_the_originals(telemetry: Telemetry) -> None:
    undo = instrument_openai(**telemetry.providers)
    patched = openai.resources.chat.completions.Completions.__dict__["create"]
    assert isinstance(patched, PatchedCreate)
    assert isinstance(openai.resources.embeddings.AsyncEmbeddings.__dict__["create"], PatchedCreate)
    OpenAIInstrumentor().instrument(**telemetry.providers)
    assert openai.resources.chat.completions.Completions.__dict__["create"] is patched
    undo()
    assert openai.resources.chat.completions.Completions.__dict__["create"] is ORIGINAL


@pytest.mark.parametrize("contrib_first", [True, False])
def test_with_the_contrib_openai_v2_instrumentation_one_span_per_call(
    telemetry: Telemetry, client: openai.OpenAI, contrib_first: bool
) -> None:
    contrib, ours = ContribInstrumentor(), OpenAIInstrumentor()
    first, second = (contrib, ours) if contrib_first else (ours, contrib)
    first.instrument(**telemetry.providers)
    second.instrument(**telemetry.providers)
    try:
        client.chat.completions.create(model="m1", messages=MESSAGES)
        list(client.chat.completions.create(model="m1", messages=MESSAGES, stream=True))
        client.embeddings.create(model="e1", input="x")
    finally:
        second.uninstrument()
        first.uninstrument()

    spans = telemetry.spans()
    assert sorted(s.name for s in spans) == ["chat m1", "chat m1", "embeddings e1"]
    assert {s.instrumentation_scope.name for s in spans} == {  # type: ignore[union-attr]
        "opentelemetry.instrumentation.openai_v2"
    }
    assert openai.resources.chat.completions.Completions.__dict__["create"] is ORIGINAL


def test_an_otel_ml_hook_around_the_same_call_keeps_one_span(
    instrumented: Telemetry, client: openai.OpenAI
) -> None:
    @llm("m1", **instrumented.providers)
    def ask() -> str:
        result = client.chat.completions.create(model="m1", messages=MESSAGES)
        return result.choices[0].message.content or ""

    assert ask() == "w0 w1 w2 "
    (span,) = instrumented.spans()
    assert span.name == "chat m1" and "gen_ai.usage.input_tokens" not in (span.attributes or {})
