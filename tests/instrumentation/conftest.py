"""Fixtures shared by the library hooks' tests."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support import Telemetry

from otel_ml.config import Settings
from otel_ml.demo.llm_server import running_server
from otel_ml.instrumentation._patching import PatchingInstrumentor


@pytest.fixture
def instrumented(
    telemetry: Telemetry,
) -> Iterator[Callable[..., PatchingInstrumentor]]:
    """``instrumented(InstrumentorClass, **kwargs)``: ``instrument()`` with the
    test's providers and an empty environment; every one used is uninstrumented
    after the test, the last first."""
    used: list[PatchingInstrumentor] = []

    def run(cls: type[PatchingInstrumentor], **kwargs: Any) -> PatchingInstrumentor:
        instrumentor = cls()
        kwargs.setdefault("settings", Settings.load(environ={}))
        instrumentor.instrument(**telemetry.providers, **kwargs)
        used.append(instrumentor)
        return instrumentor

    yield run
    for instrumentor in reversed(used):
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()


@pytest.fixture(scope="module")
def llm_server_url() -> Iterator[str]:
    """The stand-in LLM's ``/v1`` URL, for a module whose clients (LiteLLM's,
    langchain-openai's) leave sockets and event loops unclosed: those are
    collected here, quietly, not in a later test."""
    with running_server() as url:
        yield url
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
