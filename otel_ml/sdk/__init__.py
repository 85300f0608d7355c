"""Optional OpenTelemetry SDK set-up for applications not run by ``opentelemetry-instrument``.

``otel_ml.configure()`` builds a TracerProvider (batch span processor, OTLP
span exporter) and a MeterProvider (periodic reader, OTLP metric exporter) on
a resource naming the service, this process (``service.instance.id``) and,
optionally, the model; then installs them globally unless the application
already installed its own. The parts are usable separately:

- :func:`resolve_settings`: arguments + ``OTEL_*`` variables -> :class:`SdkSettings`
  (pure; the environment is a parameter);
- :func:`build_providers`: :class:`SdkSettings` -> new providers on a
  :class:`TelemetryHandle`, nothing global touched;
- :func:`configure`: both, then the global installation, once per process.

The arguments of :func:`configure` and :func:`resolve_settings` win over the
standard variables read from ``environ`` (default ``os.environ``):

- ``service_name``, ``service_version``, ``model_name``, ``model_version``
  and ``resource_attributes`` become resource attributes (``service.*``,
  ``ml.model.*``) over ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``.
  ``service.instance.id`` is a new random id unless given.
- ``protocol`` (``grpc`` or ``http/protobuf``) over
  ``OTEL_EXPORTER_OTLP_{TRACES,METRICS}_PROTOCOL`` over
  ``OTEL_EXPORTER_OTLP_PROTOCOL``; default ``grpc``.
- ``endpoint``, a base URL like ``OTEL_EXPORTER_OTLP_ENDPOINT``, over the
  per-signal ``OTEL_EXPORTER_OTLP_{TRACES,METRICS}_ENDPOINT`` (used as given)
  over ``OTEL_EXPORTER_OTLP_ENDPOINT``. For ``http/protobuf``, ``/v1/traces``
  and ``/v1/metrics`` are appended to base URLs, never to per-signal ones.
- ``headers`` over ``OTEL_EXPORTER_OTLP_{TRACES,METRICS}_HEADERS`` over
  ``OTEL_EXPORTER_OTLP_HEADERS``.
- ``export_interval_ms`` over ``OTEL_METRIC_EXPORT_INTERVAL``; default 60000.
- ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG``; default
  ``parentbased_always_on``.
- ``traces=False`` / ``metrics=False``, or ``OTEL_TRACES_EXPORTER`` /
  ``OTEL_METRICS_EXPORTER`` set to ``none``, leave that signal alone;
  ``OTEL_SDK_DISABLED=true`` leaves both alone. Besides ``otlp``, the
  variables take any exporter installed under the SDK's entry-point groups
  (``console`` comes with the SDK), comma-separated: ``otlp,console`` sends
  spans to both. An unknown name is warned about and left out.

What otel_ml reads from the given ``environ``: ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP[_TRACES|_METRICS]_{PROTOCOL,
ENDPOINT,HEADERS,INSECURE}``, ``OTEL_TRACES_SAMPLER[_ARG]``,
``OTEL_METRIC_EXPORT_INTERVAL``, ``OTEL_{TRACES,METRICS}_EXPORTER`` and
``OTEL_SDK_DISABLED`` (``true``: nothing is set up). The SDK and exporters
read the rest (certificates, compression, timeouts, temporality preference,
exemplar filter, resource detectors, span limits) from
``os.environ`` themselves; the OTLP/HTTP exporter also merges ``os.environ``'s
``OTEL_EXPORTER_OTLP[_*]_HEADERS`` under the headers otel_ml passes (the gRPC
exporter does not).
"""

from __future__ import annotations

from otel_ml.sdk._build import build_providers, build_resource, build_sampler
from otel_ml.sdk._cells import CellsMetricReader, cells_in_use, cells_meter_provider
from otel_ml.sdk._handle import TelemetryHandle
from otel_ml.sdk._install import configure
from otel_ml.sdk._settings import SamplerSettings, SdkSettings, SignalSettings, resolve_settings

__all__ = [
    "CellsMetricReader",
    "SamplerSettings",
    "SdkSettings",
    "SignalSettings",
    "TelemetryHandle",
    "build_providers",
    "build_resource",
    "build_sampler",
    "cells_in_use",
    "cells_meter_provider",
    "configure",
    "resolve_settings",
]
