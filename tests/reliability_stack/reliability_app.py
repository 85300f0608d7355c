"""The model server the reliability tests run under uvicorn or gunicorn.

``RELIABILITY_MODE`` picks how telemetry is set up, as a deployment would:

- ``one-line``: ``otel_ml.configure()`` + ``otel_ml.instrument(app, ...)`` at import,
  i.e. in each worker (gunicorn imports the app after the fork, uvicorn
  ``--workers`` in each spawned worker);
- ``launcher``: run under ``opentelemetry-instrument``, which sets up the SDK;
  the app only calls ``otel_ml.instrument(app, ...)`` for drift and feedback.

Everything else comes from ``OTEL_*`` / ``OTEL_ML_*`` variables.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import otel_ml
from otel_ml.drift.profile import ReferenceProfile

MODEL_NAME = "reliability-model"
MODEL_VERSION = "1"


class Rows(BaseModel):
    rows: list[list[float]]


if os.environ["RELIABILITY_MODE"] == "one-line":
    otel_ml.configure()

_data = load_breast_cancer()
_model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(
    _data.data, _data.target
)
app = FastAPI()


@app.post("/predict")
async def predict(body: Rows) -> dict[str, Any]:
    probs = _model.predict_proba(np.asarray(body.rows, dtype=float))
    return {"classes": probs.argmax(axis=1).tolist(), "worker": os.getpid()}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


otel_ml.instrument(
    app,
    model_name=MODEL_NAME,
    model_version=MODEL_VERSION,
    reference=ReferenceProfile.fit(_data.data, feature_names=list(_data.feature_names)),
    feedback_route="/feedback",
)
