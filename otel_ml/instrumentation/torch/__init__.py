"""Auto-instrumentation of PyTorch modules.

Under ``opentelemetry-instrument`` (entry point ``otel_ml_torch``), or by hand::

    TorchInstrumentor().instrument(model_name="resnet", model_version="3")

The outermost ``nn.Module`` call of a forward pass becomes one inference span
with RED and prediction metrics, read from the output tensor (see
:func:`otel_ml.outputs.tensors.summarize_tensor`; a transformers model's
``ModelOutput`` by its logits and ``config.id2label``). The module calls nested
in it (every layer) make none and cost one ContextVar read each. Only modules
in eval mode are traced (``model.eval()``, as served models are): a forward
pass in training mode, and everything nested in it, is not served traffic.
``torch.nn.Module.__call__`` is patched when ``torch`` is imported.

The model name is ``instrument(model_name=...)``, else the request's, else
``OTEL_ML_MODEL_NAME``, else the module's class name (a transformers model's
``name_or_path``).
"""

from __future__ import annotations

from typing import Any

from otel_ml.config import Settings
from otel_ml.inference.hooks import auto_hooks_installed
from otel_ml.instrumentation._models import HookConfig
from otel_ml.instrumentation._patching import PatchingInstrumentor, Target, replace_all
from otel_ml.instrumentation.torch.package import _instruments

__all__ = ["TorchInstrumentor"]


class TorchInstrumentor(PatchingInstrumentor):
    """Patches ``torch.nn.Module.__call__`` with inference telemetry for the
    outermost module call of each eval-mode forward pass.

    ``instrument()`` accepts ``tracer_provider``, ``meter_provider``,
    ``model_name`` and ``model_version`` (fixed identity for every call;
    otherwise the request's scope, ``OTEL_ML_MODEL_*`` and the module decide)
    and ``settings`` (a :class:`otel_ml.Settings`).
    """

    library = "torch"
    instruments = _instruments
    patch_on_import = "torch"

    def _patch(self, settings: Settings, options: dict[str, Any]) -> list[Target]:
        from torch.nn import Module

        from otel_ml.instrumentation.torch import patch

        config = HookConfig.of(settings, options)
        original = vars(Module)["__call__"]
        if getattr(original, "__otel_ml_patched__", False):
            return []
        replacement = patch.patched_call(config, original)
        patched = replace_all([(Module, "__call__", original, replacement)])
        auto_hooks_installed(True, "torch")
        return patched

    def _uninstrument(self, **kwargs: Any) -> None:
        super()._uninstrument(**kwargs)
        auto_hooks_installed(False, "torch")
