""":class:`InferenceScope`: the inference invocation as a context manager or a decorator."""

from __future__ import annotations

from typing import Any

from otel_ml._internal.scope import InvocationScope
from otel_ml.inference.call import begin, summarizer_for
from otel_ml.inference.invocation import InferenceInvocation
from otel_ml.inference.model import ModelContext
from otel_ml.outputs.extract import Task


class InferenceScope(InvocationScope[InferenceInvocation]):
    """Instruments a block (``with``) or every call of a function (decorator).

    As a decorator one scope serves any number of concurrent calls (sync or
    async functions; generators are refused). As a context manager it yields
    an :class:`InferenceInvocation` whose setters record the outputs; each
    ``with`` needs its own ``inference(...)``. Build it with
    :func:`otel_ml.inference`.
    """

    def __init__(self, model: ModelContext, operation: str, task: Task | None) -> None:
        super().__init__()
        self._model = model
        self._operation = operation
        self._summarize = summarizer_for(operation, task=task)

    def begin(self, args: tuple[Any, ...]) -> InferenceInvocation:
        """Start one inference; the first argument is the input rows."""
        return begin(self._model, self._operation, self._summarize, args)

    def begin_block(self) -> InferenceInvocation:
        """Start the call of a ``with`` block: its outputs come from the setters."""
        return begin(self._model, self._operation, None, ())

    def complete(self, call: InferenceInvocation, result: Any) -> Any:
        """Read the decorated function's result as the prediction and end the call."""
        return call.complete(result)
