"""Repeated telemetry-side log lines: logged once, then counted.

The OTLP encoder logs an ERROR with a traceback for every attribute it
cannot encode (a string with a lone surrogate that some code put on a span):
one request with 1000 such labels wrote a megabyte of log. otel_ml's own
failures already go through the guard (logged once per component); this
filter does the same for the SDK's loggers it is put on: the first record of
each message passes, later ones are dropped and counted in
``otel_ml.internal.errors{component}``.
"""

from __future__ import annotations

import logging
import threading

from otel_ml._internal import guard

__all__ = ["ENCODER_LOGGER", "FirstSeen", "OncePerMessage", "limit_repeated_logs"]

ENCODER_LOGGER = "opentelemetry.exporter.otlp.proto.common._internal"
"""Where the OTLP encoder logs each attribute it drops."""
_COMPONENTS = {ENCODER_LOGGER: "otlp.encode"}


class OncePerMessage(logging.Filter):
    """Passes the first record of each message (its format string); drops and
    counts the rest under ``component``."""

    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        key = str(record.msg)
        with self._lock:
            if key not in self._seen:
                self._seen.add(key)
                return True
            self.dropped += 1
        guard.count(self.component)
        return False


def limit_repeated_logs() -> None:
    """Put a :class:`OncePerMessage` on each SDK logger that repeats per item; idempotent."""
    for name, component in _COMPONENTS.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, OncePerMessage) for f in logger.filters):
            logger.addFilter(OncePerMessage(component))


class FirstSeen:
    """Keys met so far, up to ``limit``: true the first time a key is offered (then
    the caller logs it); thread-safe, and bounded against keys without end."""

    def __init__(self, limit: int = 4096) -> None:
        self._seen: set[object] = set()
        self._lock = threading.Lock()
        self._limit = limit

    def __call__(self, key: object) -> bool:
        if key in self._seen:
            return False
        with self._lock:
            if key in self._seen or len(self._seen) >= self._limit:
                return False
            self._seen.add(key)
            return True
