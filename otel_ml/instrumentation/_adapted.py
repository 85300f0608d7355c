"""Library hooks for the model kinds of :mod:`otel_ml.inference.adapters`.

A hook patches the inference methods of one class (xgboost's ``Booster``,
ONNX Runtime's ``InferenceSession``) with :func:`traced_call`, which reads
each call with the adapter's reader, the one ``wrap_model`` uses. A subclass
of :class:`AdapterInstrumentor` is the whole wiring of a library: the class
to patch, its adapter, and the methods whose inner predictions are not
served traffic (training, evaluation).
"""

from __future__ import annotations

import functools
import sys
from typing import Any, ClassVar

import wrapt
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from otel_ml._internal import guard
from otel_ml.config import Settings
from otel_ml.inference.adapters import ModelAdapter
from otel_ml.inference.call import invoke_read
from otel_ml.inference.hooks import auto_hooks_installed, hooks_quiet, inside_inference
from otel_ml.instrumentation._models import HookConfig
from otel_ml.instrumentation._patching import (
    ABSENT,
    Args,
    Kwargs,
    PatchingInstrumentor,
    Target,
    Wrapped,
    replace_all,
)

__all__ = ["AdaptedMethod", "AdapterInstrumentor", "quiet_call", "traced_call"]


class AdaptedMethod(wrapt.FunctionWrapper):  # type: ignore[type-arg]
    """Marks a method an :class:`AdapterInstrumentor` patched."""


def traced_call(
    adapter: ModelAdapter,
    config: HookConfig,
    operation: str,
    wrapped: Wrapped,
    instance: Any,
    args: Args,
    kw: Kwargs,
) -> Any:
    """Run one inference call as an invocation (the wrapt wrapper).

    Calls inside another otel_ml inference (``XGBClassifier.predict_proba``
    calling ``Booster.inplace_predict``, a ``wrap_model`` proxy) and suppressed
    instrumentation go straight to the original: one span per user-level call.
    """
    if instance is None or inside_inference() or not is_instrumentation_enabled():
        return wrapped(*args, **kw)
    try:
        model = config.model_for(adapter.default_name(instance))
        read = adapter.call_reader(operation, instance, None)
    except Exception as exc:
        guard.report(f"{adapter.framework}.patch", exc, config.telemetry.internal_errors)
        return wrapped(*args, **kw)
    return invoke_read(model, operation, wrapped, read, *args, **kw)


def quiet_call(wrapped: Wrapped, instance: Any, args: Args, kwargs: Kwargs) -> Any:
    """Run a training or evaluation method with the hooks quiet (the wrapt wrapper)."""
    return hooks_quiet(wrapped, args, kwargs)


class AdapterInstrumentor(PatchingInstrumentor):
    """Patches one library class's inference methods (its adapter's) with
    :func:`traced_call` and its :attr:`quiet` methods with :func:`quiet_call`.

    ``instrument()`` accepts ``tracer_provider``, ``meter_provider``,
    ``model_name`` and ``model_version`` (fixed identity for every call;
    otherwise the request's scope, ``OTEL_ML_MODEL_*`` and the adapter's
    default name decide) and ``settings`` (a :class:`otel_ml.Settings`).
    """

    adapter: ClassVar[ModelAdapter]
    patched_class: ClassVar[str]
    """The class to patch, by name, in the module :attr:`patch_on_import`."""
    quiet: ClassVar[tuple[str, ...]] = ()
    """Methods whose own predictions are not served traffic (training, evaluation)."""

    def _patch(self, settings: Settings, options: dict[str, Any]) -> list[Target]:
        owner = getattr(sys.modules[str(self.patch_on_import)], self.patched_class)
        config = HookConfig.of(settings, options)
        replacements = [
            _replacement(owner, name, functools.partial(traced_call, self.adapter, config, name))
            for name in self.adapter.methods
        ]
        replacements += [_replacement(owner, name, quiet_call) for name in self.quiet]
        patched = replace_all(replacements)
        auto_hooks_installed(True, self.library)
        return patched

    def _uninstrument(self, **kwargs: Any) -> None:
        super()._uninstrument(**kwargs)
        auto_hooks_installed(False, self.library)


def _replacement(owner: type, name: str, wrapper: Any) -> tuple[type, str, Any, Any]:
    """``(owner, name, original __dict__ entry, wrapped method)``; a method the
    class inherits (``InferenceSession.run`` is ``Session.run``) is wrapped on
    the class itself, and restoring removes the wrapper."""
    original = vars(owner).get(name, ABSENT)
    return owner, name, original, AdaptedMethod(getattr(owner, name), wrapper)
