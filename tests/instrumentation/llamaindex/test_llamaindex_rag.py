"""LlamaIndex core against the stand-in server: an in-memory vector index
whose embedding model and LLM are openai clients pointed at it (the
llama-index openai packages pin openai below 3, so the two small adapters
below stand in for them). A query is one trace."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata
from opentelemetry.trace import SpanKind
from support import Telemetry

from otel_ml.config import Settings
from otel_ml.demo.llm_server import running_server
from otel_ml.instrumentation._patching import PatchingInstrumentor
from otel_ml.instrumentation.llamaindex import LlamaIndexInstrumentor, instrument_llamaindex
from otel_ml.instrumentation.openai import OpenAIInstrumentor

Instrument = Callable[..., PatchingInstrumentor]
DOCS = ["Paris is the capital of France.", "Berlin is the capital of Germany.", "secret-doc"]


class StandInEmbedding(BaseEmbedding):
    """Embeddings from the stand-in server through the openai client."""

    base_url: str

    def _embed(self, texts: list[str]) -> list[list[float]]:
        with openai.OpenAI(base_url=self.base_url, api_key="k") as client:
            return [d.embedding for d in client.embeddings.create(model="e1", input=texts).data]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embed([query])[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embed([text])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


class StandInLLM(CustomLLM):
    """Completions from the stand-in server's chat route through the openai client."""

    base_url: str

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="m1")

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        with openai.OpenAI(base_url=self.base_url, api_key="k") as client:
            answer = client.chat.completions.create(
                model="m1", messages=[{"role": "user", "content": prompt}]
            )
        return CompletionResponse(text=answer.choices[0].message.content or "")

    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        raise NotImplementedError


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with running_server() as base:
        yield base


def _engine(url: str, top_k: int = 2) -> Any:
    embed = StandInEmbedding(base_url=url)
    index = VectorStoreIndex.from_documents(
        [Document(text=t, id_=f"d{i}") for i, t in enumerate(DOCS)], embed_model=embed
    )
    return index, index.as_query_engine(llm=StandInLLM(base_url=url), similarity_top_k=top_k)


def test_a_query_is_one_trace_under_the_query_span(
    instrumented: Instrument, telemetry: Telemetry, url: str
) -> None:
    _, engine = _engine(url)  # indexing embeds before instrumenting
    instrumented(OpenAIInstrumentor)
    instrumented(LlamaIndexInstrumentor)
    answer = engine.query("Capital of France? top-secret-prompt")

    assert str(answer) == "w0 w1 w2 "
    spans = {s.name: s for s in telemetry.spans()}
    assert sorted(spans) == ["RetrieverQueryEngine", "chat m1", "embeddings e1",
                             "retrieval SimpleVectorStore"]  # fmt: skip
    root, retrieval = spans["RetrieverQueryEngine"], spans["retrieval SimpleVectorStore"]
    assert root.parent is None and root.kind is SpanKind.INTERNAL
    parent_of = {name: s.parent.span_id for name, s in spans.items() if s.parent}  # type: ignore[union-attr]
    assert parent_of == {"retrieval SimpleVectorStore": root.context.span_id,
                         "embeddings e1": retrieval.context.span_id,
                         "chat m1": root.context.span_id}  # fmt: skip
    attrs = dict(retrieval.attributes or {})
    assert attrs == {
        "gen_ai.operation.name": "retrieval",
        "gen_ai.provider.name": "llama_index",
        "gen_ai.data_source.id": "SimpleVectorStore",
        "gen_ai.request.top_k": 2,
        "ml.retrieval.documents.count": 2,
        "ml.retrieval.score.min": pytest.approx(1.0),
        "ml.retrieval.score.max": pytest.approx(1.0),
    }
    durations = {a["gen_ai.operation.name"]: p.count
                 for a, p in telemetry.points("gen_ai.client.operation.duration")}  # fmt: skip
    assert durations == {"retrieval": 1, "embeddings": 1, "chat": 1}
    assert all("top-secret" not in s.to_json() for s in spans.values())
    # The RAG histograms: two documents, two similarity scores.
    [(_, documents)] = telemetry.points("ml.retrieval.documents")
    [(_, scores)] = telemetry.points("ml.retrieval.score")
    assert (documents.count, documents.sum, scores.count) == (1, 2, 2)
    assert scores.sum == pytest.approx(2.0)


def test_async_query_is_one_trace(instrumented: Instrument, telemetry: Telemetry, url: str) -> None:
    _, engine = _engine(url)
    instrumented(OpenAIInstrumentor)
    instrumented(LlamaIndexInstrumentor)
    asyncio.run(engine.aquery("Capital?"))

    spans = telemetry.spans()
    assert len({s.context.trace_id for s in spans}) == 1
    assert [s.name for s in spans if s.parent is None] == ["RetrieverQueryEngine"]
    assert "retrieval SimpleVectorStore" in {s.name for s in spans}


def test_retrieval_ids_and_query_only_with_capture(
    instrumented: Instrument, telemetry: Telemetry, url: str
) -> None:
    index, _ = _engine(url)
    instrumented(LlamaIndexInstrumentor, capture_content=True)
    index.as_retriever(similarity_top_k=1).retrieve("where is Paris")

    (span,) = telemetry.spans()
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.retrieval.query.text"] == "where is Paris"
    (doc,) = json.loads(attrs["gen_ai.retrieval.documents"])
    assert set(doc) == {"id", "score"}


def test_uninstrument_leaves_the_handler_idle(telemetry: Telemetry, url: str) -> None:
    index, _ = _engine(url)
    undo = instrument_llamaindex(**telemetry.providers, settings=Settings.load(environ={}))
    index.as_retriever().retrieve("q")
    undo()
    index.as_retriever().retrieve("q")
    assert [s.name for s in telemetry.spans()] == ["retrieval SimpleVectorStore"]
