"""``litellm.completion`` / ``acompletion`` / ``embedding`` (streamed or not)
through the real LiteLLM against the stand-in server (provider ``openai``
with ``api_base``: LiteLLM posts the requests itself or through openai)."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Callable
from typing import Any

import litellm
import pytest
from opentelemetry.trace import SpanKind, StatusCode
from support import Telemetry

from otel_ml.config import Settings
from otel_ml.demo.llm_server import PROMPT_TOKENS, RESPONSE_ID, RESPONSE_MODEL
from otel_ml.instrumentation._patching import PatchingInstrumentor
from otel_ml.instrumentation.litellm import LiteLLMInstrumentor, instrument_litellm
from otel_ml.instrumentation.openai import OpenAIInstrumentor

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
MESSAGES = [{"role": "user", "content": "Capital of France? top-secret-prompt"}]
Instrument = Callable[..., PatchingInstrumentor]


@pytest.fixture
def url(llm_server_url: str) -> str:
    return llm_server_url


@pytest.fixture
def hooked(instrumented: Instrument, telemetry: Telemetry) -> Telemetry:
    instrumented(LiteLLMInstrumentor)
    return telemetry


def _identity(url: str, model: str = "m1", operation: str = "chat") -> dict[str, Any]:
    return {"gen_ai.operation.name": operation, "gen_ai.provider.name": "openai",
            "gen_ai.request.model": f"openai/{model}", "server.address": "127.0.0.1",
            "server.port": int(url.rsplit(":", 1)[1].split("/")[0])}  # fmt: skip


def _complete(url: str, **kwargs: Any) -> Any:
    fake = kwargs.pop("fake", {})
    return litellm.completion(model="openai/m1", api_base=url, api_key="k", messages=MESSAGES,
                              extra_body={"fake": fake}, **kwargs)  # fmt: skip


def _count(t: Telemetry, name: str) -> int:
    return sum(p.count for _, p in t.points(name))


def test_completion_is_one_span_with_the_resolved_provider(hooked: Telemetry, url: str) -> None:
    result = _complete(url, temperature=0.5, max_tokens=20)

    assert result.choices[0].message.content == "w0 w1 w2 "
    (span,) = hooked.spans()
    assert (span.name, span.kind, span.status.status_code) == (
        "chat openai/m1", SpanKind.CLIENT, StatusCode.UNSET)  # fmt: skip
    assert dict(span.attributes or {}) == {
        **_identity(url),
        "gen_ai.request.temperature": 0.5,
        "gen_ai.request.max_tokens": 20,
        "gen_ai.response.model": RESPONSE_MODEL,
        "gen_ai.response.id": RESPONSE_ID,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": PROMPT_TOKENS,
        "gen_ai.usage.output_tokens": 3,
    }
    ((attrs, _),) = hooked.points("gen_ai.client.operation.duration")
    assert attrs == {**_identity(url), "gen_ai.response.model": RESPONSE_MODEL}
    tokens = {a["gen_ai.token.type"]: p.sum for a, p in hooked.points("gen_ai.client.token.usage")}
    assert tokens == {"input": PROMPT_TOKENS, "output": 3}
    assert "top-secret" not in span.to_json()  # content is off by default


def test_streamed_completion_times_the_first_chunk(hooked: Telemetry, url: str) -> None:
    stream = _complete(url, stream=True, stream_options={"include_usage": True},
                       fake={"chunks": 4, "first_delay": 0.15, "delay": 0.02})  # fmt: skip
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    assert text == "w0 w1 w2 w3 "
    (span,) = hooked.spans()
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.response.time_to_first_chunk"] >= 0.15
    assert attrs["gen_ai.usage.output_tokens"] == 4
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    ((_, first),) = hooked.points("gen_ai.client.operation.time_to_first_chunk")
    assert first.count == 1 and first.sum >= 0.15
    assert _count(hooked, "gen_ai.client.operation.time_per_output_chunk") == 3


def test_acompletion_streamed_and_not(hooked: Telemetry, url: str) -> None:
    async def main() -> str:
        await litellm.acompletion(model="openai/m1", api_base=url, api_key="k", messages=MESSAGES)
        stream = await litellm.acompletion(model="openai/m1", api_base=url, api_key="k",
                                           messages=MESSAGES, stream=True)  # fmt: skip
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    assert asyncio.run(main()) == "w0 w1 w2 "
    spans = hooked.spans()
    assert [s.name for s in spans] == ["chat openai/m1"] * 2
    assert "gen_ai.response.time_to_first_chunk" in (spans[1].attributes or {})
    assert _count(hooked, "gen_ai.client.operation.duration") == 2
    assert _count(hooked, "gen_ai.client.operation.time_to_first_chunk") == 1


def test_embedding(hooked: Telemetry, url: str) -> None:
    litellm.embedding(model="openai/e1", api_base=url, api_key="k", input=["a", "b"])

    (span,) = hooked.spans()
    assert span.name == "embeddings openai/e1"
    assert dict(span.attributes or {}) == {
        **_identity(url, "e1", "embeddings"),
        "ml.embeddings.input.count": 2,
        "gen_ai.embeddings.dimension.count": 4,
        "gen_ai.response.model": RESPONSE_MODEL,
        "gen_ai.usage.input_tokens": 6,
        "gen_ai.usage.output_tokens": 0,
    }


def test_with_the_openai_hook_on_too_each_call_is_one_span(
    instrumented: Instrument, telemetry: Telemetry, url: str
) -> None:
    instrumented(OpenAIInstrumentor)
    instrumented(LiteLLMInstrumentor)
    _complete(url)
    list(_complete(url, stream=True))
    litellm.embedding(model="openai/e1", api_base=url, api_key="k", input="a")

    names = [s.name for s in telemetry.spans()]
    assert names == ["chat openai/m1", "chat openai/m1", "embeddings openai/e1"]
    assert _count(telemetry, "gen_ai.client.operation.duration") == 3


def test_breaking_out_of_a_stream_ends_the_span(hooked: Telemetry, url: str) -> None:
    stream = _complete(url, stream=True, fake={"chunks": 50})
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            break
    del stream, chunk
    gc.collect()

    (span,) = hooked.spans()
    assert "gen_ai.response.time_to_first_chunk" in (span.attributes or {})


def test_a_provider_error_fails_the_call(hooked: Telemetry, url: str) -> None:
    with pytest.raises(litellm.RateLimitError):
        _complete(url, fake={"status": 429}, num_retries=0)

    (span,) = hooked.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "litellm.RateLimitError"  # type: ignore[index]
    ((attrs, _),) = hooked.points("gen_ai.client.operation.duration")
    assert attrs["error.type"] == "litellm.RateLimitError"


def test_content_captured_when_asked(
    instrumented: Instrument, telemetry: Telemetry, url: str
) -> None:
    instrumented(LiteLLMInstrumentor, capture_content=True)
    _complete(url)

    (span,) = telemetry.spans()
    attrs = dict(span.attributes or {})
    assert "top-secret-prompt" in attrs["gen_ai.input.messages"]
    (output,) = json.loads(attrs["gen_ai.output.messages"])
    assert output["parts"] == [{"type": "text", "content": "w0 w1 w2 "}]


def test_instrument_litellm_returns_its_undo(telemetry: Telemetry) -> None:
    original = litellm.completion
    undo = instrument_litellm(**telemetry.providers, settings=Settings.load(environ={}))
    assert litellm.completion is not original
    undo()
    assert litellm.completion is original
