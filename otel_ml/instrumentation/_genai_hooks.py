"""What the GenAI framework hooks share (Anthropic, LiteLLM, LangChain,
LlamaIndex): their config from ``instrument()``'s keywords and the one-call
form for code users."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from otel_ml.config import Settings
from otel_ml.genai.invocation import GenAIConfig
from otel_ml.instrumentation._patching import PatchingInstrumentor


def genai_config(settings: Settings, options: dict[str, Any]) -> GenAIConfig:
    """The config of a hook's calls: providers and content arguments of ``instrument()``."""
    return GenAIConfig.resolve(
        settings,
        (options.get("tracer_provider"), options.get("meter_provider")),
        options.get("capture_content"),
        options.get("redact"),
        options.get("max_content_length"),
    )


def install(
    instrumentor: type[PatchingInstrumentor], call: str, extra: str, kwargs: dict[str, Any]
) -> Callable[[], None]:
    """Instrument the library of ``instrumentor`` now; return the undo.

    A missing library raises ModuleNotFoundError naming the call and the
    ``pip install`` that brings it (``otel-ml[extra]``).
    """
    module = instrumentor.library
    try:
        importlib.import_module(module)
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            f"otel_ml.{call}() needs {module}: pip install 'otel-ml[{extra}]'", name=module
        ) from None
    hook = instrumentor()
    hook.instrument(**kwargs)
    undo: Callable[[], None] = hook.uninstrument
    return undo
