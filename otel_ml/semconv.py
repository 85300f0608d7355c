"""Every attribute, span and metric name otel_ml emits, in one place.

These names are a contract with the Prometheus rules and the Grafana dashboard
shipped in this repository: change them only together with ``prometheus/``,
``grafana/`` and the README.

Cardinality notes say where a name may go. *Span only* attributes are
unbounded (ids, values) and never appear on metrics; *metric* attributes are
bounded by construction (model identity, capped class labels, enums).
"""

from __future__ import annotations

from typing import Final

# --- model identity (metric + span; bounded: one per deployed model) ------------
ML_MODEL_NAME: Final = "ml.model.name"
"""Logical model name, e.g. ``fraud-model``."""
ML_MODEL_VERSION: Final = "ml.model.version"
"""Model version, e.g. ``3`` or a registry tag. ``unknown`` when not configured."""
ML_OPERATION_NAME: Final = "ml.operation.name"
"""The invoked operation: ``predict``, ``predict_proba``, ``decision_function``, ``call``."""

# --- per-call attributes (span only; unbounded) ----------------------------------
ML_BATCH_SIZE: Final = "ml.batch.size"
"""Number of rows in the call's input (int). Span only."""
ML_PREDICTION_ID: Final = "ml.prediction.id"
"""Opaque id joining this prediction to later feedback. Span only (unique per call)."""
ML_PREDICTION_CLASS: Final = "ml.prediction.class"
"""Predicted class label as a string (single-row calls). On spans; on the
``ml.predictions`` metric capped to a bounded set plus ``__other__``."""
ML_PREDICTION_VALUE: Final = "ml.prediction.value"
"""Predicted value of a regression (single-row calls, float). Span only."""
ML_PREDICTION_CONFIDENCE: Final = "ml.prediction.confidence"
"""Confidence in [0, 1], the max class probability (single-row calls). Span only."""
ML_PREDICTION_CLASSES: Final = "ml.prediction.classes"
"""Batch calls: the distinct predicted classes (string array, at most 10). Span only."""
ML_PREDICTION_CONFIDENCE_MIN: Final = "ml.prediction.confidence.min"
"""Batch calls: lowest row confidence. Span only."""
ML_PREDICTION_CONFIDENCE_MEAN: Final = "ml.prediction.confidence.mean"
"""Batch calls: mean row confidence. Span only."""
ML_PREDICTION_VALUE_MEAN: Final = "ml.prediction.value.mean"
"""Batch regression calls: mean predicted value. Span only."""
ML_MODEL_FRAMEWORK: Final = "ml.model.framework"
"""Framework of the wrapped model, e.g. ``sklearn``. Span only here."""

# --- data quality (metric; bounded enums) ----------------------------------------
ML_FEATURE_NAME: Final = "ml.feature.name"
"""Feature name (bounded by the model's schema). Pseudo-features for outputs
start with ``__``, e.g. ``__confidence__``."""
ML_DATA_ISSUE: Final = "ml.data.issue"
"""Kind of data-quality issue: one of :data:`DATA_ISSUES`."""
DATA_ISSUES: Final = ("missing", "non_finite", "out_of_range", "unseen_category", "type")
CONFIDENCE_FEATURE: Final = "__confidence__"
"""Pseudo-feature name under which invalid confidences are counted."""
SCORE_FEATURE: Final = "__score__"
"""Pseudo-feature of the drift monitor: the prediction score / confidence."""
PREDICTION_FEATURE: Final = "__prediction__"
"""Pseudo-feature of the drift monitor: the predicted class."""

INPUT_FEATURE: Final = "__input__"
"""Pseudo-feature under which inputs that do not fit the profile are counted."""
SCHEMA_ISSUE: Final = "schema"
"""``ml.data.issue`` of an input whose shape or columns do not fit the profile."""

# --- drift (metric; bounded by the profile) ----------------------------------------
ML_DRIFT_METHOD: Final = "ml.drift.method"
"""Drift statistic: one of :data:`DRIFT_METHODS`."""
DRIFT_METHODS: Final = ("psi", "ks", "chi2", "js")
ML_DRIFT_BIN: Final = "ml.drift.bin"
"""Coarse bin of a feature: ``lt:<edge>``, ``<a>..<b>``, ``ge:<edge>`` or a category."""

# --- generic -----------------------------------------------------------------
ERROR_TYPE: Final = "error.type"
"""Fully qualified exception class of a failed call (OTel general semconv)."""
OTHER_LABEL: Final = "__other__"
"""Replaces a class label or category once the bounded label set is full."""
COMPONENT: Final = "component"
"""otel_ml component whose telemetry code failed (``otel_ml.internal.errors``)."""

# --- metrics --------------------------------------------------------------------
ML_INFERENCE_DURATION: Final = "ml.inference.duration"
"""Histogram, seconds. Attributes: model name/version, operation, ``error.type`` on failure."""
ML_INFERENCE_ACTIVE: Final = "ml.inference.active"
"""Observable up-down counter, ``{request}``. In-flight calls per model name/version."""
ML_PREDICTION_CONFIDENCE_METRIC: Final = "ml.prediction.confidence"
"""Histogram, ``1``. One record per row (bounded per call). Model name/version."""
ML_PREDICTIONS: Final = "ml.predictions"
"""Observable counter, ``{prediction}``. Rows predicted per model name/version and
``ml.prediction.class`` (capped)."""
ML_DATA_QUALITY_ISSUES: Final = "ml.data.quality.issues"
"""Counter, ``{issue}``. Model name/version, ``ml.feature.name``, ``ml.data.issue``."""
OTEL_ML_INTERNAL_ERRORS: Final = "otel_ml.internal.errors"
"""Counter, ``{error}``. Telemetry failures swallowed by otel_ml, per ``component``."""

ML_DRIFT_SCORE: Final = "ml.drift.score"
"""Observable gauge, ``1``. Last completed window's score per feature and ``ml.drift.method``."""
ML_DRIFT_WINDOW_SIZE: Final = "ml.drift.window.size"
"""Observable gauge, ``{value}``. Valid values per feature behind the last score."""
ML_DRIFT_BIN_COUNT: Final = "ml.drift.bin.count"
"""Observable counter, ``{value}``. Values per feature and ``ml.drift.bin`` since start."""
ML_DRIFT_REFERENCE_FRACTION: Final = "ml.drift.reference.fraction"
"""Observable gauge, ``1``. Reference fraction per feature and ``ml.drift.bin``."""

# Explicit bucket boundaries, seconds: 0.5 ms to 10 s, roughly x2 per step.
INFERENCE_DURATION_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
CONFIDENCE_BUCKETS: Final = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)

# --- span names ----------------------------------------------------------------


def inference_span_name(operation: str, model_name: str) -> str:
    """Span name of an inference call: ``{ml.operation.name} {ml.model.name}``."""
    return f"{operation} {model_name}"
