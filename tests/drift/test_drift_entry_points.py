"""Drift monitoring switched on by the one-liner and by the launcher's environment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from launcher import console_metrics, run_launched
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from support import Telemetry

import otel_ml
from otel_ml import semconv
from otel_ml.drift.profile import ReferenceProfile

IRIS = load_iris()


def test_one_liner_reference_feeds_one_observation_per_request(
    telemetry: Telemetry, tmp_path: Path
) -> None:
    model = LogisticRegression(max_iter=1000).fit(IRIS.data, IRIS.target)
    path = tmp_path / "reference.json"
    ReferenceProfile.fit(IRIS.data, feature_names=list(IRIS.feature_names)).save(path)
    app = FastAPI()

    @app.get("/predict/{row}")
    def predict(row: int) -> dict[str, float]:
        x = IRIS.data[row : row + 1]
        model.predict(x)  # two inferences in one request: the monitor sees the row once
        return {"confidence": float(model.predict_proba(x).max())}

    handle = otel_ml.instrument(app, "iris", "1", reference=str(path), **telemetry.providers)
    try:
        with TestClient(app) as client:
            for row in range(0, 150, 3):
                assert client.get(f"/predict/{row}").status_code == 200
    finally:
        handle.uninstrument()

    bins: dict[str, int] = {}
    for attrs, point in telemetry.points(semconv.ML_DRIFT_BIN_COUNT):
        name = attrs[semconv.ML_FEATURE_NAME]
        bins[name] = bins.get(name, 0) + point.value
    assert bins == dict.fromkeys(IRIS.feature_names, 50)


def test_one_liner_reference_needs_a_model_name(telemetry: Telemetry) -> None:
    profile = ReferenceProfile.fit(IRIS.data)
    with pytest.raises(ValueError, match="needs model_name"):
        otel_ml.instrument(FastAPI(), reference=profile, **telemetry.providers)


SCRIPT = """\
import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

data = load_iris()
rng = np.random.default_rng(0)
model = LogisticRegression(max_iter=1000).fit(data.data, data.target)
rows = data.data[rng.integers(0, 150, 400)]
rows[:, 2] *= 10  # petal length now in millimetres: a silent unit change
for i in range(0, 400, 20):
    model.predict_proba(rows[i : i + 20])
print("DONE")
"""


@pytest.mark.subprocess
def test_launcher_environment_turns_drift_on(tmp_path: Path) -> None:
    path = tmp_path / "reference.json"
    ReferenceProfile.fit(IRIS.data, feature_names=list(IRIS.feature_names)).save(path)
    result = run_launched(
        tmp_path,
        SCRIPT,
        OTEL_METRICS_EXPORTER="console",
        OTEL_TRACES_EXPORTER="none",
        OTEL_ML_MODEL_NAME="iris",
        OTEL_ML_REFERENCE_PROFILE=str(path),
        OTEL_ML_DRIFT_WINDOW_ROWS="200",
        OTEL_ML_DRIFT_MIN_COUNT="100",
    )
    assert result.returncode == 0, result.stderr
    assert "DONE" in result.stdout
    metrics = console_metrics(result.stdout)
    scores = {
        (p["attributes"][semconv.ML_FEATURE_NAME], p["attributes"][semconv.ML_DRIFT_METHOD]): p[
            "value"
        ]
        for p in metrics[semconv.ML_DRIFT_SCORE]
    }
    assert scores[("petal length (cm)", "psi")] > 1.0
    assert scores[("sepal length (cm)", "ks")] < 0.15
    issues = {
        (p["attributes"][semconv.ML_FEATURE_NAME], p["attributes"][semconv.ML_DATA_ISSUE]): p[
            "value"
        ]
        for p in metrics[semconv.ML_DATA_QUALITY_ISSUES]
    }
    assert issues[("petal length (cm)", "out_of_range")] > 100
    assert "otel_ml drift detected" in result.stderr
    assert np.isclose(
        sum(
            p["value"]
            for p in metrics[semconv.ML_DRIFT_BIN_COUNT]
            if p["attributes"][semconv.ML_FEATURE_NAME] == "sepal width (cm)"
        ),
        400,
    )


@pytest.mark.parametrize("content", [None, "{not json"])
def test_an_unusable_reference_profile_variable_is_named_once_and_drift_stays_off(
    telemetry: Telemetry, tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str | None
) -> None:
    path = tmp_path / "reference.json"
    if content is not None:
        path.write_text(content)
    settings = otel_ml.Settings.load(environ={"OTEL_ML_REFERENCE_PROFILE": str(path)})
    with caplog.at_level("WARNING", logger="otel_ml"):
        models = [
            otel_ml.wrap_model(lambda x: "a", f"m{i}", "1", settings=settings,
                               **telemetry.providers)
            for i in range(2)
        ]  # fmt: skip
        assert [m([[1.0]]) for m in models] == ["a", "a"]
    assert [m.drift_monitor for m in models] == [None, None]
    [warning] = [r.getMessage() for r in caplog.records]
    assert "OTEL_ML_REFERENCE_PROFILE" in warning and str(path) in warning
