"""Cost of calls of a custom client (``llm()``): priced from the usage it reports."""

from __future__ import annotations

from support import Telemetry

from otel_ml.genai import llm


def test_a_custom_client_call_is_priced_from_the_usage_it_reports(telemetry: Telemetry) -> None:
    with llm("claude-3-5-haiku", provider="anthropic", **telemetry.providers) as call:
        call.set_usage(1000, 100, cache_read=600, cache_write=100)
    [span] = telemetry.spans()
    expected = (300 * 0.8 + 600 * 0.08 + 100 * 1.0 + 100 * 4.0) / 1e6
    assert span.attributes is not None
    assert abs(span.attributes["gen_ai.usage.cost.amount"] - expected) < 1e-15
