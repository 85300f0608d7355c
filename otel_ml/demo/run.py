"""``otel-ml demo``: train, serve, drive three phases of traffic, show the telemetry live.

Everything runs in this process on 127.0.0.1: the instrumented FastAPI app and
the stand-in LLM in uvicorn threads, the traffic in client threads. The main
thread collects the in-memory metrics once a second, evaluates the alerts and
redraws the view. Ctrl-C (SIGINT) or SIGTERM sets the stop event: every thread
ends its loop, the servers stop, the telemetry is flushed; a second one aborts.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TextIO

from otel_ml.demo.options import DemoOptions

EXIT_INTERRUPTED = 130
# The demo's drift and feedback windows: small enough for a one-minute run.
# Set these variables yourself to override them.
DEMO_ENVIRONMENT = {
    "OTEL_ML_DRIFT_WINDOW_ROWS": "500",
    "OTEL_ML_DRIFT_WINDOW_SECONDS": "10",
    "OTEL_ML_FEEDBACK_WINDOW": "200",
}
_REQUIRED = ("fastapi", "uvicorn", "sklearn", "openai", "httpx")


def missing_requirements() -> list[str]:
    """The demo's libraries that are not installed."""
    import importlib.util

    return [name for name in _REQUIRED if importlib.util.find_spec(name) is None]


@contextmanager
def signals_stop(stop: threading.Event) -> Iterator[None]:
    """The first Ctrl-C (SIGINT) or SIGTERM (``docker stop``) sets ``stop``; a
    second one raises KeyboardInterrupt. Call it from the main thread."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, action in previous.items():
            signal.signal(signum, action)


def run_demo(options: DemoOptions, out: TextIO = sys.stdout) -> int:
    """Run the demo; returns the exit code (130 when Ctrl-C cut the traffic short)."""
    missing = missing_requirements()
    if missing:
        needed = ", ".join(missing)
        print(f"otel-ml demo needs {needed}: pip install 'otel-ml[demo]'", file=sys.stderr)
        return 1
    for name, value in DEMO_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    stop = threading.Event()
    with signals_stop(stop):
        from otel_ml.demo.session import DemoSession

        session = DemoSession(options, out, stop)
        try:
            completed = session.run()
        finally:
            session.close()
    return 0 if completed else EXIT_INTERRUPTED
