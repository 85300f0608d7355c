"""Sampled-out spans opened without the SDK: the same propagated context as the
SDK's own non-recording span, and the SDK path for every sampler it cannot predict."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from opentelemetry import context, propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    ParentBasedTraceIdRatio,
    Sampler,
    SamplingResult,
    StaticSampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

import otel_ml
from otel_ml import semconv
from otel_ml._internal import sampling
from otel_ml._internal.sampling import INHERITED, UNREAD, dropped_span

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
PARENT_ID = 0x00F067AA0BA902B7
STATE = TraceState([("vendor", "opaque")])


def parent(sampled: bool, remote: bool) -> Context:
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    ctx = SpanContext(TRACE_ID, PARENT_ID, remote, flags, STATE)
    return trace.set_span_in_context(NonRecordingSpan(ctx))


def sdk_span_context(sampler: Sampler, under: Context) -> SpanContext:
    span = TracerProvider(sampler=sampler).get_tracer("t").start_span("s", under)
    assert not span.is_recording()
    return span.get_span_context()


ROOT = Context()
DROPS = [
    (ParentBased(ALWAYS_OFF), ROOT),
    (ParentBased(ALWAYS_ON), parent(sampled=False, remote=True)),
    (ParentBased(ALWAYS_ON), parent(sampled=False, remote=False)),
    (ParentBasedTraceIdRatio(0.5), parent(sampled=False, remote=True)),
    (ALWAYS_OFF, ROOT),
    (ALWAYS_OFF, parent(sampled=True, remote=True)),
    (ALWAYS_OFF, parent(sampled=False, remote=False)),
]


@pytest.mark.newest  # the W3C random trace-flag bit: api < 1.43 has no TraceFlags.RANDOM_TRACE_ID
@pytest.mark.parametrize(("sampler", "under"), DROPS)
def test_a_certain_drop_propagates_what_the_sdk_would(sampler: Sampler, under: Context) -> None:
    tracer = TracerProvider(sampler=sampler).get_tracer("t")
    span = dropped_span(tracer, under)
    assert span is not None
    expected = sdk_span_context(sampler, under)
    if span is INHERITED:
        # No span of ours: the parent's context goes on, the one difference from
        # the SDK being the span id a dropped span never exports.
        got = trace.get_current_span(under).get_span_context()
        assert got.span_id == PARENT_ID
    else:
        got = span.get_span_context()
        assert not span.is_recording()
        assert got.span_id != trace.INVALID_SPAN_ID
    assert (got.trace_flags, got.trace_state, got.is_valid) == (
        expected.trace_flags,
        expected.trace_state,
        expected.is_valid,
    )
    if trace.get_current_span(under).get_span_context().is_valid:
        assert got.trace_id == expected.trace_id == TRACE_ID


class Custom(Sampler):
    """Drops everything, but it is not the SDK's: otel_ml cannot know that."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def should_sample(self, parent_context: Context | None, trace_id: int, name: str,
                      kind: Any = None, attributes: Any = None, links: Sequence[Any] | None = None,
                      trace_state: TraceState | None = None) -> SamplingResult:  # fmt: skip
        self.seen.append(dict(attributes or {}))
        return SamplingResult(Decision.DROP)

    def get_description(self) -> str:
        return "Custom"


class Overriding(ParentBased):
    """Decides as ``ParentBased`` does, through a method otel_ml does not know."""

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        return super().should_sample(*args, **kwargs)


ASK_THE_SDK = [
    (Custom(), ROOT),
    (ParentBased(Custom()), ROOT),
    (ParentBased(ALWAYS_ON, local_parent_not_sampled=Custom()), parent(False, False)),
    (Overriding(ALWAYS_OFF), ROOT),
    (StaticSampler(Decision.RECORD_ONLY), ROOT),
    (ParentBased(ALWAYS_OFF), parent(sampled=True, remote=False)),
]


@pytest.mark.parametrize(("sampler", "under"), ASK_THE_SDK)
def test_other_samplers_leave_the_decision_to_the_sdk(sampler: Sampler, under: Context) -> None:
    assert dropped_span(TracerProvider(sampler=sampler).get_tracer("t"), under) is None


class SeesAttributesAtStart(SpanProcessor):
    """A processor that reads a span's attributes when it starts."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        self.seen.append(dict(span.attributes or {}))


def test_a_ratio_child_starts_without_attributes_only_where_none_could_read_them() -> None:
    provider = TracerProvider(sampler=TraceIdRatioBased(0.5))
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    tracer = provider.get_tracer("t")
    under = parent(sampled=True, remote=True)
    assert dropped_span(tracer, under) is UNREAD
    ratio_root = TracerProvider(sampler=ParentBasedTraceIdRatio(0.5)).get_tracer("t")
    assert dropped_span(ratio_root, under) is None  # its ALWAYS_ON delegate decides
    provider.add_span_processor(SeesAttributesAtStart())
    assert dropped_span(tracer, under) is None


def roots_through_otel_ml(sampler: Sampler, count: int) -> list[tuple[int, int, int, bool]]:
    """``count`` roots started as otel_ml starts them: its decision, the SDK for the kept."""
    tracer = TracerProvider(sampler=sampler).get_tracer("t")
    started = []
    for _ in range(count):
        span = dropped_span(tracer, ROOT)
        if span is None:
            span = tracer.start_span("s", ROOT)
        ctx = span.get_span_context()
        started.append((ctx.trace_id, ctx.span_id, int(ctx.trace_flags), span.is_recording()))
    return started


@pytest.mark.parametrize("sampler", [ParentBasedTraceIdRatio(0.25), TraceIdRatioBased(0.1)])
def test_ratio_roots_get_the_sdks_ids_flags_and_decisions(sampler: Sampler) -> None:
    random.seed(20261205)
    ours = roots_through_otel_ml(sampler, 400)
    random.seed(20261205)
    tracer = TracerProvider(sampler=sampler).get_tracer("t")
    sdk = []
    for _ in range(400):
        ctx = (span := tracer.start_span("s", ROOT)).get_span_context()
        sdk.append((ctx.trace_id, ctx.span_id, int(ctx.trace_flags), span.is_recording()))
    assert ours == sdk  # the same random draws, in the same order, the same decisions
    kept = sum(recording for *_, recording in ours)
    assert 0 < kept < 400


def test_threads_meeting_a_new_tracer_at_once_share_one_id_wrapper(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second thread plans the tracer while the first is wrapping its id generator:
    both plans must stage into the wrapper the SDK reads, or kept roots would be lost."""
    tracer = TracerProvider(sampler=ParentBasedTraceIdRatio(0.5)).get_tracer("t")
    plans: list[Any] = []
    wrap = sampling._StagedIds.__init__
    second = threading.Thread(target=lambda: plans.append(sampling._plan_of(tracer)))

    def wrap_while_another_thread_plans(self: Any, inner: Any) -> None:
        if not second.is_alive() and not plans:
            second.start()
            second.join(timeout=0.2)  # blocked until this wrapper is in place
        wrap(self, inner)

    monkeypatch.setattr(sampling._StagedIds, "__init__", wrap_while_another_thread_plans)
    plans.append(sampling._plan_of(tracer))
    second.join(timeout=10)
    assert len(plans) == 2
    assert {id(plan.staged) for plan in plans} == {id(tracer.id_generator.staged)}  # type: ignore[attr-defined]


def test_a_kept_root_id_goes_to_the_next_root_of_its_own_thread_only() -> None:
    tracer = TracerProvider(sampler=ParentBasedTraceIdRatio(1.0)).get_tracer("t")
    assert dropped_span(tracer, ROOT) is None  # kept: its trace id is staged
    staged = tracer.id_generator.staged.trace_id  # type: ignore[attr-defined]
    elsewhere: list[int] = []
    worker = threading.Thread(
        target=lambda: elsewhere.append(tracer.start_span("s").get_span_context().trace_id)
    )
    worker.start()
    worker.join(timeout=10)
    assert elsewhere and elsewhere[0] != staged
    assert tracer.start_span("s").get_span_context().trace_id == staged
    assert tracer.start_span("s").get_span_context().trace_id != staged  # used once


def test_a_ratio_sampled_inference_span_has_every_attribute(providers: dict[str, Any]) -> None:
    watcher = SeesAttributesAtStart()
    spans: dict[str, Any] = {}
    for sampler, label in ((ParentBasedTraceIdRatio(1.0), "ratio"), (ParentBased(ALWAYS_ON), "on")):
        _, exporter, (instrumented, _) = wrapped(sampler, providers)
        instrumented.predict(np.zeros((2, 3)))
        (spans[label],) = exporter.get_finished_spans()
        providers.pop("tracer_provider").shutdown()
        providers.pop("meter_provider").shutdown()
    ratio, on = dict(spans["ratio"].attributes), dict(spans["on"].attributes)
    assert ratio.keys() == on.keys() and len(ratio) >= 5
    assert {k: v for k, v in ratio.items() if k != semconv.ML_PREDICTION_ID} == {
        k: v for k, v in on.items() if k != semconv.ML_PREDICTION_ID
    }
    # A processor that reads attributes at the start sees them all there.
    _, _, (instrumented, _) = wrapped(ParentBasedTraceIdRatio(1.0), providers)
    providers["tracer_provider"].add_span_processor(watcher)
    instrumented.predict(np.zeros((2, 3)))
    (at_start,) = watcher.seen
    assert at_start[semconv.ML_MODEL_NAME] == "m" and at_start[semconv.ML_BATCH_SIZE] == 2


def test_no_fast_path_for_tracers_that_are_not_the_sdks_or_count_their_spans(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert dropped_span(trace.NoOpTracer(), ROOT) is None
    monkeypatch.setenv("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "true")
    tracer = TracerProvider(sampler=ALWAYS_OFF).get_tracer("t")
    if type(getattr(tracer, "_tracer_metrics", None)).__name__ == "TracerMetrics":
        assert dropped_span(tracer, ROOT) is None


@pytest.fixture
def providers() -> Iterator[dict[str, Any]]:
    made: dict[str, Any] = {}
    yield made
    for provider in made.values():
        provider.shutdown()


def wrapped(sampler: Sampler, made: dict[str, Any]) -> tuple[Any, InMemorySpanExporter, Any]:
    """A model that returns the traceparent it would send downstream, wrapped."""
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    made["tracer_provider"] = TracerProvider(sampler=sampler)
    made["tracer_provider"].add_span_processor(SimpleSpanProcessor(exporter))
    made["meter_provider"] = MeterProvider(metric_readers=[reader])

    class Model:
        def predict(self, rows: Any) -> Any:
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            self.sent = carrier
            return np.zeros(len(rows))

    model = Model()
    return model, exporter, (otel_ml.wrap_model(model, "m", "1", **made), reader)


def downstream(sampler: Sampler, under: Context, made: dict[str, Any]) -> dict[str, str]:
    model, exporter, (instrumented, reader) = wrapped(sampler, made)
    token = context.attach(under)
    try:
        instrumented.predict(np.zeros((2, 3)))
        assert otel_ml.last_prediction_id()  # still issued
    finally:
        context.detach(token)
    assert exporter.get_finished_spans() == ()
    data = reader.get_metrics_data()
    names = {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert semconv.ML_INFERENCE_DURATION in names  # metrics are recorded all the same
    return model.sent  # type: ignore[no-any-return]


@pytest.mark.newest  # the W3C random trace-flag bit needs opentelemetry-api >= 1.43
def test_a_sampled_out_inference_sends_the_callers_trace_downstream(
    providers: dict[str, Any],
) -> None:
    incoming = parent(sampled=False, remote=True)
    sent = downstream(ParentBased(ALWAYS_ON), incoming, providers)
    sdk: dict[str, Any] = {}
    try:
        fallback = downstream(Overriding(ALWAYS_ON), incoming, sdk)  # the SDK's own span
    finally:
        for provider in sdk.values():
            provider.shutdown()
    version, trace_id, span_id, flags = sent["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", f"{TRACE_ID:032x}", "00")
    assert fallback["traceparent"].split("-")[1::2] == [trace_id, flags]
    assert sent["tracestate"] == fallback["tracestate"] == "vendor=opaque"
    assert span_id == f"{PARENT_ID:016x}"


def test_a_sampled_out_root_inference_still_starts_a_trace_downstream(
    providers: dict[str, Any],
) -> None:
    sent = downstream(ParentBased(ALWAYS_OFF), Context(), providers)
    _, trace_id, span_id, flags = sent["traceparent"].split("-")
    assert int(trace_id, 16) and int(span_id, 16) and flags in ("00", "02")


def test_a_custom_sampler_sees_the_inference_attributes(providers: dict[str, Any]) -> None:
    sampler = Custom()
    _, _, (instrumented, _) = wrapped(sampler, providers)
    instrumented.predict(np.zeros((2, 3)))
    (attributes,) = sampler.seen
    assert attributes[semconv.ML_MODEL_NAME] == "m"
    assert attributes[semconv.ML_BATCH_SIZE] == 2
    assert semconv.ML_PREDICTION_ID in attributes
