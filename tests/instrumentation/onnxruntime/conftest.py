"""Fixtures for the ONNX Runtime instrumentation."""

from __future__ import annotations

from hook_support import instrument_fixture

from otel_ml.instrumentation.onnxruntime import OnnxRuntimeInstrumentor

instrument = instrument_fixture(OnnxRuntimeInstrumentor)
