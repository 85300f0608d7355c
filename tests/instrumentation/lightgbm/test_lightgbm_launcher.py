"""Zero-code: a lightgbm script run under ``opentelemetry-instrument``."""

from __future__ import annotations

import pytest
from launcher import console_spans, printed, run_launched

SCRIPT = """\
import json
import sys

print("IMPORTED EARLY", json.dumps([m for m in ("lightgbm", "xgboost") if m in sys.modules]))
import lightgbm as lgb
import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

rows = np.random.default_rng(0).normal(size=(200, 4))
labels = (rows[:, 0] > 0).astype(int)
params = {"objective": "binary", "verbose": -1}
booster = lgb.train(params, lgb.Dataset(rows, label=labels), 3)
regression = lgb.train({"objective": "regression", "verbose": -1}, lgb.Dataset(rows, rows[:, 1]), 3)
pipeline = make_pipeline(StandardScaler(), lgb.LGBMClassifier(n_estimators=3, verbose=-1))
pipeline.fit(rows, labels)
print("P", json.dumps(booster.predict(rows[:1]).tolist()))
print("V", json.dumps(regression.predict(rows[:1]).tolist()))
print("R", json.dumps(booster.predict(rows[:3], raw_score=True).tolist()))
print("L", json.dumps(pipeline.predict_proba(rows[:1]).tolist()))
print("PATCHED", type(vars(lgb.Booster)["predict"]).__name__)
"""


@pytest.mark.subprocess
def test_each_booster_call_is_one_span_read_by_objective(tmp_path):
    result = run_launched(tmp_path, SCRIPT)

    assert result.returncode == 0, result.stderr
    assert "IMPORTED EARLY []" in result.stdout
    assert "PATCHED AdaptedMethod" in result.stdout
    spans = console_spans(result.stdout)
    assert [s["name"] for s in spans] == [
        "predict lightgbm.Booster",
        "predict lightgbm.Booster",
        "predict lightgbm.Booster",
        "predict_proba LGBMClassifier",
    ], result.stdout
    binary, regression, raw, pipeline = (s["attributes"] for s in spans)
    (p,) = printed(result.stdout, "P")
    assert binary["ml.prediction.class"] == ("1" if p > 0.5 else "0")
    assert binary["ml.prediction.confidence"] == pytest.approx(max(p, 1 - p))
    assert regression["ml.prediction.value"] == pytest.approx(printed(result.stdout, "V")[0])
    assert raw["ml.batch.size"] == 3
    assert not {k for k in raw if k.startswith("ml.prediction.") and k != "ml.prediction.id"}
    ((q0, q1),) = printed(result.stdout, "L")
    assert pipeline["ml.prediction.confidence"] == pytest.approx(max(q0, q1))


@pytest.mark.subprocess
def test_disabled_by_name_leaves_the_boosters_alone(tmp_path):
    result = run_launched(
        tmp_path, SCRIPT, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="otel_ml_lightgbm"
    )

    assert result.returncode == 0, result.stderr
    assert "PATCHED function" in result.stdout
    spans = console_spans(result.stdout)
    assert [s["name"] for s in spans] == ["predict_proba LGBMClassifier"]  # the sklearn hook's
