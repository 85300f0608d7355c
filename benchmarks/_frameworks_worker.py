"""One instrumentation's overhead on the Anthropic SDK or LiteLLM, timed in its
own process (and virtualenv).

Run by ``genai_frameworks.py`` as ``python _frameworks_worker.py LIBRARY NAME
ROUNDS CALLS``; prints JSON like ``_genai_worker.py``. The clients talk to an
in-process ``MockTransport`` serving pre-encoded bodies (Anthropic's message
and SSE events; OpenAI's chat completion for LiteLLM's ``openai/`` route,
handed to LiteLLM as ``client=``). "bare" is the function saved before
instrumenting, called on the same client, interleaved round by round.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no download at import

from _genai_worker import CHUNKS, Discard, time_rounds
from _genai_worker import client as openai_client
from _genai_worker import instrument as instrument_openlit
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

MESSAGES = [{"role": "user", "content": "Say something."}]
Calls = dict[str, Callable[[], object]]


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **payload})}\n\n".encode()


def _anthropic_bodies() -> tuple[bytes, bytes]:
    usage = {"input_tokens": 5, "output_tokens": CHUNKS}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m",
               "content": [{"type": "text", "text": "hello"}], "stop_reason": "end_turn",
               "stop_sequence": None, "usage": usage}  # fmt: skip
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    block = {"index": 0, "content_block": {"type": "text", "text": ""}}
    events = [_event("message_start", {"message": start}), _event("content_block_start", block)]
    for i in range(CHUNKS):
        delta = {"type": "text_delta", "text": f"t{i} "}
        events.append(_event("content_block_delta", {"index": 0, "delta": delta}))
    events += [_event("content_block_stop", {"index": 0}),
               _event("message_delta", {"delta": {"stop_reason": "end_turn"},
                                        "usage": {"output_tokens": CHUNKS}}),
               _event("message_stop", {})]  # fmt: skip
    return json.dumps(message).encode(), b"".join(events)


def anthropic_client(tracer_provider: TracerProvider | None) -> Any:
    import anthropic

    httpx: Any = importlib.import_module("httpx2")  # what anthropic 2.x ships on
    plain, stream = _anthropic_bodies()

    def handler(request: Any) -> Any:
        streaming = b'"stream":true' in request.content.replace(b" ", b"")
        body, kind = (stream, "text/event-stream") if streaming else (plain, "application/json")
        return httpx.Response(200, content=body, headers={"content-type": kind})

    tracing: Any = {"tracer_provider": tracer_provider} if tracer_provider else False
    return anthropic.Anthropic(api_key="sk-bench", base_url="http://llm.local", max_retries=0,
                               http_client=httpx.Client(transport=httpx.MockTransport(handler)),
                               open_telemetry=tracing)  # fmt: skip


def anthropic_calls(client: Any, create: Callable[..., Any]) -> Calls:
    def plain() -> object:
        return create(client.messages, model="m", max_tokens=200, messages=MESSAGES)

    def streamed() -> object:
        for _ in create(client.messages, model="m", max_tokens=200, messages=MESSAGES,
                        stream=True):  # fmt: skip
            pass
        return None

    return {"plain": plain, "stream": streamed}


def litellm_calls(complete: Callable[..., Any]) -> Calls:
    client = openai_client()
    kwargs = {"model": "openai/m", "messages": MESSAGES, "client": client, "api_key": "sk-bench"}

    def plain() -> object:
        return complete(**kwargs)

    def streamed() -> object:
        for _ in complete(**kwargs, stream=True, stream_options={"include_usage": True}):
            pass
        return None

    return {"plain": plain, "stream": streamed}


# (library, name) -> (module, class) of the instrumentor; "sdk tracing": none.
INSTRUMENTORS = {
    ("anthropic", "otel_ml"): ("otel_ml.instrumentation.anthropic", "AnthropicInstrumentor"),
    ("anthropic", "otel_ml + sdk tracing"): (
        "otel_ml.instrumentation.anthropic", "AnthropicInstrumentor"),
    ("anthropic", "openllmetry"): ("opentelemetry.instrumentation.anthropic",
                                   "AnthropicInstrumentor"),
    ("litellm", "otel_ml"): ("otel_ml.instrumentation.litellm", "LiteLLMInstrumentor"),
    ("litellm", "openinference"): ("openinference.instrumentation.litellm",
                                   "LiteLLMInstrumentor"),
}  # fmt: skip


def variants(library: str, name: str, tp: TracerProvider, mp: MeterProvider) -> Calls:
    """``bare plain``, ``plain``, ``bare stream``, ``stream`` for one row."""
    if library == "litellm":
        import litellm

        # LiteLLM's own streaming logging made a stream's CPU time vary by tens of
        # milliseconds between rounds (p10-p90 54-98 ms, against 32.4-33.7 ms without
        # it), hiding the instrumentations; every row keeps its spans and metrics
        litellm.disable_streaming_logging = True
        litellm.disable_token_counter = True
        original = litellm.completion
    else:
        import anthropic

        original = anthropic.resources.messages.Messages.create
    spec = INSTRUMENTORS.get((library, name))
    if name == "openlit":
        instrument_openlit("openlit", tp, mp)
    elif spec is not None:
        instrumentor = getattr(importlib.import_module(spec[0]), spec[1])()
        instrumentor.instrument(tracer_provider=tp, meter_provider=mp)
    if library == "litellm":
        bare, traced = litellm_calls(original), litellm_calls(litellm.completion)
    else:
        sdk_traces = name in ("sdk tracing", "otel_ml + sdk tracing")
        client = anthropic_client(tp if sdk_traces else None)
        base = client if name != "sdk tracing" else anthropic_client(None)
        patched = anthropic.resources.messages.Messages.create
        bare, traced = anthropic_calls(base, original), anthropic_calls(client, patched)
    return {"bare plain": bare["plain"], "plain": traced["plain"],
            "bare stream": bare["stream"], "stream": traced["stream"]}  # fmt: skip


def main() -> None:
    library, name, rounds, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(Discard()))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    timed = variants(library, name, tracer_provider, meter_provider)
    print(json.dumps(time_rounds(timed, rounds, n, reader.collect)))


if __name__ == "__main__":
    main()
