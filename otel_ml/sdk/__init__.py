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

What otel_ml reads from the given ``environ``: ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP[_TRACES|_METRICS]_{PROTOCOL,
ENDPOINT,HEADERS,INSECURE}``, ``OTEL_TRACES_SAMPLER[_ARG]``,
``OTEL_METRIC_EXPORT_INTERVAL``, ``OTEL_{TRACES,METRICS}_EXPORTER`` (``none``
leaves that signal alone) and ``OTEL_SDK_DISABLED`` (``true``: nothing is set
up). The SDK and exporters read the rest (certificates, compression, timeouts,
temporality preference, exemplar filter, resource detectors, span limits) from
``os.environ`` themselves; the OTLP/HTTP exporter also merges ``os.environ``'s
``OTEL_EXPORTER_OTLP[_*]_HEADERS`` under the headers otel_ml passes (the gRPC
exporter does not).
"""

from __future__ import annotations

from otel_ml.sdk._build import build_providers, build_resource, build_sampler
from otel_ml.sdk._handle import TelemetryHandle
from otel_ml.sdk._install import configure
from otel_ml.sdk._settings import SamplerSettings, SdkSettings, SignalSettings, resolve_settings

__all__ = [
    "SamplerSettings",
    "SdkSettings",
    "SignalSettings",
    "TelemetryHandle",
    "build_providers",
    "build_resource",
    "build_sampler",
    "configure",
    "resolve_settings",
]
