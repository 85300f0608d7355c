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
from collections.abc import Callable, Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml.genai.content import content_policy
from otel_ml.genai.instruments import genai_telemetry
from otel_ml.instrumentation._patching import Target, library_usable, restore
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


class OpenAIInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Patches the ``openai`` SDK's ``create`` methods with GenAI telemetry.

    ``instrument()`` accepts ``tracer_provider``, ``meter_provider``,
    ``capture_content`` (default: the ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``
    / ``OTEL_ML_CAPTURE_CONTENT`` setting, off), ``redact`` (a callable that
    sees every captured text first) and ``max_content_length``.
    """

    _patched: list[Target] = []  # noqa: RUF012 - reassigned, never mutated

    def instrumentation_dependencies(self) -> Collection[str]:
        """The ``openai`` versions this instrumentation supports."""
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        if not library_usable(_instruments, "openai"):
            return
        from otel_ml.instrumentation.openai import patch

        try:
            config = patch.PatchConfig(
                telemetry=genai_telemetry(
                    kwargs.get("tracer_provider"), kwargs.get("meter_provider")
                ),
                content=content_policy(
                    kwargs.get("capture_content"),
                    kwargs.get("redact"),
                    kwargs.get("max_content_length"),
                ),
            )
            self._patched = patch.apply(_targets(), config)
        except Exception as exc:
            guard.report("openai.instrument", exc)

    def _uninstrument(self, **kwargs: Any) -> None:
        restore(self._patched)
        self._patched = []


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
