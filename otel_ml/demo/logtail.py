"""Log records of otel_ml and uvicorn kept for the live view instead of written over it."""

from __future__ import annotations

import logging
import threading
from collections import deque

WATCHED = ("otel_ml", "uvicorn")


class LogTail(logging.Handler):
    """Keeps the last records of the watched loggers while installed."""

    def __init__(self, keep: int = 20) -> None:
        super().__init__(logging.INFO)
        self.records: deque[str] = deque(maxlen=keep)
        self.total = 0
        self._taken = 0
        self._tail_lock = threading.Lock()
        self._saved: list[tuple[logging.Logger, list[logging.Handler], bool]] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record's one-line text."""
        text = " ".join(record.getMessage().split())
        with self._tail_lock:
            self.records.append(f"{record.levelname.lower()} {record.name}: {text}")
            self.total += 1

    def new(self) -> list[str]:
        """Records since the last call (at most the kept ones)."""
        with self._tail_lock:
            fresh = min(self.total - self._taken, len(self.records))
            self._taken = self.total
            return list(self.records)[len(self.records) - fresh :]

    def install(self) -> None:
        """Route the watched loggers here only (their handlers are set aside)."""
        for name in WATCHED:
            logger = logging.getLogger(name)
            self._saved.append((logger, list(logger.handlers), logger.propagate))
            logger.handlers = [self]
            logger.propagate = False

    def uninstall(self) -> None:
        """Give the watched loggers back as they were."""
        for logger, handlers, propagate in self._saved:
            logger.handlers = handlers
            logger.propagate = propagate
        self._saved.clear()
