"""LangChain: retriever runs as ``retrieval`` spans, tool runs as
``execute_tool`` spans, and a root chain run as the span that holds a RAG
call in one trace (see :mod:`.callbacks`).

Under ``opentelemetry-instrument`` (entry point ``otel_ml_langchain``), by
hand ``LangChainInstrumentor().instrument()`` or :func:`instrument_langchain`.
It uses LangChain's configure hook: the handler joins every run's callbacks.
One method is wrapped: ``VectorStoreRetriever._get_ls_params`` adds the
requested ``k`` to the run's metadata (LangChain's callbacks carry no
``top_k``), read back as ``gen_ai.request.top_k``. The chat and embedding spans
come from the client hooks (openai, anthropic, litellm): instrument those too.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from otel_ml.config import Settings
from otel_ml.instrumentation._genai_hooks import genai_config, install
from otel_ml.instrumentation._patching import PatchingInstrumentor, Target, replace_all
from otel_ml.instrumentation.langchain.package import _instruments

__all__ = ["LangChainInstrumentor", "instrument_langchain"]

_registered: list[Any] = []
"""The one handler, registered with LangChain once per process."""


def _handler() -> Any:
    if not _registered:
        from langchain_core.tracers.context import register_configure_hook

        from otel_ml.instrumentation.langchain.callbacks import OtelMLCallbackHandler

        handler = OtelMLCallbackHandler()
        # The variable's default is the handler: every context (threads too) sees it.
        var: ContextVar[Any] = ContextVar("otel_ml_langchain_handler", default=handler)
        register_configure_hook(var, True)
        _registered.append(handler)
    return _registered[0]


class LangChainInstrumentor(PatchingInstrumentor):
    """Turns LangChain's retriever, tool and root chain runs into spans.

    ``instrument()`` takes ``tracer_provider``, ``meter_provider``,
    ``capture_content``, ``redact``, ``max_content_length`` and ``settings``;
    ``uninstrument()`` leaves the handler registered but idle.
    """

    library = "langchain_core"
    instruments = _instruments
    patch_on_import = "langchain_core"

    def _patch(self, settings: Settings, options: dict[str, Any]) -> list[Target]:
        from langchain_core.vectorstores import VectorStoreRetriever

        from otel_ml.instrumentation.langchain.callbacks import with_top_k

        handler = _handler()
        params = VectorStoreRetriever.__dict__["_get_ls_params"]
        return replace_all([
            (handler, "config", None, genai_config(settings, options)),
            (VectorStoreRetriever, "_get_ls_params", params, with_top_k(params)),
        ])  # fmt: skip


def instrument_langchain(**kwargs: Any) -> Callable[[], None]:
    """Instrument LangChain; returns a function that undoes it.

    Takes the keyword arguments of :class:`LangChainInstrumentor`.
    """
    return install(LangChainInstrumentor, "instrument_langchain", "langchain", kwargs)
