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

import functools
import inspect
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from opentelemetry import metrics, trace
from opentelemetry.trace import Span, Status, StatusCode

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml.genai.instruments import GenAITelemetry, genai_telemetry
from otel_ml.genai.invocation import identity
from otel_ml.genai.stream import AsyncStream, SyncStream
from otel_ml.inference.invocation import error_type

F = TypeVar("F", bound=Callable[..., Any])


class ServerGeneration:
    """One generated response: the stream hooks that time its tokens."""

    __slots__ = ("_attrs", "_first_ns", "_last_ns", "_span", "_start_ns", "_telemetry", "tokens")

    def __init__(self, telemetry: GenAITelemetry, attrs: dict[str, Any], span: Span) -> None:
        self._telemetry = telemetry
        self._attrs = attrs
        self._span = span
        self._start_ns = time.perf_counter_ns()
        self._first_ns = 0
        self._last_ns = 0
        self.tokens = 0

    def set_output_tokens(self, count: int) -> None:
        """The real number of tokens generated (default: one per yielded item)."""
        self.tokens = int(count)

    def on_chunk(self, chunk: Any) -> None:
        now = time.perf_counter_ns()
        if not self._first_ns:
            self._first_ns = now
        self._last_ns = now
        self.tokens += 1

    def on_end(self, abandoned: bool) -> None:
        end = self._last_ns if abandoned and self._last_ns else time.perf_counter_ns()
        t, attrs = self._telemetry, self._attrs
        try:
            t.server_duration.record((end - self._start_ns) / 1e9, attrs)
            if self._first_ns:
                t.server_first_token.record((self._first_ns - self._start_ns) / 1e9, attrs)
            if self.tokens > 1:
                per_token = (self._last_ns - self._first_ns) / 1e9 / (self.tokens - 1)
                t.server_per_token.record(per_token, attrs)
            self._span.set_attribute(semconv.GEN_AI_USAGE_OUTPUT_TOKENS, self.tokens)
        except Exception as exc:
            guard.report("genai.server", exc, t.internal_errors)
        finally:
            self._span.end()

    def on_error(self, exc: BaseException) -> None:
        kind = error_type(exc)
        try:
            elapsed = (time.perf_counter_ns() - self._start_ns) / 1e9
            self._telemetry.server_duration.record(
                elapsed, {**self._attrs, semconv.ERROR_TYPE: kind}
            )
            self._span.set_attribute(semconv.ERROR_TYPE, kind)
            self._span.record_exception(exc, escaped=True)
            self._span.set_status(Status(StatusCode.ERROR, kind))
        except Exception as err:
            guard.report("genai.server", err, self._telemetry.internal_errors)
        finally:
            self._span.end()


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
    telemetry = genai_telemetry(tracer_provider, meter_provider)
    try:
        attrs = identity(operation, provider, model)
        name = semconv.genai_span_name(operation, model)
        handler = ServerGeneration(
            telemetry, attrs, telemetry.tracer.start_span(name, attributes=attrs)
        )
    except Exception as exc:
        guard.report("genai.server", exc, telemetry.internal_errors)
        return generator
    proxy = (
        AsyncStream
        if inspect.isasyncgen(generator) or hasattr(generator, "__anext__")
        else SyncStream
    )
    return proxy(generator, handler)


def generation(
    model: str | None = None,
    operation: str = semconv.GEN_AI_CHAT,
    *,
    provider: str | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
) -> Callable[[F], F]:
    """Decorate a (sync or async) generator function with :func:`serve`."""

    def decorate(fn: F) -> F:
        if not (inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn)):
            raise TypeError(f"generation() decorates generator functions, not {fn.__qualname__}")

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return serve(
                fn(*args, **kwargs),
                model,
                operation,
                provider=provider,
                tracer_provider=tracer_provider,
                meter_provider=meter_provider,
            )

        return cast(F, wrapper)

    return decorate
