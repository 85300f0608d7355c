"""Process and GPU metrics under ``opentelemetry-instrument`` (entry point
``otel_ml_resources``), or by hand::

    ResourcesInstrumentor().instrument(meter_provider=provider)

What it turns on follows ``OTEL_ML_PROCESS_METRICS`` and ``OTEL_ML_GPU_METRICS``
(or the ``settings`` argument, a :class:`otel_ml.Settings`).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

__all__ = ["ResourcesInstrumentor"]


class ResourcesInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Registers the process and GPU observable instruments on a meter provider.

    Instruments cannot be removed from a meter provider, so ``uninstrument()``
    only allows a later ``instrument()`` (for instance with another provider);
    the metrics already registered keep being exported.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        """None: process metrics need nothing else, GPU metrics are optional."""
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        # Never raises: anything but ModuleNotFoundError would abort the launch.
        from otel_ml.resources import enable_resource_metrics

        enable_resource_metrics(kwargs.get("meter_provider"), kwargs.get("settings"))

    def _uninstrument(self, **kwargs: Any) -> None:
        pass
