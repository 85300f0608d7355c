"""Serve an ASGI app with uvicorn on a free loopback port, in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import uvicorn


@contextmanager
def serve(
    app: Any,
    startup_timeout_s: float = 10.0,
    *,
    lifespan: Literal["on", "off"] = "on",
    log_level: str = "warning",
) -> Iterator[str]:
    """Run ``app`` on ``127.0.0.1`` (a free port) and yield its base URL; stop it on exit."""
    # No log_config: uvicorn's records go to the loggers' handlers, which the demo sets.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level=log_level, log_config=None, lifespan=lifespan
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="otel-ml-demo-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the server did not start on 127.0.0.1")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=startup_timeout_s)
