"""A small real model server: scikit-learn classifier behind FastAPI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

MODEL_NAME = "breast-cancer-classifier"
MODEL_VERSION = "1"


@dataclass(frozen=True)
class TrainedModel:
    """A fitted model and the held-out rows the traffic generator sends."""

    model: Pipeline
    feature_names: list[str]
    test_x: np.ndarray
    test_y: np.ndarray
    accuracy: float


def train() -> TrainedModel:
    """Fit a scaled logistic regression on scikit-learn's bundled breast cancer data."""
    data = load_breast_cancer()
    train_x, test_x, train_y, test_y = train_test_split(
        data.data, data.target, test_size=0.3, random_state=7, stratify=data.target
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(train_x, train_y)
    return TrainedModel(
        model=model,
        feature_names=list(data.feature_names),
        test_x=test_x,
        test_y=test_y,
        accuracy=float(model.score(test_x, test_y)),
    )


class Rows(BaseModel):
    """Request body: one or more rows of the 30 features."""

    rows: list[list[float]]


def build_app(trained: TrainedModel) -> FastAPI:
    """The demo API: ``POST /predict`` (async), ``POST /predict/sync``, ``GET /healthz``."""
    app = FastAPI(title="otel-ml demo model server")
    model = trained.model

    def predict(rows: list[list[float]]) -> dict[str, Any]:
        try:
            probs = model.predict_proba(np.asarray(rows, dtype=float))
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        return {
            "classes": model.classes_[probs.argmax(axis=1)].tolist(),
            "confidence": probs.max(axis=1).round(4).tolist(),
        }

    @app.post("/predict")
    async def predict_async(body: Rows) -> dict[str, Any]:
        return predict(body.rows)

    @app.post("/predict/sync")
    def predict_sync(body: Rows) -> dict[str, Any]:
        return predict(body.rows)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
