"""The app the served tests run under uvicorn or gunicorn in a subprocess:
``otel_ml.configure()`` (OTLP from the ``OTEL_*`` variables) and the one-liner,
with the HTTP layer named by ``SERVED_HTTP_LAYER``."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from sklearn.linear_model import LogisticRegression

import otel_ml

otel_ml.configure()

_rows = np.random.default_rng(3).normal(size=(40, 3))
_model = otel_ml.wrap_model(LogisticRegression().fit(_rows, _rows[:, 0] > 0), "served", "1")
app = FastAPI()


@app.post("/predict")
async def predict(request: Request) -> dict[str, Any]:
    body = await request.body()
    return {"label": bool(_model.predict(_rows[:1])[0]), "bytes": len(body)}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


otel_ml.instrument(
    app,
    "served",
    "1",
    http=os.environ.get("SERVED_HTTP_LAYER", "otel_ml"),
    instrument_sklearn=False,
)
