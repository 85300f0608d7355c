"""Auto-instrumentation of scikit-learn estimators.

Under ``opentelemetry-instrument`` (entry point ``otel_ml_sklearn``), or by
hand::

    SklearnInstrumentor().instrument(model_name="fraud-model", model_version="3")

Every ``predict``, ``predict_proba``, ``predict_log_proba`` and
``decision_function`` of scikit-learn's estimators (pipelines included)
becomes one inference span with RED and prediction metrics per user-level
call. Patching is per class, so estimators fitted or unpickled before
``instrument()`` are covered too. The predictions scikit-learn makes inside
``fit``, ``score``, scorers and model selection (``GridSearchCV``,
``cross_val_score``) are not served traffic and stay untraced.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from otel_ml._internal import guard
from otel_ml.config import get_settings
from otel_ml.inference.instruments import inference_telemetry
from otel_ml.inference.invocation import auto_hooks_installed
from otel_ml.inference.scope import check_name
from otel_ml.instrumentation._patching import Target, library_usable, restore
from otel_ml.instrumentation.sklearn.package import _instruments

__all__ = ["SklearnInstrumentor"]


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
        if not library_usable(_instruments, "sklearn"):
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
            classes = discovery.estimator_classes()
            self._patched = patch.apply(
                discovery.patch_targets(classes, patch.PatchedMethod),
                discovery.quiet_targets(classes, patch.PatchedMethod),
                config,
            )
            auto_hooks_installed(True)
        except Exception as exc:
            guard.report("sklearn.instrument", exc)

    def _uninstrument(self, **kwargs: Any) -> None:
        restore(self._patched)
        self._patched = []
        auto_hooks_installed(False)


def _optional_name(kwargs: dict[str, Any], key: str) -> str | None:
    value = kwargs.get(key)
    return None if value is None else check_name(key, value)
