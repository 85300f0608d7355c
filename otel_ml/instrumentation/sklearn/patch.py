"""Wrappers around scikit-learn's prediction methods."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import wrapt
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from otel_ml._internal import guard
from otel_ml.inference.call import invoke, summarizer_for
from otel_ml.inference.hooks import hooks_quiet, inside_inference
from otel_ml.instrumentation._models import HookConfig
from otel_ml.instrumentation._patching import Args, Kwargs, Target, Wrapped, replace_all
from otel_ml.instrumentation.sklearn.discovery import (
    TRAINING_METHODS,
    patch_targets,
    scorer_target,
)


class PatchedMethod(wrapt.FunctionWrapper):  # type: ignore[type-arg]
    """Marks a prediction method otel_ml patched, so it is never patched twice."""


def default_model_name(estimator: Any) -> str:
    """The estimator's class name; for a pipeline, its final step's."""
    while _is_pipeline(estimator) and estimator.steps:
        final = estimator.steps[-1][1]
        if final is None or isinstance(final, str):  # "passthrough"
            break
        estimator = final
    return type(estimator).__name__


@functools.cache
def _pipeline_class() -> type:
    from sklearn.pipeline import Pipeline  # imported late: the hook loads before sklearn

    pipeline: type = Pipeline
    return pipeline


def _is_pipeline(estimator: Any) -> bool:
    return isinstance(estimator, _pipeline_class())


def traced_call(
    config: HookConfig, operation: str, wrapped: Wrapped, instance: Any, args: Args, kw: Kwargs
) -> Any:
    """Run one prediction call as an inference invocation (the wrapt wrapper).

    Nested calls (a pipeline's final step, ``predict`` calling
    ``predict_proba``, a ``wrap_model`` proxy around the estimator) and
    suppressed instrumentation go straight to the original: one span per
    user-level call.
    """
    if instance is None or inside_inference() or not is_instrumentation_enabled():
        return wrapped(*args, **kw)
    try:
        model = config.model_for(default_model_name(instance))
        summarize = summarizer_for(operation, instance)
    except Exception as exc:
        guard.report("sklearn.patch", exc, config.telemetry.internal_errors)
        return wrapped(*args, **kw)
    return invoke(model, operation, wrapped, summarize, *args, **kw)


def quiet_call(wrapped: Wrapped, instance: Any, args: Args, kwargs: Kwargs) -> Any:
    """Run a training or scoring method with the prediction hooks quiet (the wrapt wrapper)."""
    return hooks_quiet(wrapped, args, kwargs)


def patch_classes(classes: Iterable[type], config: HookConfig) -> list[Target]:
    """Patch the prediction, training and scoring methods of ``classes`` and
    their bases that are not patched yet; what to restore."""
    classes = list(classes)
    return apply(
        patch_targets(classes, PatchedMethod),
        [*patch_targets(classes, PatchedMethod, TRAINING_METHODS), *scorer_target(PatchedMethod)],
        config,
    )


def apply(
    predictions: Iterable[Target], quiet: Iterable[Target], config: HookConfig
) -> list[Target]:
    """Patch prediction methods with :func:`traced_call` and training and scoring
    methods with :func:`quiet_call`; return what to restore (all or nothing)."""
    wrapped = [
        (
            owner,
            name,
            original,
            PatchedMethod(original, functools.partial(traced_call, config, name)),
        )
        for owner, name, original in predictions
    ]
    wrapped += [
        (owner, name, original, PatchedMethod(original, quiet_call))
        for owner, name, original in quiet
    ]
    return replace_all(wrapped)
