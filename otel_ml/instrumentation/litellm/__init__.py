"""Auto-instrumentation of LiteLLM: ``completion``, ``acompletion``,
``embedding`` and ``aembedding``, streamed or not, whatever the provider.

Under ``opentelemetry-instrument`` (entry point ``otel_ml_litellm``), by hand::

    LiteLLMInstrumentor().instrument()

or with :func:`instrument_litellm`. Each call is one GenAI span with the
GenAI client metrics; ``gen_ai.provider.name`` is the provider LiteLLM
routes the model to (``openai/...``, ``anthropic/...``, ``bedrock/...``), in
the conventions' spelling. The patch replaces the ``litellm`` module's
functions: code that bound them earlier (``from litellm import completion``
before ``instrument()``) keeps the originals, so instrument first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from otel_ml import semconv
from otel_ml.config import Settings
from otel_ml.instrumentation._genai_hooks import genai_config, install
from otel_ml.instrumentation._patching import PatchingInstrumentor, Target
from otel_ml.instrumentation.litellm.package import _instruments

__all__ = ["LiteLLMInstrumentor", "instrument_litellm"]

# (function of the litellm module, operation, is_async): the wiring table.
_FUNCTIONS = (
    ("completion", semconv.GEN_AI_CHAT, False),
    ("acompletion", semconv.GEN_AI_CHAT, True),
    ("embedding", semconv.GEN_AI_EMBEDDINGS, False),
    ("aembedding", semconv.GEN_AI_EMBEDDINGS, True),
)


class LiteLLMInstrumentor(PatchingInstrumentor):
    """Patches LiteLLM's entry functions with GenAI telemetry.

    ``instrument()`` takes ``tracer_provider``, ``meter_provider``,
    ``capture_content``, ``redact``, ``max_content_length`` and ``settings``.
    """

    library = "litellm"
    instruments = _instruments
    patch_on_import = "litellm"

    def _patch(self, settings: Settings, options: dict[str, Any]) -> list[Target]:
        import litellm

        from otel_ml.instrumentation.litellm import patch

        targets = [(litellm, name, op, is_async) for name, op, is_async in _FUNCTIONS
                   if callable(getattr(litellm, name, None))]  # fmt: skip
        return patch.apply(targets, genai_config(settings, options))


def instrument_litellm(**kwargs: Any) -> Callable[[], None]:
    """Instrument LiteLLM; returns a function that undoes it.

    Takes the keyword arguments of :class:`LiteLLMInstrumentor`.
    """
    return install(LiteLLMInstrumentor, "instrument_litellm", "litellm", kwargs)
