"""``otel_ml.record_feedback``: a delayed label joined to its prediction."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from opentelemetry import trace

from otel_ml.config import Settings, get_settings
from otel_ml.feedback.recorder import count_unmatched, join_label
from otel_ml.feedback.store import OUTCOMES, Outcome
from otel_ml.feedback.stores.registry import prediction_store
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
    feedback_store: str | None = None,
    settings: Settings | None = None,
) -> Outcome:
    """Join the label ``actual`` (a class, a value, or a list for a batch) to its
    prediction; returns ``matched``, ``unknown``, ``expired``, ``duplicate`` or
    ``store_unavailable`` (a shared store could not be asked: retry later).

    Each prediction id is labelled once, across every worker and replica that
    share a store (``OTEL_ML_FEEDBACK_STORE``): later labels for it are
    ``duplicate``. ``feedback_store`` names the store, as ``wrap_model``'s did
    (default: ``OTEL_ML_FEEDBACK_STORE``). With a shared store, a label waits up
    to ``OTEL_ML_FEEDBACK_GRACE_SECONDS`` for a prediction still on its way there.
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
    settings = (settings or get_settings()).replace(feedback_store=feedback_store)
    counts = record_labels([(prediction_id, actual)], model_name, model_version,
                           tracer_provider, meter_provider, settings)  # fmt: skip
    return next(outcome for outcome, n in counts.items() if n)


def record_labels(
    labels: Sequence[tuple[str, Any]],
    model_name: str | None,
    model_version: str | None,
    tracer_provider: trace.TracerProvider | None,
    meter_provider: Any,
    settings: Settings,
) -> dict[Outcome, int]:
    """:func:`record_feedback` for labels received together (the feedback route's
    request): how many had each outcome. They share one grace period."""
    if model_name:
        model_version = model_version or settings.model_version
    store = prediction_store(settings)
    grace_until = time.monotonic() + settings.feedback_grace_seconds
    counts: dict[Outcome, int] = dict.fromkeys(OUTCOMES, 0)
    for given_id, actual in labels:
        prediction_id = encodable(given_id)  # a lone surrogate: no exporter encodes it

        def unmatched(outcome: Outcome, pid: str = prediction_id) -> None:
            telemetry = InferenceTelemetry.of(tracer_provider, meter_provider)
            count_unmatched(telemetry, outcome, pid, model_name, model_version)

        label = _checked_actual(actual)
        counts[join_label(prediction_id, label, store, unmatched, grace_until)] += 1
    return counts


def _checked_actual(actual: Any) -> Any:
    if isinstance(actual, np.ndarray):
        return actual.tolist() if actual.ndim else actual.item()
    if isinstance(actual, dict | set | frozenset) or hasattr(actual, "__next__"):
        return ()  # no rows: the join compares nothing, as for a label of the wrong shape
    return actual
