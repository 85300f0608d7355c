"""The background writer of the shared stores: predictions leave the request path here.

``push`` is the request path: one append to a bounded in-process buffer (a
full buffer drops the prediction and counts it). A daemon thread drains the
buffer every :data:`FLUSH_INTERVAL_S` (sooner when woken) and hands batches
of at most :data:`BATCH_MAX` to the backend's ``write``, one round trip
each. A failed write counts its predictions as lost and backs off
(exponentially, up to :data:`MAX_BACKOFF_S`) before the next attempt, so a
store that is down costs the server one failed attempt per back-off period.

Fork-safe: the thread starts on the first ``push`` in each process, and a
forked child (a pre-fork server's worker) starts with an empty buffer and
no thread, so each worker writes its own predictions. No OpenTelemetry here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from otel_ml._internal.registry import reset_after_fork

FLUSH_INTERVAL_S = 0.05
BATCH_MAX = 1000
BUFFER_LIMIT = 20_000
"""Predictions waiting for the writer at most; more are dropped and counted."""
MAX_BACKOFF_S = 2.0

_logger = logging.getLogger("otel_ml")


class Flusher:
    """A bounded buffer and the thread that writes it in batches through ``write``.

    ``on_result(ok, lost)`` is told the outcome of every write attempt and of
    every prediction dropped for a full buffer (``ok=False``).
    """

    def __init__(
        self,
        write: Callable[[list[Any]], None],
        on_result: Callable[[bool, int], None],
        maintain: Callable[[], None] | None = None,
        maintain_every_s: float = 10.0,
    ) -> None:
        self._write = write
        self._on_result = on_result
        self._maintain = maintain
        self._maintain_every_s = maintain_every_s
        self._reset()
        reset_after_fork(self, Flusher._reset)

    def _reset(self) -> None:
        # Also the after-fork hook: the parent's thread does not exist in the child.
        self._buffer: deque[Any] = deque()
        self._wake = threading.Event()
        self._write_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self._next_maintenance = 0.0

    def push(self, item: Any) -> None:
        """Buffer one item (request path: an append, no lock, no I/O)."""
        if self._thread is None:
            self._start()
        buffer = self._buffer
        if len(buffer) < BUFFER_LIMIT:
            buffer.append(item)
        else:
            self._on_result(False, 1)

    def pending(self) -> int:
        """Items waiting to be written."""
        return len(self._buffer)

    def wake(self) -> None:
        """Write now rather than at the next interval."""
        self._wake.set()

    def flush(self) -> None:
        """Write everything buffered, in this thread (tests, benchmarks, shutdown)."""
        while self._buffer:
            if not self._write_batch():
                return

    def close(self) -> None:
        """Stop the thread after a last flush."""
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self.flush()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None and not self._closed:
                thread = threading.Thread(target=self._run, name="otel-ml-feedback-store",
                                          daemon=True)  # fmt: skip
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        backoff = 0.0
        while not self._closed:
            self._wake.wait(backoff or FLUSH_INTERVAL_S)
            self._wake.clear()
            try:
                ok = True
                while self._buffer and ok:
                    ok = self._write_batch()
                if ok:
                    self._maybe_maintain()
                backoff = 0.0 if ok else min(MAX_BACKOFF_S, max(0.1, backoff * 2))
            except Exception:  # never let the writer die: it is the only one
                _logger.exception("otel_ml: the feedback store's writer failed")
                backoff = MAX_BACKOFF_S

    def _write_batch(self) -> bool:
        """One batch out of the buffer into the store; False when the write failed."""
        with self._write_lock:
            batch = []
            popleft = self._buffer.popleft
            try:
                for _ in range(BATCH_MAX):
                    batch.append(popleft())
            except IndexError:
                pass
            if not batch:
                return True
            try:
                self._write(batch)
            except Exception:
                self._on_result(False, len(batch))
                return False
        self._on_result(True, 0)
        return True

    def _maybe_maintain(self) -> None:
        now = time.monotonic()
        if self._maintain is None or now < self._next_maintenance:
            return
        self._next_maintenance = now + self._maintain_every_s
        try:
            self._maintain()
        except Exception:
            self._on_result(False, 0)
