"""Auto-instrumentation of scikit-learn estimators.

Under ``opentelemetry-instrument`` (entry point ``otel_ml_sklearn``), or by
hand::

    SklearnInstrumentor().instrument(model_name="fraud-model", model_version="3")

Every ``predict``, ``predict_proba``, ``predict_log_proba`` and
``decision_function`` of a scikit-learn-API estimator — any subclass of
scikit-learn's ``BaseEstimator``, wherever it is defined: scikit-learn's own
(pipelines included), ``XGBClassifier``, ``LGBMClassifier``, the user's —
becomes one inference span with RED and prediction metrics per user-level
call. Patching is per class, so estimators fitted or unpickled before
``instrument()`` are covered too, and it happens when ``sklearn.base`` is
imported: a process that never imports scikit-learn pays nothing. CatBoost's
estimators, which follow the API without inheriting ``BaseEstimator``, are
patched when ``catboost`` is imported. The
predictions made inside ``fit``, ``score``, scorers and model selection
(``GridSearchCV``, ``cross_val_score``) are not served traffic and stay untraced.
"""

from __future__ import annotations

from typing import Any

from otel_ml._internal import guard
from otel_ml.config import Settings
from otel_ml.inference.hooks import auto_hooks_installed
from otel_ml.instrumentation._models import HookConfig
from otel_ml.instrumentation._patching import PatchingInstrumentor, Target
from otel_ml.instrumentation.sklearn.discovery import subclasses_of, watch_new_subclasses
from otel_ml.instrumentation.sklearn.package import _instruments

__all__ = ["SklearnInstrumentor"]


class SklearnInstrumentor(PatchingInstrumentor):
    """Patches scikit-learn's prediction methods with inference telemetry.

    ``instrument()`` accepts ``tracer_provider``, ``meter_provider``,
    ``model_name`` and ``model_version`` (fixed identity for every call;
    otherwise the request's scope, ``OTEL_ML_MODEL_*`` and the estimator's
    class name decide) and ``settings`` (a :class:`otel_ml.Settings`).
    """

    library = "sklearn"
    instruments = _instruments
    patch_on_import = "sklearn.base"

    def _patch(self, settings: Settings, options: dict[str, Any]) -> list[Target]:
        from sklearn.base import BaseEstimator

        from otel_ml.instrumentation.sklearn import patch

        config = HookConfig.of(settings, options)
        patched = patch.patch_classes(subclasses_of(BaseEstimator), config)

        def on_new_class(cls: type) -> None:
            try:
                self.keep_patched(patch.patch_classes([cls], config))
            except Exception as exc:
                guard.report("sklearn.instrument", exc, config.telemetry.internal_errors)

        patched += watch_new_subclasses(BaseEstimator, on_new_class)
        auto_hooks_installed(True, "sklearn")
        return patched

    def _watch_other_imports(self, settings: Settings, options: dict[str, Any]) -> None:
        # CatBoost does not import scikit-learn: its patch cannot wait for sklearn.base.
        try:
            config = HookConfig.of(settings, options)
        except Exception:
            return  # a bad option: _patch reports it once, building the same config

        def patch_catboost() -> list[Target]:
            auto_hooks_installed(True, "sklearn")
            return _patch_catboost(config)

        self.when_imported("catboost.core", patch_catboost)

    def _uninstrument(self, **kwargs: Any) -> None:
        super()._uninstrument(**kwargs)
        auto_hooks_installed(False, "sklearn")


def _patch_catboost(config: HookConfig) -> list[Target]:
    """CatBoost's estimators follow the scikit-learn API without inheriting
    ``BaseEstimator``: patched when catboost is imported."""
    from catboost.core import CatBoost

    from otel_ml.instrumentation.sklearn import patch

    return patch.patch_classes(subclasses_of(CatBoost), config)
