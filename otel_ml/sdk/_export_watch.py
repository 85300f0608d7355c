"""Failed exports made visible: counted per signal and logged once per outage.

The OTLP exporters log every failed attempt at ERROR and return ``FAILURE``;
the batch that failed is gone (the span processor does not retry it). The
wrappers here count each failed export in ``otel_ml.export.failures{signal}``
and log one WARNING when a signal starts failing and one INFO when it recovers,
so an outage is visible in metrics and readable in the logs without a line
per batch.

At shutdown, an exporter whose endpoint accepts no connection is closed
before the final flush (:meth:`WatchedExporter.close_if_unreachable`): the
OTLP exporters would otherwise retry for up to ``OTEL_EXPORTER_OTLP_TIMEOUT``
(10 s) per signal, and a process with no collector would take that long to exit.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import metrics
from opentelemetry.metrics import Counter
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_ml import semconv

__all__ = ["ExportWatch", "WatchedExporter", "WatchedMetricExporter", "WatchedSpanExporter"]

_logger = logging.getLogger("otel_ml")
_PROBE_TIMEOUT_S = 1.0
_DEFAULT_PORTS = {"http": 80, "https": 443}
# With a proxy in the way, a refused direct connection says nothing about the endpoint.
_PROXY_VARIABLES = ("grpc_proxy", "https_proxy", "http_proxy", "HTTPS_PROXY", "HTTP_PROXY")


class ExportWatch:
    """The failure state of one signal's exporter: a counter and an outage flag."""

    def __init__(self, signal: str, endpoint: str) -> None:
        self.signal = signal
        self.endpoint = endpoint
        self._lock = threading.Lock()
        self._failed_in_a_row = 0
        self._counter: Counter | None = None

    def bind(self, meter_provider: metrics.MeterProvider) -> None:
        """Count failures on ``meter_provider`` from now on (before that, only log)."""
        self._counter = meter_provider.get_meter("otel_ml").create_counter(
            semconv.OTEL_ML_EXPORT_FAILURES,
            unit="{export}",
            description="Exports of a signal that failed (the batch was dropped).",
        )

    def record(self, ok: bool, items: int) -> None:
        """Note the result of one export of ``items`` spans or metric points."""
        with self._lock:
            failed_before = self._failed_in_a_row
            self._failed_in_a_row = 0 if ok else failed_before + 1
        if ok:
            if failed_before:
                _logger.info(
                    "otel_ml: exporting %s to %s works again after %d failed exports",
                    self.signal,
                    self.endpoint,
                    failed_before,
                )
            return
        if self._counter is not None:
            self._counter.add(1, {semconv.EXPORT_SIGNAL: self.signal})
        if not failed_before:
            _logger.warning(
                "otel_ml: exporting %s to %s failed; %d items dropped. Until an export "
                "succeeds again, failures are counted in %s{%s=%r}, not logged by otel_ml",
                self.signal,
                self.endpoint,
                items,
                semconv.OTEL_ML_EXPORT_FAILURES,
                semconv.EXPORT_SIGNAL,
                self.signal,
            )

    def count_abandoned(self) -> None:
        """An export given up at the shutdown deadline: counted, logged by the caller."""
        with self._lock:
            self._failed_in_a_row = max(self._failed_in_a_row, 1)
        if self._counter is not None:
            self._counter.add(1, {semconv.EXPORT_SIGNAL: self.signal})

    def mark_failing(self) -> None:
        """Count what follows as failures without logging it (already said)."""
        with self._lock:
            self._failed_in_a_row = max(self._failed_in_a_row, 1)

    @property
    def failing(self) -> bool:
        """Whether the last export failed."""
        with self._lock:
            return self._failed_in_a_row > 0


class WatchedExporter:
    """What both watched exporters share: the wrapped exporter, its watch, and
    closing the wrapped exporter once (at shutdown, or early when unreachable)."""

    def __init__(self, exporter: SpanExporter | MetricExporter, watch: ExportWatch) -> None:
        self.exporter = exporter
        self.watch = watch
        self._closed = False
        self._close_lock = threading.Lock()
        self._skipping = False
        self._in_flight = 0  # items of the export running now

    def abandon(self) -> int:
        """At the shutdown deadline: the items of the export still running (0: none),
        counted as a failed export; later exports fail at once."""
        items, self._closed = self._in_flight, True
        if items:
            self.watch.count_abandoned()
        return items

    @contextmanager
    def skipped_if_unreachable(self) -> Iterator[None]:
        """Within the block, when nothing accepts a connection at the endpoint,
        exports fail at once (counted) instead of retrying: for a flush the
        caller waits on, such as the app's shutdown."""
        self._skipping = not accepts_connections(self.watch.endpoint)
        try:
            yield
        finally:
            self._skipping = False

    def close_if_unreachable(self) -> None:
        """Before the final flush: when nothing accepts a connection at the
        endpoint, close the exporter now (what is left is dropped and counted)
        instead of letting the final export retry until its timeout."""
        if accepts_connections(self.watch.endpoint):
            return
        _logger.warning(
            "otel_ml: nothing accepts connections at %s; the %s not exported yet are "
            "dropped at shutdown instead of retried",
            self.watch.endpoint,
            self.watch.signal,
        )
        self.watch.mark_failing()
        self._close()

    def _close(self, **kwargs: Any) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self.exporter.shutdown(**kwargs)


class WatchedSpanExporter(WatchedExporter, SpanExporter):
    """A span exporter whose failures go to an :class:`ExportWatch`."""

    exporter: SpanExporter

    def __init__(self, exporter: SpanExporter, watch: ExportWatch) -> None:
        WatchedExporter.__init__(self, exporter, watch)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = SpanExportResult.FAILURE
        try:
            if not (self._closed or self._skipping):
                self._in_flight = len(spans)
                result = self.exporter.export(spans)
        finally:
            self._in_flight = 0
            self.watch.record(result is SpanExportResult.SUCCESS, len(spans))
        return result

    def shutdown(self) -> None:
        self._close()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.exporter.force_flush(timeout_millis)


class WatchedMetricExporter(WatchedExporter, MetricExporter):
    """A metric exporter whose failures go to an :class:`ExportWatch`.

    Metric points are cumulative by default, so a later successful export
    carries the totals that a failed one dropped.
    """

    exporter: MetricExporter

    def __init__(self, exporter: MetricExporter, watch: ExportWatch) -> None:
        MetricExporter.__init__(
            self,
            preferred_temporality=exporter._preferred_temporality,
            preferred_aggregation=exporter._preferred_aggregation,
        )
        WatchedExporter.__init__(self, exporter, watch)

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        result = MetricExportResult.FAILURE
        points = _points(metrics_data)
        try:
            if not (self._closed or self._skipping):
                self._in_flight = points
                result = self.exporter.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        finally:
            self._in_flight = 0
            self.watch.record(result is MetricExportResult.SUCCESS, points)
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self.exporter.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._close(timeout_millis=timeout_millis, **kwargs)


def accepts_connections(endpoint: str) -> bool:
    """Whether a TCP connection to the endpoint's host and port succeeds within
    a second; ``True`` when that cannot be told (a Unix socket, a proxy set)."""
    parts = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}")
    if parts.scheme == "unix" or any(os.environ.get(name) for name in _PROXY_VARIABLES):
        return True
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 4317)
        with socket.create_connection((parts.hostname or "localhost", port), _PROBE_TIMEOUT_S):
            return True
    except (OSError, ValueError):
        return False


def _points(metrics_data: MetricsData) -> int:
    return sum(
        len(metric.data.data_points)
        for resource in metrics_data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    )
