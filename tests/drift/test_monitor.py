"""DriftMonitor through wrap_model: the drift metrics, data quality, logs, threads."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from support import Telemetry

import otel_ml
from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml.drift.profile import ReferenceProfile

RNG = np.random.default_rng(5)
N = 20_000
TRAIN = pd.DataFrame({
    "amount": RNG.lognormal(3, 1, N),
    "age": RNG.normal(40, 10, N),
    "channel": RNG.choice(["web", "app", "store"], N, p=[0.5, 0.4, 0.1]),
})  # fmt: skip
LABELS = (TRAIN["amount"] > 20).astype(int).to_numpy()


class Model:
    """A real classifier on the numeric columns that accepts the whole frame."""

    def __init__(self) -> None:
        self.inner = LogisticRegression().fit(TRAIN[["amount", "age"]], LABELS)
        self.classes_ = self.inner.classes_

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.inner.predict_proba(frame[["amount", "age"]])


@pytest.fixture(scope="module")
def model() -> Model:
    return Model()


@pytest.fixture(scope="module")
def profile(model: Model) -> ReferenceProfile:
    probs = model.predict_proba(TRAIN)
    return ReferenceProfile.fit(
        TRAIN, scores=probs.max(axis=1), predictions=model.classes_[probs.argmax(axis=1)]
    )


_KEYS = (semconv.ML_FEATURE_NAME, semconv.ML_DRIFT_METHOD, semconv.ML_DATA_ISSUE)


_KEYS = (semconv.ML_FEATURE_NAME, semconv.ML_DRIFT_METHOD, semconv.ML_DATA_ISSUE)


def _values(telemetry: Telemetry, name: str, **match: str) -> dict[Any, Any]:
    out = {}
    for attrs, point in telemetry.points(name):
        if all(attrs.get(k) == v for k, v in match.items()):
            key = tuple(attrs[k] for k in _KEYS if k in attrs)
            out[key if len(key) != 1 else key[0]] = point.value
    return out


def _feed(wrapped: Any, frame: pd.DataFrame, rows_per_call: int = 50) -> None:
    for i in range(0, len(frame), rows_per_call):
        wrapped.predict_proba(frame.iloc[i : i + rows_per_call])


def test_drift_metrics_after_one_unshifted_window(
    model: Model, profile: ReferenceProfile, telemetry: Telemetry
) -> None:
    wrapped = otel_ml.wrap_model(model, "fraud", "2", reference=profile, **telemetry.providers)
    _feed(wrapped, TRAIN.iloc[:1100])

    scores = _values(telemetry, semconv.ML_DRIFT_SCORE, **{semconv.ML_MODEL_NAME: "fraud"})
    features = {"amount", "age", "channel", semconv.SCORE_FEATURE, semconv.PREDICTION_FEATURE}
    assert {feature for feature, _ in scores} == features
    channel = {"psi", "chi2", "js", "missing"}
    assert {method for feature, method in scores if feature == "channel"} == channel
    assert {method for feature, method in scores if feature == "age"} == {*channel, "ks"}
    assert all(scores[(f, m)] < 0.1 for f, m in scores if m in ("psi", "ks", "js", "missing"))
    statuses = _values(telemetry, semconv.ML_DRIFT_STATUS, **{semconv.ML_MODEL_NAME: "fraud"})
    missing = _values(telemetry, semconv.ML_DRIFT_MISSING_STATUS)
    assert set(statuses) == set(missing) == features  # one point per feature, no method
    assert set(missing.values()) == {0}

    sizes = _values(telemetry, semconv.ML_DRIFT_WINDOW_SIZE)
    # 50-row calls fill the 256-row buffer to 250; the flush that reaches 1000 rows closes it
    assert sizes == dict.fromkeys(features, 1000)

    bins = telemetry.points(semconv.ML_DRIFT_BIN_COUNT)
    per_feature: dict[str, int] = {}
    for attrs, point in bins:
        per_feature[attrs[semconv.ML_FEATURE_NAME]] = (
            per_feature.get(attrs[semconv.ML_FEATURE_NAME], 0) + point.value
        )
    assert per_feature == dict.fromkeys(features, 1100)  # collection bins what was buffered
    age_bins = [a[semconv.ML_DRIFT_BIN] for a, _ in bins if a[semconv.ML_FEATURE_NAME] == "age"]
    assert len(age_bins) == 12
    assert age_bins[0].startswith("lt:")
    assert age_bins[-1].startswith("ge:")

    fractions: dict[str, float] = {}
    for attrs, point in telemetry.points(semconv.ML_DRIFT_REFERENCE_FRACTION):
        name = attrs[semconv.ML_FEATURE_NAME]
        fractions[name] = fractions.get(name, 0.0) + point.value
    assert fractions == pytest.approx(dict.fromkeys(features, 1.0))


def test_shifted_inputs_are_flagged_and_logged(
    model: Model, profile: ReferenceProfile, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    shifted = TRAIN.iloc[:1100].copy()
    shifted["age"] += 5.0  # half a standard deviation
    shifted["channel"] = RNG.choice(["web", "app", "store"], 1100, p=[0.2, 0.4, 0.4])
    wrapped = otel_ml.wrap_model(model, "fraud", "3", reference=profile, **telemetry.providers)
    with caplog.at_level(logging.WARNING, logger="otel_ml.drift"):
        _feed(wrapped, shifted)
        assert caplog.records == []  # nothing is scored on the request path
        scores = _values(telemetry, semconv.ML_DRIFT_SCORE, **{semconv.ML_MODEL_VERSION: "3"})

    [record] = caplog.records
    logged = json.loads(record.getMessage().split(" ", 3)[3])
    assert (logged["model"], logged["version"], logged["window"], logged["rows"]) == (
        "fraud",
        "3",
        0,
        1000,
    )
    drifted = {d["feature"]: d for d in logged["drifted"]}
    assert set(drifted) == {"age", "channel"}
    assert drifted["age"]["window_size"] == 1000
    assert (drifted["age"]["test"], drifted["channel"]["test"]) == ("ks", "chi2")
    assert scores[("age", "ks")] == pytest.approx(drifted["age"]["statistic"], abs=1e-4)
    assert drifted["age"]["p_value"] < 0.01 and drifted["age"]["effect"] >= 0.05
    statuses = _values(telemetry, semconv.ML_DRIFT_STATUS, **{semconv.ML_MODEL_VERSION: "3"})
    assert statuses["age"] == statuses["channel"] == 2 and statuses["amount"] == 0
    assert scores[("age", "ks")] > 0.1
    assert scores[("channel", "psi")] > 0.25
    assert scores[("amount", "ks")] < 0.1


def test_bad_inputs_are_counted_and_never_raise(
    profile: ReferenceProfile, telemetry: Telemetry
) -> None:
    def predict(frame: Any) -> list[int]:
        return [1] * (len(frame) if hasattr(frame, "__len__") else 1)

    wrapped = otel_ml.wrap_model(predict, "fraud", "4", reference=profile, **telemetry.providers)
    hostile = [
        [{"amount": None, "age": "forty", "channel": "fax"}],
        [{"amount": float("nan"), "age": float("inf"), "channel": None}],
        [{"amount": 1e308, "age": -1e308, "channel": "web"}],
        np.zeros((2, 7)),  # wrong feature count
        [],  # empty batch
        {"amount": 12.5},  # one record missing two features
        [{"amount": 9.0, "age": 30.0, "channel": "web", "referrer": "ad"}],  # not profiled
    ]
    for batch in hostile:
        assert wrapped(batch) == predict(batch)
    monitor = wrapped.drift_monitor
    assert monitor is not None
    monitor.tick(force=True)
    issues = _values(telemetry, semconv.ML_DATA_QUALITY_ISSUES, **{semconv.ML_MODEL_VERSION: "4"})
    assert issues == {
        ("amount", "missing"): 2,  # None and NaN
        ("amount", "out_of_range"): 1,
        ("age", "type"): 1,
        ("age", "non_finite"): 1,
        ("age", "out_of_range"): 1,
        ("age", "missing"): 1,  # the last record lacks age and channel
        ("channel", "unseen_category"): 1,
        ("channel", "missing"): 2,
        (semconv.INPUT_FEATURE, semconv.SCHEMA_ISSUE): 1,
        ("referrer", semconv.SCHEMA_ISSUE): 1,
    }
    assert guard.error_count() == 0


def test_inputs_a_model_rejects_still_count_as_data_quality_issues(
    profile: ReferenceProfile, telemetry: Telemetry
) -> None:
    """A model that raises on missing values: the call fails, and its rows still show
    up in the data-quality counts (they are why it failed), with no output drift."""

    def predict(rows: list[dict[str, Any]]) -> list[int]:
        if any(row.get("amount") is None for row in rows):
            raise ValueError("amount is required")
        return [1] * len(rows)

    wrapped = otel_ml.wrap_model(predict, "strict", "1", reference=profile, **telemetry.providers)
    with pytest.raises(ValueError, match="amount is required"):
        wrapped([{"amount": None, "age": 30.0, "channel": "web"}])
    assert wrapped([{"amount": 10.0, "age": 30.0, "channel": "web"}]) == [1]
    monitor = wrapped.drift_monitor
    assert monitor is not None
    monitor.tick(force=True)

    issues = _values(telemetry, semconv.ML_DATA_QUALITY_ISSUES, **{semconv.ML_MODEL_NAME: "strict"})
    assert issues == {("amount", "missing"): 1}
    assert guard.error_count() == 0


def test_wrapping_a_model_again_keeps_one_monitor_per_model(
    model: Model, profile: ReferenceProfile, telemetry: Telemetry
) -> None:
    """Re-wrapping with the same profile reuses the monitor; a new profile replaces it,
    and only the replacement is exported (no duplicate series, no pile of monitors)."""
    first = otel_ml.wrap_model(model, "rewrap", "1", reference=profile, **telemetry.providers)
    again = otel_ml.wrap_model(model, "rewrap", "1", reference=profile, **telemetry.providers)
    original = first.drift_monitor
    assert original is not None and again.drift_monitor is original
    _feed(again, TRAIN.iloc[:100])

    newer = ReferenceProfile.fit(TRAIN.iloc[:5000])
    replaced = otel_ml.wrap_model(model, "rewrap", "1", reference=newer, **telemetry.providers)
    assert replaced.drift_monitor is not original
    assert first.drift_monitor is replaced.drift_monitor  # wrappers share the model
    _feed(replaced, TRAIN.iloc[:30])

    bins = [
        (attrs[semconv.ML_FEATURE_NAME], point.value)
        for attrs, point in telemetry.points(semconv.ML_DRIFT_BIN_COUNT)
        if attrs[semconv.ML_MODEL_NAME] == "rewrap"
    ]
    assert sum(value for feature, value in bins if feature == "age") == 30
    assert {feature for feature, _ in bins} == {"amount", "age", "channel"}


def test_concurrent_predictions_are_counted_exactly(
    model: Model, profile: ReferenceProfile, telemetry: Telemetry
) -> None:
    wrapped = otel_ml.wrap_model(model, "fraud", "5", reference=profile, **telemetry.providers)
    rows = TRAIN.iloc[:4000]
    barrier = threading.Barrier(8)

    def worker(part: int) -> None:
        barrier.wait()
        _feed(wrapped, rows.iloc[part * 500 : (part + 1) * 500], rows_per_call=1 + part % 3)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    totals: dict[str, int] = {}
    for attrs, point in telemetry.points(semconv.ML_DRIFT_BIN_COUNT):
        name = attrs[semconv.ML_FEATURE_NAME]
        totals[name] = totals.get(name, 0) + point.value
    assert totals["age"] + totals["channel"] == 8000  # every row binned once, none lost
    assert totals[semconv.PREDICTION_FEATURE] == 4000
