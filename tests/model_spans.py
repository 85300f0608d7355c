"""Reading what an inference recorded: span attributes, class counts, confidences, issues."""

from __future__ import annotations

import re
from typing import Any

from support import Telemetry

from otel_ml import semconv

HEX_ID = re.compile(r"[0-9a-f]{32}")


def attributes(span: Any) -> dict[str, Any]:
    """A span's attributes with the random prediction id checked and removed;
    tuple values (classes) as sets, their order being by count."""
    attrs = dict(span.attributes)
    assert HEX_ID.fullmatch(attrs.pop(semconv.ML_PREDICTION_ID))
    return {k: set(v) if isinstance(v, tuple) else v for k, v in attrs.items()}


def model(name: str, version: str = "unknown", **extra: Any) -> dict[str, Any]:
    """The model and operation attributes every span of ``name`` carries, and ``extra``."""
    return {
        semconv.ML_MODEL_NAME: name,
        semconv.ML_MODEL_VERSION: version,
        semconv.ML_OPERATION_NAME: "predict",
        **extra,
    }


def class_counts(telemetry: Telemetry) -> dict[str, int]:
    """``ml.predictions`` per class, all models together."""
    found: dict[str, int] = {}
    for attrs, point in telemetry.points(semconv.ML_PREDICTIONS):
        label = attrs[semconv.ML_PREDICTION_CLASS]
        found[label] = found.get(label, 0) + point.value
    return found


def confidence_count(telemetry: Telemetry) -> int:
    """Values recorded into ``ml.prediction.confidence``."""
    points = telemetry.points(semconv.ML_PREDICTION_CONFIDENCE_METRIC)
    return sum(point.count for _, point in points)


def data_issues(telemetry: Telemetry) -> dict[tuple[str, str], int]:
    """``ml.data.quality.issues`` per (feature, issue)."""
    return {
        (attrs[semconv.ML_FEATURE_NAME], attrs[semconv.ML_DATA_ISSUE]): point.value
        for attrs, point in telemetry.points(semconv.ML_DATA_QUALITY_ISSUES)
    }


def durations(telemetry: Telemetry) -> dict[str, int]:
    """Calls recorded in ``ml.inference.duration`` per model name."""
    found: dict[str, int] = {}
    for attrs, point in telemetry.points(semconv.ML_INFERENCE_DURATION):
        name = attrs[semconv.ML_MODEL_NAME]
        found[name] = found.get(name, 0) + point.count
    return found
