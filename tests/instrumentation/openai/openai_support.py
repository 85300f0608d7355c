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


def loads(value: Any) -> Any:
    return json.loads(value)
