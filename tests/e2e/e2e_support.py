"""End-to-end test support: the app process, Jaeger's, Prometheus's and
Alertmanager's HTTP APIs, polling.

Backends are eventually consistent (batching, export intervals, scrapes), so
every assertion polls with a deadline and, on failure, shows what it last saw.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from pprint import pformat
from types import ModuleType
from typing import Any, TypeVar

import httpx
import pytest

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
APP_MAIN = Path(__file__).with_name("e2e_app_main.py")
LAUNCHER = Path(sys.executable).parent / "opentelemetry-instrument"
DEADLINE_S = 60.0


def poll(
    fetch: Callable[[], T], done: Callable[[T], bool], what: str, timeout_s: float = DEADLINE_S
) -> T:
    """Call ``fetch`` until ``done`` accepts its result; fail with the last result."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while True:
        try:
            result = fetch()
            if done(result):
                return result
            last = result
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not seen within {timeout_s:.0f} s; last seen:\n{pformat(last)}")
        time.sleep(0.5)


def expect_sums(
    prometheus: Prometheus,
    selector: str,
    by: tuple[str, ...],
    expected: dict[tuple[str, ...], float],
) -> None:
    """Poll until ``sum by (*by) (selector)`` is exactly ``expected`` (:meth:`Prometheus.sums`)."""
    poll(
        lambda: prometheus.sums(selector, by),
        lambda found: found == expected,
        f"Prometheus: {selector} by {by} == {expected}",
    )


def unique_service(prefix: str) -> str:
    """A service name no earlier run left in a reused stack."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Jaeger:
    """Jaeger v2's query API (the JSON API its UI uses)."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=10.0)

    def close(self) -> None:
        self.http.close()

    def services(self) -> list[str]:
        return list(self.http.get("/api/services").raise_for_status().json()["data"] or [])

    def traces(self, service: str, **query: Any) -> list[dict[str, Any]]:
        """Traces of ``service``; ``tags`` (a dict) and ``operation`` filter them."""
        params: dict[str, str] = {"service": service, "limit": "100", "lookback": "1h"}
        for key, value in query.items():
            params[key] = value if isinstance(value, str) else json.dumps(value)
        return list(self.http.get("/api/traces", params=params).raise_for_status().json()["data"])

    def trace(self, trace_id: str) -> dict[str, Any] | None:
        response = self.http.get(f"/api/traces/{trace_id}")
        if response.status_code == 404:
            return None
        found = response.raise_for_status().json()["data"]
        return found[0] if found else None


def tags(span: dict[str, Any]) -> dict[str, Any]:
    """A Jaeger span's tags as a dict."""
    return {tag["key"]: tag["value"] for tag in span["tags"]}


def spans_named(trace: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [span for span in trace["spans"] if span["operationName"] == name]


def server_span_above(trace: dict[str, Any], span: dict[str, Any]) -> dict[str, Any]:
    """The SERVER span ``span`` descends from in ``trace`` (by CHILD_OF references).

    Only INTERNAL spans (e.g. FastAPI's own ``fastapi.endpoint``) may stand
    between them: any other span on the way fails the test.
    """
    by_id = {s["spanID"]: s for s in trace["spans"]}
    current, path = span, []
    for _ in range(len(trace["spans"])):
        parents = [r for r in current["references"] if r["refType"] == "CHILD_OF"]
        assert len(parents) == 1, f"{current['operationName']}: parents {parents}"
        assert parents[0]["traceID"] == trace["traceID"]
        current = by_id[parents[0]["spanID"]]
        if tags(current).get("span.kind") == "server":
            return current
        path.append(current["operationName"])
        assert tags(current).get("span.kind") == "internal", f"{path} above {span}"
    pytest.fail(f"no server span above {span['operationName']}; path {path}")


class Prometheus:
    """Prometheus's HTTP API."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=10.0)

    def close(self) -> None:
        self.http.close()

    def query(self, promql: str) -> list[tuple[dict[str, str], float]]:
        """An instant query: ``(labels, value)`` per series."""
        body = self.http.get("/api/v1/query", params={"query": promql}).raise_for_status().json()
        return [(r["metric"], float(r["value"][1])) for r in body["data"]["result"]]

    def sums(self, selector: str, by: tuple[str, ...]) -> dict[tuple[str, ...], float]:
        """``sum by (*by) (selector)`` as {label values ("" when absent): value}."""
        found = self.query(f"sum by ({', '.join(by)}) ({selector})")
        return {tuple(labels.get(k, "") for k in by): value for labels, value in found}

    def exemplars(self, promql: str, window_s: float = 900) -> list[dict[str, Any]]:
        """Exemplars of the series ``promql`` selects, each with its series labels."""
        now = time.time()
        params = {"query": promql, "start": str(now - window_s), "end": str(now + 60)}
        body = self.http.get("/api/v1/query_exemplars", params=params).raise_for_status().json()
        return [
            {**exemplar, "series": series["seriesLabels"]}
            for series in body["data"]
            for exemplar in series["exemplars"]
        ]

    def alerts(self) -> list[dict[str, Any]]:
        body = self.http.get("/api/v1/alerts").raise_for_status().json()
        return list(body["data"]["alerts"])


class Alertmanager:
    """Alertmanager's API (v2), as Prometheus and amtool use it."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=10.0)

    def close(self) -> None:
        self.http.close()

    def alerts(self, *matchers: str) -> list[dict[str, Any]]:
        """The alerts it holds that match every ``label="value"`` matcher, with their
        ``status`` (``state`` active or suppressed, ``inhibitedBy``)."""
        params = [("filter", m) for m in matchers]
        return list(self.http.get("/api/v2/alerts", params=params).raise_for_status().json())

    def post(self, alerts: list[dict[str, Any]]) -> None:
        """Send alerts (``labels``, ``annotations``, ...) as Prometheus does."""
        self.http.post("/api/v2/alerts", json=alerts).raise_for_status()


@dataclass
class Stack:
    """The running stack and clients for its query APIs."""

    control: ModuleType
    paths: Any
    jaeger: Jaeger
    prometheus: Prometheus
    alertmanager: Alertmanager


def otel_environment(service: str, **extra: str) -> dict[str, str]:
    """The app process's environment: OTLP/gRPC to the local collector, short intervals."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTEL_ML_"))}
    environ.update(
        OTEL_SERVICE_NAME=service,
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4317",
        OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
        OTEL_METRIC_EXPORT_INTERVAL="1000",
        OTEL_BSP_SCHEDULE_DELAY="200",
        OTEL_SEMCONV_STABILITY_OPT_IN="http",
        OTEL_ML_STRICT="1",
    )
    environ.update(extra)
    return environ


@contextmanager
def app_process(mode: str, environ: dict[str, str], log: Path) -> Iterator[httpx.Client]:
    """Run :mod:`e2e_app_main` (under the launcher for ``zero-code``); yield a client for it.

    On exit its standard input is closed, so it flushes its telemetry and stops.
    """
    argv = [sys.executable, str(APP_MAIN), mode]
    if mode == "zero-code":
        argv.insert(0, str(LAUNCHER))
    with log.open("w") as stderr:
        process = subprocess.Popen(
            argv,
            env=environ,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        base_url = _ready(process, log)
        with httpx.Client(base_url=base_url, timeout=30.0) as client:
            yield client
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def _ready(process: subprocess.Popen[str], log: Path, timeout_s: float = 60.0) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        readable, _, _ = select.select([process.stdout], [], [], 0.5)
        if readable:
            line = process.stdout.readline()
            if line.startswith("READY "):
                return line.split()[1]
    pytest.fail(f"the app did not start (exit {process.poll()}); its log:\n{log.read_text()}")
