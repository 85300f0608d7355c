"""Wrappers around scikit-learn's prediction methods."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import wrapt
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from sklearn.pipeline import Pipeline

from otel_ml._internal import guard
from otel_ml._internal.ids import current_request
from otel_ml.config import Settings
from otel_ml.inference.call import invoke, summarizer_for
from otel_ml.inference.instruments import InferenceTelemetry
from otel_ml.inference.invocation import (
    ModelContext,
    hooks_quiet,
    inside_inference,
    model_context,
)
from otel_ml.instrumentation._patching import Target, restore


class PatchedMethod(wrapt.FunctionWrapper):  # type: ignore[type-arg]
    """Marks a prediction method otel_ml patched, so it is never patched twice."""


@dataclass(frozen=True)
class PatchConfig:
    """What every patched call shares, bound once at ``instrument()``."""

    telemetry: InferenceTelemetry
    settings: Settings
    model_name: str | None = None
    model_version: str | None = None

    def model_for(self, estimator: Any) -> ModelContext:
        """Model identity of a call: ``instrument()`` arguments > the request's
        scope > ``OTEL_ML_MODEL_*`` settings > the estimator's class name."""
        scope = current_request.get()
        name = (
            self.model_name
            or (scope.model_name if scope else None)
            or self.settings.model_name
            or default_model_name(estimator)
        )
        version = (
            self.model_version
            or (scope.model_version if scope else None)
            or self.settings.model_version
        )
        return model_context(name, version, self.telemetry)


def default_model_name(estimator: Any) -> str:
    """The estimator's class name; for a pipeline, its final step's."""
    while isinstance(estimator, Pipeline) and estimator.steps:
        final = estimator.steps[-1][1]
        if final is None or isinstance(final, str):  # "passthrough"
            break
        estimator = final
    return type(estimator).__name__


def traced_call(
    config: PatchConfig,
    operation: str,
    wrapped: Callable[..., Any],
    instance: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Run one prediction call as an inference invocation (the wrapt wrapper).

    Nested calls (a pipeline's final step, ``predict`` calling
    ``predict_proba``, a ``wrap_model`` proxy around the estimator) and
    suppressed instrumentation go straight to the original: one span per
    user-level call.
    """
    if instance is None or inside_inference() or not is_instrumentation_enabled():
        return wrapped(*args, **kwargs)
    try:
        model = config.model_for(instance)
        summarize = summarizer_for(operation, instance)
    except Exception as exc:
        guard.report("sklearn.patch", exc, config.telemetry.internal_errors)
        return wrapped(*args, **kwargs)
    return invoke(model, operation, wrapped, summarize, *args, **kwargs)


def quiet_call(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Run a training or scoring method with the prediction hooks quiet (the wrapt wrapper)."""
    return hooks_quiet(wrapped, args, kwargs)


def apply(
    predictions: Iterable[Target], quiet: Iterable[Target], config: PatchConfig
) -> list[Target]:
    """Patch prediction methods with :func:`traced_call` and training and scoring
    methods with :func:`quiet_call`; return what to restore.

    All or nothing: if one replacement fails, the ones made so far are undone.
    """
    done: list[Target] = []
    try:
        for owner, name, original in predictions:
            wrapper = functools.partial(traced_call, config, name)
            setattr(owner, name, PatchedMethod(original, wrapper))
            done.append((owner, name, original))
        for owner, name, original in quiet:
            setattr(owner, name, PatchedMethod(original, quiet_call))
            done.append((owner, name, original))
    except BaseException:
        restore(done)
        raise
    return done
