"""The opt-in tenant attribute of LLM metrics: a callback, a request header of
an ``instrument(app)`` app, W3C baggage; capped at OTEL_ML_GENAI_MAX_TENANTS."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import openai
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import baggage, context
from support import Telemetry

import otel_ml
from otel_ml.config import Settings, SettingsError
from otel_ml.demo.llm_server import running_server
from otel_ml.instrumentation.openai import OpenAIInstrumentor

TENANT = "ml.genai.tenant"
CHAT = [{"role": "user", "content": "hi"}]
METRICS = ("gen_ai.client.operation.duration", "gen_ai.client.token.usage",
           "gen_ai.client.operation.cost")  # fmt: skip


def _chat(client: openai.OpenAI) -> None:
    client.chat.completions.create(model="gpt-4o", messages=CHAT)  # type: ignore[arg-type]


def _tenants(telemetry: Telemetry, name: str) -> list[str | None]:
    return sorted(str(attrs.get(TENANT)) for attrs, _ in telemetry.points(name))


def test_callback_tenants_are_capped_with_other(
    telemetry: Telemetry, instrumented: Callable[..., Any]
) -> None:
    current: ContextVar[str | None] = ContextVar("tenant", default=None)
    settings = Settings.load(environ={"OTEL_ML_GENAI_MAX_TENANTS": "3"})
    instrumented(OpenAIInstrumentor, settings=settings, tenant=current.get)
    with running_server(model="gpt-4o") as url, openai.OpenAI(base_url=url, api_key="k") as client:
        for tenant in ("acme", "globex", "initech", "umbrella", "acme", None):  # K+1 distinct
            current.set(tenant)
            _chat(client)
    expected = ["None", "__other__", "acme", "globex", "initech"]  # None: no attribute
    for name in METRICS:
        assert _tenants(telemetry, name) == sorted(expected * (2 if "token" in name else 1))
    acme = [
        a for a, _ in telemetry.points("gen_ai.client.operation.cost") if a.get(TENANT) == "acme"
    ]
    assert len(acme) == 1
    assert [s.attributes.get(TENANT) for s in telemetry.spans()][:4] == [
        "acme", "globex", "initech", "__other__"]  # fmt: skip


def test_tenant_from_a_request_header(
    telemetry: Telemetry, instrumented: Callable[..., Any]
) -> None:
    settings = Settings.load(environ={"OTEL_ML_GENAI_TENANT": "header:X-Tenant-Id"})
    instrumented(OpenAIInstrumentor, settings=settings)
    app = FastAPI()
    with running_server(model="gpt-4o") as url, openai.OpenAI(base_url=url, api_key="k") as llm:

        @app.get("/ask")
        def ask() -> dict[str, str]:
            _chat(llm)
            return {"ok": "yes"}

        handle = otel_ml.instrument(app, "rag", **telemetry.providers, settings=settings)
        with TestClient(app) as client:
            client.get("/ask", headers={"x-tenant-id": "acme"})
            client.get("/ask")
        handle.uninstrument()
    assert _tenants(telemetry, "gen_ai.client.operation.duration") == ["None", "acme"]


def test_tenant_from_baggage(telemetry: Telemetry, instrumented: Callable[..., Any]) -> None:
    settings = Settings.load(environ={"OTEL_ML_GENAI_TENANT": "baggage:tenant.id"})
    instrumented(OpenAIInstrumentor, settings=settings)
    with running_server(model="gpt-4o") as url, openai.OpenAI(base_url=url, api_key="k") as client:
        token = context.attach(baggage.set_baggage("tenant.id", "globex"))
        try:
            _chat(client)
        finally:
            context.detach(token)
    assert _tenants(telemetry, "gen_ai.client.token.usage") == ["globex", "globex"]


def test_off_by_default(telemetry: Telemetry, instrumented: Callable[..., Any]) -> None:
    instrumented(OpenAIInstrumentor, settings=Settings.load(environ={}))
    with running_server(model="gpt-4o") as url, openai.OpenAI(base_url=url, api_key="k") as client:
        _chat(client)
    for name in METRICS:
        assert all(TENANT not in attrs for attrs, _ in telemetry.points(name))


@pytest.mark.parametrize("raw", ["cookie:x", "header:", "header:bad name", "baggage:"])
def test_bad_tenant_source_names_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError, match="OTEL_ML_GENAI_TENANT"):
        Settings.load(environ={"OTEL_ML_GENAI_TENANT": raw})
