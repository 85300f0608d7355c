"""LangChain (langchain-core + langchain-openai) against the stand-in server:
a RAG chain over an in-memory vector store is one trace; tools give
``execute_tool`` spans."""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import Callable

import pytest
from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough
from langchain_core.tools import tool
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from opentelemetry.trace import SpanKind, StatusCode
from support import Telemetry

from otel_ml.config import Settings
from otel_ml.instrumentation._patching import PatchingInstrumentor
from otel_ml.instrumentation.langchain import LangChainInstrumentor, instrument_langchain
from otel_ml.instrumentation.openai import OpenAIInstrumentor

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
Instrument = Callable[..., PatchingInstrumentor]
DOCS = ["Paris is the capital of France.", "Berlin is the capital of Germany.", "secret-doc"]


@pytest.fixture
def url(llm_server_url: str) -> str:
    return llm_server_url


def _store(url: str) -> InMemoryVectorStore:
    # check_embedding_ctx_length=False: no tiktoken, whose encodings are downloaded.
    embeddings = OpenAIEmbeddings(model="e1", base_url=url, api_key="k",  # type: ignore[arg-type]
                                  check_embedding_ctx_length=False)  # fmt: skip
    store = InMemoryVectorStore(embeddings)
    store.add_documents([Document(page_content=t, id=f"d{i}") for i, t in enumerate(DOCS)])
    return store


def _chain(url: str, store: InMemoryVectorStore):  # type: ignore[no-untyped-def]
    retriever = store.as_retriever(search_kwargs={"k": 2})
    prompt = ChatPromptTemplate.from_template("Context: {context}\nQuestion: {question}")
    llm = ChatOpenAI(model="m1", base_url=url, api_key="k", max_retries=0)  # type: ignore[arg-type]
    return (
        {"context": retriever, "question": RunnablePassthrough()} | prompt | llm | StrOutputParser()
    )


def test_a_rag_chain_is_one_trace_under_the_chain_span(
    instrumented: Instrument, telemetry: Telemetry, url: str
) -> None:
    store = _store(url)  # indexing: embeddings calls of their own, before the chain
    instrumented(OpenAIInstrumentor)
    instrumented(LangChainInstrumentor)
    answer = _chain(url, store).invoke("Capital of France? top-secret-prompt")

    assert answer == "w0 w1 w2 "
    spans = {s.name: s for s in telemetry.spans()}
    assert sorted(spans) == ["RunnableSequence", "chat m1", "embeddings e1",
                             "retrieval InMemoryVectorStore"]  # fmt: skip
    root = spans["RunnableSequence"]
    retrieval = spans["retrieval InMemoryVectorStore"]
    assert root.parent is None and root.kind is SpanKind.INTERNAL
    assert {s.context.trace_id for s in spans.values()} == {root.context.trace_id}
    parent_of = {name: s.parent.span_id for name, s in spans.items() if s.parent}  # type: ignore[union-attr]
    assert parent_of == {"retrieval InMemoryVectorStore": root.context.span_id,
                         "embeddings e1": retrieval.context.span_id,
                         "chat m1": root.context.span_id}  # fmt: skip
    assert dict(retrieval.attributes or {}) == {
        "gen_ai.operation.name": "retrieval",
        "gen_ai.provider.name": "langchain",
        "gen_ai.data_source.id": "InMemoryVectorStore",
        "gen_ai.request.top_k": 2.0,
        "ml.retrieval.documents.count": 2,
    }
    durations = {a["gen_ai.operation.name"]: p.count
                 for a, p in telemetry.points("gen_ai.client.operation.duration")}  # fmt: skip
    assert durations == {"retrieval": 1, "embeddings": 1, "chat": 1}
    assert all("top-secret" not in s.to_json() for s in spans.values())  # content off by default
    # The RAG histogram: two documents (a vector store's retriever gives no scores).
    [(attrs, documents)] = telemetry.points("ml.retrieval.documents")
    assert (documents.count, documents.sum) == (1, 2)
    assert attrs == {"gen_ai.operation.name": "retrieval", "gen_ai.provider.name": "langchain"}
    assert telemetry.points("ml.retrieval.score") == []


def test_async_rag_chain_is_one_trace(
    instrumented: Instrument, telemetry: Telemetry, url: str
) -> None:
    store = _store(url)
    instrumented(OpenAIInstrumentor)
    instrumented(LangChainInstrumentor)
    assert asyncio.run(_chain(url, store).ainvoke("Capital?")) == "w0 w1 w2 "

    spans = telemetry.spans()
    assert len({s.context.trace_id for s in spans}) == 1
    assert sorted(s.name for s in spans if s.parent is None) == ["RunnableSequence"]


def test_retrieval_records_ids_and_query_only_with_capture(
    instrumented: Instrument, telemetry: Telemetry, url: str
) -> None:
    store = _store(url)
    instrumented(LangChainInstrumentor, capture_content=True)
    store.as_retriever(search_kwargs={"k": 1}).invoke("where is Paris")

    (span,) = telemetry.spans()
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.retrieval.query.text"] == "where is Paris"
    (doc,) = json.loads(attrs["gen_ai.retrieval.documents"])
    assert doc["id"] in {"d0", "d1", "d2"}


def test_tool_runs_are_execute_tool_spans(instrumented: Instrument, telemetry: Telemetry) -> None:
    @tool
    def lookup(city: str) -> str:
        """The country of a city."""
        if city == "Atlantis":
            raise ValueError("no such city")
        return "France"

    instrumented(LangChainInstrumentor)
    call = {"name": "lookup", "args": {"city": "Paris"}, "id": "call_7", "type": "tool_call"}
    assert lookup.invoke(call).content == "France"
    with pytest.raises(ValueError, match="no such city"):
        lookup.invoke({"city": "Atlantis"})

    ok, failed = telemetry.spans()
    assert (ok.name, ok.kind) == ("execute_tool lookup", SpanKind.INTERNAL)
    assert dict(ok.attributes or {}) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "lookup",
        "gen_ai.tool.call.id": "call_7",
        "gen_ai.tool.type": "function",
    }
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["error.type"] == "ValueError"  # type: ignore[index]


def test_uninstrument_leaves_the_handler_idle(telemetry: Telemetry, url: str) -> None:
    store = _store(url)
    undo = instrument_langchain(**telemetry.providers, settings=Settings.load(environ={}))
    store.as_retriever().invoke("q")
    undo()
    store.as_retriever().invoke("q")
    assert [s.name for s in telemetry.spans()] == ["retrieval InMemoryVectorStore"]
    assert "top_k" not in str(store.as_retriever(search_kwargs={"k": 1})._get_ls_params())


def test_top_k_only_when_the_caller_set_it(instrumented: Instrument, telemetry: Telemetry,
                                            url: str) -> None:  # fmt: skip
    store = _store(url)
    instrumented(LangChainInstrumentor)
    store.as_retriever().invoke("q")  # the store's default k: not known, not recorded
    store.as_retriever().invoke("q", k=3)  # a call's own k
    default, per_call = telemetry.spans()
    assert "gen_ai.request.top_k" not in (default.attributes or {})
    assert (per_call.attributes or {})["gen_ai.request.top_k"] == 3.0


def test_runs_that_never_end_are_bounded(
    instrumented: Instrument, telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from uuid import uuid4

    from otel_ml._internal import guard
    from otel_ml.instrumentation import langchain
    from otel_ml.instrumentation.langchain import callbacks

    monkeypatch.setattr(callbacks, "MAX_OPEN_RUNS", 3)
    instrumented(LangChainInstrumentor)
    handler = langchain._handler()  # the one LangChain calls
    before = guard.error_count("langchain.open_runs")
    runs = [uuid4() for _ in range(5)]

    def start_five_end_the_kept() -> int:
        for run in runs:  # tool runs started and never ended
            handler.on_tool_start({"name": "lookup"}, "x", run_id=run, name="lookup")
        held = len(handler._runs)
        for run in reversed(runs[2:]):  # the three kept still end their spans
            handler.on_tool_end("done", run_id=run)
        return held

    # A tool run's span is current while it runs: the two dropped runs stay
    # attached, so they run in a context of their own, not the test's.
    assert contextvars.copy_context().run(start_five_end_the_kept) == 3
    assert guard.error_count("langchain.open_runs") - before == 2
    assert [s.name for s in telemetry.spans()] == ["execute_tool lookup"] * 3
    assert not handler._runs
