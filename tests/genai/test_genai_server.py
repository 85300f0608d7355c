"""Server-side metrics of an app that generates tokens itself (FastAPI streaming)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient
from opentelemetry.trace import StatusCode
from support import Telemetry

from otel_ml.genai import generation, serve


def test_streaming_endpoint_records_server_metrics(telemetry: Telemetry) -> None:
    app = FastAPI()

    async def tokens(n: int) -> AsyncIterator[str]:
        await asyncio.sleep(0.05)
        for i in range(n):
            await asyncio.sleep(0.01)
            yield f"tok{i} "

    @app.get("/generate")
    async def generate() -> StreamingResponse:
        body = serve(tokens(5), model="tiny-llm", provider="otel_ml_demo", **telemetry.providers)
        return StreamingResponse(body, media_type="text/plain")

    with TestClient(app) as http:
        assert http.get("/generate").text == "tok0 tok1 tok2 tok3 tok4 "

    attrs = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "otel_ml_demo",
             "gen_ai.request.model": "tiny-llm"}  # fmt: skip
    ((a1, duration),) = telemetry.points("gen_ai.server.request.duration")
    ((a2, first),) = telemetry.points("gen_ai.server.time_to_first_token")
    ((a3, per_token),) = telemetry.points("gen_ai.server.time_per_output_token")
    assert a1 == a2 == a3 == attrs
    assert first.sum >= 0.06 and duration.sum >= first.sum
    assert per_token.count == 1 and per_token.sum >= 0.01 * 0.75
    assert per_token.explicit_bounds[:2] == (0.01, 0.025)
    (span,) = telemetry.spans()
    assert span.name == "chat tiny-llm" and span.attributes["gen_ai.usage.output_tokens"] == 5  # type: ignore[index]


def test_generator_failure_is_an_error_on_the_duration(telemetry: Telemetry) -> None:
    @generation("tiny-llm", **telemetry.providers)
    def tokens() -> object:
        yield "a"
        raise MemoryError("KV cache full")

    stream = tokens()
    assert next(stream) == "a"  # type: ignore[call-overload]
    with pytest.raises(MemoryError, match="KV cache full"):
        next(stream)  # type: ignore[call-overload]
    ((attrs, _),) = telemetry.points("gen_ai.server.request.duration")
    assert attrs["error.type"] == "MemoryError"
    assert telemetry.points("gen_ai.server.time_per_output_token") == []
    (span,) = telemetry.spans()
    assert span.status.status_code is StatusCode.ERROR
