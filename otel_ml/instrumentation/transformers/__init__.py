"""Auto-instrumentation of Hugging Face transformers pipelines.

Under ``opentelemetry-instrument`` (entry point ``otel_ml_transformers``), or
by hand::

    TransformersInstrumentor().instrument(model_name="sentiment", model_version="3")

Every call of a ``pipeline(...)`` becomes one inference span with RED and
prediction metrics, read by the pipeline's task (see
:mod:`otel_ml.outputs.hf`): the class and confidence of classifiers, entity
counts of token classifiers, the batch size of the others. The ``__call__``
of ``Pipeline`` and of every subclass that defines its own is patched, when
``transformers.pipelines`` is imported; the outermost of them makes the span,
and the model the pipeline runs makes none (with the PyTorch hook on too).

The model name is ``instrument(model_name=...)``, else the request's, else
``OTEL_ML_MODEL_NAME``, else the pipeline model's ``name_or_path`` (its hub
id), else the pipeline's task.
"""

from __future__ import annotations

from typing import Any

from otel_ml._internal import guard
from otel_ml.config import Settings
from otel_ml.inference.hooks import auto_hooks_installed
from otel_ml.instrumentation._models import HookConfig
from otel_ml.instrumentation._patching import PatchingInstrumentor, Target
from otel_ml.instrumentation.sklearn.discovery import subclasses_of, watch_new_subclasses
from otel_ml.instrumentation.transformers.package import _instruments

__all__ = ["TransformersInstrumentor"]


class TransformersInstrumentor(PatchingInstrumentor):
    """Patches transformers pipelines' ``__call__`` with inference telemetry.

    ``instrument()`` accepts ``tracer_provider``, ``meter_provider``,
    ``model_name`` and ``model_version`` (fixed identity for every call;
    otherwise the request's scope, ``OTEL_ML_MODEL_*`` and the pipeline's
    model decide) and ``settings`` (a :class:`otel_ml.Settings`).
    """

    library = "transformers"
    instruments = _instruments
    patch_on_import = "transformers.pipelines.base"

    def _patch(self, settings: Settings, options: dict[str, Any]) -> list[Target]:
        from transformers.pipelines.base import Pipeline

        from otel_ml.instrumentation.transformers import patch

        config = HookConfig.of(settings, options)
        patched = patch.patch_classes(subclasses_of(Pipeline), Pipeline, config)

        def on_new_class(cls: type) -> None:
            try:
                self.keep_patched(patch.patch_classes([cls], Pipeline, config))
            except Exception as exc:
                guard.report("transformers.instrument", exc, config.telemetry.internal_errors)

        patched += watch_new_subclasses(Pipeline, on_new_class)
        auto_hooks_installed(True, "transformers")
        return patched

    def _uninstrument(self, **kwargs: Any) -> None:
        super()._uninstrument(**kwargs)
        auto_hooks_installed(False, "transformers")
