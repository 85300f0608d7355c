"""The local OpenAI-compatible server and instrumented ``openai`` clients."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from openai_support import API_KEY
from support import Telemetry

from otel_ml.demo.llm_server import running_server
from otel_ml.instrumentation.openai import OpenAIInstrumentor


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
