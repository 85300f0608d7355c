"""Prediction ids and the per-request scope the FastAPI layer opens."""

from __future__ import annotations

import random
from contextvars import ContextVar
from dataclasses import dataclass

_random_bits = random.getrandbits  # the module's generator: it reseeds itself after fork


def new_prediction_id() -> str:
    """A random 128-bit id as 32 lowercase hex digits."""
    return _random_bits(128).to_bytes(16, "big").hex()  # half the time of a format string


@dataclass(slots=True)
class RequestScope:
    """State shared by the inference calls of one HTTP request."""

    model_name: str | None = None
    model_version: str | None = None
    prediction_id: str | None = None
    drift_observed: bool = False
    """Whether an inference of this request already fed the drift monitor."""

    def claim_prediction_id(self) -> str:
        """The request's prediction id, created by the first inference that asks."""
        if self.prediction_id is None:
            self.prediction_id = new_prediction_id()
        return self.prediction_id


current_request: ContextVar[RequestScope | None] = ContextVar("otel_ml_request", default=None)

last_prediction: ContextVar[str | None] = ContextVar("otel_ml_last_prediction", default=None)


def last_prediction_id() -> str | None:
    """The prediction id of the latest inference started in this context (thread,
    task or request), e.g. right after ``model.predict(x)``; ``None`` before any."""
    return last_prediction.get()
