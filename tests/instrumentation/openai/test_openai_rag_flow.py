"""A RAG request: embed the question, retrieve, then chat, under one HTTP span."""

from __future__ import annotations

import json

import openai
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openai_support import API_KEY
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.trace import SpanKind
from support import Telemetry

from otel_ml.genai import retrieval

DOCUMENTS = [
    {"id": "doc-paris", "text": "Paris is the capital of France.", "score": 0.91},
    {"id": "doc-lyon", "text": "Lyon is known for its food.", "score": 0.42},
]


def _app(llm_url: str, telemetry: Telemetry, capture: bool) -> FastAPI:
    app = FastAPI()
    search = retrieval("wiki-index", top_k=2, capture_content=capture, **telemetry.providers)

    @search
    def find(query: str, vector: list[float]) -> list[dict[str, object]]:
        return DOCUMENTS

    @app.get("/ask")
    async def ask(q: str) -> dict[str, str]:
        async with openai.AsyncOpenAI(base_url=llm_url, api_key=API_KEY, max_retries=0) as llm:
            embedded = await llm.embeddings.create(model="e1", input=q)
            docs = find(q, embedded.data[0].embedding)
            context = " ".join(str(d["text"]) for d in docs)
            answer = await llm.chat.completions.create(
                model="m1", messages=[{"role": "system", "content": context},
                                      {"role": "user", "content": q}],
            )  # fmt: skip
        return {"answer": answer.choices[0].message.content or ""}

    FastAPIInstrumentor.instrument_app(app, tracer_provider=telemetry.tracer_provider,
                                       exclude_spans=["receive", "send"])  # fmt: skip
    return app


def test_rag_flow_is_one_trace_with_correct_parentage(
    instrumented: Telemetry, llm_url: str
) -> None:
    with TestClient(_app(llm_url, instrumented, capture=False)) as http:
        assert http.get("/ask", params={"q": "capital of France?"}).json() == {
            "answer": "w0 w1 w2 "
        }

    server = instrumented.span("GET /ask")
    assert server.kind is SpanKind.SERVER
    children = [instrumented.span(n) for n in ("embeddings e1", "retrieval wiki-index", "chat m1")]
    for child in children:
        assert child.parent is not None and child.parent.span_id == server.context.span_id
        assert child.context.trace_id == server.context.trace_id
    embed, found, chat = children
    assert embed.end_time <= found.start_time and found.end_time <= chat.start_time  # type: ignore[operator]
    assert dict(found.attributes or {}) == {
        "gen_ai.operation.name": "retrieval",
        "gen_ai.provider.name": "_OTHER",
        "gen_ai.data_source.id": "wiki-index",
        "gen_ai.request.top_k": 2,
        "ml.retrieval.documents.count": 2,
        "ml.retrieval.score.min": 0.42,
        "ml.retrieval.score.max": 0.91,
    }
    assert found.kind is SpanKind.CLIENT
    ((attrs, duration),) = [
        (a, p)
        for a, p in instrumented.points("gen_ai.client.operation.duration")
        if a["gen_ai.operation.name"] == "retrieval"
    ]
    assert attrs == {"gen_ai.operation.name": "retrieval", "gen_ai.provider.name": "_OTHER"}
    assert duration.count == 1


def test_rag_retrieval_content_only_when_captured(instrumented: Telemetry, llm_url: str) -> None:
    with TestClient(_app(llm_url, instrumented, capture=True)) as http:
        http.get("/ask", params={"q": "capital of France?"})
    found = instrumented.span("retrieval wiki-index")
    assert found.attributes["gen_ai.retrieval.query.text"] == "capital of France?"  # type: ignore[index]
    documents = json.loads(found.attributes["gen_ai.retrieval.documents"])  # type: ignore[index,arg-type]
    assert documents == [{"id": "doc-paris", "score": 0.91}, {"id": "doc-lyon", "score": 0.42}]
