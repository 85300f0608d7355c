"""What the GenAI hooks share (OpenAI, Anthropic, LiteLLM, LangChain,
LlamaIndex): their config from ``instrument()``'s keywords and the one-call
form for code users."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Protocol

from otel_ml.config import Settings
from otel_ml.genai.api import GenAICall
from otel_ml.genai.evaluation.online import Sample
from otel_ml.genai.invocation import GenAIConfig, GenAIInvocation
from otel_ml.instrumentation._patching import PatchingInstrumentor


def genai_config(settings: Settings, options: dict[str, Any]) -> GenAIConfig:
    """The config of a hook's calls: providers and content arguments of ``instrument()``."""
    return GenAIConfig.resolve(
        settings,
        (options.get("tracer_provider"), options.get("meter_provider")),
        options.get("capture_content"),
        options.get("redact"),
        options.get("max_content_length"),
        options.get("prices"),
        options.get("tenant"),
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


class Answered(Protocol):
    """What a response (or a whole stream) said, as far as online evaluation reads it."""

    def answer_text(self) -> str:
        """The answer's text."""


class HookCall(GenAICall):
    """One call of a client hook in progress: its invocation, the config it
    reads with, how the library's errors are named and, for a call drawn for
    online evaluation, its :class:`Sample`."""

    __slots__ = ("config", "sample")

    def __init__(self, config: GenAIConfig, invocation: GenAIInvocation,
                 sample: Sample | None = None) -> None:  # fmt: skip
        super().__init__(invocation, config.content)
        self.config = config
        self.sample = sample

    @property
    def keep_text(self) -> bool:
        """Whether the response's text is read: captured, or for the judge."""
        return self.config.content.capture or (self.sample is not None and self.sample.content)

    def evaluate(self, fields: Answered) -> None:
        """Hand a sampled call's answer to online evaluation (a non-blocking put)."""
        if self.sample is not None:
            self.sample.submit(self.invocation.answer(), fields.answer_text())

    @staticmethod
    def error_kind(exc: BaseException) -> str | None:
        """``error.type`` of the library's exception (``None``: the generic name)."""
        return None

    def apply(self, fields: Any) -> None:
        """Record what a response (or a whole stream) said."""
        raise NotImplementedError

    def fail(self, exc: BaseException) -> None:
        """End the call with the API error's status code and ``error.type``."""
        code = getattr(exc, "status_code", None)
        if isinstance(code, int):
            self.invocation.set_attributes({"http.response.status_code": code})
        self.invocation.fail(exc, self.error_kind(exc))


class Reader(Protocol):
    """Accumulates a stream's chunks; ``add`` says whether a chunk carried output."""

    fields: Any

    def add(self, chunk: Any) -> bool:
        """Read one chunk."""


class ReadingHandler:
    """The stream handler of a hook call: chunks go to a reader, the end to the call."""

    __slots__ = ("_call", "_reader")

    def __init__(self, call: HookCall, reader: Reader) -> None:
        self._call = call
        self._reader = reader

    def on_chunk(self, chunk: Any) -> None:
        """Time a chunk that carries output."""
        if self._reader.add(chunk):
            self._call.invocation.chunk()

    def on_end(self, abandoned: bool) -> None:
        """The stream ended: record what it said, hand a whole answer to online
        evaluation, end the call."""
        self._call.apply(self._reader.fields)
        if not abandoned:
            self._call.evaluate(self._reader.fields)
        self._call.invocation.stop(abandoned)

    def on_error(self, exc: BaseException) -> None:
        """The stream failed: record what it said so far, fail the call."""
        self._call.apply(self._reader.fields)
        self._call.fail(exc)
