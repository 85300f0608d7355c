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
from typing import Any, ClassVar

from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.metrics import Counter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from otel_ml import semconv
from otel_ml._internal import guard


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
    :meth:`_record`; :meth:`_release` is for what must be undone even when
    recording failed (in-flight counts).
    """

    __slots__ = ("_ctx", "_done", "_errors", "_parent", "_span", "_start_ns", "_wall_offset_ns")
    component: ClassVar[str] = "invocation"
    _ctx: Context | None
    _done: bool
    _errors: Counter | None
    _parent: Context | None
    _span: Span | None
    _start_ns: int
    _wall_offset_ns: int

    def _init(self, errors: Counter | None) -> None:
        """Reset the lifecycle state (before :meth:`_open`, which may fail)."""
        self._errors = errors
        self._span = None
        self._ctx = None
        self._parent = None
        self._done = True
        self._start_ns = self._wall_offset_ns = 0

    def _open(
        self,
        tracer: Tracer,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, Any],
        current: bool = True,
        marker: tuple[str, object] | None = None,
    ) -> None:
        """Start the span as a child of the current context and, if ``current``,
        make it current, with the context value ``marker`` (key, value) beside it.
        The subclass starts the clock (``_start_ns``) once its own start is done."""
        start_time = time.time_ns()
        # Ends are measured on the monotonic clock; the span ends at the wall
        # time that corresponds to them (an abandoned stream: its last chunk).
        self._wall_offset_ns = start_time - time.perf_counter_ns()
        parent = context.get_current()
        span = tracer.start_span(
            name, parent, kind=kind, attributes=attributes, start_time=start_time
        )
        self._span = span
        if current:
            self._parent = parent
            base = parent if marker is None else context.set_value(*marker, parent)
            self._ctx = trace.set_span_in_context(span, base)
            context.attach(self._ctx)
        self._done = False

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

    def _end(self, end_ns: int, exc: BaseException | None, kind: str | None) -> None:
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
            self._close(end_ns)

    def _record(self, elapsed_s: float, error: str | None) -> None:
        """The specialisation's records at the end (``error``: ``error.type``)."""

    def _release(self) -> None:
        """What the end undoes whatever happened while recording."""

    def _close(self, end_ns: int) -> None:
        try:
            self._release()
            if self._span is not None:
                self._span.end(end_time=end_ns + self._wall_offset_ns)
            # Restore the caller's context only where ours is still on top: a call
            # may end in another thread, a copied context or the garbage collector
            # (an abandoned stream), where there is nothing of ours to undo.
            if self._ctx is not None and context.get_current() is self._ctx:
                context.attach(self._parent or Context())
        except Exception as exc:
            guard.report(f"{self.component}.close", exc, self._errors)
