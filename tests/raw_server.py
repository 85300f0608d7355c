"""A real HTTP server on 127.0.0.1 that answers with whatever raw bytes a test chooses."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


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
