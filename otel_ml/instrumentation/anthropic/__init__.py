"""Auto-instrumentation of the ``anthropic`` SDK, sync and async.

Under ``opentelemetry-instrument`` (entry point ``otel_ml_anthropic``), by hand::

    AnthropicInstrumentor().instrument(capture_content=False)

or with :func:`instrument_anthropic`. ``messages.create`` (streamed or not)
and ``messages.stream`` become one GenAI ``chat`` call each: a CLIENT span
and the GenAI client metrics (duration, tokens including cached input, time
to first chunk, time per chunk), ``gen_ai.provider.name=anthropic``. Where
the SDK's own tracing records the client's calls, its span is the call's
only span and otel_ml adds the metrics (see :mod:`.patch`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from otel_ml.config import Settings
from otel_ml.instrumentation._genai_hooks import genai_config, install
from otel_ml.instrumentation._patching import PatchingInstrumentor, Target
from otel_ml.instrumentation.anthropic.package import _instruments

__all__ = ["AnthropicInstrumentor", "instrument_anthropic"]

_MESSAGES = "anthropic.resources.messages.messages"

# (class, method, wrapper class name in .patch): the wiring table.
_METHODS = (
    ("Messages", "create", "TracedCreate"),
    ("AsyncMessages", "create", "AsyncTracedCreate"),
    ("Messages", "stream", "TracedStream"),
    ("AsyncMessages", "stream", "TracedStream"),
)


class AnthropicInstrumentor(PatchingInstrumentor):
    """Patches the ``anthropic`` SDK's ``messages.create`` and ``messages.stream``.

    ``instrument()`` takes ``tracer_provider``, ``meter_provider``,
    ``capture_content``, ``redact``, ``max_content_length`` and ``settings``,
    as :class:`otel_ml.instrumentation.openai.OpenAIInstrumentor` does.
    """

    library = "anthropic"
    instruments = _instruments
    patch_on_import = "anthropic"

    def _patch(self, settings: Settings, options: dict[str, Any]) -> list[Target]:
        from otel_ml.instrumentation.anthropic import patch

        module = importlib.import_module(_MESSAGES)
        targets = []
        for cls, method, wrapper in _METHODS:
            owner = getattr(module, cls, None)
            if owner is not None and method in owner.__dict__:
                targets.append((owner, method, getattr(patch, wrapper)))
        return patch.apply(targets, genai_config(settings, options))


def instrument_anthropic(**kwargs: Any) -> Callable[[], None]:
    """Instrument the ``anthropic`` SDK; returns a function that undoes it.

    Takes the keyword arguments of :class:`AnthropicInstrumentor`.
    """
    return install(AnthropicInstrumentor, "instrument_anthropic", "anthropic", kwargs)
