"""An LLM request end to end: the real ``openai`` client, otel_ml's OpenAI
instrumentation, a real Collector, Jaeger and Prometheus.

The session's app (:mod:`e2e_traffic`) is the demo, whose RAG endpoint ``POST
/ask`` (:mod:`otel_ml.demo.rag`) embeds the question (``otel_ml.embedding``),
retrieves notes (``otel_ml.retrieval``) and streams a chat completion with
``stream_options={"include_usage": True}`` through the ``openai`` client from
the OpenAI-compatible stand-in server. The tests compare the spans and the
GenAI client histograms with the requests sent.
"""

from __future__ import annotations

import math
from typing import Any

from e2e_support import Stack, expect_sums, poll, server_span_above, spans_named, tags
from e2e_traffic import ANSWER_CHUNKS, FIRST_CHUNK_DELAY_S, Traffic

from otel_ml.demo.costs import TENANT_HEADER, demo_prices, tenant_headers
from otel_ml.demo.llm_server import PROMPT_TOKENS
from otel_ml.demo.rag import DATA_SOURCE, DIMENSIONS, EMBEDDING_MODEL, LLM_MODEL, TOP_K

CHAT_SPAN = f"chat {LLM_MODEL}"
EMBEDDINGS_SPAN = f"embeddings {EMBEDDING_MODEL}"
RETRIEVAL_SPAN = f"retrieval {DATA_SOURCE}"
PROVIDER = "openai"  # the OpenAI client's provider, whatever its base URL serves


def _ask_traces(stack: Stack, traffic: Traffic) -> list[dict[str, Any]]:
    """The traces of the ``POST /ask`` requests, once each holds its server and LLM spans."""

    def complete(trace: dict[str, Any]) -> bool:
        names = {span["operationName"] for span in trace["spans"]}
        return {"POST /ask", EMBEDDINGS_SPAN, RETRIEVAL_SPAN, CHAT_SPAN} <= names

    return poll(
        lambda: stack.jaeger.traces(traffic.service, operation=CHAT_SPAN),
        lambda found: len(found) == len(traffic.answers) and all(map(complete, found)),
        f"{len(traffic.answers)} complete traces of POST /ask",
    )


def _end_us(span: dict[str, Any]) -> int:
    return int(span["startTime"]) + int(span["duration"])


def test_jaeger_shows_the_http_span_with_the_llm_spans_inside(
    stack: Stack, traffic: Traffic
) -> None:
    assert traffic.answers == ["".join(ANSWER_CHUNKS).strip()] * len(traffic.answers)
    for trace in _ask_traces(stack, traffic):
        (server,) = [s for s in trace["spans"] if tags(s).get("span.kind") == "server"]
        assert server["operationName"] == "POST /ask"
        (embed,) = spans_named(trace, EMBEDDINGS_SPAN)
        (found,) = spans_named(trace, RETRIEVAL_SPAN)
        (chat,) = spans_named(trace, CHAT_SPAN)
        for child in (embed, found, chat):
            assert server_span_above(trace, child) is server
            assert tags(child)["span.kind"] == "client"
            assert trace["processes"][child["processID"]]["serviceName"] == traffic.service
        assert _end_us(embed) <= int(found["startTime"])
        assert _end_us(found) <= int(chat["startTime"])

        attributes = tags(chat)
        assert attributes["gen_ai.operation.name"] == "chat"
        assert attributes["gen_ai.request.model"] == LLM_MODEL
        assert attributes["gen_ai.response.model"] == LLM_MODEL
        assert attributes["gen_ai.provider.name"] == PROVIDER
        assert attributes["gen_ai.request.stream"] is True
        assert attributes["gen_ai.usage.input_tokens"] == PROMPT_TOKENS
        assert attributes["gen_ai.usage.output_tokens"] == len(ANSWER_CHUNKS)
        assert attributes["gen_ai.response.finish_reasons"] == '["stop"]'
        assert attributes["server.address"] == "127.0.0.1"
        # The stand-in waits FIRST_CHUNK_DELAY_S before the first content chunk.
        ttft = attributes["gen_ai.response.time_to_first_chunk"]
        assert FIRST_CHUNK_DELAY_S <= ttft < int(chat["duration"]) / 1e6
        assert "error" not in attributes

        attributes = tags(embed)
        assert attributes["gen_ai.operation.name"] == "embeddings"
        assert attributes["gen_ai.request.model"] == EMBEDDING_MODEL
        assert attributes["gen_ai.embeddings.dimension.count"] == DIMENSIONS

        attributes = tags(found)
        assert attributes["gen_ai.operation.name"] == "retrieval"
        assert attributes["gen_ai.data_source.id"] == DATA_SOURCE
        assert attributes["gen_ai.request.top_k"] == TOP_K
        assert attributes["ml.retrieval.documents.count"] == TOP_K


CALL = ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model")
CALL_OF_CHAT = ("chat", PROVIDER, LLM_MODEL)


def test_prometheus_genai_histograms_match_the_llm_traffic(stack: Stack, traffic: Traffic) -> None:
    asks = len(traffic.answers)
    job = f'job="{traffic.service}"'
    chat = ("chat", PROVIDER, LLM_MODEL)
    embeddings = ("embeddings", "_OTHER", EMBEDDING_MODEL)  # a local embedder: no provider named
    retrieval = ("retrieval", "_OTHER", "")  # a retrieval names no provider or model here
    tokens = (*CALL, "gen_ai_token_type")
    output_chunks = len(ANSWER_CHUNKS)
    expectations: list[tuple[str, tuple[str, ...], dict[tuple[str, ...], float]]] = [
        (f'gen_ai_client_operation_duration_seconds_bucket{{{job}, le="+Inf"}}', CALL,
         {chat: asks, embeddings: asks, retrieval: asks}),
        (f"gen_ai_client_operation_duration_seconds_count{{{job}}}", (*CALL, "error_type"),
         {(*chat, ""): asks, (*embeddings, ""): asks, (*retrieval, ""): asks}),
        (f"gen_ai_client_token_usage_count{{{job}}}", tokens,
         {(*chat, "input"): asks, (*chat, "output"): asks}),
        (f"gen_ai_client_token_usage_sum{{{job}}}", tokens,
         {(*chat, "input"): asks * PROMPT_TOKENS, (*chat, "output"): asks * output_chunks}),
        (f'gen_ai_client_operation_time_to_first_chunk_seconds_bucket{{{job}, le="+Inf"}}',
         CALL, {chat: asks}),
        (f"gen_ai_client_operation_time_to_first_chunk_seconds_count{{{job}}}", CALL,
         {chat: asks}),
        # A time for each output chunk after the first.
        (f'gen_ai_client_operation_time_per_output_chunk_seconds_bucket{{{job}, le="+Inf"}}',
         CALL, {chat: asks * (output_chunks - 1)}),
        (f"gen_ai_client_operation_time_per_output_chunk_seconds_count{{{job}}}", CALL,
         {chat: asks * (output_chunks - 1)}),
    ]  # fmt: skip
    for selector, by, expected in expectations:
        expect_sums(stack.prometheus, selector, by, expected)
    first_chunk = stack.prometheus.query(
        f"sum(gen_ai_client_operation_time_to_first_chunk_seconds_sum{{{job}}})"
        f" / sum(gen_ai_client_operation_time_to_first_chunk_seconds_count{{{job}}})"
    )
    (mean_ttft,) = [value for _, value in first_chunk]
    assert mean_ttft >= FIRST_CHUNK_DELAY_S
    series = stack.prometheus.query(
        f'gen_ai_client_operation_duration_seconds_count{{{job}, gen_ai_operation_name="chat"}}'
    )
    # One series per tenant the questions were asked for (the x-tenant-id header).
    tenants = {tenant_headers(n)[TENANT_HEADER] for n in range(asks)}
    assert sorted(labels["ml_genai_tenant"] for labels, _ in series) == sorted(tenants)
    for labels, _ in series:
        assert labels["gen_ai_response_model"] == LLM_MODEL
        assert labels["server_address"] == "127.0.0.1"
        assert labels["otel_scope_name"] == "otel_ml.genai"


def test_prometheus_counts_the_cost_of_each_answer_per_tenant(
    stack: Stack, traffic: Traffic
) -> None:
    # The app prices the stand-in LLM as demo_prices does; each answer's usage is
    # PROMPT_TOKENS in and one token per answer chunk out.
    price = demo_prices(LLM_MODEL)["providers"][PROVIDER][LLM_MODEL]
    per_answer = (PROMPT_TOKENS * price["input"] + len(ANSWER_CHUNKS) * price["output"]) / 1e6
    asked: dict[tuple[str, ...], float] = {}
    for n in range(len(traffic.answers)):
        key = ("chat", PROVIDER, LLM_MODEL, tenant_headers(n)[TENANT_HEADER])
        asked[key] = asked.get(key, 0.0) + per_answer
    job = f'job="{traffic.service}"'
    selector = f"gen_ai_client_operation_cost_USD_total{{{job}}}"

    def matches(found: dict[tuple[str, ...], float]) -> bool:
        return found.keys() == asked.keys() and all(
            math.isclose(found[k], v, rel_tol=1e-9) for k, v in asked.items()
        )

    poll(lambda: stack.prometheus.sums(selector, (*CALL, "ml_genai_tenant")), matches,
         f"Prometheus: {selector} by tenant == {asked}")  # fmt: skip
    # Every call was priced: nothing counted as unpriced.
    assert stack.prometheus.query(f"ml_genai_calls_unpriced_total{{{job}}}") == []


def test_prometheus_holds_the_judge_and_user_scores_of_the_answers(
    stack: Stack, traffic: Traffic
) -> None:
    asks = len(traffic.answers)
    job = f'job="{traffic.service}"'
    by = ("gen_ai_evaluation_name", "ml_genai_evaluation_source", *CALL)
    expected = {("groundedness", "judge", *CALL_OF_CHAT): asks,
                ("user_feedback", "user", *CALL_OF_CHAT): asks}  # fmt: skip
    expect_sums(stack.prometheus, f"ml_genai_evaluation_score_count{{{job}}}", by, expected)
    thumbs_up = f'{job}, gen_ai_evaluation_name="user_feedback"'
    expect_sums(stack.prometheus, f"ml_genai_evaluation_score_sum{{{thumbs_up}}}", (), {(): asks})
    failed = stack.prometheus.query(f"ml_genai_evaluation_errors_total{{{job}}}")
    assert failed == [], failed  # no judge call failed
