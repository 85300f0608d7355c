"""Auto-instrumentation of scikit-learn estimators.

Under ``opentelemetry-instrument`` (entry point ``otel_ml_sklearn``), or by
hand::

    SklearnInstrumentor().instrument(model_name="fraud-model", model_version="3")

Every ``predict``, ``predict_proba``, ``predict_log_proba`` and
``decision_function`` of scikit-learn's estimators (pipelines included)
becomes one inference span with RED and prediction metrics per user-level
call. Patching is per class, so estimators fitted or unpickled before
``instrument()`` are covered too.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from opentelemetry.instrumentation.dependencies import get_dependency_conflicts
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from otel_ml._internal import guard
from otel_ml.config import get_settings
from otel_ml.inference.instruments import inference_telemetry
from otel_ml.inference.scope import check_name
from otel_ml.instrumentation.sklearn.package import _instruments

if TYPE_CHECKING:
    from otel_ml.instrumentation.sklearn.discovery import Target

__all__ = ["SklearnInstrumentor"]

_logger = logging.getLogger(__name__)


class SklearnInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Patches scikit-learn's prediction methods with inference telemetry.

    ``instrument()`` accepts ``tracer_provider``, ``meter_provider``,
    ``model_name`` and ``model_version`` (fixed identity for every call;
    otherwise the request's scope, ``OTEL_ML_MODEL_*`` and the estimator's
    class name decide) and ``settings`` (a :class:`otel_ml.Settings`).
    """

    _patched: list[Target] = []  # noqa: RUF012 - reassigned, never mutated

    def instrumentation_dependencies(self) -> Collection[str]:
        """The scikit-learn versions this instrumentation supports."""
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        # The launcher skips the per-instrumentor dependency check (the
        # distribution declares `instruments-any`), so check here. It reads a
        # ModuleNotFoundError as "skip this one"; any other exception would
        # abort the whole launch, hence the guard below.
        conflict = get_dependency_conflicts(_instruments)
        if conflict is not None:
            if not conflict.found:
                raise ModuleNotFoundError("scikit-learn is not installed", name="sklearn")
            _logger.warning("otel_ml: scikit-learn not instrumented: %s", conflict)
            return
        from otel_ml.instrumentation.sklearn import discovery, patch

        try:
            config = patch.PatchConfig(
                telemetry=inference_telemetry(
                    kwargs.get("tracer_provider"), kwargs.get("meter_provider")
                ),
                settings=kwargs.get("settings") or get_settings(),
                model_name=_optional_name(kwargs, "model_name"),
                model_version=_optional_name(kwargs, "model_version"),
            )
            targets = discovery.patch_targets(discovery.estimator_classes(), patch.PatchedMethod)
            self._patched = patch.apply(targets, config)
        except Exception as exc:
            guard.report("sklearn.instrument", exc)

    def _uninstrument(self, **kwargs: Any) -> None:
        from otel_ml.instrumentation.sklearn import patch

        patch.restore(self._patched)
        self._patched = []


def _optional_name(kwargs: dict[str, Any], key: str) -> str | None:
    value = kwargs.get(key)
    return None if value is None else check_name(key, value)
