"""Running a user's callable inside an inference invocation (sync and async).

This is the one place where otel_ml sits around the user's code: the user's
exception propagates unchanged and the user's result is returned untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import numpy as np

from otel_ml.inference.extract import Task, batch_size_of, detect_task
from otel_ml.inference.invocation import InferenceInvocation, ModelContext, Recorder

T = TypeVar("T")


def rows_of(args: tuple[Any, ...]) -> int | None:
    """Batch size of the first positional argument, ``None`` if unknowable."""
    if not args:
        return None
    try:
        return batch_size_of(args[0])
    except Exception:
        return None


def invoke(
    model: ModelContext,
    operation: str,
    fn: Callable[..., T],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    recorder: Recorder | None,
) -> T:
    """Call ``fn(*args, **kwargs)`` as one inference of ``model``."""
    invocation = InferenceInvocation.start(model, operation, rows_of(args))
    if args and model.monitor is not None:
        invocation.set_inputs(args[0])
    try:
        result = fn(*args, **kwargs)
    except BaseException as exc:
        invocation.fail(exc)
        raise
    invocation.stop(recorder, result)
    return result


async def ainvoke(
    model: ModelContext,
    operation: str,
    fn: Callable[..., Awaitable[T]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    recorder: Recorder | None,
) -> T:
    """Await ``fn(*args, **kwargs)`` as one inference of ``model``."""
    invocation = InferenceInvocation.start(model, operation, rows_of(args))
    if args and model.monitor is not None:
        invocation.set_inputs(args[0])
    try:
        result = await fn(*args, **kwargs)
    except BaseException as exc:
        invocation.fail(exc)
        raise
    invocation.stop(recorder, result)
    return result


def recorder_for(
    operation: str, estimator: Any = None, task: Task | None = None
) -> Recorder | None:
    """The output reader for ``operation``; ``estimator`` supplies ``classes_`` and the task."""
    if operation in ("predict_proba", "predict_log_proba"):
        log = operation == "predict_log_proba"

        def probabilities(invocation: InferenceInvocation, output: Any) -> None:
            classes = getattr(estimator, "classes_", None)
            invocation.record_probabilities(np.exp(output) if log else output, classes)

        return probabilities
    if operation == "predict":
        known: list[Task | None] = [task]

        def predictions(invocation: InferenceInvocation, output: Any) -> None:
            if known[0] is None and estimator is not None:
                known[0] = detect_task(estimator)  # once fitted, then cached
            invocation.record_predictions(output, known[0])

        return predictions
    return None  # decision_function and others: duration and batch size only
