"""``otel_ml.record_feedback``: a delayed label joined to its prediction."""

from __future__ import annotations

from typing import Any

import numpy as np
from opentelemetry import trace

from otel_ml.config import Settings, get_settings
from otel_ml.feedback.recorder import count_unmatched, join_label, prediction_store
from otel_ml.feedback.store import Outcome
from otel_ml.inference.instruments import InferenceTelemetry
from otel_ml.outputs.extract import encodable


def record_feedback(
    prediction_id: str,
    actual: Any,
    *,
    model_name: str | None = None,
    model_version: str | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: Any = None,
    settings: Settings | None = None,
) -> Outcome:
    """Join the label ``actual`` (a class, a value, or a list for a batch) to its
    prediction; returns ``matched``, ``unknown``, ``expired`` or ``duplicate``.

    Each prediction id is labelled once: later labels for it are ``duplicate``.
    ``model_name``/``model_version`` name the model unmatched labels are counted
    for (the feedback route passes its app's model; the version defaults to the
    ``settings``' model version). Never raises for a label it cannot use: an
    ``actual`` that is no data (a generator, an iterator, a dict, a set) takes its
    prediction like a label of the wrong shape and compares with nothing, its repr
    never becomes a class; a numpy array is a batch label, one per row. Raises
    ``TypeError`` for a prediction id that is not a string.
    """
    if not isinstance(prediction_id, str):
        raise TypeError(f"prediction_id must be a string, got {type(prediction_id).__name__}")
    prediction_id = encodable(prediction_id)  # a lone surrogate: no exporter encodes it
    actual = _checked_actual(actual)
    settings = settings or get_settings()
    if model_name:
        model_version = model_version or settings.model_version

    def unmatched(outcome: Outcome) -> None:
        telemetry = InferenceTelemetry.of(tracer_provider, meter_provider)
        count_unmatched(telemetry, outcome, prediction_id, model_name, model_version)

    return join_label(prediction_id, actual, prediction_store(settings), unmatched)


def _checked_actual(actual: Any) -> Any:
    if isinstance(actual, np.ndarray):
        return actual.tolist() if actual.ndim else actual.item()
    if isinstance(actual, dict | set | frozenset) or hasattr(actual, "__next__"):
        return ()  # no rows: the join compares nothing, as for a label of the wrong shape
    return actual
