"""The one invocation lifecycle: every signal starts, records and ends through it.

An :class:`Invocation` is one call of something otel_ml observes (a model's
``predict``, an LLM request, an embedding, a retrieval, a generated answer).
:meth:`Invocation._open` starts its span and (usually) makes it current;
:meth:`Invocation.stop` or :meth:`Invocation.fail` ends it exactly once:
the specialisation's records (:meth:`Invocation._record`), then on failure
``error.type``, the exception event and status ERROR (:func:`mark_failed`),
then the span ends at the measured time and the caller's context comes back.
Later ends are no-ops. A failure in this code goes to the guard, never to
the caller; the caller's own exception is only ever read.

Specialisations (``InferenceInvocation``, ``GenAIInvocation``,
``ServerGeneration``) add their attributes and metrics in ``_record``; the
HTTP server layer, whose span is not a call of ours, uses the end-of-call
piece :func:`mark_failed` and :func:`error_type` alone.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextvars import ContextVar, Token
from typing import Any, ClassVar

from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.metrics import Counter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml._internal.sampling import INHERITED, UNREAD, dropped_span, inherited, start_span


def error_type(exc: BaseException) -> str:
    """``error.type`` of an exception: its fully qualified class name."""
    cls = type(exc)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def mark_failed(span: Span, kind: str, exc: BaseException | None, description: str | None) -> None:
    """The end-of-call piece of a failure: ``error.type``, the exception event
    (when there is an exception) and status ERROR on a recording span."""
    if not span.is_recording():
        return
    span.set_attribute(semconv.ERROR_TYPE, kind)
    if exc is not None:
        span.record_exception(exc, escaped=True)
    span.set_status(Status(StatusCode.ERROR, description))


class Invocation:
    """One observed call: a span, its records, one end.

    Subclasses set :attr:`component` (the guard's name for their failures),
    call :meth:`_open` from their constructor-like ``start`` and implement
    :meth:`_record`. What the end undoes whatever happened while recording:
    the call leaves its in-flight set, and a context variable the call set
    (:meth:`_set_for_call`) is reset.
    """

    __slots__ = ("_ctx", "_done", "_errors", "_in_flight", "_parent", "_reset", "_span",
                 "_start_ns")  # fmt: skip
    component: ClassVar[str] = "invocation"
    _ctx: Context | None
    _done: bool
    _errors: Counter | None
    _in_flight: set[object] | None
    _parent: Context | None
    _reset: tuple[ContextVar[Any], Token[Any]] | None
    _span: Span | None
    _start_ns: int

    def _init(self, errors: Counter | None) -> None:
        """The state :meth:`_open` needs to find (it may fail half way); the rest
        is set by :meth:`_open` and the subclass's start."""
        self._errors = errors
        self._span = self._in_flight = self._reset = None
        self._done = True

    def _open(
        self,
        tracer: Tracer,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, Any],
        current: bool = True,
        marker: tuple[str, object] | None = None,
        in_flight: set[object] | None = None,
    ) -> None:
        """Start the span as a child of the current context and, if ``current``,
        make it current, with the context value ``marker`` (key, value) beside it;
        the call joins ``in_flight`` (the set an up-down gauge counts) until it
        ends. The subclass starts the clock (``_start_ns``) once its own start is done."""
        parent = context.get_current()
        span = dropped_span(tracer, parent)
        if span is None or span is UNREAD:
            span = start_span(span, tracer, name, parent, kind, attributes)
        self._enter(span, parent, current, marker, in_flight)

    def _enter(
        self,
        span: Span,
        parent: Context,
        current: bool,
        marker: tuple[str, object] | None,
        in_flight: set[object] | None,
    ) -> None:
        """The rest of :meth:`_open` once the span is there (``INHERITED``: the
        sampled-out parent's context stays current, no span of ours)."""
        self._parent = parent
        self._ctx = None
        if span is INHERITED:
            span = inherited(parent)
            if current and marker is not None:
                self._ctx = context.set_value(*marker, parent)
                context.attach(self._ctx)
        elif current:
            base = parent if marker is None else context.set_value(*marker, parent)
            self._ctx = trace.set_span_in_context(span, base)
            context.attach(self._ctx)
        self._span = span
        if in_flight is not None:
            in_flight.add(self)
            self._in_flight = in_flight
        self._done = False

    def _set_for_call(self, var: ContextVar[Any], value: Any) -> None:
        """Set ``var`` to ``value`` until the call ends (a flag other hooks read)."""
        self._reset = (var, var.set(value))

    @property
    def span(self) -> Span:
        """The span (a non-recording span when telemetry failed to start)."""
        return self._span or trace.INVALID_SPAN

    def stop(self) -> None:
        """End a successful call (later ends are no-ops)."""
        self._end(time.perf_counter_ns(), None, None)

    def fail(self, exc: BaseException, kind: str | None = None) -> None:
        """End a failed call: ``error.type`` (``kind`` or the exception's qualified
        class name) on the span and the records, status ERROR, the exception event."""
        self._end(time.perf_counter_ns(), exc, kind)

    def _end(
        self, end_ns: int, exc: BaseException | None, kind: str | None, late: bool = False
    ) -> None:
        """End the call at ``end_ns`` (monotonic); ``late``: that moment is past
        (an abandoned stream's last chunk), and the span ends then, not now."""
        if self._done:
            return
        self._done = True
        elapsed = (end_ns - self._start_ns) / 1e9
        try:
            if exc is None:
                self._record(elapsed, None)
            else:
                kind = kind or error_type(exc)
                self._record(elapsed, kind)
                mark_failed(self.span, kind, exc, kind)
        except Exception as err:
            guard.report(f"{self.component}.{'stop' if exc is None else 'fail'}", err, self._errors)
        finally:
            self._close(end_ns if late else None)

    def _record(self, elapsed_s: float, error: str | None) -> None:
        """The specialisation's records at the end (``error``: ``error.type``)."""

    def _close(self, late_ns: int | None = None) -> None:
        try:
            if self._in_flight is not None:
                self._in_flight.discard(self)
            if self._reset is not None:
                var, token = self._reset
                try:  # noqa: SIM105 (contextlib.suppress costs a microsecond here)
                    var.reset(token)
                except ValueError:
                    pass  # ended in another context than it started in, which drops it
            if self._span is not None:
                self._span.end(None if late_ns is None else _wall_time(late_ns))
            # Restore the caller's context only where ours is still on top: a call
            # may end in another thread, a copied context or the garbage collector
            # (an abandoned stream), where there is nothing of ours to undo.
            if self._ctx is not None and context.get_current() is self._ctx:
                context.attach(self._parent)  # type: ignore[arg-type]  # set with _ctx
        except Exception as exc:
            guard.report(f"{self.component}.close", exc, self._errors)


def _wall_time(monotonic_ns: int) -> int:
    """The wall clock time (ns since the epoch) of a past ``perf_counter_ns`` reading."""
    return time.time_ns() - (time.perf_counter_ns() - monotonic_ns)
