"""A loopback HTTP server in the place of PagerDuty and Slack: it records what
Alertmanager posts and answers as they do.

``make stack`` points the pager receiver at ``<ALERT_RECEIVER_URL>/pagerduty``
and the chat receiver at ``<ALERT_RECEIVER_URL>/slack`` (stack/configs.py);
the end-to-end tests run this server on that address while they need it.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.record(self.path, json.loads(body or b"null"))
        if self.path.startswith("/pagerduty"):
            # PagerDuty's Events API v2 answers 202 with a small JSON body.
            reply, status = b'{"status":"success","message":"Event processed"}', 202
        else:
            reply, status = b"ok", 200  # a Slack incoming webhook's answer
        self.send_response(status)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests show what was received when they fail."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.lock = threading.Lock()
        self.posts: list[tuple[str, Any]] = []

    def record(self, path: str, body: Any) -> None:
        with self.lock:
            self.posts.append((path, body))


class AlertReceiver:
    """Records every POST as ``(path, JSON body)``; use it as a context manager."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.hostname != "127.0.0.1" or parts.port is None:
            raise ValueError(f"{url}: the receiver binds 127.0.0.1 on an explicit port")
        self.url = url
        self._server = _Server(("127.0.0.1", parts.port))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> AlertReceiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def posts(self, path: str) -> list[Any]:
        """The JSON bodies posted to ``path`` so far, oldest first."""
        with self._server.lock:
            return [body for posted, body in self._server.posts if posted == path]
