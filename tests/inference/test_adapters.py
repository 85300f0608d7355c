"""The table of model kinds: which adapter recognises which model, and its readers."""

from __future__ import annotations

import numpy as np
import xgboost as xgb
from model_zoo import BINARY, ROWS, lightgbm_booster, onnx_session, xgboost_booster
from sklearn.linear_model import LogisticRegression

from otel_ml.inference.adapters import (
    LIGHTGBM,
    ONNX_RUN,
    ONNXRUNTIME,
    SKLEARN_API,
    XGBOOST,
    adapter_for,
    instrumented_names,
)


class SessionLike:
    """A class called InferenceSession outside onnxruntime: not a session."""

    def run(self, output_names: object, input_feed: object) -> list[object]:
        return []


def test_each_library_model_has_its_adapter_and_everything_else_the_default() -> None:
    session = onnx_session("zipmap")
    classifier = xgb.XGBClassifier(n_estimators=2).fit(ROWS, BINARY)
    assert adapter_for(xgboost_booster("binary:logistic")) is XGBOOST
    assert adapter_for(lightgbm_booster("binary")) is LIGHTGBM
    assert adapter_for(session) is ONNXRUNTIME
    assert adapter_for(session.run) is ONNX_RUN
    assert adapter_for(session.get_outputs) is SKLEARN_API
    assert adapter_for(classifier) is SKLEARN_API  # the scikit-learn API
    assert adapter_for(classifier.get_booster()) is XGBOOST
    assert adapter_for(SessionLike()) is SKLEARN_API
    assert {"predict", "inplace_predict", "run", "predict_proba"} <= set(instrumented_names())


def test_call_readers_find_the_rows_where_each_kind_keeps_them() -> None:
    feed = {"X": ROWS[:3]}
    inputs, rows, summarize = ONNXRUNTIME.call_reader("run", onnx_session("zipmap"), None)(
        (None, feed), {}
    )
    assert inputs is feed["X"] and rows == 3 and summarize is not None
    dmatrix = xgb.DMatrix(ROWS[:4])
    read = XGBOOST.call_reader("predict", xgboost_booster("binary:logistic"), None)
    assert read((dmatrix,), {})[:2] == (None, 4)  # a DMatrix: rows, no readable features
    assert read((), {"data": dmatrix})[:2] == (None, 4)
    lr = LogisticRegression().fit(ROWS, BINARY)
    x = np.zeros((5, 4))
    inputs, rows, summarize = SKLEARN_API.call_reader("predict_proba", lr, None)((x,), {})
    assert inputs is x and rows == 5 and summarize is not None
    from_file = LIGHTGBM.call_reader("predict", lightgbm_booster("binary"), None)
    assert from_file(("rows.csv",), {})[:2] == (None, None)  # a file to predict on
