"""The local OpenAI-compatible server and instrumented ``openai`` clients."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from fake_llm_server import running_server
from support import Telemetry

from otel_ml.instrumentation.openai import OpenAIInstrumentor

API_KEY = "sk-test-secret-4242"


@pytest.fixture(scope="session")
def llm_url() -> Iterator[str]:
    with running_server() as url:
        yield url


@pytest.fixture
def instrumented(telemetry: Telemetry) -> Iterator[Telemetry]:
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(**telemetry.providers)
    yield telemetry
    instrumentor.uninstrument()


@pytest.fixture(scope="session")
def client(llm_url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=llm_url, api_key=API_KEY, max_retries=0) as c:
        yield c


@pytest.fixture
def async_client(llm_url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=llm_url, api_key=API_KEY, max_retries=0)


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
