"""Helpers shared by the reliability tests: bounded hypothesis settings, a loopback
server that answers with whatever raw bytes a test chooses, RSS readings and
exported-telemetry readers."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from support import Telemetry

from otel_ml import semconv
from otel_ml.demo.server import serve

IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def fuzz_settings(max_examples: int) -> settings:
    """Hypothesis settings for the fuzz tests: bounded, no example database on disk,
    and under CI derandomized (a red build reproduces with the same examples) and
    without shrinking (hostile examples can take minutes to shrink)."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=IN_CI,
        phases=[p for p in Phase if not (IN_CI and p is Phase.shrink)],
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,  # one telemetry per test, counts are deltas
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


def internal_errors(telemetry: Telemetry) -> dict[str, int]:
    """``otel_ml.internal.errors`` per component, as exported to ``telemetry``."""
    return {
        attrs[semconv.COMPONENT]: int(point.value)
        for attrs, point in telemetry.points(semconv.OTEL_ML_INTERNAL_ERRORS)
    }


def rss_bytes() -> int:
    """Resident set size of this process (``VmRSS`` of ``/proc/self/status``)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


@dataclass
class RawResponse:
    """What :class:`RawServer` answers: status, content type and body, byte for byte."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"


class RawServer:
    """A real HTTP server on 127.0.0.1 that answers every POST with :attr:`response`.

    The body is sent as given (invalid JSON, non-UTF-8 bytes, broken SSE) and
    the connection is closed after it, so a stream ends where the bytes end.
    Requests are kept (path, headers, body) so tests can check what a client sent.
    """

    def __init__(self) -> None:
        self.response = RawResponse(b"{}")
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self._lock = threading.Lock()

    @contextmanager
    def running(self) -> Iterator[str]:
        """Serve until the block ends; yields the ``/v1`` base URL."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with server._lock:
                    server.requests.append((self.path, dict(self.headers.items()), body))
                    answer = server.response
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
        finally:
            httpd.shutdown()
            httpd.server_close()
            thread.join(timeout=5)
            assert not thread.is_alive(), "the raw server did not stop"


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free 127.0.0.1 port; yield its base URL; stop it."""
    with serve(app, lifespan="off", log_level="critical") as url:
        yield url
