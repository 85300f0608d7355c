"""One request's context never outlives it: keep-alive, big and chunked bodies,
pipelining and clients that leave mid-body, on a real uvicorn over loopback.

uvicorn resumes reading a connection from inside the request's ``receive()``
(after pausing above its 64 kB buffer) and final ``send()``; asyncio copies
the current context into the reader callback, so without
:class:`~otel_ml.instrumentation.fastapi.isolation.IsolateRequestContext` the
big request's server span became the starting context of every later request
on the connection: 4 of 24 server spans, 21 inference spans in one trace.
Each case checks, for both HTTP layers: one server span and one
``http.server.request.duration`` record per request, and each inference span
a child of its own request's server span.
"""

from __future__ import annotations

import asyncio
import contextvars
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI, Request
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from sklearn.linear_model import LogisticRegression
from support import Telemetry

import otel_ml
from otel_ml.demo.server import serve
from otel_ml.instrumentation.fastapi import Instrumentation
from otel_ml.instrumentation.fastapi.isolation import IsolateRequestContext

HEADER = "x-prediction-id"
DURATION = "http.server.request.duration"
ROWS = np.random.default_rng(1).normal(size=(60, 3))
LAYERS = ["otel_ml", "contrib"]
SMALL = b'{"n": 1}'


@pytest.fixture(scope="module")
def fitted() -> LogisticRegression:
    return LogisticRegression().fit(ROWS, (ROWS[:, 0] > 0).astype(int))


@pytest.fixture
def url(
    request: pytest.FixtureRequest,
    fitted: LogisticRegression,
    telemetry: Telemetry,
    handles: list[Instrumentation],
) -> Iterator[str]:
    """The app on a real uvicorn, instrumented with the layer the test is parametrized by."""
    model = otel_ml.wrap_model(fitted, "keepalive", "1", **telemetry.providers)
    app = FastAPI()

    @app.post("/predict")
    async def predict(request: Request) -> dict[str, Any]:
        body = await request.body()
        return {"label": int(model.predict(ROWS[:1])[0]), "bytes": len(body)}

    layer = request.param
    handles.append(
        otel_ml.instrument(
            app, "keepalive", "1", http=layer, instrument_sklearn=False, **telemetry.providers
        )
    )
    with serve(app, lifespan="off", log_level="critical") as base_url:
        yield base_url


def _chunks(size: int) -> Iterator[bytes]:
    for start in range(0, size, 8192):
        yield b"x" * min(8192, size - start)


def _assert_one_trace_per_request(telemetry: Telemetry, ids: list[str], requests: int) -> None:
    """``requests`` server spans and duration records; the inference of each id in ``ids``
    is a child of the server span of the request that answered with that id."""
    spans = _wait_for_server_spans(telemetry, requests)
    servers = [s for s in spans if s.kind is SpanKind.SERVER]
    inferences = {s.attributes["ml.prediction.id"]: s for s in spans if s.name.startswith("pre")}
    by_id = {s.attributes.get("ml.prediction.id"): s for s in servers}
    assert len(servers) == requests, [s.name for s in servers]
    assert len({s.context.trace_id for s in servers}) == requests
    for prediction_id in ids:
        inference, server = inferences[prediction_id], by_id[prediction_id]
        assert inference.context.trace_id == server.context.trace_id
        assert inference.parent is not None
        assert inference.parent.span_id == server.context.span_id
    counts = [point.count for _, point in telemetry.points(DURATION)]
    assert sum(counts) == requests, counts


def _wait_for_server_spans(telemetry: Telemetry, requests: int) -> list[ReadableSpan]:
    """The finished spans once ``requests`` server spans ended (a disconnected request's
    span ends when uvicorn notices), at most 5 s."""
    deadline = time.monotonic() + 5
    while True:
        spans = telemetry.spans()
        if sum(s.kind is SpanKind.SERVER for s in spans) >= requests:
            return spans
        if time.monotonic() > deadline:
            return spans
        time.sleep(0.02)


@pytest.mark.parametrize("url", LAYERS, indirect=True)
@pytest.mark.parametrize(
    ("size", "chunked"),
    [(47_000, False), (84_000, False), (1_000_000, False), (84_000, True), (1_000_000, True)],
    ids=["47k", "84k", "1M", "chunked-84k", "chunked-1M"],
)
def test_keep_alive_after_a_big_body_gives_every_request_its_own_trace(
    url: str, size: int, chunked: bool, telemetry: Telemetry
) -> None:
    ids = []
    with httpx.Client(base_url=url, timeout=10) as client:
        for index in range(24):
            if index != 3:
                content: Any = SMALL
            else:
                content = _chunks(size) if chunked else b"x" * size
            response = client.post("/predict", content=content)
            assert response.status_code == 200, response.text
            ids.append(response.headers[HEADER])
        assert client.get("/").status_code == 404  # the pool kept one connection
    assert len(set(ids)) == 24
    _assert_one_trace_per_request(telemetry, ids, requests=25)


def _request(body: bytes, *, declared: int | None = None) -> bytes:
    length = len(body) if declared is None else declared
    head = f"POST /predict HTTP/1.1\r\nhost: t\r\ncontent-length: {length}\r\n\r\n"
    return head.encode("ascii") + body


def _read_responses(sock: socket.socket, count: int) -> list[dict[str, str]]:
    """The headers of ``count`` responses read off a raw keep-alive connection."""
    buffer, found = b"", []
    while len(found) < count:
        head, separator, rest = buffer.partition(b"\r\n\r\n")
        if separator:
            lines = head.decode("latin-1").split("\r\n")[1:]
            headers = dict(line.lower().split(": ", 1) for line in lines)
            length = int(headers["content-length"])
            if len(rest) >= length:
                found.append(headers)
                buffer = rest[length:]
                continue
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {len(found)} responses"
        buffer += chunk
    return found


@pytest.mark.parametrize("url", LAYERS, indirect=True)
def test_pipelined_requests_and_a_client_leaving_mid_body(url: str, telemetry: Telemetry) -> None:
    """A pipelined big body followed by two small requests in one write; then a second
    connection that sends half of a 200 kB body and closes; then 20 small requests."""
    address = ("127.0.0.1", int(url.rsplit(":", 1)[1]))
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(_request(b"x" * 84_000) + _request(SMALL) + _request(SMALL))
        ids = [headers[HEADER] for headers in _read_responses(sock, 3)]
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(_request(b"x" * 100_000, declared=200_000))
        time.sleep(0.2)  # the request is in the app, reading its body
    with httpx.Client(base_url=url, timeout=10) as client:
        for _ in range(20):
            response = client.post("/predict", content=SMALL)
            assert response.status_code == 200
            ids.append(response.headers[HEADER])
    _assert_one_trace_per_request(telemetry, ids, requests=24)


def test_the_server_calls_run_in_the_context_the_request_arrived_with() -> None:
    """What the app attaches is current in the app, never in the server's receive or
    its final send; the response start keeps it (access logs read it there)."""
    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="arrival")
    seen: list[tuple[str, str]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        marker.set("request")
        await receive()
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b""})

    async def server_receive() -> dict[str, Any]:
        seen.append(("receive", marker.get()))
        await asyncio.sleep(0)
        return {"type": "http.request", "body": b""}

    async def server_send(message: dict[str, Any]) -> None:
        seen.append((message["type"], marker.get()))

    asyncio.run(IsolateRequestContext(app)({"type": "http"}, server_receive, server_send))
    assert seen == [
        ("receive", "arrival"),
        ("http.response.start", "request"),
        ("http.response.body", "arrival"),
    ]


def test_results_errors_and_cancellation_pass_through_the_isolated_calls() -> None:
    async def scenario() -> list[str]:
        outcomes = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            outcomes.append((await receive())["type"])
            try:
                await send({"type": "http.response.body"})
            except ValueError as exc:
                outcomes.append(str(exc))
            waiting = asyncio.ensure_future(receive())
            await asyncio.sleep(0)
            waiting.cancel()
            try:
                await waiting
            except asyncio.CancelledError:
                outcomes.append("cancelled")

        calls = 0

        async def server_receive() -> dict[str, Any]:
            nonlocal calls
            calls += 1
            if calls > 1:
                await asyncio.Event().wait()  # never set: only cancellation ends it
            return {"type": "http.request"}

        async def server_send(message: dict[str, Any]) -> None:
            raise ValueError("send failed")

        await IsolateRequestContext(app)({"type": "http"}, server_receive, server_send)
        return outcomes

    assert asyncio.run(scenario()) == ["http.request", "send failed", "cancelled"]
