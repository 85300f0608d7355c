"""LLM cost: the real openai and anthropic clients against the stand-in LLM,
priced from the shipped table and from user overrides; unknown models and
unusable price tables."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from support import Telemetry

from otel_ml.config import Settings
from otel_ml.demo.llm_server import running_server
from otel_ml.genai.cost import Pricing
from otel_ml.genai.prices import PriceError, Usage, load_prices, shipped_prices
from otel_ml.instrumentation.anthropic import AnthropicInstrumentor
from otel_ml.instrumentation.openai import OpenAIInstrumentor

CHAT = [{"role": "user", "content": "hi"}]
COST = "gen_ai.client.operation.cost"
UNPRICED = "ml.genai.calls.unpriced"


def _cost(span: Any) -> float:
    return float(span.attributes["gen_ai.usage.cost.amount"])


def _chat(url: str, **kwargs: Any) -> None:
    with openai.OpenAI(base_url=url, api_key="k", max_retries=0) as client:
        result = client.chat.completions.create(model="gpt-4o", messages=CHAT, **kwargs)  # type: ignore[call-overload]
        if kwargs.get("stream"):
            list(result)


def test_exact_cost_with_cached_and_reasoning_tokens(
    telemetry: Telemetry, instrumented: Callable[..., Any]
) -> None:
    instrumented(OpenAIInstrumentor)
    fake = {"prompt_tokens": 1000, "cached": 400, "chunks": 50, "reasoning": 20}
    with running_server(model="gpt-4o-2024-08-06") as url:  # dated id -> gpt-4o
        _chat(url, extra_body={"fake": fake})
    span = telemetry.span("chat gpt-4o")
    # 600 uncached x 2.50 + 400 cached x 1.25 + 50 output (20 reasoning, billed as output) x 10
    expected = (600 * 2.5 + 400 * 1.25 + 50 * 10.0) / 1e6
    assert _cost(span) == pytest.approx(expected, rel=1e-12)
    assert span.attributes["gen_ai.usage.cost.currency"] == "USD"
    assert span.attributes["gen_ai.usage.cost.source"] == "local"
    [(attrs, point)] = telemetry.points(COST)
    assert point.value == pytest.approx(expected, rel=1e-12)
    assert attrs["gen_ai.request.model"] == "gpt-4o"
    assert attrs["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert telemetry.metrics()[COST].unit == "USD"
    assert telemetry.points(UNPRICED) == []


def test_streamed_call_is_priced_from_its_usage_chunk(
    telemetry: Telemetry, instrumented: Callable[..., Any]
) -> None:
    instrumented(OpenAIInstrumentor)
    with running_server(model="gpt-4o-mini") as url:
        _chat(url, stream=True, stream_options={"include_usage": True},
              extra_body={"fake": {"chunks": 7, "cached": 3}})  # fmt: skip
        _chat(url, stream=True, extra_body={"fake": {"chunks": 7}})  # no usage chunk: no cost
    priced, unpriced = telemetry.spans()
    assert _cost(priced) == pytest.approx((8 * 0.15 + 3 * 0.075 + 7 * 0.6) / 1e6)
    assert "gen_ai.usage.cost.amount" not in (unpriced.attributes or {})
    [(_, point)] = telemetry.points(COST)
    assert point.value == pytest.approx(_cost(priced))
    assert telemetry.points(UNPRICED) == []  # no usage: nothing to price, nothing counted


@pytest.mark.newest  # anthropic is an LLM-framework extra, not installed in the floor lane
def test_anthropic_is_priced_with_cache_reads_and_writes(
    telemetry: Telemetry, instrumented: Callable[..., Any]
) -> None:
    instrumented(AnthropicInstrumentor)
    fake = {"cache_read": 100, "cache_creation": 50, "chunks": 4}
    with running_server(model="claude-sonnet-4-5-20250929") as url:
        client = anthropic.Anthropic(base_url=url.removesuffix("/v1"), api_key="k", max_retries=0)
        client.messages.create(model="claude-sonnet-4-5", max_tokens=20,
                               messages=CHAT, extra_body={"fake": fake})  # type: ignore[list-item]  # fmt: skip
        client.close()
    span = telemetry.span("chat claude-sonnet-4-5")
    assert span.attributes["gen_ai.usage.input_tokens"] == 11 + 100 + 50
    expected = (11 * 3.0 + 100 * 0.3 + 50 * 3.75 + 4 * 15.0) / 1e6
    assert _cost(span) == pytest.approx(expected, rel=1e-12)


def test_unknown_model_gets_no_cost_one_count_per_call_and_one_log_line(
    telemetry: Telemetry, instrumented: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    instrumented(OpenAIInstrumentor)
    with (
        caplog.at_level(logging.WARNING, "otel_ml"),
        running_server(model="gpt-4o-mini-tts-x") as url,
    ):
        _chat(url)
        _chat(url)
    for span in telemetry.spans():
        assert not any(k.startswith("gen_ai.usage.cost") for k in span.attributes or {})
    [(attrs, point)] = telemetry.points(UNPRICED)
    assert point.value == 2
    assert attrs["gen_ai.response.model"] == "gpt-4o-mini-tts-x"
    assert telemetry.points(COST) == []
    lines = [r for r in caplog.records if "no price for model" in r.getMessage()]
    assert len(lines) == 1 and "gpt-4o-mini-tts-x" in lines[0].getMessage()


def test_user_prices_extend_and_override_by_argument_and_file(
    telemetry: Telemetry, instrumented: Callable[..., Any], tmp_path: Path
) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"providers": {"openai": {"gpt-4o": {"input": 1, "output": 1}}}}))
    mine = {"providers": {"*": {"fake-model": {"input": 1000, "output": 2000}}}}
    settings = Settings.load(environ={"OTEL_ML_GENAI_PRICES": str(path)})
    instrumented(OpenAIInstrumentor, settings=settings, prices=mine)
    with running_server() as url:  # reports fake-model-2024-01-01
        _chat(url)
    with running_server(model="gpt-4o") as url:
        _chat(url)
    mine_span, overridden = telemetry.spans()
    assert _cost(mine_span) == pytest.approx((11 * 1000 + 3 * 2000) / 1e6)
    assert _cost(overridden) == pytest.approx(14 / 1e6)


def test_pricing_off(telemetry: Telemetry, instrumented: Callable[..., Any]) -> None:
    instrumented(
        OpenAIInstrumentor, settings=Settings.load(environ={"OTEL_ML_GENAI_PRICES": "off"})
    )
    with running_server(model="gpt-4o") as url:
        _chat(url)
    assert "gen_ai.usage.cost.amount" not in (telemetry.span("chat gpt-4o").attributes or {})
    assert telemetry.points(COST) == telemetry.points(UNPRICED) == []


def test_prefix_matches_only_version_suffixes() -> None:
    table = shipped_prices()
    assert table.read_on and table.currency == "USD"
    assert table.find("openai", "gpt-4o-2024-08-06") is table.find("openai", "gpt-4o")
    assert table.find("openai", "gpt-4o-mini-2024-07-18") is table.find("openai", "gpt-4o-mini")
    assert table.find("openai", "gpt-4o-mini") is not table.find("openai", "gpt-4o")
    assert table.find("openai", "gpt-4o-audio-preview") is None  # never a guess
    assert table.find("openai", "openai/gpt-4o") is table.find("openai", "gpt-4o")
    assert table.find("anthropic", "claude-3-5-sonnet@20240620") is not None
    assert table.find("some-proxy", "gpt-4o") is None  # per provider
    free = load_prices(prices={"providers": {"vllm": {"*": {"input": 0, "output": 0}}}})
    price = free.find("vllm", "llama-3-8b")
    assert price is not None and price.cost(Usage(100, 100)) == 0


def test_reasoning_price_defaults_to_output_and_can_be_set() -> None:
    models = {"a": {"input": 1, "output": 4}, "b": {"input": 1, "output": 4, "reasoning": 8}}
    table = load_prices(prices={"providers": {"x": models}})
    usage = Usage(input=0, output=10, reasoning=5)
    a, b = table.find("x", "a"), table.find("x", "b")
    assert a is not None and b is not None
    assert a.cost(usage) == pytest.approx(40 / 1e6)
    assert b.cost(usage) == pytest.approx((5 * 4 + 5 * 8) / 1e6)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"providers": {"openai": {"m": {"input": 1}}}}, r"prices=: openai\.m: missing 'output'"),
        ({"providers": {"openai": {"m": {"input": -1, "output": 1}}}}, r"openai\.m\.input"),
        ({"providers": {"openai": {"m": {"input": 1, "output": 1, "cheap": 0}}}}, "cheap"),
        ({"providers": {"openai": {"m": {"input": "1", "output": 1}}}}, r"openai\.m\.input"),
        ({"currency": "dollars", "providers": {}}, "ISO 4217"),
        ({"models": {}}, "'providers'"),
    ],
)
def test_bad_price_argument_names_the_entry(table: dict[str, Any], message: str) -> None:
    with pytest.raises(PriceError, match=message):
        Pricing.for_entry_point(prices=table)


def test_bad_price_file_is_named_with_its_entry(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"providers": {"anthropic": {"claude-x": {"output": 1}}}}))
    with pytest.raises(
        PriceError, match=rf"price file {path}: anthropic\.claude-x: missing 'input'"
    ):
        load_prices(str(path))
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(PriceError, match=r"broken\.json: not JSON"):
        load_prices(str(tmp_path / "broken.json"))
    with pytest.raises(PriceError, match=r"missing\.json"):
        load_prices(str(tmp_path / "missing.json"))
    # Through the setting: logged naming the variable, file and entry; shipped prices kept.
    with caplog.at_level(logging.ERROR, "otel_ml"):
        pricing = Pricing.for_entry_point(str(path))
    assert "OTEL_ML_GENAI_PRICES" in caplog.text and "claude-x" in caplog.text
    assert pricing.price("openai", "gpt-4o") is not None
