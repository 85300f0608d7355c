"""The scikit-learn hook on estimators defined outside scikit-learn: xgboost's and
lightgbm's scikit-learn classes (BaseEstimator subclasses) and CatBoost's (the
same API without the base class, patched when catboost is imported)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from launcher import console_spans, printed, run_launched
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from support import Telemetry

ROWS = np.random.default_rng(0).normal(size=(120, 4))
LABELS = (ROWS[:, 0] + ROWS[:, 1] > 0).astype(int)


def _classifiers() -> dict[str, Any]:
    import catboost
    import lightgbm
    import xgboost

    return {
        "XGBClassifier": xgboost.XGBClassifier(n_estimators=4, max_depth=2),
        "LGBMClassifier": lightgbm.LGBMClassifier(n_estimators=4, verbose=-1),
        "CatBoostClassifier": catboost.CatBoostClassifier(
            iterations=4, verbose=False, allow_writing_files=False
        ),
    }


@pytest.mark.parametrize("name", ["XGBClassifier", "LGBMClassifier", "CatBoostClassifier"])
def test_one_span_per_call_with_class_and_confidence_and_none_for_fit(
    telemetry: Telemetry, instrument: Any, name: str
) -> None:
    instrument()
    model = _classifiers()[name].fit(ROWS, LABELS)
    assert telemetry.spans() == []  # fit's own predictions are not served traffic
    probabilities = model.predict_proba(ROWS[:1])
    predicted = model.predict(ROWS[:1])
    spans = [(span.name, dict(span.attributes or {})) for span in telemetry.spans()]
    assert [span for span, _ in spans] == [f"predict_proba {name}", f"predict {name}"]
    proba_attrs, predict_attrs = spans[0][1], spans[1][1]
    assert proba_attrs["ml.prediction.class"] == str(int(np.argmax(probabilities[0])))
    assert proba_attrs["ml.prediction.confidence"] == pytest.approx(float(probabilities[0].max()))
    assert predict_attrs["ml.prediction.class"] == str(int(np.ravel(predicted)[0]))


@pytest.mark.parametrize("name", ["XGBClassifier", "LGBMClassifier", "CatBoostClassifier"])
def test_a_pipeline_around_it_is_one_span(telemetry: Telemetry, instrument: Any, name: str) -> None:
    instrument()
    pipeline = make_pipeline(StandardScaler(), _classifiers()[name]).fit(ROWS, LABELS)
    pipeline.predict(ROWS[:3])
    assert [span.name for span in telemetry.spans()] == [f"predict {name}"]


def test_uninstrument_unpatches_catboost(instrument: Any) -> None:
    import catboost

    instrumentor = instrument()
    assert hasattr(vars(catboost.CatBoostClassifier)["predict_proba"], "__wrapped__")
    instrumentor.uninstrument()
    assert not hasattr(vars(catboost.CatBoostClassifier)["predict_proba"], "__wrapped__")


LAUNCHED = """\
import json
import sys

import numpy as np

assert "catboost" not in sys.modules and "sklearn" not in sys.modules
import catboost

rows = np.random.default_rng(0).normal(size=(60, 3))
labels = (rows[:, 0] > 0).astype(int)
model = catboost.CatBoostClassifier(iterations=3, verbose=False, allow_writing_files=False)
model.fit(rows, labels)
print("P", json.dumps(model.predict_proba(rows[:1]).tolist()))
"""


@pytest.mark.subprocess
def test_catboost_under_the_launcher_is_one_span_per_call(tmp_path: Any) -> None:
    """Zero-code: the scikit-learn hook patches CatBoost when the script imports
    it (after start-up), fit makes no span and predict_proba one."""
    result = run_launched(tmp_path, LAUNCHED)

    assert result.returncode == 0, result.stderr
    spans = console_spans(result.stdout)
    assert [span["name"] for span in spans] == ["predict_proba CatBoostClassifier"]
    (probabilities,) = printed(result.stdout, "P")
    attributes = spans[0]["attributes"]
    assert attributes["ml.prediction.class"] == str(int(np.argmax(probabilities)))
    assert attributes["ml.prediction.confidence"] == pytest.approx(max(probabilities))
