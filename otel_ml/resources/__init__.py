"""Resource telemetry beside the model's own: process, GPU and model lifecycle.

- :func:`enable_resource_metrics` turns on the process and GPU metrics the
  settings allow (``OTEL_ML_PROCESS_METRICS``, ``OTEL_ML_GPU_METRICS``);
  ``configure()``, ``instrument(app)`` and the launcher call it.
- :func:`register_model_info` reports a model on ``ml.model.info``.
- :func:`otel_ml.resources.lifecycle.load_model` loads a model with a
  ``load {model}`` span (imported lazily: it needs ``wrap_model``).
"""

from __future__ import annotations

from opentelemetry import metrics

from otel_ml._internal import guard
from otel_ml.config import Settings, get_settings
from otel_ml.resources.gpu import enable_gpu_metrics
from otel_ml.resources.model_info import register_model_info
from otel_ml.resources.process import enable_process_metrics

__all__ = [
    "enable_gpu_metrics",
    "enable_process_metrics",
    "enable_resource_metrics",
    "register_model_info",
]


def enable_resource_metrics(
    meter_provider: metrics.MeterProvider | None = None, settings: Settings | None = None
) -> None:
    """Turn on the process and GPU metrics that ``settings`` allow (default: the
    process settings) on ``meter_provider`` (default: global); idempotent."""
    settings = settings or get_settings()
    try:
        if settings.process_metrics:
            enable_process_metrics(meter_provider)
        if settings.gpu_metrics:
            enable_gpu_metrics(meter_provider)
    except Exception as exc:
        guard.report("resources.enable", exc)
