"""Sampled-out spans without the SDK's span machinery, where the drop is certain.

Where a span will be dropped whatever its name, kind and attributes say, otel_ml
need not build those attributes nor ask the SDK for the span: the SDK's
``Tracer.start_span`` would hand back a ``NonRecordingSpan`` that nothing
records or exports and whose only effect is the context it propagates.
:func:`dropped_span` decides that from the tracer's sampler object, and only
for the SDK's own samplers: ``ALWAYS_OFF`` (a ``StaticSampler`` that drops),
and ``ParentBased`` (the default ``parentbased_*`` samplers) where the
delegate for this parent is such a sampler: a parent that is not sampled with
the default delegates, or a root under ``parentbased_always_off``. Where the
delegate is the SDK's ``TraceIdRatioBased``, the decision is the trace id's
alone. For a root (``parentbased_traceidratio``'s usual case) otel_ml draws
that id from the tracer's own id generator and tests it as the sampler would:
a drop is a non-recording span with that id, no SDK call; an id the sampler
keeps is handed to the SDK, which starts the span with it (the tracer's id
generator is wrapped once in :class:`_StagedIds`, which gives back a staged id
to the next ``generate_trace_id`` of the same thread). Under a parent the
SDK starts the span, but without attributes when nothing could read them
before the span is known to record (:data:`UNREAD`). A custom sampler, a
subclass that overrides ``should_sample``, a disabled tracer, the SDK's own
span metrics (``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED``) or a tracer that is not the
SDK's all get ``None``: the caller asks the SDK with every attribute, as before.

What propagates stays what the SDK would have propagated
(tests/_internal/test_sampling.py compares them): a root gets fresh ids from
the tracer's id generator and the flags the SDK sets; a child of a parent
that is not sampled is no span at all (:data:`INHERITED`), so the parent's
context, same trace id, flags and trace state, reaches downstream calls.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    StaticSampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, TraceFlags

__all__ = ["INHERITED", "UNREAD", "dropped_span", "inherited", "start_span"]

_RANDOM = int(getattr(TraceFlags, "RANDOM_TRACE_ID", 0))  # W3C level 2; absent before 1.43


_ASK, _DROP, _RATIO = range(3)
"""What a sampler decides: ask it with every attribute, a certain drop, or the
SDK's ratio sampler (decided by the trace id alone, never by an attribute)."""
_TRACE_ID_LIMIT = TraceIdRatioBased.TRACE_ID_LIMIT


_wrapping = threading.Lock()


class _StagedIds(IdGenerator):
    """A tracer's id generator that first gives back the trace id staged for
    the next root span of the calling thread (see :func:`dropped_span`)."""

    def __init__(self, inner: IdGenerator) -> None:
        self.inner = inner
        self.staged = threading.local()

    def generate_span_id(self) -> int:
        return self.inner.generate_span_id()

    def generate_trace_id(self) -> int:
        staged = getattr(self.staged, "trace_id", None)
        if staged is None:
            return self.inner.generate_trace_id()
        self.staged.trace_id = None
        return staged  # type: ignore[no-any-return]

    def is_trace_id_random(self) -> bool:
        random_ids = getattr(self.inner, "is_trace_id_random", None)
        return bool(random_ids and random_ids())


class _Plan:
    """What a tracer's sampler decides without being asked (computed once)."""

    __slots__ = ("bound", "enabled", "ids", "kinds", "root_flags", "staged")

    def __init__(self, tracer: SdkTracer, kinds: tuple[int, int, int, int, int]) -> None:
        ids = tracer.id_generator
        random_ids = getattr(ids, "is_trace_id_random", None)
        self.root_flags = TraceFlags(_RANDOM if _RANDOM and random_ids and random_ids() else 0)
        self.enabled = getattr(tracer, "_is_enabled", None)
        self.kinds = kinds  # root, remote sampled / not, local sampled / not
        self.bound = -1
        self.staged: Any = None
        if kinds[0] == _RATIO:
            with _wrapping:  # threads meeting a new tracer at once must share one wrapper
                ids = tracer.id_generator
                if not isinstance(ids, _StagedIds):
                    ids = tracer.id_generator = _StagedIds(ids)
            self.staged = ids.staged
            self.bound = _root_delegate(tracer.sampler).bound
            ids = ids.inner
        self.ids = ids


INHERITED = NonRecordingSpan(trace.INVALID_SPAN_CONTEXT)
"""Returned for a child of a parent that is not sampled: open no span, the
parent's context stays current."""
UNREAD = NonRecordingSpan(trace.INVALID_SPAN_CONTEXT)
"""Returned where the SDK's ratio sampler decides under a parent and the span
processors are the SDK's batch and simple ones: nothing reads a span's
attributes before it is known to record, so attributes set right after
``start_span`` leave exactly what passing them would have, and the many
dropped spans need none."""

# id(tracer) -> (a weak reference to it, its plan): a lookup by id costs a
# tenth of a WeakKeyDictionary's, which makes a weak reference per lookup.
_plans: dict[int, tuple[Callable[[], Any], _Plan | None]] = {}
_MAX_PLANS = 256
_QUIET = (BatchSpanProcessor, SimpleSpanProcessor)


def dropped_span(tracer: Any, parent: Context) -> Span | None:
    """How to start a span under ``parent``: a fresh non-recording span to use
    (a certain drop), :data:`INHERITED` (a certain drop under a parent that is
    not sampled: no span of ours), :data:`UNREAD` (call ``tracer.start_span``
    without attributes, then set them if the span records), or ``None`` (call
    ``tracer.start_span`` with the attributes, at once: a ratio root's kept
    trace id is staged for that call)."""
    plan = _plan(tracer)
    if plan is None:
        return None
    context = trace.get_current_span(parent).get_span_context()
    kind = _kind(plan, context)
    if kind == _RATIO and not context.is_valid:
        return _ratio_root(plan)
    if kind == _RATIO:
        processors = getattr(getattr(tracer, "span_processor", None), "_span_processors", None)
        quiet = processors is not None and all(type(p) in _QUIET for p in processors)
        return UNREAD if quiet else None
    if kind != _DROP:
        return None
    if not context.is_valid:
        return _dropped_root(plan, plan.ids.generate_trace_id())
    flags = context.trace_flags
    if not flags.sampled:
        return INHERITED
    span_id = plan.ids.generate_span_id()  # the drop clears a sampled parent's flag
    dropped = SpanContext(context.trace_id, span_id, False, TraceFlags(flags & _RANDOM),
                          context.trace_state)  # fmt: skip
    return NonRecordingSpan(dropped)


def _ratio_root(plan: _Plan) -> Span | None:
    """A root under the SDK's ratio sampler: a drop, or ``None`` with the kept id staged."""
    trace_id = plan.ids.generate_trace_id()
    if trace_id & _TRACE_ID_LIMIT < plan.bound:
        plan.staged.trace_id = trace_id  # the SDK's start_span draws it next
        return None
    plan.staged.trace_id = None
    return _dropped_root(plan, trace_id)


def _dropped_root(plan: _Plan, trace_id: int) -> Span:
    """What the SDK makes of a dropped root with ``trace_id``: a fresh span id, its flags."""
    span_context = SpanContext(trace_id, plan.ids.generate_span_id(), False, plan.root_flags)
    return NonRecordingSpan(span_context)


def start_span(
    decided: Span | None,
    tracer: Any,
    name: str,
    parent: Context,
    kind: SpanKind,
    attributes: Mapping[str, Any],
) -> Span:
    """The SDK span for :func:`dropped_span`'s answer ``None`` (started with
    ``attributes``) or :data:`UNREAD` (given them only if it records)."""
    if decided is UNREAD:
        span: Span = tracer.start_span(name, parent, kind)
        if span.is_recording():
            span.set_attributes(attributes)
        return span
    return tracer.start_span(name, parent, kind, attributes)  # type: ignore[no-any-return]


def inherited(parent: Context | None) -> Span:
    """The span standing for :data:`INHERITED`: non-recording, with the context of
    ``parent``'s span (``None``: the current one), so it propagates the parent's."""
    span = trace.get_current_span(parent)
    if type(span) is NonRecordingSpan:
        return span  # it records nothing and ends as a no-op: itself will do
    return NonRecordingSpan(span.get_span_context())


def _plan(tracer: Any) -> _Plan | None:
    found = _plans.get(id(tracer))
    if found is None or found[0]() is not tracer:
        found = _remember(tracer)
    plan = found[1]
    if plan is None or (plan.enabled is not None and not plan.enabled()):
        return None
    return plan


def _kind(plan: _Plan, context: SpanContext) -> int:
    if not context.is_valid:
        return plan.kinds[0]
    return plan.kinds[(1 if context.is_remote else 3) + (0 if context.trace_flags.sampled else 1)]


def _remember(tracer: Any) -> tuple[Callable[[], Any], _Plan | None]:
    try:
        ref: Callable[[], Any] = weakref.ref(tracer)
    except TypeError:  # not weakly referenceable: not the SDK's tracer
        return (lambda: None), None
    if len(_plans) >= _MAX_PLANS:  # tracers come and go with their providers
        _plans.clear()
    found = _plans[id(tracer)] = (ref, _plan_of(tracer))
    return found


def _plan_of(tracer: Any) -> _Plan | None:
    if type(tracer) is not SdkTracer:
        return None
    metrics = getattr(tracer, "_tracer_metrics", None)
    if metrics is not None and type(metrics).__name__ != "NoOpTracerMetrics":
        return None  # the SDK counts every span it starts: leave them to it
    sampler = tracer.sampler
    if _fixed(sampler, ParentBased):
        delegates = (sampler._root, sampler._remote_parent_sampled,  # type: ignore[attr-defined]
                     sampler._remote_parent_not_sampled, sampler._local_parent_sampled,  # type: ignore[attr-defined]
                     sampler._local_parent_not_sampled)  # type: ignore[attr-defined]  # fmt: skip
        kinds = tuple(_decides(delegate) for delegate in delegates)
    else:
        kinds = (_decides(sampler),) * 5
    if all(kind == _ASK for kind in kinds):
        return None
    return _Plan(tracer, kinds)  # type: ignore[arg-type]  # five kinds


def _root_delegate(sampler: Sampler) -> Any:
    """The sampler that decides a root (a ``ParentBased``'s root delegate)."""
    return sampler._root if isinstance(sampler, ParentBased) else sampler


def _fixed(sampler: Sampler, kind: type[Sampler]) -> bool:
    """``sampler`` is a ``kind`` whose decision is the SDK's own code."""
    return isinstance(sampler, kind) and type(sampler).should_sample is kind.should_sample


def _decides(sampler: Sampler) -> int:
    if _fixed(sampler, StaticSampler):
        return _DROP if getattr(sampler, "_decision", None) is Decision.DROP else _ASK
    return _RATIO if _fixed(sampler, TraceIdRatioBased) else _ASK
