"""Failed exports made visible: counted per signal and logged once per outage.

The OTLP exporters log every failed attempt at ERROR and return ``FAILURE``;
the batch that failed is gone (the span processor does not retry it). The
wrappers here count each failed export in ``otel_ml.export.failures{signal}``
and log one WARNING when a signal starts failing and one INFO when it recovers,
so an outage is visible in metrics and readable in the logs without a line
per batch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import Counter
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_ml import semconv

__all__ = ["ExportWatch", "WatchedMetricExporter", "WatchedSpanExporter"]

_logger = logging.getLogger("otel_ml")


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

    @property
    def failing(self) -> bool:
        """Whether the last export failed."""
        with self._lock:
            return self._failed_in_a_row > 0


class WatchedSpanExporter(SpanExporter):
    """A span exporter whose failures go to an :class:`ExportWatch`."""

    def __init__(self, exporter: SpanExporter, watch: ExportWatch) -> None:
        self.exporter = exporter
        self.watch = watch

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = SpanExportResult.FAILURE
        try:
            result = self.exporter.export(spans)
        finally:
            self.watch.record(result is SpanExportResult.SUCCESS, len(spans))
        return result

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.exporter.force_flush(timeout_millis)


class WatchedMetricExporter(MetricExporter):
    """A metric exporter whose failures go to an :class:`ExportWatch`.

    Metric points are cumulative by default, so a later successful export
    carries the totals that a failed one dropped.
    """

    def __init__(self, exporter: MetricExporter, watch: ExportWatch) -> None:
        super().__init__(
            preferred_temporality=exporter._preferred_temporality,
            preferred_aggregation=exporter._preferred_aggregation,
        )
        self.exporter = exporter
        self.watch = watch

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        result = MetricExportResult.FAILURE
        try:
            result = self.exporter.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        finally:
            self.watch.record(result is MetricExportResult.SUCCESS, _points(metrics_data))
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self.exporter.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.exporter.shutdown(timeout_millis=timeout_millis, **kwargs)


def _points(metrics_data: MetricsData) -> int:
    return sum(
        len(metric.data.data_points)
        for resource in metrics_data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    )
