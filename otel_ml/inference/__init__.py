"""The inference signal: model calls on the invocation lifecycle.

Spans, RED metrics, prediction and confidence metrics, the model context
that calls share, and the sinks (drift, feedback) they feed, known here only
by their interface. The entry points that build these are in
:mod:`otel_ml.models`.
"""

from otel_ml.inference.invocation import InferenceInvocation
from otel_ml.inference.scope import InferenceScope

__all__ = ["InferenceInvocation", "InferenceScope"]
