"""otel_ml: OpenTelemetry instrumentation for Python model servers.

One line in a FastAPI app::

    otel_ml.instrument(app, model_name="fraud-model", model_version="3")

or none at all under ``opentelemetry-instrument``. See the README.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otel_ml._internal.ids import last_prediction_id
from otel_ml.config import Settings, SettingsError
from otel_ml.feedback.recorder import reset_segments, set_segments
from otel_ml.genai import embedding, generation, llm, retrieval
from otel_ml.inference import InferenceInvocation, InferenceScope
from otel_ml.instrumentation.anthropic import instrument_anthropic
from otel_ml.instrumentation.langchain import instrument_langchain
from otel_ml.instrumentation.litellm import instrument_litellm
from otel_ml.instrumentation.llamaindex import instrument_llamaindex
from otel_ml.instrumentation.openai import instrument_openai
from otel_ml.models.labels import record_feedback
from otel_ml.models.load import load_model
from otel_ml.models.scopes import inference
from otel_ml.models.wrapper import InstrumentedModel, wrap_model
from otel_ml.version import __version__

if TYPE_CHECKING:
    from otel_ml.drift.monitor import DriftMonitor
    from otel_ml.drift.profile import ReferenceProfile
    from otel_ml.instrumentation.fastapi import Instrumentation
    from otel_ml.sdk import TelemetryHandle

__all__ = [
    "DriftMonitor",
    "InferenceInvocation",
    "InferenceScope",
    "InstrumentedModel",
    "ReferenceProfile",
    "Settings",
    "SettingsError",
    "__version__",
    "configure",
    "embedding",
    "generation",
    "inference",
    "instrument",
    "instrument_anthropic",
    "instrument_langchain",
    "instrument_litellm",
    "instrument_llamaindex",
    "instrument_openai",
    "last_prediction_id",
    "llm",
    "load_model",
    "record_feedback",
    "reset_segments",
    "retrieval",
    "set_segments",
    "wrap_model",
]


def configure(**kwargs: Any) -> TelemetryHandle:
    """Set up the OpenTelemetry SDK with OTLP exporters. See :func:`otel_ml.sdk.configure`."""
    from otel_ml.sdk import configure as _configure

    return _configure(**kwargs)


def instrument(app: Any, *args: Any, **kwargs: Any) -> Instrumentation:
    """Instrument a FastAPI app. See :func:`otel_ml.instrumentation.fastapi.instrument`."""
    from otel_ml.instrumentation.fastapi import instrument as _instrument

    return _instrument(app, *args, **kwargs)


_LAZY = {
    "DriftMonitor": "otel_ml.drift.monitor",
    "ReferenceProfile": "otel_ml.drift.profile",
}


def __getattr__(name: str) -> Any:
    # The drift engine needs scipy: import it on first use, not with otel_ml.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'otel_ml' has no attribute {name!r}")
