"""Prediction ids and the per-request scope the FastAPI layer opens."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass

_BATCH_BYTES = 4096
"""Ids drawn per read of the OS generator: 256 of 16 bytes (a read costs about 10 us,
a batch makes an id cost about what ``random.getrandbits`` did)."""

_ready: deque[str] = deque()
_take = _ready.popleft  # atomic: threads never get the same id, no lock


def _refill() -> None:
    digits = os.urandom(_BATCH_BYTES).hex()
    _ready.extend([digits[i : i + 32] for i in range(0, 2 * _BATCH_BYTES, 32)])


def new_prediction_id() -> str:
    """A random 128-bit id as 32 lowercase hex digits, from the operating system's
    CSPRNG: ids anyone can see (response headers) say nothing of the next ones, so a
    client cannot label another client's predictions first."""
    try:
        return _take()
    except IndexError:
        _refill()
        return _take()


# A forked worker must not hand out the ids its parent had drawn but not used.
os.register_at_fork(after_in_child=_ready.clear)


@dataclass(slots=True)
class RequestScope:
    """State shared by the inference calls of one HTTP request."""

    model_name: str | None = None
    model_version: str | None = None
    prediction_id: str | None = None
    drift_observed: bool = False
    """Whether an inference of this request already fed the drift monitor."""
    headers: Sequence[tuple[bytes, bytes]] = ()
    """The request's ASGI headers (lower-case names): where a tenant header is read."""

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
