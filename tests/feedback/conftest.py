"""Feedback fixtures: settings of the test's choosing and a prediction store per test.

Entry points take the settings they are handed (``settings=``); the first
model that keeps predictions sizes the process-wide prediction store. Each
test here builds settings from an environment it chooses (never
``os.environ``) and starts with no store, or one of its own, and the store
in place before is put back afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from feedback_support import UseSettings
from redis_support import RedisServer, redis_binary

from otel_ml.config import Settings
from otel_ml.feedback.store import PredictionStore
from otel_ml.feedback.stores.registry import use_prediction_store


@pytest.fixture(autouse=True)
def _own_store() -> Iterator[None]:
    """No prediction store at the start of a test; the one before it afterwards."""
    previous = use_prediction_store(None)
    yield
    use_prediction_store(previous)


@pytest.fixture
def use_settings() -> UseSettings:
    """``use_settings(OTEL_ML_...="...")``: settings from that environment only, to
    hand to the entry points (``settings=``); the first model sizes the store."""

    def use(**environ: str) -> Settings:
        return Settings.load(environ=environ)

    return use


@pytest.fixture
def use_store() -> Callable[..., PredictionStore]:
    """``use_store(capacity, ttl_s, clock)``: the process-wide store for this test."""

    def use(capacity: int, ttl_s: float, clock: Any) -> PredictionStore:
        store = PredictionStore(capacity, ttl_s, clock)
        use_prediction_store(store)
        return store

    return use


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port, stopped after the test."""
    server = RedisServer(redis_binary(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
