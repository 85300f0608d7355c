"""Per-call readers of models whose calls say more than their outputs: a
transformers pipeline (how many inputs the answer is for), a PyTorch module
or transformers model (rows from the input tensors, class names from the
model's config). Each builds, per call, the batch size and the output reader
(:data:`~otel_ml.inference.call.CallReading`); the settings that shape a
reading (softmax, reading accelerator memory, rows recorded) come from the
model's context when the output arrives.

No torch or transformers import: objects are read by their attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_ml.inference.call import CallReader, CallReading
from otel_ml.inference.model import ModelContext
from otel_ml.outputs.extract import OutputSummary, Task
from otel_ml.outputs.hf import (
    class_names,
    input_rows,
    pipeline_task,
    summarize_model_output,
    summarize_pipeline,
)
from otel_ml.outputs.host import is_tensor
from otel_ml.outputs.tensors import output_rows, summarize_tensor

__all__ = [
    "module_name",
    "module_reader",
    "pipeline_name",
    "pipeline_reader",
    "pretrained_name",
    "tensor_rows",
]

_INPUT_NAMES = ("input_ids", "inputs_embeds", "pixel_values", "input_values", "input_features")
"""Keyword inputs of transformers models, in the order their batch size is read."""


def module_name(module: Any) -> str:
    """A PyTorch module's class name (a transformers model's ``name_or_path``);
    a compiled module (``torch.compile``) is named after the module it compiled."""
    return pretrained_name(_compiled_from(module))


def _compiled_from(module: Any) -> Any:
    return getattr(module, "_orig_mod", module)


def pretrained_name(model: Any) -> str:
    """A transformers model's ``name_or_path`` (its hub id or folder, from the
    model or its config), else its class name."""
    name = _name_or_path(model)
    return name if name is not None else type(model).__name__


def pipeline_name(pipeline: Any) -> str:
    """A pipeline's model (``name_or_path``), else its task, else its class name."""
    model = getattr(pipeline, "model", None)
    name = _name_or_path(model) if model is not None else None
    return name or pipeline_task(pipeline) or type(pipeline).__name__


def _name_or_path(model: Any) -> str | None:
    for owner in (model, getattr(model, "config", None)):
        name = getattr(owner, "name_or_path", None)
        if isinstance(name, str) and name.strip():
            return name
    return None


def tensor_rows(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    """Rows of a module call from its input's shape: the first positional
    argument, else the first of the usual transformers keyword inputs, else the
    first keyword argument that has a shape."""
    if args:
        return output_rows(args[0])
    for name in _INPUT_NAMES:
        if name in kwargs:
            return output_rows(kwargs[name])
    return output_rows(kwargs)


def pipeline_reader(operation: str, pipeline: Any, task: Task | None = None) -> CallReader:
    """Reads ``pipeline(inputs, ...)`` calls, by the pipeline's task."""
    kind = pipeline_task(pipeline)

    def reading(args: tuple[Any, ...], kwargs: dict[str, Any]) -> CallReading:
        inputs = args[0] if args else kwargs.get("inputs", kwargs.get("text_inputs"))
        rows = input_rows(inputs) if args or inputs is not None else None

        def summarize(model: ModelContext, output: Any) -> OutputSummary:
            return summarize_pipeline(kind, output, rows, model.max_rows_recorded)

        return inputs, rows, summarize

    return reading


def module_reader(operation: str, module: Any, task: Task | None = None) -> CallReader:
    """Reads ``module(...)`` calls: a tensor output by its shape and dtype, a
    transformers ``ModelOutput`` by its logits and the model's config."""
    config = getattr(_compiled_from(module), "config", None)
    names = class_names(config) if config is not None else None

    def reading(args: tuple[Any, ...], kwargs: dict[str, Any]) -> CallReading:
        rows = tensor_rows(args, kwargs)

        def summarize(model: ModelContext, output: Any) -> OutputSummary:
            settings = model.settings
            read, softmax = settings.read_device_outputs, settings.logits_softmax
            if is_tensor(output):
                return summarize_tensor(output, task, names, model.max_rows_recorded, read, softmax)
            return summarize_model_output(
                output, config, rows, model.max_rows_recorded, read, softmax
            )

        return (args[0] if args else None), rows, summarize

    return reading
