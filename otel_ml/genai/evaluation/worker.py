"""A bounded queue and one daemon thread that works through it, off the request path.

``offer`` never blocks: a full queue refuses the job (the caller counts the
drop). The thread starts with the first job and again in a forked child
(threads do not survive ``fork``; the child starts with an empty queue).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from opentelemetry import context

_logger = logging.getLogger("otel_ml")
_STOP = object()


class Worker:
    """Runs ``handle(job)`` for each offered job in one daemon thread, in order."""

    def __init__(self, handle: Callable[[Any], None], max_jobs: int, name: str) -> None:
        self._handle = handle
        self._max = max_jobs
        self._name = name
        self._lock = threading.Lock()
        self._reset()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _reset_in_child(ref))

    def _reset(self) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(self._max)
        self._thread: threading.Thread | None = None

    def offer(self, job: Any) -> bool:
        """Queue ``job``; ``False`` (and nothing queued) when the queue is full."""
        if self._thread is None:
            self._start()
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            return False
        return True

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        # The worker's own calls (the judge's HTTP) are never traced as the app's.
        context.attach(context.set_value(context._SUPPRESS_INSTRUMENTATION_KEY, True))
        while True:
            job = self._queue.get()
            try:
                if job is _STOP:
                    return
                self._handle(job)
            except Exception:  # handle() counts its own failures; this is a last resort
                _logger.exception("otel_ml: the %s thread failed on one job", self._name)
            finally:
                self._queue.task_done()

    def pending(self) -> int:
        """Jobs queued or running."""
        return self._queue.unfinished_tasks

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until every queued job is done (at most ``timeout_s``); whether it is."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)
        return not self._queue.unfinished_tasks

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the thread after the jobs already queued (waits up to ``timeout_s``)."""
        thread = self._thread
        if thread is None:
            return
        deadline = time.monotonic() + timeout_s
        while thread.is_alive() and time.monotonic() < deadline:
            try:
                self._queue.put(_STOP, timeout=0.05)
                break
            except queue.Full:
                continue
        thread.join(max(0.0, deadline - time.monotonic()))
        self._thread = None


def _reset_in_child(ref: weakref.ref[Worker]) -> None:
    worker = ref()
    if worker is not None:
        worker._lock = threading.Lock()
        worker._reset()
