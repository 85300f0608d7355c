"""Auto-instrumentation of the ``openai`` SDK (v1+), sync and async.

Under ``opentelemetry-instrument`` (entry point ``otel_ml_openai``), by hand::

    OpenAIInstrumentor().instrument(capture_content=False)

or with :func:`instrument_openai`. Chat completions (streamed or not, also
through ``.stream()`` and ``.with_raw_response``), text completions and
embeddings become one GenAI CLIENT span each, with the GenAI client metrics.
It works against any OpenAI-compatible server: provider and server come from
the client's base URL. A method another OpenTelemetry instrumentation (e.g.
the contrib ``openai-v2``) already wraps is left to it: one span per call.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from otel_ml import semconv
from otel_ml.config import Settings
from otel_ml.genai.invocation import GenAIConfig
from otel_ml.instrumentation._patching import PatchingInstrumentor, Target
from otel_ml.instrumentation.openai.package import _instruments

__all__ = ["OpenAIInstrumentor", "instrument_openai"]

_CHAT = "openai.resources.chat.completions"
_COMPLETIONS = "openai.resources.completions"
_EMBEDDINGS = "openai.resources.embeddings"

# (module, class, method, operation, is_async): the wiring table.
_METHODS = (
    (_CHAT, "Completions", "create", semconv.GEN_AI_CHAT, False),
    (_CHAT, "AsyncCompletions", "create", semconv.GEN_AI_CHAT, True),
    (_COMPLETIONS, "Completions", "create", semconv.GEN_AI_TEXT_COMPLETION, False),
    (_COMPLETIONS, "AsyncCompletions", "create", semconv.GEN_AI_TEXT_COMPLETION, True),
    (_EMBEDDINGS, "Embeddings", "create", semconv.GEN_AI_EMBEDDINGS, False),
    (_EMBEDDINGS, "AsyncEmbeddings", "create", semconv.GEN_AI_EMBEDDINGS, True),
)


class OpenAIInstrumentor(PatchingInstrumentor):
    """Patches the ``openai`` SDK's ``create`` methods with GenAI telemetry.

    ``instrument()`` accepts ``tracer_provider``, ``meter_provider``,
    ``capture_content`` (default: the ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``
    / ``OTEL_ML_CAPTURE_CONTENT`` setting, off), ``redact`` (a callable that
    sees every captured text first), ``max_content_length`` and ``settings``
    (a :class:`otel_ml.Settings`; default: the process's, from the environment).
    """

    library = "openai"
    instruments = _instruments
    patch_on_import = "openai"

    def _patch(self, settings: Settings, options: dict[str, Any]) -> list[Target]:
        from otel_ml.instrumentation.openai import patch

        config = GenAIConfig.resolve(
            settings,
            (options.get("tracer_provider"), options.get("meter_provider")),
            options.get("capture_content"),
            options.get("redact"),
            options.get("max_content_length"),
        )
        return patch.apply(_targets(), config)


def _targets() -> list[tuple[type, str, str, bool]]:
    targets = []
    for module, cls, method, operation, is_async in _METHODS:
        owner = getattr(importlib.import_module(module), cls, None)
        if owner is not None and method in owner.__dict__:
            targets.append((owner, method, operation, is_async))
    return targets


def instrument_openai(**kwargs: Any) -> Callable[[], None]:
    """Instrument the ``openai`` SDK; returns a function that undoes it.

    Takes the keyword arguments of :class:`OpenAIInstrumentor`.
    """
    try:
        import openai  # noqa: F401
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "otel_ml.instrument_openai() needs the openai SDK: pip install 'otel-ml[openai]'",
            name="openai",
        ) from None
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(**kwargs)
    undo: Callable[[], None] = instrumentor.uninstrument
    return undo
