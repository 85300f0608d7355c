"""How each kind of model is instrumented and read: one table for ``wrap_model``
and the library hooks.

An adapter recognises a model object by its class (module and name, so no
library is imported to ask), names the methods that run inference, and builds
the reader of each method's output. ``wrap_model`` instruments an adapter's
methods on the instance; a library hook patches the same methods on the class
and reads them with the same readers, so both paths record the same values.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from otel_ml.inference.call import (
    INSTRUMENTED_METHODS,
    CallReader,
    CallReading,
    invoke,
    invoke_read,
    rows_of,
    summarizer_for,
)
from otel_ml.inference.hf_readers import (
    module_name,
    module_reader,
    pipeline_name,
    pipeline_reader,
    pretrained_name,
)
from otel_ml.inference.invocation import Summarizer
from otel_ml.inference.model import ModelContext
from otel_ml.inference.readers import (
    ReaderFactory,
    lightgbm_reader,
    onnx_method_reader,
    onnx_reader,
    xgboost_reader,
)
from otel_ml.outputs.extract import Task

__all__ = [
    "LIGHTGBM",
    "ONNXRUNTIME",
    "ONNX_RUN",
    "TORCH_MODULE",
    "TRANSFORMERS_MODEL",
    "TRANSFORMERS_PIPELINE",
    "XGBOOST",
    "ModelAdapter",
    "adapter_for",
    "class_name",
    "defined_in",
    "instrumented_names",
]  # fmt: skip

SummarizerFactory = Callable[[str, Any, "Task | None"], "Summarizer | None"]
"""``(operation, model, task)`` -> the reader of that operation's output."""


def class_name(model: Any) -> str:
    """A function's name, or the model's class name."""
    if inspect.isfunction(model) or inspect.ismethod(model):
        return str(model.__name__)
    return type(model).__name__


def named(name: str) -> Callable[[Any], str]:
    """A default name that is the same for every model of the kind."""
    return lambda model: name


@dataclass(frozen=True)
class ModelAdapter:
    """One kind of model: which methods run inference and how their outputs read."""

    framework: str
    """The library, as ``ml.model.framework`` says it."""
    methods: tuple[str, ...]
    """Inference methods to instrument when the model has them."""
    matches: Callable[[Any], bool]
    call_operation: str = "predict"
    """The operation a call of the model itself (``model(x)``) is recorded as."""
    summarizer: SummarizerFactory | None = None
    """For kinds whose output alone says how it reads (see ``call.summarizer_for``)."""
    reader: ReaderFactory | None = None
    """For kinds whose calls read differently by their arguments: replaces
    ``summarizer`` (see :mod:`otel_ml.inference.readers`)."""
    name: Callable[[Any], str] = class_name
    """The model's name when nothing names it (``wrap_model`` without ``name``,
    a hook without a configured one)."""

    def bind(
        self, context: ModelContext, operation: str, method: Any, model: Any, task: Task | None
    ) -> Callable[..., Any]:
        """``method`` (of ``model``) as one inference of ``context`` per call, as
        a ``functools.partial``: no Python frame of its own."""
        if self.reader is not None:
            read = self.reader(operation, model, task)
            return functools.partial(invoke_read, context, operation, method, read)
        summarize = self.summarize(operation, model, task)
        return functools.partial(invoke, context, operation, method, summarize)

    def summarize(self, operation: str, model: Any, task: Task | None) -> Summarizer | None:
        """The fixed reader of ``operation``'s output, or ``None`` (a kind read per call)."""
        return None if self.summarizer is None else self.summarizer(operation, model, task)

    def call_reader(self, operation: str, model: Any, task: Task | None) -> CallReader:
        """The reader of ``operation``'s calls; for a kind without one, the rows
        of the first argument and the fixed reader of the output."""
        if self.reader is not None:
            return self.reader(operation, model, task)
        summarize = self.summarize(operation, model, task)

        def read(args: tuple[Any, ...], kwargs: dict[str, Any]) -> CallReading:
            return (args[0] if args else None), rows_of(args), summarize

        return read

    def default_name(self, model: Any) -> str:
        """The model's name when nothing names it."""
        return self.name(model)


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
    "sklearn", INSTRUMENTED_METHODS, matches=lambda model: True, summarizer=summarizer_for
)
"""Anything with ``predict``/``predict_proba``/... or a plain callable: the default."""


XGBOOST = ModelAdapter(
    "xgboost",
    ("predict", "inplace_predict"),
    matches=defined_in("xgboost.core", "Booster"),
    reader=xgboost_reader,
    name=named("xgboost.Booster"),
)
"""xgboost's native ``Booster``, read by its objective and the call's flags."""
LIGHTGBM = ModelAdapter(
    "lightgbm",
    ("predict",),
    matches=defined_in("lightgbm.basic", "Booster"),
    reader=lightgbm_reader,
    name=named("lightgbm.Booster"),
)
"""lightgbm's native ``Booster``, read by its objective and the call's flags."""
_ONNX_SESSION = defined_in("onnxruntime", "InferenceSession")
ONNXRUNTIME = ModelAdapter(
    "onnxruntime",
    ("run",),
    matches=_ONNX_SESSION,
    reader=onnx_reader,
    name=named("onnxruntime.InferenceSession"),
)
"""An ONNX Runtime ``InferenceSession``, read by the roles of its outputs."""


def _is_session_run(model: Any) -> bool:
    return inspect.ismethod(model) and model.__name__ == "run" and _ONNX_SESSION(model.__self__)


ONNX_RUN = ModelAdapter(
    "onnxruntime",
    (),
    matches=_is_session_run,
    call_operation="run",
    reader=onnx_method_reader,
    name=named("onnxruntime.InferenceSession"),
)
"""A session's bound ``run`` wrapped on its own (``wrap_model(session.run)``)."""

TRANSFORMERS_PIPELINE = ModelAdapter(
    "transformers",
    (),
    matches=defined_in("transformers", "Pipeline"),
    reader=pipeline_reader,
    name=pipeline_name,
)
"""A transformers ``pipeline(...)``: ``pipe(inputs)`` read by its task."""
TRANSFORMERS_MODEL = ModelAdapter(
    "transformers",
    (),
    matches=defined_in("transformers", "PreTrainedModel"),
    reader=module_reader,
    name=pretrained_name,
)
"""A transformers model (``BertForSequenceClassification``): ``model(**inputs)``,
logits named by ``config.id2label``."""
TORCH_MODULE = ModelAdapter(
    "torch",
    (),
    matches=defined_in("torch.nn", "Module"),
    reader=module_reader,
    name=module_name,
)
"""A PyTorch ``nn.Module``: ``module(x)`` read by the output's shape and dtype."""

ADAPTERS: tuple[ModelAdapter, ...] = (
    XGBOOST,
    LIGHTGBM,
    ONNXRUNTIME,
    ONNX_RUN,
    TRANSFORMERS_PIPELINE,
    TRANSFORMERS_MODEL,
    TORCH_MODULE,
)
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
