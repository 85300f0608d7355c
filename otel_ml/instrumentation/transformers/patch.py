"""The wrapper around transformers pipelines' ``__call__``."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import wrapt
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from otel_ml._internal import guard
from otel_ml.inference.adapters import TRANSFORMERS_PIPELINE
from otel_ml.inference.call import invoke_read
from otel_ml.inference.hooks import inside_inference
from otel_ml.instrumentation._models import HookConfig
from otel_ml.instrumentation._patching import Args, Kwargs, Target, Wrapped, replace_all
from otel_ml.instrumentation.sklearn.discovery import patch_targets
from otel_ml.outputs.hf import input_rows

_CALL = ("__call__",)


class PatchedCall(wrapt.FunctionWrapper):  # type: ignore[type-arg]
    """Marks a pipeline ``__call__`` otel_ml patched, so it is never patched twice."""


def traced_call(
    config: HookConfig, wrapped: Wrapped, instance: Any, args: Args, kwargs: Kwargs
) -> Any:
    """Run one pipeline call as an inference, read by the pipeline's task (the
    wrapt wrapper).

    A task pipeline's ``__call__`` calls ``Pipeline.__call__`` through
    ``super()``, and the pipeline runs its model: those nested calls, a
    ``wrap_model`` proxy's call and suppressed instrumentation go straight to
    the original, so a user's call is one span. So does a call on a generator
    or data set: the pipeline returns at once and runs the model as its answers
    are consumed, where the PyTorch hook traces each forward pass.
    """
    if instance is None or inside_inference() or not is_instrumentation_enabled():
        return wrapped(*args, **kwargs)
    if args and input_rows(args[0]) is None:
        return wrapped(*args, **kwargs)
    adapter = TRANSFORMERS_PIPELINE
    try:
        model = config.model_for(adapter.default_name(instance))
        reading = adapter.call_reader(adapter.call_operation, instance, None)
    except Exception as exc:
        guard.report("transformers.patch", exc, config.telemetry.internal_errors)
        return wrapped(*args, **kwargs)
    return invoke_read(model, adapter.call_operation, wrapped, reading, *args, **kwargs)


def patch_classes(classes: Iterable[type], base: type, config: HookConfig) -> list[Target]:
    """Patch the ``__call__`` that ``classes`` (pipelines) or their pipeline bases
    define and that is not patched yet; what to restore (all or nothing)."""
    targets = patch_targets(classes, PatchedCall, _CALL)
    wrapper = functools.partial(traced_call, config)
    return replace_all(
        (owner, name, original, PatchedCall(original, wrapper))
        for owner, name, original in targets
        if issubclass(owner, base)
    )
