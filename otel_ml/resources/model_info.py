"""``ml.model.info``: one series of value 1 per model this process serves.

Fed by ``wrap_model``, ``load_model`` and ``instrument(app)``; attributes are
the model's name and version and, when known, its framework and framework
version, so dashboards can mark deployments and compare a canary with the
stable version.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Observation

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml.inference.instruments import InferenceTelemetry
from otel_ml.inference.model import ModelContext
from otel_ml.resources.framework import detect_framework

__all__ = ["ModelInfo", "register_model_info"]

_MAX_MODELS = 1000


class ModelInfo:
    """The ``ml.model.info`` gauge of one telemetry bundle and the models it reports."""

    def __init__(self, telemetry: InferenceTelemetry) -> None:
        self._lock = threading.Lock()
        self._models: dict[tuple[str, str], dict[str, Any]] = {}
        telemetry.meter.create_observable_gauge(
            semconv.ML_MODEL_INFO,
            callbacks=[self._observe],
            # No unit: Prometheus then shows it as `ml_model_info`, an info metric.
            unit="",
            description="Models served by this process (value 1), with framework and version.",
        )

    def add(self, name: str, version: str, framework: tuple[str, str | None] | None) -> None:
        """Report a model; a known framework replaces an unknown one, never the reverse."""
        attrs: dict[str, Any] = {semconv.ML_MODEL_NAME: name, semconv.ML_MODEL_VERSION: version}
        if framework is not None:
            attrs[semconv.ML_MODEL_FRAMEWORK] = framework[0]
            if framework[1] is not None:
                attrs[semconv.ML_MODEL_FRAMEWORK_VERSION] = framework[1]
        key = (name, version)
        with self._lock:
            known = self._models.get(key)
            if known is not None and len(known) >= len(attrs):
                return
            if known is None and len(self._models) >= _MAX_MODELS:
                self._models.pop(next(iter(self._models)))  # name churn: keep the newest
            self._models[key] = attrs

    def _observe(self, _options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            return [Observation(1, attrs) for attrs in self._models.values()]


def register_model_info(model_ctx: ModelContext, model: Any = None) -> None:
    """Report ``model_ctx``'s model on ``ml.model.info``; ``model`` (the model
    object, if known) gives the framework. Telemetry failures go to the guard."""
    try:
        info = model_ctx.telemetry.extension("ml.model.info", ModelInfo)
        framework = detect_framework(model) if model is not None else None
        info.add(model_ctx.name, model_ctx.version, framework)
    except Exception as exc:
        guard.report("resources.model_info", exc, model_ctx.telemetry.internal_errors)
