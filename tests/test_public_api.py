"""The facade's exported names are a contract: changing them is a decision."""

from __future__ import annotations

import otel_ml


def test_public_names_are_pinned() -> None:
    assert sorted(otel_ml.__all__) == [
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
    for name in otel_ml.__all__:
        assert getattr(otel_ml, name) is not None


def test_public_callables_are_documented() -> None:
    for name in otel_ml.__all__:
        obj = getattr(otel_ml, name)
        if callable(obj):
            assert obj.__doc__, name
