"""Reading Hugging Face transformers outputs: pipelines by task, and model
outputs that carry logits. Pure: no OpenTelemetry and no transformers import
(objects are read by their attributes and the pipelines' documented output
shapes).

A pipeline's output does not say how many inputs it answers: a text
classifier given one text with ``top_k=2`` and one given two texts both
return a flat list of two ``{'label', 'score'}`` dicts. The readers take the
number of inputs (:func:`input_rows`) to tell them apart.

What each task records:

- classification tasks (text, image, audio, video; zero-shot image and
  audio): per input, the best-scored label is the class and its score the
  confidence, whatever ``top_k`` returned.
- ``zero-shot-classification``: per input, ``labels[0]`` is the class and
  ``scores[0]`` its confidence (the pipeline sorts them).
- ``token-classification`` (``ner``): each entity counts once in
  ``ml.predictions`` under its ``entity_group`` (aggregated pipelines) or its
  ``entity`` tag, and its score is one ``ml.prediction.confidence`` value; the
  batch size is the number of texts. No single class is set for a text: a
  text has as many entities as it has.
- everything else (``feature-extraction``, ``text-generation``,
  ``fill-mask``, ...): the batch size only. Their outputs are vectors or
  free text, never classes.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from otel_ml.outputs.extract import MAX_ROW_DETAIL, OutputSummary, check_confidence, class_label
from otel_ml.outputs.host import is_tensor
from otel_ml.outputs.tensors import output_rows, rows_only, summarize_tensor

__all__ = [
    "class_names",
    "input_rows",
    "pipeline_task",
    "summarize_model_output",
    "summarize_pipeline",
]

_SPAN_CLASSES = 10
"""Distinct classes a batch puts on its span, as the other readers do."""
_ALIASES = {"sentiment-analysis": "text-classification", "ner": "token-classification"}
_CLASS_TASKS = {
    "TextClassificationPipeline": "text-classification",
    "TokenClassificationPipeline": "token-classification",
    "ZeroShotClassificationPipeline": "zero-shot-classification",
    "ImageClassificationPipeline": "image-classification",
    "AudioClassificationPipeline": "audio-classification",
    "VideoClassificationPipeline": "video-classification",
    "ZeroShotImageClassificationPipeline": "zero-shot-image-classification",
    "ZeroShotAudioClassificationPipeline": "zero-shot-audio-classification",
}
"""Tasks of pipelines built without a task name (``TextClassificationPipeline(...)``)."""


def pipeline_task(pipeline: Any) -> str:
    """The task a pipeline answers: its ``task`` (aliases resolved), else the
    task of its class or a base class; ``""`` when unknown."""
    task = getattr(pipeline, "task", None)
    if isinstance(task, str) and task:
        return _ALIASES.get(task, task)
    for cls in type(pipeline).__mro__:
        if cls.__name__ in _CLASS_TASKS:
            return _CLASS_TASKS[cls.__name__]
    return ""


def input_rows(inputs: Any) -> int | None:
    """How many inputs a pipeline call answers: a text, a mapping, an array or
    an image is one; a list or tuple one per item, except a chat (a list of
    ``{'role', 'content'}`` messages), which is one; ``None`` for a generator
    or data set, which the pipeline streams."""
    if isinstance(inputs, str | bytes | Mapping):
        return 1
    if isinstance(inputs, list | tuple):
        return 1 if inputs and _is_message(inputs[0]) else len(inputs)
    if hasattr(inputs, "shape") or not hasattr(inputs, "__iter__"):
        return 1
    return None


def _is_message(item: Any) -> bool:
    return isinstance(item, Mapping) and "role" in item and "content" in item


def summarize_pipeline(task: str, output: Any, rows: int | None, max_rows: int) -> OutputSummary:
    """Summarise a pipeline's output for ``task`` (see the module docstring);
    ``rows`` is the number of inputs (:func:`input_rows`), ``None`` if unknown."""
    reader = _READERS.get(task)
    if reader is None or not isinstance(output, list | dict):
        return rows_only(rows if rows is not None else _listed_rows(output))
    return reader(output, rows, max_rows)


def _listed_rows(output: Any) -> int | None:
    if isinstance(output, dict):
        return 1
    return len(output) if isinstance(output, list) else None


def _scored_labels(output: Any, rows: int | None, max_rows: int) -> OutputSummary:
    """``{'label', 'score'}`` per input, or a list of them (``top_k``) per input."""
    if isinstance(output, dict):
        per_input: list[Any] = [[output]]
    elif all(isinstance(item, dict) for item in output):
        per_input = [output] if rows == 1 else [[item] for item in output]
    else:
        per_input = [item if isinstance(item, list) else [item] for item in output]
    best = [_best(candidates) for candidates in per_input]
    return labelled(
        [label for label, _ in best], [score for _, score in best], len(per_input), max_rows
    )


def _best(candidates: list[Any]) -> tuple[Any, Any]:
    """The label and score of the best-scored candidate (pipelines sort them,
    but nothing here relies on it); ``(None, None)`` unless every candidate is
    a ``{'label', 'score'}`` dict with a numeric score."""
    ranked: list[tuple[float, Any, Any]] = []
    for candidate in candidates:
        score: Any = candidate.get("score") if isinstance(candidate, dict) else None
        if not _is_number(score) or candidate.get("label") is None:
            return None, None
        rank = float(score)
        ranked.append((rank if math.isfinite(rank) else -math.inf, candidate["label"], score))
    if not ranked:
        return None, None
    _, label, score = max(ranked, key=lambda entry: entry[0])
    return label, score


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _zero_shot(output: Any, rows: int | None, max_rows: int) -> OutputSummary:
    """``{'sequence', 'labels', 'scores'}`` per input, sorted best first."""
    answers = [output] if isinstance(output, dict) else output
    labels: list[Any] = []
    scores: list[Any] = []
    for answer in answers:
        ranked = isinstance(answer, dict) and answer.get("labels") and answer.get("scores")
        labels.append(answer["labels"][0] if ranked else None)
        scores.append(answer["scores"][0] if ranked else None)
    return labelled(labels, scores, len(answers), max_rows)


def _entities(output: Any, rows: int | None, max_rows: int) -> OutputSummary:
    """Entity dicts per text: entities counted by group, their scores as confidences."""
    if isinstance(output, dict):
        output = [output]
    if output and all(isinstance(item, list) for item in output):
        texts = len(output)
        found: list[Any] = [entity for entities in output for entity in entities]
    else:
        texts, found = 1, output
    labels = [_entity_label(entity) for entity in found]
    scores = [entity.get("score") if isinstance(entity, dict) else None for entity in found]
    summary = labelled(labels, scores, len(found), max_rows, per_row=False)
    summary.rows = rows if rows is not None else texts
    return summary


def _entity_label(entity: Any) -> Any:
    if not isinstance(entity, dict):
        return None
    return entity.get("entity_group", entity.get("entity"))


Reader = Callable[[Any, int | None, int], OutputSummary]
_READERS: dict[str, Reader] = {
    **{
        task: _scored_labels
        for task in _CLASS_TASKS.values()
        if task not in ("token-classification", "zero-shot-classification")
    },
    "zero-shot-classification": _zero_shot,
    "token-classification": _entities,
}


def labelled(
    labels: list[Any], scores: list[Any], rows: int, max_rows: int, per_row: bool = True
) -> OutputSummary:
    """A summary of one ``(label, score)`` per row (``per_row``) or per item
    counted apart from the rows (entities). A label that cannot be a class
    makes its item unreadable (counted, its score dropped); a score that cannot
    be a confidence is counted, never recorded."""
    summary = OutputSummary(rows=rows)
    names = [class_label(label) for label in labels]
    kept = [(name, score) for name, score in zip(names, scores, strict=True) if name is not None]
    valid = [name for name, _ in kept]
    summary.invalid_predictions = len(names) - len(valid)
    summary.class_counts = Counter(valid).most_common()
    if per_row and rows == 1 and len(valid) == 1:
        summary.label = valid[0]
    else:
        summary.distinct_classes = [label for label, _ in summary.class_counts[:_SPAN_CLASSES]]
        if per_row and rows <= MAX_ROW_DETAIL and not summary.invalid_predictions:
            summary.row_labels = valid
    _confidences([score for _, score in kept], summary, max_rows, per_row and rows == 1)
    return summary


def _confidences(scores: Iterable[Any], summary: OutputSummary, max_rows: int, one: bool) -> None:
    valid: list[float] = []
    for score in scores:
        value, issue = check_confidence(score)
        if issue is not None:
            summary.invalid_confidence[issue] = summary.invalid_confidence.get(issue, 0) + 1
        elif value is not None:
            valid.append(value)
    if one and valid:
        summary.confidence = valid[0]
    if len(valid) > max_rows:
        valid = valid[:: -(-len(valid) // max_rows)]  # an even stride keeps the distribution
    summary.confidences = np.asarray(valid, dtype=np.float64)


def class_names(config: Any) -> list[str] | None:
    """A transformers config's class names by index (``id2label``), or ``None``."""
    id2label = getattr(config, "id2label", None)
    if not isinstance(id2label, Mapping) or not id2label:
        return None
    by_index = {int(index): str(name) for index, name in id2label.items()}
    if set(by_index) != set(range(len(by_index))):
        return None
    return [by_index[index] for index in range(len(by_index))]


def summarize_model_output(
    output: Any,
    config: Any,
    rows: int | None,
    max_rows: int,
    read_device: bool = False,
    softmax: bool = True,
) -> OutputSummary:
    """Summarise a transformers model's output (a ``ModelOutput``).

    Two-dimensional ``logits`` (``SequenceClassifierOutput`` and the like) are
    class scores named by ``config.id2label`` (see
    :func:`~otel_ml.outputs.tensors.summarize_tensor`); one logit per row, or
    ``config.problem_type == "regression"``, is a regression value, as
    transformers trains it. Multi-label classifiers, token-level and
    language-model logits (three dimensions) and outputs without logits give
    the batch size only, from the shape of their first tensor, else ``rows``.
    """
    logits: Any = getattr(output, "logits", None)
    if not is_tensor(logits) or len(logits.shape) != 2:
        found = output_rows(output) if isinstance(output, Mapping | tuple) else None
        return rows_only(found if found is not None else rows)
    problem = getattr(config, "problem_type", None)
    if problem == "multi_label_classification":
        return rows_only(output_rows(logits))
    if problem == "regression" or logits.shape[1] == 1:
        return summarize_tensor(logits, "regression", None, max_rows, read_device)
    names = class_names(config)
    return summarize_tensor(logits, "classification", names, max_rows, read_device, softmax)
