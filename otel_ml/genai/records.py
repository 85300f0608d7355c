"""Readers of what user code returns: embedding vectors and retrieved documents.

Documents may be mappings, objects or ``(document, score)`` pairs; ids come
from ``id``/``doc_id``/``metadata["id"]``, scores from ``score``/``similarity``.
Ids and the query are content: recorded only when capture is on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from otel_ml import semconv
from otel_ml.genai.content import ContentPolicy

_ID_KEYS = ("id", "doc_id", "document_id")
_SCORE_KEYS = ("score", "similarity", "relevance_score")


def _field(item: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = item.get(key) if isinstance(item, Mapping) else getattr(item, key, None)
        if value is not None:
            return value
    metadata = (
        item.get("metadata") if isinstance(item, Mapping) else getattr(item, "metadata", None)
    )
    if isinstance(metadata, Mapping):
        for key in keys:
            if metadata.get(key) is not None:
                return metadata[key]
    return None


def _split(item: Any) -> tuple[Any, float | None]:
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], int | float):
        return item[0], float(item[1])
    score = _field(item, _SCORE_KEYS)
    return item, float(score) if isinstance(score, int | float) else None


def document_attributes(documents: Any, content: ContentPolicy) -> dict[str, Any]:
    """Span attributes of a retrieval's result (count, score range, ids if captured)."""
    try:
        items = list(documents)
    except TypeError:
        return {}
    pairs = [_split(item) for item in items]
    attrs: dict[str, Any] = {semconv.ML_RETRIEVAL_DOCUMENTS_COUNT: len(items)}
    scores = [score for _, score in pairs if score is not None]
    if scores:
        attrs[semconv.ML_RETRIEVAL_SCORE_MIN] = min(scores)
        attrs[semconv.ML_RETRIEVAL_SCORE_MAX] = max(scores)
    if content.capture:
        records = []
        for document, score in pairs:
            doc_id = _field(document, _ID_KEYS)
            record = {"id": None if doc_id is None else content.text(doc_id), "score": score}
            records.append({k: v for k, v in record.items() if v is not None})  # no nulls
        attrs[semconv.GEN_AI_RETRIEVAL_DOCUMENTS] = json.dumps(records, separators=(",", ":"))
    return attrs


def document_scores(documents: list[Any]) -> list[float]:
    """The similarity scores of a retrieval's documents that carry one."""
    return [score for _, score in map(_split, documents) if score is not None]


def embedding_attributes(vectors: Any) -> dict[str, Any]:
    """Span attributes of an embedding call's result: inputs and dimensions."""
    try:
        rows = list(vectors)
    except TypeError:
        return {}
    if not rows:
        return {semconv.ML_EMBEDDINGS_INPUT_COUNT: 0}
    first = rows[0]
    if isinstance(first, int | float):  # one vector, not a batch
        return {
            semconv.ML_EMBEDDINGS_INPUT_COUNT: 1,
            semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: len(rows),
        }
    try:
        dimension = len(first)
    except TypeError:
        return {semconv.ML_EMBEDDINGS_INPUT_COUNT: len(rows)}
    return {
        semconv.ML_EMBEDDINGS_INPUT_COUNT: len(rows),
        semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: dimension,
    }
