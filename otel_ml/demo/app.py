"""The demo's model server: the classifier and the RAG endpoint behind FastAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from otel_ml.demo.model import DemoModel
from otel_ml.demo.rag import RagService


class PredictRequest(BaseModel):
    """One or more rows, each an object of feature values."""

    rows: list[dict[str, float | str]] = Field(min_length=1, max_length=256)


class AskRequest(BaseModel):
    """A question for the RAG endpoint."""

    question: str = Field(min_length=1, max_length=500)


def build_app(demo: DemoModel, rag: RagService) -> FastAPI:
    """``POST /predict``, ``POST /ask``, ``GET /healthz`` (instrument it before serving)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await rag.close()

    app = FastAPI(title="otel-ml demo model server", lifespan=lifespan)
    model = demo.model

    @app.post("/predict")
    def predict(body: PredictRequest) -> dict[str, Any]:
        # A plain `def`: FastAPI runs it in a worker thread, off the event loop.
        try:
            probabilities = model.predict_proba(body.rows)
        except ValueError as exc:  # e.g. NaN in a row: the model's own error
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        return {
            "classes": model.classes_[probabilities.argmax(axis=1)].tolist(),
            "confidence": np.round(probabilities.max(axis=1), 4).tolist(),
        }

    @app.post("/ask")
    async def ask(body: AskRequest) -> dict[str, Any]:
        return await rag.answer(body.question)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
