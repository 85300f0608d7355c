"""Feedback fixtures: settings of the test's choosing and a prediction store per test.

otel_ml reads its settings once per process (``get_settings()``) and sizes the
process-wide prediction store from them on first use. Each test here gets
settings loaded from an environment it chooses (never ``os.environ``) and a
store of its own, and both are put back afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from feedback_support import UseSettings

from otel_ml import config
from otel_ml.config import Settings
from otel_ml.feedback import recorder
from otel_ml.feedback.store import PredictionStore


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
