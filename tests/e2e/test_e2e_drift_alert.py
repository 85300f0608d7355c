"""Drift injected into live traffic reaches Prometheus and fires an alert.

The app closes a drift window every 200 rows (``OTEL_ML_DRIFT_*``). The
first window gets rows like the reference (the demo's training rows); the
second the same rows with ``mean radius`` shifted by three standard
deviations. The test rule ``E2EFeatureDrift`` (tests/e2e/rules/drift_test_rules.yml:
the shipped rule on ``ml_drift_status`` with a ``for:`` of seconds) must fire
for that feature, and for no other input feature. What Alertmanager makes of
it: test_e2e_alert_delivery.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from e2e_support import Stack, app_process, otel_environment, poll, unique_service

from otel_ml.demo.model import MODEL_NAME, MODEL_VERSION, Row, train
from otel_ml.semconv import PREDICTION_FEATURE, SCORE_FEATURE

WINDOW_ROWS = 200
BATCH_ROWS = 50
DRIFTED = "mean radius"
# The shift changes the model's predictions too: its outputs may drift with it.
OUTPUTS = (PREDICTION_FEATURE, SCORE_FEATURE)


def _alerting_features(stack: Stack, job: str) -> set[str]:
    return {
        alert["labels"]["ml_feature_name"]
        for alert in stack.prometheus.alerts()
        if alert["labels"]["alertname"] == "E2EFeatureDrift"
        and alert["labels"]["job"] == job
        and alert["state"] == "firing"
    }


def _psi(stack: Stack, job: str) -> dict[str, float]:
    found = stack.prometheus.query(f'ml_drift_score_ratio{{job="{job}", ml_drift_method="psi"}}')
    return {m["ml_feature_name"]: v for m, v in found}


def test_injected_drift_fires_the_drift_alert(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    job = unique_service("otel-ml-e2e-drift")
    demo = train()
    picked = np.random.default_rng(3).choice(len(demo.rows), size=WINDOW_ROWS, replace=False)
    rows = [demo.rows[i] for i in picked]
    shift = 3 * float(np.std([row[DRIFTED] for row in demo.rows]))
    drifted = [{**row, DRIFTED: row[DRIFTED] + shift} for row in rows]
    environ = otel_environment(
        job,
        OTEL_ML_DRIFT_WINDOW_ROWS=str(WINDOW_ROWS),
        OTEL_ML_DRIFT_MIN_COUNT=str(WINDOW_ROWS),
        OTEL_ML_DRIFT_BUFFER_ROWS="1",  # bin every request at once: windows end on a request
        OTEL_ML_DRIFT_WINDOW_SECONDS="3600",
    )
    log = Path(tmp_path_factory.mktemp("drift-app")) / "app.log"
    with app_process("one-line", environ, log) as client:

        def send(window: list[Row]) -> None:
            for start in range(0, WINDOW_ROWS, BATCH_ROWS):
                batch = window[start : start + BATCH_ROWS]
                assert client.post("/predict", json={"rows": batch}).status_code == 200

        send(rows)
        window_size = f'ml_drift_window_size{{job="{job}", ml_feature_name="{DRIFTED}"}}'
        poll(
            lambda: stack.prometheus.query(window_size),
            lambda r: [v for _, v in r] == [WINDOW_ROWS],
            "the first drift window",
        )
        scores = _psi(stack, job)
        assert set(demo.feature_names) <= set(scores), scores
        assert max(scores.values()) < 0.25, scores
        status = stack.prometheus.query(f'ml_drift_status{{job="{job}"}}')
        assert {m["ml_feature_name"]: v for m, v in status}[DRIFTED] == 0, status
        assert _alerting_features(stack, job) == set()

        send(drifted)
        poll(lambda: _psi(stack, job)[DRIFTED], lambda psi: psi > 1.0, "PSI of the drifted feature")
        poll(
            lambda: _alerting_features(stack, job),
            lambda found: DRIFTED in found and found <= {DRIFTED, *OUTPUTS},
            f"E2EFeatureDrift firing for {DRIFTED} of {job} (and at most the model's outputs)",
        )
    (alert,) = [
        a
        for a in stack.prometheus.alerts()
        if a["labels"].get("job") == job
        and a["labels"]["alertname"] == "E2EFeatureDrift"
        and a["labels"]["ml_feature_name"] == DRIFTED
        and a["state"] == "firing"
    ]
    assert alert["labels"]["ml_model_name"] == MODEL_NAME
    assert alert["labels"]["ml_model_version"] == MODEL_VERSION
    assert "ml_drift_method" not in alert["labels"]  # a verdict per feature
    assert float(alert["value"]) == 2.0
