"""On SIGTERM the providers flush: the last requests' spans and the final metrics arrive.

The span batch delay and the metric interval are a minute, far longer than
the test, so nothing reaches the Collector before the server is told to stop:
what arrives was sent by the shutdown flush. uvicorn re-raises the SIGTERM
once the app has shut down, so the process dies by the signal and the SDK's
``atexit`` shutdown never runs: the flush that ``otel_ml.instrument(app)``
adds to the app's lifespan shutdown is what delivers the data, for the
providers of ``otel_ml.configure()`` and for the launcher's. (Pre-fork
servers: test_prefork.py stops them the same way.)
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from otlp_receiver import GrpcReceiver
from sklearn.datasets import load_breast_cancer
from stack_support import (
    FLUSH_AT_SHUTDOWN_ONLY,
    Collector,
    app_environment,
    free_port,
    poll,
    request_counts,
    served,
    server_argv,
    spans_by_prediction_id,
)

REQUESTS = 20


@pytest.mark.parametrize(("server", "mode"), [("uvicorn", "one-line"), ("uvicorn", "launcher")])
def test_sigterm_flushes_the_last_spans_and_metrics(
    server: str, mode: str, collector_binary: Path, sink: GrpcReceiver, tmp_path: Path
) -> None:
    collector = Collector(collector_binary, free_port(), sink.endpoint, tmp_path)
    collector.start()
    port = free_port()
    environ = app_environment(
        mode,
        f"shutdown-{server}-{mode}",
        f"http://127.0.0.1:{collector.port}",
        **FLUSH_AT_SHUTDOWN_ONLY,
    )
    rows = load_breast_cancer().data[:REQUESTS].tolist()
    log = tmp_path / "server.log"
    try:
        with served(server_argv(server, mode, port), environ, port, log) as process:
            ids = []
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                for row in rows:
                    response = client.post("/predict", json={"rows": [row]})
                    assert response.status_code == 200
                    ids.append(response.headers["x-prediction-id"])
            time.sleep(0.5)
            assert not set(ids) & set(spans_by_prediction_id(sink)), "exported before shutdown"
            os.kill(process.pid, signal.SIGTERM)  # to the server (the master), as an orchestrator
            # uvicorn re-raises the signal once shut down: exit by SIGTERM, no atexit handlers.
            assert process.wait(timeout=30) in (0, -signal.SIGTERM), log.read_text()
        arrived = poll(
            lambda: spans_by_prediction_id(sink),
            lambda found: set(ids) <= set(found),
            f"the server spans of the last {REQUESTS} requests",
            timeout_s=15,
        )
        assert len({arrived[i]["service.instance.id"] for i in ids}) == 1
        counts = poll(
            lambda: request_counts(sink),
            lambda found: sum(found.values()) == REQUESTS,
            f"http.server.request.duration counting {REQUESTS} requests",
            timeout_s=15,
        )
        print(f"\n{server} ({mode}): {REQUESTS} spans and request counts {counts} after SIGTERM")
        assert "Traceback" not in log.read_text(), log.read_text()
    finally:
        collector.stop()


def test_sigterm_with_no_collector_skips_the_flush_instead_of_retrying(tmp_path: Path) -> None:
    """Nothing listens at the OTLP endpoint (a first run without a collector):
    the lifespan flush finds the endpoint refusing connections and drops what
    is left, counted and logged once per signal, instead of holding the
    server's exit through the exporter's retries (17 s for the README's app
    before)."""
    closed = free_port()  # bound and released: nothing listens there
    port = free_port()
    environ = app_environment(
        "one-line", "shutdown-no-collector", f"http://127.0.0.1:{closed}", **FLUSH_AT_SHUTDOWN_ONLY
    )
    environ["OTEL_ML_STRICT"] = "0"  # the logged warnings are what this test reads
    log = tmp_path / "server.log"
    with served(server_argv("uvicorn", "one-line", port), environ, port, log) as process:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            row = load_breast_cancer().data[0].tolist()
            assert client.post("/predict", json={"rows": [row]}).status_code == 200
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=60) in (0, -signal.SIGTERM), log.read_text()
    output = log.read_text()
    assert "Transient error" not in output and "retrying" not in output, output
    for signal_name in ("traces", "metrics"):
        said = f"exporting {signal_name} to http://127.0.0.1:{closed} failed"
        assert output.count(said) == 1, output
    assert "Traceback" not in output, output
