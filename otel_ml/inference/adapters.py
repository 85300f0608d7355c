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

from otel_ml.inference.call import INSTRUMENTED_METHODS, CallReading, summarizer_for
from otel_ml.inference.invocation import Summarizer
from otel_ml.inference.readers import (
    class_name,
    module_name,
    module_reader,
    pipeline_name,
    pipeline_reader,
    pretrained_name,
)
from otel_ml.outputs.extract import Task

__all__ = [
    "TORCH_MODULE",
    "TRANSFORMERS_MODEL",
    "TRANSFORMERS_PIPELINE",
    "ModelAdapter",
    "adapter_for",
    "defined_in",
    "instrumented_names",
]

SummarizerFactory = Callable[[str, Any, "Task | None"], "Summarizer | None"]
"""``(operation, model, task)`` -> the reader of that operation's output."""
CallReaderFactory = Callable[[Any, "Task | None"], CallReading]
"""``(model, task)`` -> the per-call reading of ``model(...)``."""


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
    call_reader: CallReaderFactory | None = None
    """For models whose calls' batch size and output reading depend on the
    arguments (see :func:`~otel_ml.inference.call.invoke_read`); ``None``: the
    first argument's rows and ``summarizer(call_operation, ...)``."""
    name: Callable[[Any], str] = class_name
    """The model's default name (``wrap_model`` without ``name``, the hooks
    without a configured one)."""


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


def _call_only(operation: str, model: Any, task: Task | None) -> Summarizer | None:
    return None  # models read per call (call_reader) have no other inference method


TRANSFORMERS_PIPELINE = ModelAdapter(
    "transformers",
    (),
    _call_only,
    matches=defined_in("transformers", "Pipeline"),
    call_reader=pipeline_reader,
    name=pipeline_name,
)
"""A transformers ``pipeline(...)``: ``pipe(inputs)`` read by its task."""
TRANSFORMERS_MODEL = ModelAdapter(
    "transformers",
    (),
    _call_only,
    matches=defined_in("transformers", "PreTrainedModel"),
    call_reader=module_reader,
    name=pretrained_name,
)
"""A transformers model (``BertForSequenceClassification``): ``model(**inputs)``,
logits named by ``config.id2label``."""
TORCH_MODULE = ModelAdapter(
    "torch",
    (),
    _call_only,
    matches=defined_in("torch.nn", "Module"),
    call_reader=module_reader,
    name=module_name,
)
"""A PyTorch ``nn.Module``: ``module(x)`` read by the output's shape and dtype."""

ADAPTERS: tuple[ModelAdapter, ...] = (TRANSFORMERS_PIPELINE, TRANSFORMERS_MODEL, TORCH_MODULE)
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
