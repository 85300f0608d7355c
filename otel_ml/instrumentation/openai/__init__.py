"""Auto-instrumentation of the ``openai`` SDK (v1+), sync and async.

Under ``opentelemetry-instrument`` (entry point ``otel_ml_openai``), by hand::

    OpenAIInstrumentor().instrument(capture_content=False)

or with :func:`instrument_openai`. Chat completions (streamed or not, also
through ``.stream()`` and ``.with_raw_response``), text completions and
embeddings become one GenAI CLIENT span each, with the GenAI client metrics.
The Responses API (``responses.create``, streamed or not, ``responses.stream()``,
``responses.parse``) and ``chat.completions.parse`` (also ``client.beta.chat``)
are chat calls too, read through the API's own shapes.
It works against any OpenAI-compatible server: provider and server come from
the client's base URL. A method another OpenTelemetry instrumentation (e.g.
the contrib ``openai-v2``) already wraps is left to it: one span per call.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from otel_ml import semconv
from otel_ml.config import Settings
from otel_ml.instrumentation._genai_hooks import genai_config
from otel_ml.instrumentation._patching import PatchingInstrumentor, Target
from otel_ml.instrumentation.openai.package import _instruments

if TYPE_CHECKING:
    from otel_ml.instrumentation.openai.patch import Method

__all__ = ["OpenAIInstrumentor", "instrument_openai"]

_CHAT = "openai.resources.chat.completions"
_COMPLETIONS = "openai.resources.completions"
_EMBEDDINGS = "openai.resources.embeddings"
_RESPONSES = "openai.resources.responses"
_BETA_CHAT = "openai.resources.beta.chat.completions"  # parse before openai 1.92
_CHAT_API, _RESPONSES_API = "chat_completions", "responses"
_CHAT_OP, _TEXT_OP = semconv.GEN_AI_CHAT, semconv.GEN_AI_TEXT_COMPLETION

# (module, class, method, operation, openai.api.type, is_async): the wiring table.
# ``stream()`` helpers call ``create``; ``parse`` posts by itself.
_METHODS = (
    (_CHAT, "Completions", "create", _CHAT_OP, _CHAT_API, False),
    (_CHAT, "AsyncCompletions", "create", _CHAT_OP, _CHAT_API, True),
    (_CHAT, "Completions", "parse", _CHAT_OP, _CHAT_API, False),
    (_CHAT, "AsyncCompletions", "parse", _CHAT_OP, _CHAT_API, True),
    (_BETA_CHAT, "Completions", "parse", _CHAT_OP, _CHAT_API, False),
    (_BETA_CHAT, "AsyncCompletions", "parse", _CHAT_OP, _CHAT_API, True),
    (_RESPONSES, "Responses", "create", _CHAT_OP, _RESPONSES_API, False),
    (_RESPONSES, "AsyncResponses", "create", _CHAT_OP, _RESPONSES_API, True),
    (_RESPONSES, "Responses", "parse", _CHAT_OP, _RESPONSES_API, False),
    (_RESPONSES, "AsyncResponses", "parse", _CHAT_OP, _RESPONSES_API, True),
    (_COMPLETIONS, "Completions", "create", _TEXT_OP, None, False),
    (_COMPLETIONS, "AsyncCompletions", "create", _TEXT_OP, None, True),
    (_EMBEDDINGS, "Embeddings", "create", semconv.GEN_AI_EMBEDDINGS, None, False),
    (_EMBEDDINGS, "AsyncEmbeddings", "create", semconv.GEN_AI_EMBEDDINGS, None, True),
)


class OpenAIInstrumentor(PatchingInstrumentor):
    """Patches the ``openai`` SDK's ``create`` methods with GenAI telemetry.

    ``instrument()`` accepts ``tracer_provider``, ``meter_provider``,
    ``capture_content`` (default: the ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``
    / ``OTEL_ML_CAPTURE_CONTENT`` setting, off), ``redact`` (a callable that
    sees every captured text first), ``max_content_length`` and ``settings``
    (a :class:`otel_ml.Settings`; default: the process's, from the environment),
    ``prices`` (a price table mapping, docs/metrics.md) and ``tenant`` (a callable
    returning the current call's tenant, or ``None``).
    """

    library = "openai"
    instruments = _instruments
    patch_on_import = "openai"

    def _patch(self, settings: Settings, options: dict[str, Any]) -> list[Target]:
        from otel_ml.instrumentation.openai import patch

        config = genai_config(settings, options)
        return patch.apply(_targets(), config)


def _targets() -> list[Method]:
    targets: list[Method] = []
    for module, cls, method, operation, api, is_async in _METHODS:
        try:
            owner = getattr(importlib.import_module(module), cls, None)
        except ImportError:  # an SDK older (or newer) than this module
            continue
        if owner is not None and method in owner.__dict__:
            targets.append((owner, method, operation, api, is_async))
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
