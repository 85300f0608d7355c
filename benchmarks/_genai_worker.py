"""One instrumentation's GenAI overhead, timed in its own process (and virtualenv).

Run by ``genai.py`` as ``python _genai_worker.py NAME ROUNDS CALLS [API]``
(API: ``chat``, the default, or ``responses`` for ``client.responses.create``); prints
JSON ``{"variant": [ns per call, per round], ...}``. The ``openai`` client
talks to an in-process ``MockTransport`` serving pre-encoded bodies, so the
network is out of the picture. "bare" calls the SDK's own ``create`` (saved
before instrumenting), interleaved round by round with the instrumented call.
"""

from __future__ import annotations

import gc
import importlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import openai
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

CHUNKS = 100
MESSAGES = [{"role": "user", "content": "Say something."}]


class Discard(SpanExporter):
    """Drops spans, counting them: a row whose calls make no span is not timed."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        return SpanExportResult.SUCCESS


def _bodies() -> tuple[bytes, bytes]:
    head = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    lines = []
    for i in range(CHUNKS):
        delta = {"content": f"t{i} "}
        lines.append({**head, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    lines.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    usage = {"prompt_tokens": 5, "completion_tokens": CHUNKS, "total_tokens": CHUNKS + 5}
    lines.append({**head, "choices": [], "usage": usage})
    stream = (
        b"".join(b"data: " + json.dumps(x).encode() + b"\n\n" for x in lines) + b"data: [DONE]\n\n"
    )
    message = {"role": "assistant", "content": "hello"}
    plain = {"id": "c1", "object": "chat.completion", "created": 1, "model": "m", "usage": usage,
             "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}  # fmt: skip
    return json.dumps(plain).encode(), stream


def _responses_bodies() -> tuple[bytes, bytes]:
    """The Responses API's answer and its event stream (typed SSE events)."""
    usage = {"input_tokens": 5, "output_tokens": CHUNKS, "total_tokens": CHUNKS + 5,
             "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
             "output_tokens_details": {"reasoning_tokens": 0}}  # fmt: skip
    head = {"id": "r1", "object": "response", "created_at": 1, "model": "m", "tools": [],
            "parallel_tool_calls": True, "tool_choice": "auto"}  # fmt: skip
    text = {"type": "output_text", "text": "hello", "annotations": []}
    message = {"type": "message", "id": "m1", "role": "assistant", "status": "completed",
               "content": [text]}  # fmt: skip
    done = {**head, "status": "completed", "output": [message], "usage": usage}
    events = [{"type": "response.created", "response": {**head, "status": "in_progress",
                                                        "output": []}}]  # fmt: skip
    delta: dict[str, Any] = {"type": "response.output_text.delta", "item_id": "m1",
                             "output_index": 0, "content_index": 0, "logprobs": []}  # fmt: skip
    events += [{**delta, "delta": f"t{i} "} for i in range(CHUNKS)]
    events.append({"type": "response.completed", "response": done})
    stream = b"".join(
        f"event: {e['type']}\ndata: {json.dumps({**e, 'sequence_number': i})}\n\n".encode()
        for i, e in enumerate(events)
    )
    return json.dumps(done).encode(), stream


def client(api: str = "chat", request_method: Callable[..., Any] | None = None) -> openai.OpenAI:
    """A client on the mock transport; ``request_method``: the ``OpenAI.request`` it uses (the
    original, saved before instrumenting, for the bare calls: some peers wrap that
    method rather than ``create``)."""
    # openai 3 ships on httpx2, earlier versions on httpx
    httpx: Any = getattr(openai._base_client, "httpx2", None) or importlib.import_module("httpx")
    plain, stream = _responses_bodies() if api == "responses" else _bodies()

    def handler(request: Any) -> Any:
        streaming = b'"stream":true' in request.content.replace(b" ", b"")
        body, kind = (stream, "text/event-stream") if streaming else (plain, "application/json")
        return httpx.Response(200, content=body, headers={"content-type": kind})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    kind: type[openai.OpenAI] = openai.OpenAI
    if request_method is not None:
        kind = type("BareOpenAI", (openai.OpenAI,), {"request": request_method})
    return kind(api_key="sk-bench", base_url="http://llm.local/v1", http_client=http)


# name -> module whose OpenAIInstrumentor patches the SDK (peers are imported by
# name: they are installed only in their own virtualenvs).
INSTRUMENTORS = {
    "otel_ml": "otel_ml.instrumentation.openai",
    "openai-v2": "opentelemetry.instrumentation.openai_v2",
    "openinference": "openinference.instrumentation.openai",
    "openllmetry": "opentelemetry.instrumentation.openai",
}


def instrument(name: str, tracer_provider: TracerProvider, meter_provider: MeterProvider) -> None:
    """Turn ``name`` on with these providers."""
    if name == "openlit":
        openlit = importlib.import_module("openlit")
        # OpenLIT 1.45 takes the global providers (it creates its own when none is set);
        # content and its log events off, as otel_ml's defaults are
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(meter_provider)
        openlit.init(disable_batch=True, disable_events=True, capture_message_content=False)
        return
    module = importlib.import_module(INSTRUMENTORS[name])
    module.OpenAIInstrumentor().instrument(
        tracer_provider=tracer_provider, meter_provider=meter_provider
    )


def calls(
    c: openai.OpenAI, create: Callable[..., Any], api: str = "chat"
) -> dict[str, Callable[[], object]]:
    if api == "responses":
        resource: Any = c.responses
        request: dict[str, Any] = {"model": "m", "input": "Say something."}
    else:
        resource = c.chat.completions
        request = {"model": "m", "messages": MESSAGES, "stream_options": {"include_usage": True}}

    def plain() -> object:
        return create(resource, **{k: v for k, v in request.items() if k != "stream_options"})

    def streamed() -> object:
        for _ in create(resource, **request, stream=True):
            pass
        return None

    return {"plain": plain, "stream": streamed}


def time_rounds(
    variants: dict[str, Callable[[], object]],
    rounds: int,
    n: int,
    collect: Callable[[], object],
) -> dict[str, list[float]]:
    """CPU ns per call of each variant per round, and (``"<variant> collect"``) the CPU
    ns per call of the metric collection that follows its calls: work an
    instrumentation leaves for collection time is off the request path, but not free.
    ``"<variant> wall"``: the wall-clock ns per call.

    CPU time is the process's, all threads: on a machine shared with other work,
    waiting for a core inflates wall time many times over, CPU time barely."""
    keys = [f"{name}{suffix}" for name in variants for suffix in ("", " collect", " wall")]
    out: dict[str, list[float]] = {key: [] for key in keys}
    names = list(variants)
    for r in range(rounds + 1):  # round 0 is a discarded warm-up
        for name in names[r % len(names) :] + names[: r % len(names)]:
            collect()  # nothing from the previous variant is left for this one's collection
            gc.collect()
            wall, start = time.perf_counter_ns(), time.process_time_ns()
            for _ in range(n):
                variants[name]()
            end, wall_end = time.process_time_ns(), time.perf_counter_ns()
            collect()
            if r:
                out[name].append((end - start) / n)
                out[f"{name} wall"].append((wall_end - wall) / n)
                out[f"{name} collect"].append((time.process_time_ns() - end) / n)
    return out


def main() -> None:
    name, rounds, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    api = sys.argv[4] if len(sys.argv) > 4 else "chat"
    module = "responses" if api == "responses" else "chat.completions"
    resources = importlib.import_module(f"openai.resources.{module}")
    owner: Any = resources.Responses if api == "responses" else resources.Completions
    original, original_request = owner.create, openai.OpenAI.request
    tracer_provider = TracerProvider()
    exporter = Discard()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    instrument(name, tracer_provider, meter_provider)
    bare = calls(client(api, original_request), original, api)
    traced = calls(client(api), owner.create, api)
    variants = {"bare plain": bare["plain"], "plain": traced["plain"],
                "bare stream": bare["stream"], "stream": traced["stream"]}  # fmt: skip
    bare["plain"](), bare["stream"]()
    if exporter.spans:
        sys.exit(f"{name} traced the bare calls too ({exporter.spans} spans)")
    traced["plain"](), traced["stream"]()
    if exporter.spans < 2:
        sys.exit(f"{name} made {exporter.spans} span(s) for a plain and a streamed {api} call")
    print(json.dumps(time_rounds(variants, rounds, n, reader.collect)))


if __name__ == "__main__":
    main()
