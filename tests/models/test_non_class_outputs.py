"""Nothing but a scalar label becomes a class: dicts, lists, objects and
fractional floats are counted as ``type`` issues of the ``__prediction__``
pseudo-feature, never put on a span or a metric as a class."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from support import Telemetry

import otel_ml
from otel_ml import semconv


class _Model:
    """A model whose predict returns whatever the test hands it."""

    def __init__(self, output: Any) -> None:
        self.output = output

    def predict(self, rows: Any) -> Any:
        return self.output


class _Scored:
    def __repr__(self) -> str:
        return "SequenceClassifierOutput(loss=None, logits=tensor([[0.1, 0.2]]))"


@pytest.mark.parametrize(
    ("output", "task", "invalid", "counted"),
    [
        ({"label": "NEGATIVE", "score": 0.5035}, None, 1, {}),
        ([{"label": "NEGATIVE", "score": 0.5035}], None, 1, {}),
        (
            np.array([{"label": "POSITIVE", "score": 0.9}, {"label": "x"}], dtype=object),
            None,
            2,
            {},
        ),
        (_Scored(), None, 1, {}),
        (np.array([0.73]), "classification", 1, {}),
        (np.array([0.73, 1.0, 0.0]), "classification", 1, {"1": 1, "0": 1}),
        (np.array([[1, 2]], dtype=object), None, 0, {}),  # multi-label rows: rows only
    ],
)
def test_a_non_scalar_output_is_never_a_class(
    telemetry: Telemetry, output: Any, task: str | None, invalid: int, counted: dict[str, int]
) -> None:
    model = otel_ml.wrap_model(_Model(output), "m", "1", task=task, **telemetry.providers)
    model.predict([[0.0]])
    attrs = dict(telemetry.span("predict m").attributes or {})
    assert semconv.ML_PREDICTION_CLASS not in attrs
    assert set(attrs.get(semconv.ML_PREDICTION_CLASSES, ())) == set(counted)
    predictions = {
        a[semconv.ML_PREDICTION_CLASS]: p.value for a, p in telemetry.points(semconv.ML_PREDICTIONS)
    }
    assert predictions == counted
    issues = {
        (a[semconv.ML_FEATURE_NAME], a[semconv.ML_DATA_ISSUE]): p.value
        for a, p in telemetry.points(semconv.ML_DATA_QUALITY_ISSUES)
    }
    assert issues == ({(semconv.PREDICTION_FEATURE, "type"): invalid} if invalid else {})
