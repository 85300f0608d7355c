"""Inference invocations: spans, RED metrics and prediction telemetry."""

from otel_ml.inference.invocation import InferenceInvocation
from otel_ml.inference.scope import InferenceScope, inference
from otel_ml.inference.wrapper import InstrumentedModel, wrap_model

__all__ = ["InferenceInvocation", "InferenceScope", "InstrumentedModel", "inference", "wrap_model"]
