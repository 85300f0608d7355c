"""``llm(...)``, ``embedding(...)``, ``retrieval(...)``: GenAI calls of any
client, as context managers or decorators (sync, async, generators).

>>> with retrieval("products-index", top_k=5) as call:
...     docs = index.search(query, k=5)
...     call.record_documents(docs)

>>> @llm(model="llama-3-8b", provider="vllm")
... def generate(prompt):  # a generator: every item is an output chunk
...     yield from my_client.stream(prompt)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry import metrics, trace

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml._internal.scope import InvocationScope
from otel_ml._internal.stream import follow_stream
from otel_ml.config import Settings, get_settings
from otel_ml.genai.content import ContentPolicy, Redactor
from otel_ml.genai.evaluation.state import PASSAGES
from otel_ml.genai.invocation import GenAIConfig, GenAIInvocation, identity, traced_elsewhere
from otel_ml.genai.records import document_attributes, document_scores, embedding_attributes

Reader = Callable[["GenAICall", Any], None]


class GenAICall:
    """One call in progress: the :class:`GenAIInvocation` plus readers of its results."""

    __slots__ = ("content", "invocation")

    def __init__(self, invocation: GenAIInvocation, content: ContentPolicy) -> None:
        self.invocation = invocation
        self.content = content

    def chunk(self) -> None:
        """Note one streamed output chunk (time to first chunk, gaps)."""
        self.invocation.chunk()

    def stop(self) -> None:
        """End the call (a ``with`` block's exit does it)."""
        self.invocation.stop()

    def fail(self, exc: BaseException) -> None:
        """End the call as failed with ``exc`` (a ``with`` block's exit does it)."""
        self.invocation.fail(exc)

    def set_usage(self, input_tokens: int | None = None, output_tokens: int | None = None, *,
                  cache_read: int | None = None, cache_write: int | None = None,
                  reasoning: int | None = None) -> None:  # fmt: skip
        """Token counts the provider reported (never estimate them); the cached and
        reasoning parts (included in the two totals) price the call."""
        self.invocation.set_usage(input_tokens, output_tokens, cache_read=cache_read,
                                  cache_write=cache_write, reasoning=reasoning)  # fmt: skip

    def set_response(self, model: str | None = None, response_id: str | None = None,
                     finish_reasons: list[str] | None = None) -> None:  # fmt: skip
        """Response model, id and finish reasons."""
        self.invocation.set_response(model, response_id, finish_reasons)

    def record_documents(self, documents: Any) -> None:
        """A retrieval's result: count, score range; ids only with content capture;
        the count and the scores also as metrics (``ml.retrieval.*``). While online
        evaluation runs, the passages' texts are kept (in this process) for the
        groundedness of the trace's answer."""
        if PASSAGES.wanted:
            documents = self._keep_passages(documents)
        self._guarded(lambda: self._documents(documents))

    def _documents(self, documents: Any) -> dict[str, Any]:
        try:
            items = list(documents)
        except TypeError:
            return {}
        self.invocation.record_retrieved(len(items), document_scores(items))
        return document_attributes(items, self.content)

    def _keep_passages(self, documents: Any) -> Any:
        try:
            documents = documents if isinstance(documents, list | tuple) else list(documents)
            span = self.invocation.answer()
            if span is not None:
                PASSAGES.remember(span.span_context.trace_id, documents)
        except Exception as exc:
            guard.report("genai.evaluation.passages", exc)
        return documents

    def record_embeddings(self, vectors: Any) -> None:
        """An embedding call's result: number of inputs and dimensions."""
        self._guarded(lambda: embedding_attributes(vectors))

    def record_query(self, query: Any) -> None:
        """A retrieval's query text (only with content capture, redacted)."""
        self._guarded(lambda: {semconv.GEN_AI_RETRIEVAL_QUERY_TEXT: self.content.text(query)})

    def record_output(self, text: Any) -> None:
        """An LLM's output text (only with content capture, redacted)."""
        messages = [{"role": "assistant", "parts": [{"type": "text", "content": text}]}]
        self._guarded(
            lambda: {semconv.GEN_AI_OUTPUT_MESSAGES: self.content.messages_json(messages)}
        )

    def _guarded(self, attributes: Callable[[], dict[str, Any]]) -> None:
        try:
            self.invocation.set_attributes(attributes())
        except Exception as exc:
            guard.report("genai.record", exc)


class GenAIScope(InvocationScope[GenAICall]):
    """Instruments a block (``with``: yields a :class:`GenAICall`) or every
    call of a function (decorator, sync, async or generator; one scope serves
    concurrent calls). Decorated generators' items are streamed chunks."""

    follows_generators = True

    def __init__(self, config: GenAIConfig, metric_attrs: dict[str, Any], span_name: str,
                 attributes: dict[str, Any], reader: Reader | None) -> None:  # fmt: skip
        super().__init__()
        self._config = config
        self._metric_attrs = metric_attrs
        self._operation = metric_attrs[semconv.GEN_AI_OPERATION_NAME]
        self._span_name = span_name
        self._attributes = attributes
        self._reader = reader

    def begin(self, args: tuple[Any, ...]) -> GenAICall | None:
        """Start one decorated call, unless it is already recorded as this operation."""
        if traced_elsewhere(self._operation):
            return None
        return self.begin_block(args)

    def begin_block(self, args: tuple[Any, ...] = ()) -> GenAICall:
        """Start one call (of a ``with`` block: always recorded)."""
        invocation = self._config.start(self._metric_attrs, self._span_name, self._attributes)
        call = GenAICall(invocation, self._config.content)
        query = args[0] if args and isinstance(args[0], str) else None  # search(query, ...)
        if query is not None and self._operation == semconv.GEN_AI_RETRIEVAL:
            call.record_query(query)
        return call

    def complete(self, call: GenAICall, result: Any) -> Any:
        """Read the decorated function's result (documents, vectors), end the call,
        return the result."""
        if self._reader is not None:
            self._reader(call, result)
        call.stop()
        return result

    def follow(self, call: GenAICall, generator: Any) -> Any:
        """Time the generator's items as output chunks until it ends."""
        call.invocation.leave_call()
        return follow_stream(generator, call.invocation)


def _scope(operation: str, span_name: str, attributes: dict[str, Any], reader: Reader | None,
           options: dict[str, Any]) -> GenAIScope:  # fmt: skip
    metric_attrs = identity(operation, options["provider"], options["model"],
                            options["server_address"], options["server_port"])  # fmt: skip
    config = GenAIConfig.resolve(
        options["settings"] or get_settings(),
        (options["tracer_provider"], options["meter_provider"]),
        options["capture_content"],
        options["redact"],
    )
    span_attrs = {k: v for k, v in attributes.items() if v is not None}
    return GenAIScope(config, metric_attrs, span_name, span_attrs, reader)


def llm(
    model: str | None = None,
    operation: str = semconv.GEN_AI_CHAT,
    *,
    provider: str | None = None,
    server_address: str | None = None,
    server_port: int | None = None,
    stream: bool | None = None,
    capture_content: bool | None = None,
    redact: Redactor | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
    settings: Settings | None = None,
) -> GenAIScope:
    """An LLM call of a custom client (``chat`` by default): span ``{operation} {model}``.

    Decorating a generator function times its items as streamed chunks.
    """
    options = dict(locals())
    attrs = {semconv.GEN_AI_REQUEST_STREAM: True if stream else None}  # set only when streaming
    return _scope(operation, semconv.genai_span_name(operation, model), attrs, None, options)


def embedding(
    model: str | None = None,
    *,
    dimension: int | None = None,
    provider: str | None = None,
    server_address: str | None = None,
    server_port: int | None = None,
    capture_content: bool | None = None,
    redact: Redactor | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
    settings: Settings | None = None,
) -> GenAIScope:
    """An embedding call: span ``embeddings {model}``; a decorated function's
    returned vectors give the input count and dimension."""
    options = dict(locals())
    attrs = {semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: dimension}
    operation = semconv.GEN_AI_EMBEDDINGS
    name = semconv.genai_span_name(operation, model)
    return _scope(operation, name, attrs, GenAICall.record_embeddings, options)


def retrieval(
    data_source: str | None = None,
    *,
    top_k: int | None = None,
    model: str | None = None,
    provider: str | None = None,
    server_address: str | None = None,
    server_port: int | None = None,
    capture_content: bool | None = None,
    redact: Redactor | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
    settings: Settings | None = None,
) -> GenAIScope:
    """A retrieval from ``data_source`` (a vector index, a search engine): span
    ``retrieval {data_source}``; a decorated function's returned documents
    give their count and score range (ids only with content capture)."""
    options = dict(locals())
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int | float)):
        raise TypeError(f"retrieval(top_k={top_k!r}): expected a number")
    # The conventions type gen_ai.request.top_k as a double.
    top = None if top_k is None else float(top_k)
    attrs = {semconv.GEN_AI_DATA_SOURCE_ID: data_source, semconv.GEN_AI_REQUEST_TOP_K: top}
    name = semconv.retrieval_span_name(data_source)
    return _scope(semconv.GEN_AI_RETRIEVAL, name, attrs, GenAICall.record_documents, options)
