"""LlamaIndex: retrievals as ``retrieval`` spans and a root query as the span
that holds a RAG query in one trace (see :mod:`.handler`).

Under ``opentelemetry-instrument`` (entry point ``otel_ml_llamaindex``), by
hand ``LlamaIndexInstrumentor().instrument()`` or :func:`instrument_llamaindex`.
It adds a span handler to LlamaIndex's root instrumentation dispatcher;
nothing of LlamaIndex is patched. The chat and embedding spans come from the
client hooks (openai, anthropic, litellm): instrument those too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from otel_ml.config import Settings
from otel_ml.instrumentation._genai_hooks import genai_config, install
from otel_ml.instrumentation._patching import PatchingInstrumentor, Target, replace_all
from otel_ml.instrumentation.llamaindex.package import _instruments

__all__ = ["LlamaIndexInstrumentor", "instrument_llamaindex"]

_registered: list[Any] = []
"""The one handler, added to the root dispatcher once per process."""


def _handler() -> Any:
    if not _registered:
        from llama_index_instrumentation import get_dispatcher

        from otel_ml.instrumentation.llamaindex.handler import OtelMLSpanHandler

        handler = OtelMLSpanHandler()
        get_dispatcher().add_span_handler(handler)
        _registered.append(handler)
    return _registered[0]


class LlamaIndexInstrumentor(PatchingInstrumentor):
    """Turns LlamaIndex's retrievals and root queries into spans.

    ``instrument()`` takes ``tracer_provider``, ``meter_provider``,
    ``capture_content``, ``redact``, ``max_content_length`` and ``settings``;
    ``uninstrument()`` leaves the handler on the dispatcher but idle.
    """

    library = "llama_index.core"
    instruments = _instruments
    patch_on_import = "llama_index.core"

    def _patch(self, settings: Settings, options: dict[str, Any]) -> list[Target]:
        handler = _handler()
        return replace_all([(handler, "config", None, genai_config(settings, options))])


def instrument_llamaindex(**kwargs: Any) -> Callable[[], None]:
    """Instrument LlamaIndex; returns a function that undoes it.

    Takes the keyword arguments of :class:`LlamaIndexInstrumentor`.
    """
    return install(LlamaIndexInstrumentor, "instrument_llamaindex", "llamaindex", kwargs)
