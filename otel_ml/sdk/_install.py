"""``configure()``: build providers once per process and install them globally."""

from __future__ import annotations

import atexit
import logging
import os
import threading
from dataclasses import dataclass, replace
from typing import Any

from opentelemetry import metrics, trace

# The API exposes no public "is the global meter provider set?" check; its
# proxy class is the only marker of "not set yet".
from opentelemetry.metrics._internal import _ProxyMeterProvider
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider

from otel_ml._internal.log_once import limit_repeated_logs
from otel_ml.config import get_settings
from otel_ml.resources import enable_resource_metrics
from otel_ml.sdk._build import build_providers
from otel_ml.sdk._handle import TelemetryHandle
from otel_ml.sdk._settings import SdkSettings, resolve_settings

__all__ = ["configure", "configured_handle"]

_logger = logging.getLogger("otel_ml")
_lock = threading.Lock()


@dataclass(frozen=True)
class _Configured:
    handle: TelemetryHandle
    settings: SdkSettings
    pid: int


_configured: _Configured | None = None


def configure(**arguments: Any) -> TelemetryHandle:
    """Set up the OpenTelemetry SDK with OTLP exporters, once per process.

    For applications not started by ``opentelemetry-instrument``. Takes the
    keyword arguments of :func:`~otel_ml.sdk.resolve_settings` (``service_name``,
    ``endpoint``, ``protocol``, ``headers``, ``traces``, ...); they win over the
    standard variables, as the :mod:`otel_ml.sdk` page lists. Process metrics,
    and GPU metrics where NVML finds a GPU, go to the meter provider in effect
    unless ``OTEL_ML_PROCESS_METRICS`` / ``OTEL_ML_GPU_METRICS`` is ``false``.

    A provider the application already installed is kept (logged at INFO), for
    traces and metrics independently. A second call returns the first handle
    and logs a warning when its arguments resolve differently.

    Forking servers: call ``configure()`` in each worker after the fork (e.g.
    gunicorn's ``post_fork``), not in the parent, so every worker gets its own
    ``service.instance.id`` and exporter threads.

    Raises :class:`~otel_ml.config.SettingsError` naming the argument or
    variable whose value cannot be used, and ``TypeError`` for an unknown argument.
    """
    settings = resolve_settings(**arguments)
    limit_repeated_logs()
    global _configured
    with _lock:
        if _configured is None:
            _configured = _Configured(_install(settings), settings, os.getpid())
            if settings.metrics is not None:
                enable_resource_metrics(_configured.handle.meter_provider)
        else:
            _warn_repeat(_configured, settings)
        return _configured.handle


def configured_handle() -> TelemetryHandle | None:
    """The handle of this process's :func:`configure`, or ``None`` before it ran."""
    return None if _configured is None else _configured.handle


def _warn_repeat(previous: _Configured, settings: SdkSettings) -> None:
    if previous.pid != os.getpid():
        _logger.warning(
            "otel_ml.configure() ran in process %d before this process was forked from it; "
            "this worker shares its service.instance.id. Call configure() in each worker "
            "after the fork instead.",
            previous.pid,
        )
    elif previous.settings != settings:
        _logger.warning(
            "otel_ml.configure() was already called with different settings; "
            "keeping the first configuration"
        )


def _install(settings: SdkSettings) -> TelemetryHandle:
    """Build what is missing globally and install it; keep what the app set."""
    tracer_wanted = settings.traces is not None and _tracer_provider_unset()
    meter_wanted = settings.metrics is not None and _meter_provider_unset()
    if settings.traces is not None and not tracer_wanted:
        _keep_existing("TracerProvider", trace.get_tracer_provider())
    if settings.metrics is not None and not meter_wanted:
        _keep_existing("MeterProvider", metrics.get_meter_provider())
    built = build_providers(
        replace(
            settings,
            traces=settings.traces if tracer_wanted else None,
            metrics=settings.metrics if meter_wanted else None,
        )
    )
    created: list[SdkTracerProvider | SdkMeterProvider] = []
    for provider in built.created:
        if isinstance(provider, SdkTracerProvider):
            trace.set_tracer_provider(provider)
            installed = trace.get_tracer_provider() is provider
        else:
            metrics.set_meter_provider(provider)
            installed = metrics.get_meter_provider() is provider
        if installed:
            created.append(provider)
        else:  # another thread installed one between the check and the set
            provider.shutdown()
    handle = TelemetryHandle(
        trace.get_tracer_provider(),
        metrics.get_meter_provider(),
        created,
        built.watched,
        get_settings().shutdown_timeout,
    )
    # Runs before the SDK's own exit handlers (registered earlier, run later),
    # whose provider shutdown it takes over: unreachable endpoints are closed first.
    atexit.register(handle.shutdown)
    return handle


def _tracer_provider_unset() -> bool:
    return isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def _meter_provider_unset() -> bool:
    return isinstance(metrics.get_meter_provider(), _ProxyMeterProvider)


def _keep_existing(kind: str, provider: object) -> None:
    _logger.info(
        "otel_ml.configure(): the application already set a %s (%s); keeping it",
        kind,
        type(provider).__name__,
    )
