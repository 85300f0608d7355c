"""Zero-code: an xgboost script run under ``opentelemetry-instrument``."""

from __future__ import annotations

import pytest
from launcher import console_spans, printed, run_launched

SCRIPT = """\
import sys

print("IMPORTED EARLY", [m for m in ("xgboost", "lightgbm", "onnxruntime") if m in sys.modules])
import numpy as np
import xgboost as xgb

rows = np.random.default_rng(0).normal(size=(200, 4))
labels = (rows[:, 0] > 0).astype(int)
binary = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(rows, label=labels), 3)
classes = np.digitize(rows[:, 0], [-0.5, 0.5])
softprob = xgb.train(
    {"objective": "multi:softprob", "num_class": 3}, xgb.DMatrix(rows, label=classes), 3
)
print("P", binary.predict(xgb.DMatrix(rows[:1])).tolist())
print("Q", softprob.inplace_predict(rows[:1]).tolist())
print("R", binary.inplace_predict(rows[:5], predict_type="margin").shape)
print("PATCHED", type(vars(xgb.Booster)["predict"]).__name__)
"""
CLASSIFIER = """\
import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from xgboost import XGBClassifier

rows = np.random.default_rng(0).normal(size=(200, 4))
labels = (rows[:, 0] > 0).astype(int)
classifier = XGBClassifier(n_estimators=3).fit(rows, labels)
pipeline = make_pipeline(StandardScaler(), XGBClassifier(n_estimators=3)).fit(rows, labels)
print("P", classifier.predict_proba(rows[:1]).tolist())
print("L", pipeline.predict(rows[:2]).tolist())
"""


@pytest.mark.subprocess
def test_each_booster_call_is_one_span_read_by_objective(tmp_path):
    result = run_launched(tmp_path, SCRIPT)

    assert result.returncode == 0, result.stderr
    assert "PATCHED AdaptedMethod" in result.stdout
    assert "IMPORTED EARLY []" in result.stdout  # the hooks wait for the script's import
    spans = console_spans(result.stdout)
    assert [s["name"] for s in spans] == [
        "predict xgboost.Booster",
        "inplace_predict xgboost.Booster",
        "inplace_predict xgboost.Booster",
    ], result.stdout
    (p,) = printed(result.stdout, "P")
    (q,) = printed(result.stdout, "Q")
    binary, softprob, margins = (dict(s["attributes"]) for s in spans)
    assert binary["ml.prediction.class"] == ("1" if p > 0.5 else "0")
    assert binary["ml.prediction.confidence"] == pytest.approx(max(p, 1 - p))
    assert softprob["ml.prediction.class"] == str(max(range(3), key=q.__getitem__))
    assert softprob["ml.prediction.confidence"] == pytest.approx(max(q))
    assert margins["ml.batch.size"] == 5
    assert not {k for k in margins if k.startswith("ml.prediction.") and k != "ml.prediction.id"}


@pytest.mark.subprocess
def test_disabled_by_name(tmp_path):
    result = run_launched(tmp_path, SCRIPT, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="otel_ml_xgboost")

    assert result.returncode == 0, result.stderr
    assert "PATCHED function" in result.stdout
    assert console_spans(result.stdout) == []


@pytest.mark.subprocess
def test_xgbclassifier_and_its_pipeline_are_one_span_each(tmp_path):
    result = run_launched(tmp_path, CLASSIFIER, OTEL_ML_MODEL_NAME="churn")

    assert result.returncode == 0, result.stderr
    spans = console_spans(result.stdout)
    assert [s["name"] for s in spans] == ["predict_proba churn", "predict churn"], result.stdout
    ((p0, p1),) = printed(result.stdout, "P")
    assert spans[0]["attributes"]["ml.prediction.confidence"] == pytest.approx(max(p0, p1))
    assert spans[1]["attributes"]["ml.batch.size"] == 2
