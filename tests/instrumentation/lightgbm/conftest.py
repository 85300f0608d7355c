"""Fixtures for the lightgbm instrumentation."""

from __future__ import annotations

from hook_support import instrument_fixture

from otel_ml.instrumentation.lightgbm import LightGBMInstrumentor

instrument = instrument_fixture(LightGBMInstrumentor)
