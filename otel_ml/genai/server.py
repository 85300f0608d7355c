"""Server-side GenAI timing, for apps that ARE the model server.

Wrap the generator that produces tokens (a FastAPI ``StreamingResponse``
body, say); each item it yields is one output token unless the app reports
the real count with :meth:`ServerGeneration.set_output_tokens`::

    return StreamingResponse(serve(generate(prompt), model="llama-3-8b"))

Records ``gen_ai.server.request.duration``, ``gen_ai.server.time_to_first_token``
and ``gen_ai.server.time_per_output_token`` (one value per request: the mean
gap after the first token), and an INTERNAL span ``{operation} {model}``
under the request's HTTP span.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any, TypeVar

from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml._internal.lifecycle import Invocation
from otel_ml._internal.scope import InvocationScope
from otel_ml._internal.stream import follow_stream
from otel_ml.genai.instruments import GenAITelemetry
from otel_ml.genai.invocation import identity

F = TypeVar("F", bound=Callable[..., Any])


class ServerGeneration(Invocation):
    """One generated response: an INTERNAL span (not made current: the generator
    runs later, in the server's task) and the stream hooks that time its tokens."""

    __slots__ = ("_attrs", "_first_ns", "_last_ns", "_telemetry", "tokens")
    component = "genai.server"
    _attrs: dict[str, Any]
    _telemetry: GenAITelemetry
    _first_ns: int
    _last_ns: int
    tokens: int

    @classmethod
    def start(cls, telemetry: GenAITelemetry, attrs: dict[str, Any], name: str) -> ServerGeneration:
        """Open the span; the clock starts."""
        self = cls.__new__(cls)
        self._init(telemetry.internal_errors)
        self._telemetry, self._attrs = telemetry, attrs
        self._first_ns = self._last_ns = self.tokens = 0
        try:
            self._open(telemetry.tracer, name, SpanKind.INTERNAL, attrs, current=False)
        except Exception as exc:
            guard.report("genai.server", exc, telemetry.internal_errors)
        self._start_ns = time.perf_counter_ns()
        return self

    def set_output_tokens(self, count: int) -> None:
        """The real number of tokens generated (default: one per yielded item)."""
        self.tokens = int(count)

    def on_chunk(self, chunk: Any) -> None:
        """A token (or chunk of tokens) was yielded."""
        now = time.perf_counter_ns()
        if not self._first_ns:
            self._first_ns = now
        self._last_ns = now
        self.tokens += 1

    def on_end(self, abandoned: bool) -> None:
        """The generator finished (``abandoned``: collected unfinished; ends at the last token)."""
        if abandoned and self._last_ns:
            self._end(self._last_ns, None, None, late=True)
        else:
            self._end(time.perf_counter_ns(), None, None)

    def on_error(self, exc: BaseException) -> None:
        """The generator raised."""
        self.fail(exc)

    def _record(self, elapsed_s: float, error: str | None) -> None:
        t = self._telemetry
        if error is not None:
            t.server_duration.record(elapsed_s, {**self._attrs, semconv.ERROR_TYPE: error})
            return
        t.server_duration.record(elapsed_s, self._attrs)
        if self._first_ns:
            t.server_first_token.record((self._first_ns - self._start_ns) / 1e9, self._attrs)
        if self.tokens > 1:
            per_token = (self._last_ns - self._first_ns) / 1e9 / (self.tokens - 1)
            t.server_per_token.record(per_token, self._attrs)
        self.span.set_attribute(semconv.GEN_AI_USAGE_OUTPUT_TOKENS, self.tokens)


def serve(
    generator: Any,
    model: str | None = None,
    operation: str = semconv.GEN_AI_CHAT,
    *,
    provider: str | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
) -> Any:
    """Wrap a token generator (sync or async) so its tokens are timed."""
    telemetry = GenAITelemetry.of(tracer_provider, meter_provider)
    attrs = identity(operation, provider, model)
    handler = ServerGeneration.start(telemetry, attrs, semconv.genai_span_name(operation, model))
    return follow_stream(generator, handler)


class GenerationScope(InvocationScope[ServerGeneration]):
    """Decorates generator functions: each call's generator is one generation."""

    follows_generators = True

    def __init__(self, telemetry: GenAITelemetry, attrs: dict[str, Any], name: str) -> None:
        super().__init__()
        self._telemetry, self._attrs, self._name = telemetry, attrs, name

    def begin(self, args: tuple[Any, ...]) -> ServerGeneration:
        """Start timing one generated response."""
        return ServerGeneration.start(self._telemetry, self._attrs, self._name)

    def follow(self, call: ServerGeneration, generator: Any) -> Any:
        """Time the generator's items as tokens."""
        return follow_stream(generator, call)

    def __call__(self, fn: F) -> F:
        if not (inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn)):
            raise TypeError(f"generation() decorates generator functions, not {fn.__qualname__}")
        return super().__call__(fn)


def generation(
    model: str | None = None,
    operation: str = semconv.GEN_AI_CHAT,
    *,
    provider: str | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
) -> Callable[[F], F]:
    """Decorate a (sync or async) generator function with :func:`serve`."""
    telemetry = GenAITelemetry.of(tracer_provider, meter_provider)
    attrs = identity(operation, provider, model)
    return GenerationScope(telemetry, attrs, semconv.genai_span_name(operation, model))
