"""The cells path under ``opentelemetry-instrument``: ``OTEL_METRICS_EXPORTER=otel_ml``.

The launcher's configurator builds one reader per name in
``OTEL_METRICS_EXPORTER``, taking a class from the ``opentelemetry_metrics_exporter``
entry points; a class that is a ``MetricReader`` is used as the reader itself
(that is how pull exporters plug in). :class:`OtlpCellsMetricReader` is such a
class: the OTLP metric exporter the launcher's ``otlp`` would build (gRPC, or
OTLP/HTTP when ``OTEL_EXPORTER_OTLP[_METRICS]_PROTOCOL=http/protobuf``; every
other OTLP variable read by the exporter itself) behind otel_ml's
:class:`CellsMetricReader`.

The configurator builds the readers before the ``MeterProvider`` they serve,
so the reader cannot attach its cells to that provider when it is made.
:func:`_find_hub`, which ``hub_of`` consults for a provider it does not know,
attaches them the first time an instrument is created on it: when every reader
of the provider is an :class:`OtlpCellsMetricReader` of one hub
(``OTEL_METRICS_EXPORTER=otel_ml,console`` keeps the SDK instruments, as the
console reader would not see the cells).
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry.metrics import MeterProvider as MeterProviderApi
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter
from opentelemetry.sdk.resources import Resource

from otel_ml._internal import cells, guard
from otel_ml._internal.cells import EXEMPLAR_FILTERS, Hub, exemplar_filter_from
from otel_ml.sdk._cells import CellsMetricReader, _takes_cells
from otel_ml.sdk._settings import _protocol
from otel_ml.version import __version__

__all__ = ["OtlpCellsMetricReader"]


class OtlpCellsMetricReader(CellsMetricReader):
    """``OTEL_METRICS_EXPORTER=otel_ml``: the launcher's OTLP metric export with
    otel_ml's hot-path histograms aggregated in-process (see the module)."""

    def __init__(self) -> None:
        exporter = _otlp_exporter()
        exemplar_filter = exemplar_filter_from()
        # An unknown filter or an exponential-histogram preference: the reader
        # exports what the SDK collected, and otel_ml records through the SDK.
        self.carries_cells = exemplar_filter in EXEMPLAR_FILTERS and _takes_cells(exporter)
        hub = Hub(exemplar_filter if exemplar_filter in EXEMPLAR_FILTERS else "trace_based")
        # The configurator's resource is the provider's; this one (the same
        # OTEL_* variables) only names points of cells exported on their own.
        super().__init__(exporter, hub, Resource.create())

    @property
    def hub(self) -> Hub:
        """The hub whose cells this reader exports."""
        return self._hub


def _otlp_exporter() -> MetricExporter:
    """The exporter the launcher's ``otlp`` name builds, from the same variables."""
    if _protocol(os.environ, None, "METRICS") == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
            OTLPMetricExporter as HttpMetricExporter,
        )

        return HttpMetricExporter()
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter()


def _find_hub(provider: MeterProviderApi) -> Hub | None:
    """The hub of ``provider`` when all its readers are otel_ml's launcher readers."""
    if not isinstance(provider, MeterProvider):
        return None
    # The provider keeps its readers privately; without them, the SDK instruments.
    readers: Any = getattr(provider, "_metric_readers", None)
    if not readers or not all(
        isinstance(r, OtlpCellsMetricReader) and r.carries_cells for r in readers
    ):
        return None
    hubs = {id(reader.hub): reader.hub for reader in readers}
    if len(hubs) != 1:
        return None
    hub: Hub = next(iter(hubs.values()))
    hub.errors = guard.internal_errors_counter(provider.get_meter("otel_ml", __version__))
    return hub


cells.add_finder(_find_hub)
