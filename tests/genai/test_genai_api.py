"""``llm``, ``embedding`` and ``retrieval`` around custom clients, and the content policy."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from opentelemetry.trace import SpanKind, StatusCode
from support import Telemetry

from otel_ml.genai import embedding, llm, retrieval
from otel_ml.genai.content import TRUNCATED, ContentPolicy, content_policy


def test_llm_context_manager_records_what_the_block_reports(telemetry: Telemetry) -> None:
    with llm("llama-3", provider="vllm", server_address="gpu-1", server_port=8000,
             capture_content=True, **telemetry.providers) as call:  # fmt: skip
        call.set_response(model="llama-3-8b", response_id="r1", finish_reasons=["stop"])
        call.set_usage(input_tokens=12, output_tokens=30)
        call.record_output("Paris.")

    (span,) = telemetry.spans()
    assert (span.name, span.kind) == ("chat llama-3", SpanKind.CLIENT)
    identity = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "vllm",
        "gen_ai.request.model": "llama-3",
        "server.address": "gpu-1",
        "server.port": 8000,
    }
    assert dict(span.attributes or {}) == {
        **identity,
        "gen_ai.response.model": "llama-3-8b",
        "gen_ai.response.id": "r1",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 30,
        "gen_ai.output.messages": json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": "Paris."}]}],
            separators=(",", ":"),
        ),
    }
    usage = {
        a["gen_ai.token.type"]: (a, p.sum) for a, p in telemetry.points("gen_ai.client.token.usage")
    }
    assert usage["input"] == ({**identity, "gen_ai.response.model": "llama-3-8b",
                               "gen_ai.token.type": "input"}, 12)  # fmt: skip
    assert usage["output"][1] == 30


def test_llm_decorated_generator_times_its_items(telemetry: Telemetry) -> None:
    @llm("local", **telemetry.providers)
    def generate(n: int) -> Iterator[str]:
        time.sleep(0.05)
        for i in range(n):
            yield f"t{i}"

    assert list(generate(4)) == ["t0", "t1", "t2", "t3"]
    (span,) = telemetry.spans()
    assert span.attributes["gen_ai.response.time_to_first_chunk"] >= 0.05  # type: ignore[index,operator]
    ((_, gaps),) = telemetry.points("gen_ai.client.operation.time_per_output_chunk")
    assert gaps.count == 3


def test_llm_decorated_async_generator_failing_midway(telemetry: Telemetry) -> None:
    @llm("local", **telemetry.providers)
    async def generate() -> AsyncIterator[str]:
        yield "t0"
        raise ConnectionResetError("backend went away")

    async def consume() -> list[str]:
        return [t async for t in generate()]

    with pytest.raises(ConnectionResetError):
        asyncio.run(consume())
    (span,) = telemetry.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ConnectionResetError"  # type: ignore[index]
    ((attrs, _),) = telemetry.points("gen_ai.client.operation.duration")
    assert attrs == {"gen_ai.operation.name": "chat", "gen_ai.request.model": "local",
                     "gen_ai.provider.name": "_OTHER",  # required: no provider given
                     "error.type": "ConnectionResetError"}  # fmt: skip


def test_embedding_decorator_reads_vectors(telemetry: Telemetry) -> None:
    @embedding("minilm", provider="sentence_transformers", **telemetry.providers)
    async def embed(texts: list[str]) -> list[list[float]]:
        return [[0.0] * 384 for _ in texts]

    assert len(asyncio.run(embed(["a", "b", "c"]))) == 3
    (span,) = telemetry.spans()
    assert span.name == "embeddings minilm"
    assert dict(span.attributes or {}) == {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.provider.name": "sentence_transformers",
        "gen_ai.request.model": "minilm",
        "ml.embeddings.input.count": 3,
        "gen_ai.embeddings.dimension.count": 384,
    }


def test_retrieval_without_capture_records_no_ids_or_query(telemetry: Telemetry) -> None:
    @retrieval("faq", top_k=3, **telemetry.providers)
    def search(query: str) -> list[tuple[str, float]]:
        return [("secret-doc-1", 0.8), ("secret-doc-2", 0.3)]

    search("my secret question")
    (span,) = telemetry.spans()
    assert span.name == "retrieval faq"
    assert dict(span.attributes or {}) == {
        "gen_ai.operation.name": "retrieval",
        "gen_ai.provider.name": "_OTHER",
        "gen_ai.data_source.id": "faq",
        "gen_ai.request.top_k": 3,
        "ml.retrieval.documents.count": 2,
        "ml.retrieval.score.min": 0.3,
        "ml.retrieval.score.max": 0.8,
    }


def test_captured_documents_without_id_or_score_export_no_nulls(telemetry: Telemetry) -> None:
    with retrieval("faq", capture_content=True, **telemetry.providers) as call:
        call.record_documents([{"id": "d1"}, {"score": 0.5}, "bare text"])
    (span,) = telemetry.spans()
    documents = span.attributes["gen_ai.retrieval.documents"]  # type: ignore[index]
    assert json.loads(documents) == [{"id": "d1"}, {"score": 0.5}, {}]  # type: ignore[arg-type]
    assert "null" not in documents  # type: ignore[operator]


def test_llm_sets_request_stream_only_when_streaming(telemetry: Telemetry) -> None:
    for stream in (False, True, None):
        with llm("m", stream=stream, provider="vllm", **telemetry.providers):
            pass
    flags = [(s.attributes or {}).get("gen_ai.request.stream") for s in telemetry.spans()]
    assert flags == [None, True, None]


def test_user_exception_propagates_unchanged(telemetry: Telemetry) -> None:
    error = TimeoutError("index timed out")

    @retrieval("faq", **telemetry.providers)
    def search(query: str) -> list[str]:
        raise error

    with pytest.raises(TimeoutError) as caught:
        search("q")
    assert caught.value is error
    (span,) = telemetry.spans()
    assert span.attributes["error.type"] == "TimeoutError"  # type: ignore[index]


def test_content_policy_redacts_before_truncating_and_defaults_off() -> None:
    assert content_policy().capture is False
    assert ContentPolicy().text("anything") is None
    policy = ContentPolicy(capture=True, redact=lambda s: s.replace("secret", "***"), max_length=8)
    assert policy.text("secret") == "***"
    assert policy.text("a secret message") == "a *** me" + TRUNCATED
    dropping = ContentPolicy(capture=True, redact=lambda s: None)
    assert dropping.text("x") is None
    with pytest.raises(ValueError, match="max_length"):
        content_policy(max_length=0)
