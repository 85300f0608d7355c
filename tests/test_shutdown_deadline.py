"""Flushes that end by their deadline when the collector accepts connections and never
answers (a loopback socket nobody reads), in-process; the served tests stop real servers."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from otel_ml.sdk import TelemetryHandle, build_providers, resolve_settings
from otel_ml.sdk._deadline import finish_within, run_by_deadline


@pytest.fixture
def blackholed() -> Iterator[str]:
    """The endpoint; afterwards the socket closes, which fails the exports left behind,
    and the test waits for their threads, so nothing of them outlives it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    for thread in threading.enumerate():
        if thread.name == "otel-ml-flush":
            thread.join(timeout=15)
            assert not thread.is_alive()


def test_force_flush_returns_by_its_timeout_and_shutdown_by_the_deadline(
    blackholed: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "otel_ml")
    environ = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": blackholed,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_BSP_SCHEDULE_DELAY": "60000",
        "OTEL_METRIC_EXPORT_INTERVAL": "60000",
    }
    built = build_providers(resolve_settings(environ=environ))
    # configure() passes OTEL_ML_SHUTDOWN_TIMEOUT as the last argument.
    handle = TelemetryHandle(
        built.tracer_provider, built.meter_provider, built.created, built.watched, 1.0
    )
    for _ in range(7):
        handle.tracer_provider.get_tracer("t").start_span("s").end()
    started = time.monotonic()
    assert handle.force_flush(timeout_ms=500) is False
    flushed = time.monotonic() - started
    handle.shutdown()
    stopped = time.monotonic() - started - flushed
    assert flushed < 1.5 and stopped < 2.0, (flushed, stopped)
    said = [r.getMessage() for r in caplog.records if "did not finish within" in r.getMessage()]
    assert said == [
        "otel_ml: the telemetry flush at shutdown did not finish within 1.0 s "
        "(OTEL_ML_SHUTDOWN_TIMEOUT); the collector did not answer in time. Left unsent: traces 7"
    ]


def test_the_work_s_own_failure_reaches_the_caller() -> None:
    def failing() -> None:
        raise ValueError("flush failed")

    with pytest.raises(ValueError, match="flush failed"):
        run_by_deadline(failing, 5.0)
    assert finish_within(lambda: None, 5.0) is True
