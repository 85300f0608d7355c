"""Running a user's model method as one inference (sync and async), and the
readers of its output per operation.

The user's exception propagates unchanged and the user's result is returned
untouched (see :func:`otel_ml._internal.scope.run_sync`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import numpy as np

from otel_ml._internal import guard
from otel_ml._internal.scope import run_async, run_sync
from otel_ml.inference.invocation import InferenceInvocation, Summarizer
from otel_ml.inference.model import ModelContext
from otel_ml.outputs.extract import (
    OutputSummary,
    Task,
    batch_size_of,
    detect_task,
    summarize_predictions,
)

T = TypeVar("T")
CallReading = Callable[[tuple[Any, ...], dict[str, Any]], "tuple[int | None, Summarizer | None]"]
"""A call's ``(args, kwargs)`` -> its input rows and the reader of its output."""
INSTRUMENTED_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function")
"""The prediction methods ``wrap_model`` and the library hooks instrument."""


def rows_of(args: tuple[Any, ...]) -> int | None:
    """Batch size of the first positional argument, ``None`` if unknowable."""
    if not args:
        return None
    first = args[0]
    if type(first) is np.ndarray:  # the common case, without batch_size_of's checks
        shape = first.shape
        return shape[0] if shape else 1
    try:
        return batch_size_of(first)
    except Exception:
        return None


def begin(
    model: ModelContext, operation: str, summarize: Summarizer | None, args: tuple[Any, ...]
) -> InferenceInvocation:
    """Start one inference of ``model`` whose first argument holds the input rows."""
    invocation = InferenceInvocation.start(model, operation, rows_of(args), summarize)
    if args and model.wants_inputs:
        invocation.set_inputs(args[0])
    return invocation


def invoke(
    model: ModelContext,
    operation: str,
    fn: Callable[..., T],
    summarize: Summarizer | None,
    /,
    *args: Any,
    **kwargs: Any,
) -> T:
    """Call ``fn(*args, **kwargs)`` as one inference of ``model``.

    The leading arguments are positional-only, so a model keyword never clashes
    with them, and ``functools.partial(invoke, model, operation, fn, summarize)``
    is an instrumented method without a Python frame of its own.
    """
    call = begin(model, operation, summarize, args)
    result: T = run_sync(call, InferenceInvocation.complete, fn, args, kwargs)
    return result


def invoke_read(
    model: ModelContext,
    operation: str,
    fn: Callable[..., T],
    reading: CallReading,
    /,
    *args: Any,
    **kwargs: Any,
) -> T:
    """Call ``fn(*args, **kwargs)`` as one inference of ``model`` whose batch size
    and output reader depend on the call's arguments: ``reading(args, kwargs)``
    (a pipeline's answer to one text and to a list of texts look alike).

    A failure of ``reading`` is telemetry's: reported, and the call runs with
    its duration only.
    """
    try:
        rows, summarize = reading(args, kwargs)
    except Exception as exc:
        guard.report("inference.input", exc, model.telemetry.internal_errors)
        rows, summarize = None, None
    call = InferenceInvocation.start(model, operation, rows, summarize)
    if args and model.wants_inputs:
        call.set_inputs(args[0])
    result: T = run_sync(call, InferenceInvocation.complete, fn, args, kwargs)
    return result


async def ainvoke(
    model: ModelContext,
    operation: str,
    fn: Callable[..., Awaitable[T]],
    summarize: Summarizer | None,
    /,
    *args: Any,
    **kwargs: Any,
) -> T:
    """Await ``fn(*args, **kwargs)`` as one inference of ``model``."""
    call = begin(model, operation, summarize, args)
    result: T = await run_async(call, InferenceInvocation.complete, fn, args, kwargs)
    return result


def summarizer_for(
    operation: str, estimator: Any = None, task: Task | None = None
) -> Summarizer | None:
    """The output reader for ``operation``; ``estimator`` supplies ``classes_`` and the task."""
    if operation in ("predict_proba", "predict_log_proba"):
        log = operation == "predict_log_proba"

        def probabilities(model: ModelContext, output: Any) -> OutputSummary:
            classes = getattr(estimator, "classes_", None)
            return model.summarize_probabilities(np.exp(output) if log else output, classes)

        return probabilities
    if operation == "predict":
        known: list[Task | None] = [task]

        def predictions(model: ModelContext, output: Any) -> OutputSummary:
            if known[0] is None and estimator is not None:
                known[0] = detect_task(estimator)  # once fitted, then cached
            return summarize_predictions(output, known[0], model.settings.read_device_outputs)

        return predictions
    return None  # decision_function and others: duration and batch size only
