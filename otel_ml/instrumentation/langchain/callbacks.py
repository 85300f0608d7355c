"""The callback handler LangChain calls for every run, attached to every
callback manager through LangChain's configure hook.

- a root chain run (no parent run): an INTERNAL span named after the run,
  current while it runs, so a RAG chain's retrieval, embedding and chat spans
  (the chat and embedding spans come from the client hooks, e.g. openai's)
  share one trace under it;
- a retriever run: ``retrieval {vector store}`` with the document count and,
  with content capture, the query and the documents' ids;
- a tool run: ``execute_tool {tool}`` with ``gen_ai.tool.call.id`` where the
  model's tool call gave one.

The handler runs inline (``run_inline``), in the run's own context, which is
what makes its spans the parents of the calls inside the run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml._internal.lifecycle import Invocation
from otel_ml.genai.api import GenAICall
from otel_ml.genai.framework import StepInvocation, tool_step
from otel_ml.genai.invocation import GenAIConfig, identity

MAX_OPEN_RUNS = 10_000
"""Runs held open at once; beyond it the oldest is dropped and counted (a run
LangChain starts and never ends must not grow the handler without bound)."""

PROVIDER = "langchain"
"""``gen_ai.provider.name`` of a retrieval LangChain runs against a vector store."""


TOP_K_KEY = "otel_ml_top_k"
"""Run metadata key of the ``k`` a vector-store retriever was asked for."""


def with_top_k(get_ls_params: Callable[..., Any]) -> Callable[..., Any]:
    """``VectorStoreRetriever._get_ls_params`` that also names the requested ``k``
    (only when the caller set one: a store's default is not known here)."""

    @functools.wraps(get_ls_params)
    def _get_ls_params(self: Any, **kwargs: Any) -> Any:
        params = get_ls_params(self, **kwargs)
        k = {**(getattr(self, "search_kwargs", None) or {}), **kwargs}.get("k")
        if isinstance(params, dict) and isinstance(k, int) and not isinstance(k, bool):
            params[TOP_K_KEY] = k
        return params

    return _get_ls_params


def _source(metadata: dict[str, Any] | None, kwargs: dict[str, Any]) -> str | None:
    source = (metadata or {}).get("ls_vector_store_provider") or kwargs.get("name")
    return source if isinstance(source, str) else None


class OtelMLCallbackHandler(BaseCallbackHandler):
    """Turns LangChain runs into spans while :attr:`config` is set (instrumented)."""

    run_inline = True
    config: GenAIConfig | None = None

    def __init__(self) -> None:
        super().__init__()
        self._runs: dict[UUID, GenAICall | Invocation] = {}

    def _begin(self, run_id: UUID, start: Any) -> None:
        config = self.config
        if config is None:
            return
        if len(self._runs) >= MAX_OPEN_RUNS:
            del self._runs[next(iter(self._runs))]
            guard.count("langchain.open_runs", config.telemetry.internal_errors)
        try:
            self._runs[run_id] = start(config)
        except Exception as exc:
            guard.report("langchain.start", exc, config.telemetry.internal_errors)

    def _end(self, run_id: UUID, error: BaseException | None = None, result: Any = None) -> None:
        run = self._runs.pop(run_id, None)
        if run is None:
            return
        if isinstance(run, GenAICall) and error is None:
            run.record_documents(result)
        if error is not None:
            run.fail(error)
        else:
            run.stop()

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID,
                       parent_run_id: UUID | None = None, **kwargs: Any) -> None:  # fmt: skip
        """A root chain run opens the span that holds the runs under it."""
        if parent_run_id is None:
            name = kwargs.get("name") or "chain"
            self._begin(run_id, lambda config: StepInvocation.start(config, str(name), {}))

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """The chain run ended."""
        self._end(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """The chain run failed."""
        self._end(run_id, error)

    def on_retriever_start(
        self, serialized: Any, query: str, *, run_id: UUID, metadata: Any = None, **kwargs: Any
    ) -> None:
        """A retriever run: ``retrieval {data source}``."""
        source = _source(metadata, kwargs)

        top_k = (metadata or {}).get(TOP_K_KEY)

        def start(config: GenAIConfig) -> GenAICall:
            attrs: dict[str, Any] = {semconv.GEN_AI_DATA_SOURCE_ID: source} if source else {}
            if isinstance(top_k, int):  # the conventions type it as a double
                attrs[semconv.GEN_AI_REQUEST_TOP_K] = float(top_k)
            name = semconv.retrieval_span_name(source)
            metric_attrs = identity(semconv.GEN_AI_RETRIEVAL, PROVIDER)
            call = GenAICall(config.start(metric_attrs, name, attrs), config.content)
            call.record_query(query)
            return call

        self._begin(run_id, start)

    def on_retriever_end(self, documents: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """The documents found: count, ids (with capture)."""
        self._end(run_id, result=documents)

    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """The retriever failed."""
        self._end(run_id, error)

    def on_tool_start(self, serialized: Any, input_str: str, *, run_id: UUID,
                      **kwargs: Any) -> None:  # fmt: skip
        """A tool run: ``execute_tool {tool}``."""
        name = kwargs.get("name") or (serialized or {}).get("name")
        call_id = kwargs.get("tool_call_id")
        self._begin(run_id, lambda config: tool_step(config, name, call_id, input_str))

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """The tool returned."""
        self._end(run_id)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """The tool raised."""
        self._end(run_id, error)
