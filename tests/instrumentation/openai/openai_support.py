"""Helpers shared by the openai instrumentation tests."""

from __future__ import annotations

import json
from typing import Any

from support import Telemetry

API_KEY = "sk-test-secret-4242"


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def exported_text(telemetry: Telemetry) -> str:
    """Everything exported (spans with events, metric points), as one string."""
    spans = [span.to_json() for span in telemetry.spans()]
    data = telemetry.reader.get_metrics_data()
    return "\n".join(spans) + (data.to_json() if data is not None else "")


def identity(url: str, model: str, operation: str = "chat") -> dict[str, Any]:
    return {
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": model,
        "server.address": "127.0.0.1",
        "server.port": port_of(url),
    }


CHAT_API = {"openai.api.type": "chat_completions"}
RESPONSES_API = {"openai.api.type": "responses"}
SERVED = {
    "openai.response.service_tier": "default",
    "openai.response.system_fingerprint": "fp_fake_1",
}
"""What the stand-in reports about itself on chat (span and metric attributes)."""
NO_CACHE = {"gen_ai.usage.cache_read.input_tokens": 0, "gen_ai.usage.reasoning.output_tokens": 0}
"""The stand-in's usage details by default: nothing cached, no reasoning."""


def chat_helpers(client: Any) -> Any:
    """``client.chat.completions``, or ``client.beta.chat.completions`` where an SDK
    older than 1.92 keeps ``parse`` and ``stream`` there."""
    completions = client.chat.completions
    return completions if hasattr(completions, "parse") else client.beta.chat.completions


def loads(value: Any) -> Any:
    return json.loads(value)
