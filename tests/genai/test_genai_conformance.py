"""Every GenAI name otel_ml emits, checked against a table of the OpenTelemetry
GenAI semantic conventions v1.41 kept here (not read from otel_ml.semconv, so a
typo there fails): attribute names and types, metric names, units, bucket
advisories and the attributes each metric may carry."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest
from opentelemetry.sdk.metrics.export import HistogramDataPoint
from pydantic import BaseModel
from support import Telemetry

from otel_ml.config import Settings
from otel_ml.demo.llm_server import running_server
from otel_ml.genai import embedding, generation, llm, retrieval
from otel_ml.genai.evaluation import record_answer_feedback
from otel_ml.genai.evaluation import state as evaluation_state
from otel_ml.instrumentation.openai import OpenAIInstrumentor

STR, INT, FLOAT, BOOL = str, int, float, bool
STRS = (str,)
"""A string array attribute."""

# Span attributes of the conventions (registry v1.41): name -> type.
ATTRIBUTES: dict[str, Any] = {
    "gen_ai.operation.name": STR, "gen_ai.provider.name": STR,
    "gen_ai.request.model": STR, "gen_ai.response.model": STR, "gen_ai.response.id": STR,
    "gen_ai.response.finish_reasons": STRS, "gen_ai.request.temperature": FLOAT,
    "gen_ai.request.max_tokens": INT, "gen_ai.request.top_p": FLOAT,
    "gen_ai.request.top_k": FLOAT, "gen_ai.request.seed": INT,
    "gen_ai.request.stop_sequences": STRS, "gen_ai.request.choice.count": INT,
    "gen_ai.request.frequency_penalty": FLOAT, "gen_ai.request.presence_penalty": FLOAT,
    "gen_ai.request.encoding_formats": STRS, "gen_ai.request.stream": BOOL,
    "gen_ai.response.time_to_first_chunk": FLOAT,
    "gen_ai.usage.input_tokens": INT, "gen_ai.usage.output_tokens": INT,
    "gen_ai.usage.cache_read.input_tokens": INT, "gen_ai.usage.reasoning.output_tokens": INT,
    "gen_ai.output.type": STR, "gen_ai.embeddings.dimension.count": INT,
    "gen_ai.data_source.id": STR, "gen_ai.input.messages": STR,
    "gen_ai.output.messages": STR, "gen_ai.system_instructions": STR,
    "gen_ai.tool.definitions": STR, "gen_ai.retrieval.query.text": STR,
    "gen_ai.retrieval.documents": STR,
    "openai.api.type": STR, "openai.request.service_tier": STR,
    "openai.response.service_tier": STR, "openai.response.system_fingerprint": STR,
    "server.address": STR, "server.port": INT, "error.type": STR,
    "gen_ai.evaluation.name": STR, "gen_ai.evaluation.score.value": FLOAT,
    "gen_ai.evaluation.score.label": STR, "gen_ai.evaluation.explanation": STR,
}  # fmt: skip
# Events of the conventions (v1.38+): name -> the attributes it may carry.
EVENTS = {
    "gen_ai.evaluation.result": {"gen_ai.evaluation.name", "gen_ai.evaluation.score.value",
                                 "gen_ai.evaluation.score.label",
                                 "gen_ai.evaluation.explanation", "gen_ai.response.id",
                                 "error.type"},
}  # fmt: skip
# Provisional: the open GenAI cost proposal (semantic-conventions-genai PR #443), not yet
# in the registry. Checked like the rest; the names change when the proposal does.
PROVISIONAL_ATTRIBUTES: dict[str, Any] = {
    "gen_ai.usage.cost.amount": FLOAT, "gen_ai.usage.cost.currency": STR,
    "gen_ai.usage.cost.source": STR,
}  # fmt: skip
ATTRIBUTES.update(PROVISIONAL_ATTRIBUTES)
ENUMS = {
    "gen_ai.operation.name": {"chat", "text_completion", "embeddings", "retrieval",
                              "generate_content", "execute_tool", "invoke_agent"},
    "gen_ai.output.type": {"text", "json", "image", "speech"},
    "gen_ai.token.type": {"input", "output"},
    "openai.api.type": {"chat_completions", "responses"},
    "gen_ai.usage.cost.source": {"provider", "local"},
}  # fmt: skip
FINISH_REASONS = {"stop", "length", "content_filter", "tool_call", "tool_calls", "error"}

DURATION = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96,
            81.92)  # fmt: skip
TOKENS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216,
          67108864)  # fmt: skip
FIRST_TOKEN = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
               7.5, 10.0)  # fmt: skip
SCORES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
PER_TOKEN = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)
COMMON = {"gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model",
          "gen_ai.response.model", "server.address", "server.port", "error.type"}  # fmt: skip
OPENAI = {"openai.response.service_tier", "openai.response.system_fingerprint"}
# Metric name -> (unit, bucket advisory, attributes it may carry).
METRICS: dict[str, tuple[str, tuple[float, ...], set[str]]] = {
    "gen_ai.client.operation.duration": ("s", DURATION, COMMON | OPENAI),
    "gen_ai.client.token.usage": ("{token}", TOKENS, COMMON | OPENAI | {"gen_ai.token.type"}),
    "gen_ai.client.operation.time_to_first_chunk": ("s", DURATION, COMMON | OPENAI),
    "gen_ai.client.operation.time_per_output_chunk": ("s", DURATION, COMMON | OPENAI),
    "gen_ai.server.request.duration": ("s", DURATION, COMMON),
    "gen_ai.server.time_to_first_token": ("s", FIRST_TOKEN, COMMON),
    "gen_ai.server.time_per_output_token": ("s", PER_TOKEN, COMMON),
    # otel_ml's own (the conventions have no evaluation metric): GenAI attributes only.
    "ml.genai.evaluation.score": (
        "1",
        SCORES,
        COMMON | {"gen_ai.evaluation.name", "ml.genai.evaluation.source"},
    ),
}
# Provisional counters (PR #443): name -> (unit, attributes it may carry).
PROVISIONAL_COUNTERS = {"gen_ai.client.operation.cost": ("USD", COMMON | OPENAI)}
REQUIRED_ON_METRICS = {"gen_ai.operation.name", "gen_ai.provider.name"}
PRICES = {"providers": {"openai": {"fake-model": {"input": 1.0, "output": 2.0}}}}
"""Prices the stand-in's model, so the calls carry a cost."""
RESPONSES_API = importlib.util.find_spec("openai.resources.responses") is not None


class City(BaseModel):
    name: str


def _openai_calls(url: str) -> None:
    chat = [{"role": "user", "content": "hi"}]
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    with openai.OpenAI(base_url=url, api_key="k", max_retries=0) as client:
        client.chat.completions.create(model="m", messages=chat, temperature=0.1, top_p=0.5,  # type: ignore[arg-type]
                                       max_tokens=9, seed=1, stop="x", n=2, tools=tools,  # type: ignore[arg-type]
                                       frequency_penalty=0.1, presence_penalty=0.1,
                                       response_format={"type": "json_object"},
                                       service_tier="flex")  # fmt: skip
        list(client.chat.completions.create(model="m", messages=chat, stream=True,  # type: ignore[arg-type]
                                            stream_options={"include_usage": True}))  # fmt: skip
        answer = {"fake": {"words": ['{"name": "P"}']}}
        completions = client.chat.completions
        helpers = completions if hasattr(completions, "parse") else client.beta.chat.completions
        helpers.parse(model="m", messages=chat, response_format=City, extra_body=answer)  # type: ignore[arg-type]
        if RESPONSES_API:
            client.responses.create(model="r", input="hi", instructions="be brief",
                                    extra_body={"fake": {"tool_call": True}})  # fmt: skip
            list(client.responses.create(model="r", input="hi", stream=True))
            list(client.responses.create(model="r", input="hi", stream=True,
                                         extra_body={"fake": {"error_after": 1}}))  # fmt: skip
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="m", messages=chat,  # type: ignore[arg-type]
                                           extra_body={"fake": {"status": 500}})  # fmt: skip
        list(client.completions.create(model="c", prompt="x", stream=True))
        client.embeddings.create(model="e", input=["a"], encoding_format="float")


def _decorated_calls(t: Telemetry) -> None:
    @llm("local", stream=True, **t.providers)
    def generate() -> Iterator[str]:
        yield from ("a", "b")

    @embedding("minilm", **t.providers)
    def embed(texts: list[str]) -> list[list[float]]:
        return [[0.0, 1.0] for _ in texts]

    @retrieval("index", top_k=2, capture_content=True, **t.providers)
    def search(query: str) -> list[Any]:
        return [{"id": "d", "score": 0.5}, "no id"]

    @generation("tiny", **t.providers)
    async def tokens() -> AsyncIterator[str]:
        for token in ("x", "y", "z"):
            await asyncio.sleep(0.001)
            yield token

    async def drain() -> None:
        async for _ in tokens():
            pass

    list(generate())
    embed(["a", "b"])
    search("q")
    asyncio.run(drain())


def _evaluated_calls(url: str, t: Telemetry) -> None:
    """A judged answer and a user's thumbs on another."""
    settings = Settings.load(
        {},
        genai_evaluation_rate=1.0,
        genai_evaluation_judge_url=url,
        genai_evaluation_judge_model="judge",
        capture_content=True,
    )
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(**t.providers, settings=settings)
    (evaluation,) = [e for e in evaluation_state.running() if e.telemetry.meter_provider
                     is t.meter_provider]  # fmt: skip
    try:
        with openai.OpenAI(base_url=url, api_key="k", max_retries=0) as client:
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
            evaluation.worker.wait_idle(10.0)
        assert record_answer_feedback("chatcmpl-fake-1", thumbs="up", **t.providers)
    finally:
        instrumentor.uninstrument()
        evaluation.close()


@pytest.fixture(scope="module")
def emitted() -> Iterator[Telemetry]:
    t = Telemetry.create()
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(**t.providers, capture_content=True, prices=PRICES)
    try:
        with running_server() as url:
            _openai_calls(url)
            instrumentor.uninstrument()
            _evaluated_calls(url, t)
        _decorated_calls(t)
    finally:
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
    yield t
    t.shutdown()


def _conforms(name: str, value: Any) -> bool:
    expected = ATTRIBUTES[name]
    if expected is STRS:
        return isinstance(value, tuple) and all(isinstance(v, str) for v in value)
    if expected is INT:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def test_every_span_attribute_is_a_convention_name_of_its_type(emitted: Telemetry) -> None:
    seen: set[str] = set()
    for span in emitted.spans():
        for name, value in (span.attributes or {}).items():
            if name.startswith(("ml.", "http.")):
                continue  # otel_ml's own names and HTTP's, not GenAI ones
            assert name in ATTRIBUTES, f"{span.name}: {name} is not in the conventions"
            assert _conforms(name, value), f"{span.name}: {name}={value!r}"
            if name in ENUMS:
                assert value in ENUMS[name], f"{span.name}: {name}={value!r}"
            seen.add(name)
        reasons = (span.attributes or {}).get("gen_ai.response.finish_reasons", ())
        assert set(reasons) <= FINISH_REASONS, f"{span.name}: {reasons}"
        assert "gen_ai.provider.name" in (span.attributes or {}), span.name
        for event in (e for e in span.events if e.name.startswith("gen_ai.")):
            assert event.name in EVENTS, f"{span.name}: event {event.name}"
            assert set(event.attributes or {}) <= EVENTS[event.name], f"{span.name}: {event}"
            seen.update(event.attributes or {})
    # The scenarios reach every row of the table (instructions: the Responses API's).
    assert set(ATTRIBUTES) - seen == (set() if RESPONSES_API else {"gen_ai.system_instructions"})


def test_every_metric_name_unit_bucket_list_and_attribute(emitted: Telemetry) -> None:
    # otel_ml's own (ml.*) names are not GenAI ones (as for span attributes).
    metrics = {
        k: v for k, v in emitted.metrics().items() if not k.startswith("ml.") or k in METRICS
    }
    # every GenAI metric reached, nothing else
    assert set(metrics) == set(METRICS) | set(PROVISIONAL_COUNTERS)
    for name, (unit, allowed) in PROVISIONAL_COUNTERS.items():
        assert metrics[name].unit == unit, name
        for point in metrics.pop(name).data.data_points:
            attrs = dict(point.attributes or {})
            assert REQUIRED_ON_METRICS <= set(attrs) <= allowed, f"{name}: {sorted(attrs)}"
            assert point.value > 0, name
    for name, metric in metrics.items():
        unit, buckets, allowed = METRICS[name]
        assert metric.unit == unit, name
        for point in metric.data.data_points:
            assert isinstance(point, HistogramDataPoint)
            assert tuple(point.explicit_bounds) == buckets, name
            attrs = dict(point.attributes or {})
            assert REQUIRED_ON_METRICS <= set(attrs) <= allowed, f"{name}: {sorted(attrs)}"
            for key in set(attrs) & set(ENUMS):
                assert attrs[key] in ENUMS[key], f"{name}: {key}={attrs[key]!r}"
