"""Build SDK providers from resolved settings, without touching the globals."""

from __future__ import annotations

import logging
import uuid
from importlib.metadata import entry_points
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.semconv.attributes.service_attributes import SERVICE_INSTANCE_ID

from otel_ml._internal.cells import EXEMPLAR_FILTERS, exemplar_filter_from
from otel_ml.config import SettingsError
from otel_ml.sdk._cells import _takes_cells, cells_meter_provider
from otel_ml.sdk._export_watch import (
    ExportWatch,
    WatchedExporter,
    WatchedMetricExporter,
    WatchedSpanExporter,
)
from otel_ml.sdk._handle import TelemetryHandle
from otel_ml.sdk._settings import (
    EXPORTER_ENTRY_POINT_GROUPS,
    SAMPLER_ENTRY_POINT_GROUP,
    SamplerSettings,
    SdkSettings,
    SignalSettings,
)

__all__ = ["build_providers", "build_resource", "build_sampler"]

_logger = logging.getLogger("otel_ml")


def build_providers(settings: SdkSettings) -> TelemetryHandle:
    """New SDK providers with OTLP exporters for the enabled signals.

    Nothing global changes: the caller installs the providers or uses them
    explicitly. A disabled signal gets a no-op provider on the handle. The
    resource, with a fresh ``service.instance.id``, is built here.
    """
    resource = build_resource(settings)
    created: list[TracerProvider | MeterProvider] = []
    tracer_provider: trace.TracerProvider = trace.NoOpTracerProvider()
    meter_provider: metrics.MeterProvider = metrics.NoOpMeterProvider()
    watched: list[WatchedExporter] = []
    # The meter provider first: the span processor and exporter report to it
    # (the SDK's own metrics, with OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED=true);
    # without one of ours, they and the failure counters use the global one.
    own_meter_provider: MeterProvider | None = None
    if settings.metrics is not None:
        exporters = _metric_exporters(settings.metrics, watched)
        own_meter_provider = _meter_provider(exporters, resource, settings.export_interval_ms)
        meter_provider = own_meter_provider
    if settings.traces is not None:
        sdk_tracer_provider = TracerProvider(
            resource=resource, sampler=build_sampler(settings.sampler)
        )
        for exporter in _span_exporters(settings.traces, watched, own_meter_provider):
            sdk_tracer_provider.add_span_processor(
                BatchSpanProcessor(exporter, meter_provider=own_meter_provider)
            )
        created.append(sdk_tracer_provider)
        tracer_provider = sdk_tracer_provider
    if own_meter_provider is not None:
        created.append(own_meter_provider)
    for otlp in watched:
        otlp.watch.bind(own_meter_provider or metrics.get_meter_provider())
    return TelemetryHandle(tracer_provider, meter_provider, created, watched)


def _meter_provider(
    exporters: list[MetricExporter], resource: Resource, interval_ms: float
) -> MeterProvider:
    """Readers that export otel_ml's histogram cells when every exporter takes
    them, else the SDK's own readers (otel_ml then records through the SDK)."""
    exemplar_filter = exemplar_filter_from()
    if exemplar_filter in EXEMPLAR_FILTERS and all(map(_takes_cells, exporters)):
        _logger.info(
            "otel_ml: hot-path histograms are aggregated in-process and exported by "
            "otel_ml's metric reader (CellsMetricReader)"
        )
        return cells_meter_provider(
            exporters,
            resource=resource,
            export_interval_millis=interval_ms,
            exemplar_filter=exemplar_filter,
        )
    _logger.info(
        "otel_ml: hot-path histograms are recorded through the SDK instruments (an exporter "
        "prefers another histogram aggregation, or OTEL_METRICS_EXEMPLAR_FILTER is unknown)"
    )
    readers = [
        PeriodicExportingMetricReader(exporter, export_interval_millis=interval_ms)
        for exporter in exporters
    ]
    # No exemplar_filter argument: the SDK default (trace_based, or
    # OTEL_METRICS_EXEMPLAR_FILTER) links histogram points to sampled spans.
    return MeterProvider(resource=resource, metric_readers=readers)


def build_resource(settings: SdkSettings) -> Resource:
    """The resolved attributes over the SDK's detected resource.

    ``service.instance.id`` is a new random id on every call unless the
    settings carry one, so each process that builds providers is distinct.
    """
    attributes: dict[str, str] = {SERVICE_INSTANCE_ID: str(uuid.uuid4())}
    attributes.update(settings.resource_attributes)
    return Resource.create(attributes)


def build_sampler(settings: SamplerSettings) -> Sampler:
    """The sampler named by ``OTEL_TRACES_SAMPLER`` (validated by the settings)."""
    ratio = 1.0 if settings.ratio is None else settings.ratio
    builtin: dict[str, Sampler] = {
        "always_on": ALWAYS_ON,
        "always_off": ALWAYS_OFF,
        "parentbased_always_on": ParentBased(ALWAYS_ON),
        "parentbased_always_off": ParentBased(ALWAYS_OFF),
        "traceidratio": TraceIdRatioBased(ratio),
        "parentbased_traceidratio": ParentBased(TraceIdRatioBased(ratio)),
    }
    if settings.name in builtin:
        return builtin[settings.name]
    (entry_point,) = entry_points(group=SAMPLER_ENTRY_POINT_GROUP, name=settings.name)
    sampler = entry_point.load()(settings.arg or "")
    if not isinstance(sampler, Sampler):
        raise SettingsError(
            f"OTEL_TRACES_SAMPLER={settings.name!r}: the entry point returned "
            f"{type(sampler).__name__}, not a Sampler"
        )
    return sampler


def _span_exporters(
    signal: SignalSettings, watched: list[WatchedExporter], meter_provider: MeterProvider | None
) -> list[SpanExporter]:
    """One exporter per name in ``signal.exporters``; OTLP's failures are watched."""
    exporters: list[SpanExporter] = []
    for name in signal.exporters:
        if name == "otlp":
            otlp = WatchedSpanExporter(
                _span_exporter(signal, meter_provider), ExportWatch("traces", signal.endpoint)
            )
            watched.append(otlp)
            exporters.append(otlp)
        else:
            exporters.append(_installed_exporter("traces", name, SpanExporter))
    return exporters


def _metric_exporters(
    signal: SignalSettings, watched: list[WatchedExporter]
) -> list[MetricExporter]:
    """One exporter per name in ``signal.exporters``; OTLP's failures are watched."""
    exporters: list[MetricExporter] = []
    for name in signal.exporters:
        if name == "otlp":
            otlp = WatchedMetricExporter(
                _metric_exporter(signal), ExportWatch("metrics", signal.endpoint)
            )
            watched.append(otlp)
            exporters.append(otlp)
        else:
            exporters.append(_installed_exporter("metrics", name, MetricExporter))
    return exporters


def _installed_exporter(signal: str, name: str, kind: type) -> Any:
    """The exporter registered as ``name`` (e.g. ``console``), built with no
    arguments, as the SDK's own configurator does."""
    group = EXPORTER_ENTRY_POINT_GROUPS[signal]
    (entry_point,) = entry_points(group=group, name=name)
    exporter = entry_point.load()()
    if not isinstance(exporter, kind):
        raise SettingsError(
            f"OTEL_{signal.upper()}_EXPORTER={name!r}: the {group!r} entry point built "
            f"{type(exporter).__name__}, not a {kind.__name__}"
        )
    return exporter


def _span_exporter(
    signal: SignalSettings, meter_provider: metrics.MeterProvider | None
) -> SpanExporter:
    headers = dict(signal.headers)
    if signal.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcSpanExporter,
        )

        return GrpcSpanExporter(
            endpoint=signal.endpoint,
            insecure=signal.insecure,
            headers=headers,
            meter_provider=meter_provider,
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpSpanExporter,
    )

    return HttpSpanExporter(
        endpoint=signal.endpoint, headers=headers, meter_provider=meter_provider
    )


def _metric_exporter(signal: SignalSettings) -> MetricExporter:
    headers = dict(signal.headers)
    if signal.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcMetricExporter,
        )

        return GrpcMetricExporter(
            endpoint=signal.endpoint, insecure=signal.insecure, headers=headers
        )
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpMetricExporter,
    )

    return HttpMetricExporter(endpoint=signal.endpoint, headers=headers)
