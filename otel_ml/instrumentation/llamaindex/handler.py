"""The span handler LlamaIndex's instrumentation dispatcher calls for every
``@dispatcher.span`` method.

- ``BaseRetriever.retrieve`` / ``aretrieve``: ``retrieval {vector store}``
  with ``gen_ai.request.top_k`` (the retriever's ``similarity_top_k``), the
  node count and score range and, with content capture, the query and the
  node ids;
- ``BaseQueryEngine.query`` / ``aquery`` at the root (no enclosing
  LlamaIndex span): an INTERNAL span named after the engine, current while
  it runs, so the retrieval, embedding and chat spans of one query share one
  trace (the embedding and chat spans come from the client hooks).

The dispatcher enters and exits a span in the method's own context, around
the call: what is made current here is the parent of the calls inside.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.instrumentation.span import BaseSpan
from llama_index.core.instrumentation.span_handlers import BaseSpanHandler
from pydantic import PrivateAttr

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml._internal.lifecycle import Invocation
from otel_ml.genai.api import GenAICall
from otel_ml.genai.framework import StepInvocation
from otel_ml.genai.invocation import GenAIConfig, identity

PROVIDER = "llama_index"
"""``gen_ai.provider.name`` of a retrieval LlamaIndex runs against a vector store."""
_RETRIEVE = ("retrieve", "aretrieve")
_QUERY = ("query", "aquery")


def _method(id_: str) -> str:
    """The method of a dispatcher span id (``{Class}.{method}-{uuid}``)."""
    return id_.split("-", 1)[0].rsplit(".", 1)[-1]


def _retrieval(config: GenAIConfig, instance: Any, query: Any) -> GenAICall:
    store = getattr(instance, "_vector_store", None)
    source = type(store if store is not None else instance).__name__
    top_k = getattr(instance, "similarity_top_k", None) or getattr(
        instance, "_similarity_top_k", None
    )
    attrs: dict[str, Any] = {semconv.GEN_AI_DATA_SOURCE_ID: source}
    if isinstance(top_k, int):
        attrs[semconv.GEN_AI_REQUEST_TOP_K] = top_k
    metric_attrs = identity(semconv.GEN_AI_RETRIEVAL, PROVIDER)
    name = semconv.retrieval_span_name(source)
    call = GenAICall(config.start(metric_attrs, name, attrs), config.content)
    call.record_query(getattr(query, "query_str", query))
    return call


def _documents(nodes: Any) -> list[dict[str, Any]]:
    """``NodeWithScore``s as ``{"id", "score"}`` records."""
    return [{"id": getattr(getattr(n, "node", None), "node_id", None),
             "score": getattr(n, "score", None)} for n in nodes or ()]  # fmt: skip


class OtelMLSpanHandler(BaseSpanHandler[BaseSpan]):
    """Turns retriever and root query-engine spans into OpenTelemetry spans
    while :attr:`config` is set (instrumented)."""

    config: GenAIConfig | None = None
    """Set by ``instrument()``, ``None`` again after ``uninstrument()``."""
    _runs: dict[str, GenAICall | Invocation] = PrivateAttr(default_factory=dict)

    @classmethod
    def class_name(cls) -> str:
        """The handler's name in LlamaIndex."""
        return "OtelMLSpanHandler"

    def new_span(self, id_: str, bound_args: Any, instance: Any = None,
                 parent_span_id: str | None = None, tags: Any = None,
                 **kwargs: Any) -> BaseSpan | None:  # fmt: skip
        """Start a retrieval, or a root query's span."""
        config = self.config
        if config is None:
            return None
        try:
            method = _method(id_)
            if method in _RETRIEVE and isinstance(instance, BaseRetriever):
                query = bound_args.arguments.get("str_or_query_bundle")
                self._runs[id_] = _retrieval(config, instance, query)
            elif (
                method in _QUERY
                and parent_span_id is None
                and isinstance(instance, BaseQueryEngine)
            ):
                self._runs[id_] = StepInvocation.start(config, type(instance).__name__, {})
        except Exception as exc:
            guard.report("llamaindex.start", exc, config.telemetry.internal_errors)
        return None

    def prepare_to_exit_span(self, id_: str, bound_args: Any, instance: Any = None,
                             result: Any = None, **kwargs: Any) -> BaseSpan | None:  # fmt: skip
        """End the span; a retrieval's nodes give its document attributes."""
        run = self._runs.pop(id_, None)
        if isinstance(run, GenAICall):
            run.record_documents(_documents(result))
        if run is not None:
            run.stop()
        return None

    def prepare_to_drop_span(self, id_: str, bound_args: Any, instance: Any = None,
                             err: BaseException | None = None,
                             **kwargs: Any) -> BaseSpan | None:  # fmt: skip
        """End the span as failed."""
        run = self._runs.pop(id_, None)
        if run is not None and err is not None:
            run.fail(err)
        elif run is not None:
            run.stop()
        return None
