"""Fixtures for the xgboost instrumentation."""

from __future__ import annotations

from hook_support import instrument_fixture

from otel_ml.instrumentation.xgboost import XGBoostInstrumentor

instrument = instrument_fixture(XGBoostInstrumentor)
