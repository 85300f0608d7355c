"""Build SDK providers from resolved settings, without touching the globals."""

from __future__ import annotations

import uuid
from importlib.metadata import entry_points

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

from otel_ml.config import SettingsError
from otel_ml.sdk._handle import TelemetryHandle
from otel_ml.sdk._settings import (
    SAMPLER_ENTRY_POINT_GROUP,
    SamplerSettings,
    SdkSettings,
    SignalSettings,
)

__all__ = ["build_providers", "build_resource", "build_sampler"]


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
    if settings.traces is not None:
        sdk_tracer_provider = TracerProvider(
            resource=resource, sampler=build_sampler(settings.sampler)
        )
        sdk_tracer_provider.add_span_processor(BatchSpanProcessor(_span_exporter(settings.traces)))
        created.append(sdk_tracer_provider)
        tracer_provider = sdk_tracer_provider
    if settings.metrics is not None:
        reader = PeriodicExportingMetricReader(
            _metric_exporter(settings.metrics),
            export_interval_millis=settings.export_interval_ms,
        )
        # No exemplar_filter argument: the SDK default (trace_based, or
        # OTEL_METRICS_EXEMPLAR_FILTER) links histogram points to sampled spans.
        sdk_meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
        created.append(sdk_meter_provider)
        meter_provider = sdk_meter_provider
    return TelemetryHandle(tracer_provider, meter_provider, created)


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


def _span_exporter(signal: SignalSettings) -> SpanExporter:
    headers = dict(signal.headers)
    if signal.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcSpanExporter,
        )

        return GrpcSpanExporter(endpoint=signal.endpoint, insecure=signal.insecure, headers=headers)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpSpanExporter,
    )

    return HttpSpanExporter(endpoint=signal.endpoint, headers=headers)


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
