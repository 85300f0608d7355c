"""How each kind of model is instrumented and read: one table for ``wrap_model``
and the library hooks.

An adapter recognises a model object by its class (module and name, so no
library is imported to ask), names the methods that run inference, and builds
the reader of each method's output. ``wrap_model`` instruments an adapter's
methods on the instance; a library hook patches the same methods on the class
and reads them with the same readers, so both paths record the same values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from otel_ml.inference.call import INSTRUMENTED_METHODS, summarizer_for
from otel_ml.inference.invocation import Summarizer
from otel_ml.outputs.extract import Task

__all__ = ["ModelAdapter", "adapter_for", "defined_in", "instrumented_names"]

SummarizerFactory = Callable[[str, Any, "Task | None"], "Summarizer | None"]
"""``(operation, model, task)`` -> the reader of that operation's output."""


@dataclass(frozen=True)
class ModelAdapter:
    """One kind of model: which methods run inference and how their outputs read."""

    framework: str
    """The library, as ``ml.model.framework`` says it."""
    methods: tuple[str, ...]
    """Inference methods to instrument when the model has them."""
    summarizer: SummarizerFactory
    matches: Callable[[Any], bool]
    call_operation: str = "predict"
    """The operation a call of the model itself (``model(x)``) is recorded as."""


def defined_in(module: str, *names: str) -> Callable[[Any], bool]:
    """A test for instances of a class called one of ``names`` whose module is
    ``module`` or inside it, the model's own class or a base."""

    def matches(model: Any) -> bool:
        for cls in type(model).__mro__:
            home = cls.__module__
            if cls.__name__ in names and (home == module or home.startswith(module + ".")):
                return True
        return False

    return matches


SKLEARN_API = ModelAdapter(
    "sklearn", INSTRUMENTED_METHODS, summarizer_for, matches=lambda model: True
)
"""Anything with ``predict``/``predict_proba``/... or a plain callable: the default."""

ADAPTERS: tuple[ModelAdapter, ...] = ()
"""Library adapters, tried in order before :data:`SKLEARN_API`."""


def adapter_for(model: Any) -> ModelAdapter:
    """The adapter of the first library that recognises ``model``, else the default."""
    for adapter in ADAPTERS:
        if adapter.matches(model):
            return adapter
    return SKLEARN_API


def instrumented_names() -> tuple[str, ...]:
    """Every method name any adapter instruments (the proxy's properties)."""
    names = dict.fromkeys(SKLEARN_API.methods)
    for adapter in ADAPTERS:
        names.update(dict.fromkeys(adapter.methods))
    return tuple(names)
