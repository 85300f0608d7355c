"""The metric reader that exports otel_ml's in-process histogram cells.

:class:`CellsMetricReader` is the SDK's periodic exporting reader with one
addition: every collection also takes the cells of its :class:`Hub`
(``otel_ml._internal.cells``) and adds them to the exported ``MetricsData`` as
ordinary histogram points, in the ``ScopeMetrics`` of their instrumentation
scope, on the provider's ``Resource``, with the temporality the exporter
prefers. The points are built the way the SDK builds them (its explicit-bucket
aggregation and aligned-histogram exemplar reservoir), so whoever receives
them cannot tell the two paths apart; the tests compare them point by point.

:func:`cells_meter_provider` builds a ``MeterProvider`` whose readers all
export cells and :func:`attach`-es the hub: only then do otel_ml's hot-path
histograms record into cells (``create_histogram``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.metrics import MeterProvider as MeterProviderApi
from opentelemetry.sdk.metrics import Exemplar as SdkExemplar
from opentelemetry.sdk.metrics import Histogram as HistogramInstrument
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricExporter,
    MetricsData,
    PeriodicExportingMetricReader,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.metrics.view import DefaultAggregation, ExplicitBucketHistogramAggregation
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from otel_ml._internal import guard
from otel_ml._internal.cells import Cell, CellHistogram, Epoch, Exemplar, Hub, attach, hub_of
from otel_ml.version import __version__

__all__ = ["CellsMetricReader", "cells_in_use", "cells_meter_provider"]

COMPONENT = "cells.export"


@dataclass
class _Totals:
    """One cell's points for one reader: counts since the start (cumulative)
    or since the last export (delta), and the exemplars since the last export."""

    start_ns: int
    counts: list[int]
    sum: float
    min: float
    max: float
    exemplars: list[Exemplar | None] = field(default_factory=list)

    def merge(self, epoch: Epoch) -> None:
        # The SDK's order of operations, so cumulative sums come out bit for bit the same.
        counts, total, low, high, exemplars = epoch
        self.counts = [a + b for a, b in zip(counts, self.counts, strict=True)]
        self.sum = total + self.sum
        self.min = min(low, self.min)
        self.max = max(high, self.max)
        self.exemplars = [new or old for new, old in zip(exemplars, self.exemplars, strict=True)]


class CellsMetricReader(PeriodicExportingMetricReader):
    """A ``PeriodicExportingMetricReader`` that also exports ``hub``'s cells.

    ``resource`` is the provider's (points of cells alone, with nothing from
    the SDK to export, need it). Build it through :func:`cells_meter_provider`.
    """

    def __init__(self, exporter: MetricExporter, hub: Hub, resource: Resource,
                 export_interval_millis: float | None = None) -> None:  # fmt: skip
        super().__init__(exporter, export_interval_millis=export_interval_millis)
        preferred = getattr(exporter, "_preferred_temporality", None) or {}
        self._delta = preferred.get(HistogramInstrument) is AggregationTemporality.DELTA
        self._hub = hub
        self._resource = resource
        self._totals: dict[tuple[int, int], tuple[CellHistogram, Cell, _Totals]] = {}
        self._last_ns: int | None = None
        self._state_lock = threading.Lock()
        self._collect_lock = threading.Lock()
        self._delivered = False
        hub.add_consumer(self)

    def merge(self, histogram: CellHistogram, cell: Cell, epoch: Epoch) -> None:
        """Add a cell's epoch to this reader's totals (called by the hub)."""
        with self._state_lock:
            key = (id(histogram), id(cell))
            found = self._totals.get(key)
            if found is None:
                start = self._last_ns if self._delta and self._last_ns else cell.created_ns
                counts, total, low, high, exemplars = epoch
                totals = _Totals(start, list(counts), total, low, high, list(exemplars))
                self._totals[key] = (histogram, cell, totals)
            else:
                found[2].merge(epoch)

    def reset(self) -> None:
        """Forget every total (a forked child exports only its own counts)."""
        self._state_lock = threading.Lock()
        self._collect_lock = threading.Lock()
        self._totals = {}
        self._last_ns = None

    # MetricReader.collect is typed final. This runs the SDK's collect unchanged
    # and adds one case: with nothing of the SDK's to export, the SDK skips the
    # export, which would leave the cells unexported.
    def collect(self, timeout_millis: float = 10_000) -> None:  # type: ignore[misc]
        """Collect the SDK's metrics and the cells; export them together."""
        with self._collect_lock:
            self._delivered = False
            super().collect(timeout_millis=timeout_millis)
            if not self._delivered:  # the SDK had nothing to export: the cells alone
                merged = self._with_cells(None)
                if merged is not None:
                    super()._receive_metrics(merged, timeout_millis=timeout_millis)

    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        self._delivered = True
        merged = self._with_cells(metrics_data) or metrics_data
        super()._receive_metrics(merged, timeout_millis=timeout_millis, **kwargs)

    def _with_cells(self, metrics_data: MetricsData | None) -> MetricsData | None:
        """``metrics_data`` with the cells' points added (``None``: nothing to add)."""
        try:
            self._hub.collect()
            scopes = self._scope_metrics(time.time_ns())
            if not scopes:
                return None
            return _merged(metrics_data, scopes, self._resource)
        except Exception as exc:
            guard.report(COMPONENT, exc, self._hub.errors)
            return None

    def _scope_metrics(self, now_ns: int) -> list[ScopeMetrics]:
        temporality = (
            AggregationTemporality.DELTA if self._delta else AggregationTemporality.CUMULATIVE
        )
        grouped: dict[int, tuple[CellHistogram, list[HistogramDataPoint]]] = {}
        with self._state_lock:
            for key, (histogram, cell, totals) in list(self._totals.items()):
                point = _point(cell, totals, histogram.boundaries, now_ns)
                grouped.setdefault(id(histogram), (histogram, []))[1].append(point)
                totals.exemplars = [None] * len(totals.counts)
                if self._delta:
                    del self._totals[key]
            self._last_ns = now_ns
        by_scope: dict[tuple[str, str | None, str | None], list[Metric]] = {}
        for histogram, points in grouped.values():
            data = Histogram(data_points=points, aggregation_temporality=temporality)
            metric = Metric(histogram.name, histogram.description, histogram.unit, data)
            by_scope.setdefault(histogram.scope, []).append(metric)
        return [
            ScopeMetrics(InstrumentationScope(*scope), metrics, scope[2] or "")
            for scope, metrics in by_scope.items()
        ]


def _point(
    cell: Cell, totals: _Totals, boundaries: Sequence[float], now_ns: int
) -> HistogramDataPoint:
    attributes = cell.attributes
    exemplars = [
        SdkExemplar(_filtered(measured, attributes), value, time_ns, span_id, trace_id)
        for value, time_ns, span_id, trace_id, measured in filter(None, totals.exemplars)
    ]
    return HistogramDataPoint(
        attributes=attributes,
        start_time_unix_nano=totals.start_ns,
        time_unix_nano=now_ns,
        count=sum(totals.counts),
        sum=totals.sum,
        bucket_counts=tuple(totals.counts),
        explicit_bounds=tuple(boundaries),
        min=totals.min,
        max=totals.max,
        exemplars=exemplars,
    )


def _filtered(
    measured: Mapping[str, Any] | None, attributes: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The exemplar's attributes that its point lacks (as the SDK's reservoir filters them)."""
    return {k: v for k, v in measured.items() if k not in attributes} if measured else None


def _merged(
    metrics_data: MetricsData | None, scopes: list[ScopeMetrics], resource: Resource
) -> MetricsData:
    if metrics_data is None or not metrics_data.resource_metrics:
        return MetricsData([ResourceMetrics(resource, scopes, resource.schema_url)])
    first, *others = metrics_data.resource_metrics
    existing = list(first.scope_metrics)
    for extra in scopes:
        index = next((i for i, s in enumerate(existing) if s.scope == extra.scope), None)
        if index is None:
            existing.append(extra)
        else:
            same = existing[index]
            existing[index] = ScopeMetrics(
                same.scope, [*same.metrics, *extra.metrics], same.schema_url
            )
    resource_metrics = ResourceMetrics(first.resource, existing, first.schema_url)
    return MetricsData([resource_metrics, *others])


def _takes_cells(exporter: MetricExporter) -> bool:
    """Whether ``exporter`` takes explicit-bucket histograms, the only kind cells
    make (an exporter preferring exponential histograms keeps the SDK path)."""
    preferred = getattr(exporter, "_preferred_aggregation", None) or {}
    aggregation = preferred.get(HistogramInstrument)
    if aggregation is None or isinstance(aggregation, DefaultAggregation):
        return True
    return isinstance(aggregation, ExplicitBucketHistogramAggregation) and (
        getattr(aggregation, "_boundaries", None) is None
    )


def cells_in_use(meter_provider: MeterProviderApi | None = None) -> bool:
    """Whether otel_ml's hot-path histograms on ``meter_provider`` (``None``: the
    global one) are recorded into cells; ``False``: through the SDK instruments."""
    return hub_of(meter_provider) is not None


def cells_meter_provider(
    exporters: Sequence[MetricExporter],
    *,
    resource: Resource | None = None,
    export_interval_millis: float = 60_000,
    exemplar_filter: str = "trace_based",
) -> MeterProvider:
    """A ``MeterProvider`` with one :class:`CellsMetricReader` per exporter, so
    otel_ml's hot-path histograms on it record into cells.

    ``export_interval_millis`` may be ``math.inf`` (export on ``force_flush``
    only). ``exemplar_filter`` is ``OTEL_METRICS_EXEMPLAR_FILTER``'s value.
    """
    resource = resource or Resource.create()
    hub = Hub(exemplar_filter)
    readers = [
        CellsMetricReader(exporter, hub, resource, export_interval_millis) for exporter in exporters
    ]
    provider = MeterProvider(resource=resource, metric_readers=readers)
    # The meter of otel_ml's inference bundle: one otel_ml.internal.errors series.
    hub.errors = guard.internal_errors_counter(provider.get_meter("otel_ml", __version__))
    attach(provider, hub)
    return provider
