"""Telemetry flushes at shutdown that end by a deadline, whatever the collector does.

The SDK's span flush ignores its timeout (it exports in the caller's thread)
and an OTLP export to a collector that accepts connections and never answers,
or answers 503, retries until ``OTEL_EXPORTER_OTLP_TIMEOUT``: a server told to
stop waited 13 to 24 s. Here the flush runs in a daemon thread the caller waits
on until the deadline (``OTEL_ML_SHUTDOWN_TIMEOUT``), then leaves; what was
still being exported is counted and logged once.

One clock per process: the app's lifespan flush starts it, ``configure()``'s
exit handler uses what is left of it, so a server that does both (gunicorn's
workers) still exits within one deadline.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence

from otel_ml.sdk._export_watch import WatchedExporter

__all__ = ["remaining_at_shutdown", "run_by_deadline"]

_logger = logging.getLogger("otel_ml")
_lock = threading.Lock()
_deadline: float | None = None
_reported = False


def remaining_at_shutdown(timeout_s: float) -> float:
    """Seconds left of the process's shutdown deadline, started now if it is not yet."""
    global _deadline
    with _lock:
        if _deadline is None:
            _deadline = time.monotonic() + timeout_s
        return max(0.0, _deadline - time.monotonic())


def run_by_deadline(
    work: Callable[[], object], timeout_s: float, watched: Sequence[WatchedExporter] = ()
) -> bool:
    """Run ``work`` (a flush or shutdown) for at most what is left of the deadline
    started with ``timeout_s``; ``True`` when it finished. If it did not, what
    ``watched`` exporters were still sending is counted and logged (once per process)
    and ``work`` is left to its daemon thread. ``work``'s own exception is re-raised."""
    budget = remaining_at_shutdown(timeout_s)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="otel-ml-shutdown-flush", daemon=True)
    thread.start()
    thread.join(budget)
    if thread.is_alive():
        _report_unsent(timeout_s, watched)
        return False
    if failure:
        raise failure[0]
    return True


def _report_unsent(timeout_s: float, watched: Sequence[WatchedExporter]) -> None:
    global _reported
    unsent = {exporter.watch.signal: exporter.abandon() for exporter in watched}
    with _lock:
        first, _reported = not _reported, True
    if not first:
        return
    detail = ", ".join(f"{signal} {items}" for signal, items in unsent.items() if items)
    _logger.warning(
        "otel_ml: the telemetry flush at shutdown did not finish within %.1f s "
        "(OTEL_ML_SHUTDOWN_TIMEOUT); the collector did not answer in time. Left unsent: %s",
        timeout_s,
        detail or "what the exporters were sending",
    )


def _reset_after_fork() -> None:
    global _lock, _deadline, _reported
    _lock = threading.Lock()
    _deadline, _reported = None, False


os.register_at_fork(after_in_child=_reset_after_fork)
