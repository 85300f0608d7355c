"""Feedback fixtures: settings of the test's choosing and a prediction store per test.

otel_ml reads its settings once per process (``get_settings()``) and sizes the
process-wide prediction store from them on first use. Each test here gets
settings loaded from an environment it chooses (never ``os.environ``) and a
store of its own, and both are put back afterwards.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

import pytest

from otel_ml import config
from otel_ml.config import Settings
from otel_ml.feedback import recorder
from otel_ml.feedback.store import PredictionStore

UseSettings = Callable[..., Settings]


class Clock:
    """A monotonic clock that moves only when told (thread-safe)."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


class TickingClock:
    """A clock that moves ``step`` seconds on every reading (thread-safe under the GIL)."""

    def __init__(self, step: float) -> None:
        self._ticks = itertools.count()
        self._step = step

    def __call__(self) -> float:
        return next(self._ticks) * self._step


@pytest.fixture(autouse=True)
def use_settings(monkeypatch: pytest.MonkeyPatch) -> UseSettings:
    """``use_settings(OTEL_ML_...="...")`` makes those the process settings for this
    test (an empty environment by default) and resets the store to be sized by them."""

    def use(**environ: str) -> Settings:
        settings = Settings.load(environ=environ)
        monkeypatch.setattr(config, "_loaded", settings)
        monkeypatch.setattr(recorder, "_store", None)
        return settings

    use()
    return use


@pytest.fixture
def use_store(monkeypatch: pytest.MonkeyPatch) -> Callable[..., PredictionStore]:
    """``use_store(capacity, ttl_s, clock)``: the process-wide store for this test."""

    def use(capacity: int, ttl_s: float, clock: Any) -> PredictionStore:
        store = PredictionStore(capacity, ttl_s, clock)
        monkeypatch.setattr(recorder, "_store", store)
        return store

    return use
