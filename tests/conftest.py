"""Shared fixtures: explicit SDK providers with in-memory exporters.

The suite runs in strict mode: a failure inside otel_ml's telemetry code is
re-raised instead of swallowed, so tests cannot pass over a hidden bug. Tests
that check the swallowing itself switch strict mode off locally.
"""

from __future__ import annotations

import os

os.environ["OTEL_ML_STRICT"] = "1"
# What otel_ml.instrument() opts into; set before any test initialises the contrib HTTP layer.
os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
# LiteLLM fetches its model cost map from the network at import unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from collections.abc import Iterator

import pytest
from support import Telemetry

from otel_ml._internal import guard


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    t = Telemetry.create()
    yield t
    t.shutdown()


@pytest.fixture(autouse=True)
def _fresh_guard() -> Iterator[None]:
    guard.reset_for_tests()
    guard.set_strict(True)
    yield
    guard.set_strict(True)
