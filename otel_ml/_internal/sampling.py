"""Sampled-out spans without the SDK's span machinery, where the drop is certain.

Where a span will be dropped whatever its name, kind and attributes say, otel_ml
need not build those attributes nor ask the SDK for the span: the SDK's
``Tracer.start_span`` would hand back a ``NonRecordingSpan`` that nothing
records or exports and whose only effect is the context it propagates.
:func:`dropped_span` decides that from the tracer's sampler object, and only
for the SDK's own samplers whose decision is fixed: ``ALWAYS_OFF`` (a
``StaticSampler`` that drops), and ``ParentBased`` (the default
``parentbased_*`` samplers) where the delegate for this parent is such a
sampler: a parent that is not sampled with the default delegates, or a root
under ``parentbased_always_off``. A ratio root, a custom sampler, a subclass
that overrides ``should_sample``, a disabled tracer, the SDK's own span metrics
(``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED``) or a tracer that is not the
SDK's all get ``None``: the caller asks the SDK, exactly as before.

What propagates stays what the SDK would have propagated
(tests/_internal/test_sampling.py compares them): a root gets fresh ids from
the tracer's id generator and the flags the SDK sets; a child of a parent
that is not sampled is no span at all (:data:`INHERITED`), so the parent's
context, same trace id, flags and trace state, reaches downstream calls.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, StaticSampler
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, TraceFlags

__all__ = ["INHERITED", "dropped_span"]

_RANDOM = int(getattr(TraceFlags, "RANDOM_TRACE_ID", 0))  # W3C level 2; absent before 1.43


class _Plan:
    """What a tracer's sampler decides without being asked (computed once)."""

    __slots__ = ("enabled", "ids", "local_drop", "parent_based", "remote_drop", "root_drop",
                 "root_flags")  # fmt: skip

    def __init__(self, tracer: SdkTracer, sampler: ParentBased | StaticSampler) -> None:
        self.ids = tracer.id_generator
        random_ids = getattr(self.ids, "is_trace_id_random", None)
        self.root_flags = TraceFlags(_RANDOM if _RANDOM and random_ids and random_ids() else 0)
        self.enabled = getattr(tracer, "_is_enabled", None)
        self.parent_based = isinstance(sampler, ParentBased)
        if isinstance(sampler, ParentBased):
            self.root_drop = _drops(sampler._root)
            self.remote_drop = _drops(sampler._remote_parent_not_sampled)
            self.local_drop = _drops(sampler._local_parent_not_sampled)
        else:
            self.root_drop = self.remote_drop = self.local_drop = True


INHERITED = NonRecordingSpan(trace.INVALID_SPAN_CONTEXT)
"""Returned for a child of a parent that is not sampled: open no span, the
parent's context stays current."""

# id(tracer) -> (a weak reference to it, its plan): a lookup by id costs a
# tenth of a WeakKeyDictionary's, which makes a weak reference per lookup.
_plans: dict[int, tuple[Callable[[], Any], _Plan | None]] = {}
_MAX_PLANS = 256


def dropped_span(tracer: Any, parent: Context) -> Span | None:
    """The span to use for a span the sampler is certain to drop under
    ``parent``: a fresh non-recording root, :data:`INHERITED` (no span of ours),
    or ``None`` when the SDK must decide (then call ``tracer.start_span``)."""
    found = _plans.get(id(tracer))
    if found is None or found[0]() is not tracer:
        found = _remember(tracer)
    plan = found[1]
    if plan is None or (plan.enabled is not None and not plan.enabled()):
        return None
    context = trace.get_current_span(parent).get_span_context()
    if not context.is_valid:
        if not plan.root_drop:
            return None
        ids = plan.ids
        return NonRecordingSpan(
            SpanContext(ids.generate_trace_id(), ids.generate_span_id(), False, plan.root_flags)
        )
    flags = context.trace_flags
    if flags.sampled:
        if plan.parent_based:
            return None  # the default delegates sample a sampled parent's children
        span_id = plan.ids.generate_span_id()  # ALWAYS_OFF clears the sampled flag
        dropped = SpanContext(context.trace_id, span_id, False, TraceFlags(flags & _RANDOM),
                              context.trace_state)  # fmt: skip
        return NonRecordingSpan(dropped)
    return INHERITED if (plan.remote_drop if context.is_remote else plan.local_drop) else None


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
    if _fixed(sampler, ParentBased) or _drops(sampler):
        return _Plan(tracer, sampler)  # type: ignore[arg-type]  # checked by _fixed/_drops
    return None


def _fixed(sampler: Sampler, kind: type[Sampler]) -> bool:
    """``sampler`` is a ``kind`` whose decision is the SDK's own code."""
    return isinstance(sampler, kind) and type(sampler).should_sample is kind.should_sample


def _drops(sampler: Sampler) -> bool:
    """``sampler`` is the SDK's static sampler that drops (``ALWAYS_OFF``)."""
    return _fixed(sampler, StaticSampler) and getattr(sampler, "_decision", None) is Decision.DROP
