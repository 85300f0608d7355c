"""``otel_ml.inference(...)``: the invocation as a context manager or a decorator."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar, cast

from opentelemetry import metrics, trace

from otel_ml.config import get_settings
from otel_ml.inference.call import ainvoke, invoke, summarizer_for
from otel_ml.inference.extract import Task
from otel_ml.inference.instruments import inference_telemetry
from otel_ml.inference.invocation import InferenceInvocation, ModelContext, model_context

F = TypeVar("F", bound=Callable[..., Any])


class InferenceScope:
    """Instruments a block (``with``) or every call of a function (decorator).

    As a decorator one scope serves any number of concurrent calls. As a
    context manager it yields an :class:`InferenceInvocation` whose setters
    record the outputs; each ``with`` needs its own ``inference(...)``.
    """

    def __init__(self, model: ModelContext, operation: str, task: Task | None) -> None:
        self._model = model
        self._operation = operation
        self._task = task
        self._invocation: InferenceInvocation | None = None

    def __enter__(self) -> InferenceInvocation:
        if self._invocation is not None:
            raise RuntimeError("this inference(...) block is already open; create one per `with`")
        self._invocation = InferenceInvocation.start(self._model, self._operation)
        return self._invocation

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        invocation, self._invocation = self._invocation, None
        if invocation is None:
            return
        if exc is None:
            invocation.stop()
        else:
            invocation.fail(exc)

    def __call__(self, fn: F) -> F:
        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            raise TypeError(
                f"inference() cannot decorate the generator {fn.__qualname__}; "
                "decorate the function that returns the prediction"
            )
        model, operation = self._model, self._operation
        summarize = summarizer_for(operation, task=self._task)
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                return await ainvoke(model, operation, fn, summarize, *args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return invoke(model, operation, fn, summarize, *args, **kwargs)

        return cast(F, wrapper)


def inference(
    model_name: str,
    model_version: str | None = None,
    operation: str = "predict",
    *,
    task: Task | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
) -> InferenceScope:
    """Instrument inference calls of ``model_name`` (context manager or decorator).

    >>> with otel_ml.inference("fraud", "3") as inv:
    ...     label = model(x)
    ...     inv.record_predictions(label)
    ...     inv.set_confidence(0.93)

    >>> @otel_ml.inference("fraud", "3")
    ... async def predict(x): ...

    ``task`` ("classification" or "regression") says how decorated functions'
    results are read; by default float outputs are values, others classes.
    """
    name = check_name("model_name", model_name)
    version = check_name("model_version", model_version or get_settings().model_version)
    check_name("operation", operation)
    if task not in (None, "classification", "regression"):
        raise ValueError(f"task={task!r}: expected 'classification', 'regression' or None")
    telemetry = inference_telemetry(tracer_provider, meter_provider)
    return InferenceScope(model_context(name, version, telemetry), operation, task)


def check_name(argument: str, value: Any) -> str:
    """A non-empty string argument, or a TypeError/ValueError naming it."""
    if not isinstance(value, str):
        raise TypeError(f"{argument} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{argument} must not be empty")
    return value
