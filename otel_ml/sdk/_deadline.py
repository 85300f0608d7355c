"""Telemetry flushes at shutdown that end by a deadline, whatever the collector does.

The SDK's span flush ignores its timeout (it exports in the caller's thread)
and an OTLP export to a collector that accepts connections and never answers,
or answers 503, retries until ``OTEL_EXPORTER_OTLP_TIMEOUT``: a server told to
stop waited 13 to 24 s. Here the flush runs in a daemon thread the caller waits
on until the deadline (``OTEL_ML_SHUTDOWN_TIMEOUT``), then leaves; what was
still being exported is counted and logged once.

An exporter given up at the deadline is closed (later exports fail at once),
so a server whose lifespan flush gave up (gunicorn's workers then also run
``configure()``'s exit handler) does not wait a second time.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence

from otel_ml.sdk._export_watch import WatchedExporter

__all__ = ["finish_within", "run_by_deadline"]

_logger = logging.getLogger("otel_ml")
_lock = threading.Lock()
_reported = False


def run_by_deadline(
    work: Callable[[], object], timeout_s: float, watched: Sequence[WatchedExporter] = ()
) -> bool:
    """Run ``work`` (a flush or shutdown) for at most ``timeout_s``; ``True`` when it
    finished. If it did not, what ``watched`` exporters were still sending is counted
    and logged (once per process), those exporters are closed and ``work`` is left to
    its daemon thread. ``work``'s own exception is re-raised."""
    finished = finish_within(work, timeout_s)
    if not finished:
        _report_unsent(timeout_s, watched)
    return finished


def finish_within(work: Callable[[], object], seconds: float) -> bool:
    """Run ``work`` in a daemon thread and wait at most ``seconds`` for it: ``True``
    when it finished (its exception re-raised here), ``False`` when it still runs."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="otel-ml-flush", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
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
    global _lock, _reported
    _lock = threading.Lock()
    _reported = False


os.register_at_fork(after_in_child=_reset_after_fork)
