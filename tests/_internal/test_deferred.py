"""Deferred histogram records: exported by the next collection, exactly once, bounded."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

from otel_ml._internal import deferred
from otel_ml._internal.deferred import DeferredHistogram

NAME = "test.deferred.seconds"
ATTRS = {"gen_ai.request.model": "m"}


def histogram_points(reader: InMemoryMetricReader) -> dict[str, Any]:
    """``NAME``'s data point (cumulative) from one collection of ``reader``, or none;
    and every metric name the collection exported."""
    data = reader.get_metrics_data()
    names, point = [], None
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                names.append(metric.name)
                if metric.name == NAME:
                    (point,) = metric.data.data_points
    return {"point": point, "names": names}


def deferred_on(provider: MeterProvider) -> DeferredHistogram:
    meter = provider.get_meter("test")
    return DeferredHistogram(meter.create_histogram(NAME, unit="s"), meter)


def test_queued_values_are_exported_by_the_next_collection_with_exemplars() -> None:
    reader = InMemoryMetricReader()
    values = deferred_on(MeterProvider(metric_readers=[reader]))
    tracer = TracerProvider().get_tracer("test")
    span = tracer.start_span("stream")

    values.record_many([0.01, 0.02, 0.03], ATTRS, trace.set_span_in_context(span))
    first = histogram_points(reader)
    values.record_many([0.5], ATTRS)
    second = histogram_points(reader)

    assert first["point"].count == 3
    assert first["point"].sum == pytest.approx(0.06)
    assert dict(first["point"].attributes) == ATTRS
    trace_ids = {e.trace_id for e in first["point"].exemplars}
    assert trace_ids == {span.get_span_context().trace_id}
    assert second["point"].count == 4  # cumulative: each value once
    assert first["names"] == [NAME]  # the callback's own instrument exports nothing


def test_nothing_is_recorded_before_a_collection_asks() -> None:
    reader = InMemoryMetricReader()
    values = deferred_on(MeterProvider(metric_readers=[reader]))

    values.record_many([0.1, 0.2], ATTRS)
    values.record_many([], ATTRS)

    assert len(values._pending) == 1  # the empty batch is not queued
    assert histogram_points(reader)["point"].count == 2
    assert len(values._pending) == 0


def test_each_reader_gets_every_value_once() -> None:
    readers = [InMemoryMetricReader(), InMemoryMetricReader()]
    values = deferred_on(MeterProvider(metric_readers=readers))

    values.record_many([0.1] * 5, ATTRS)
    counts = [histogram_points(r)["point"].count for r in readers]  # the first drains
    values.record_many([0.1] * 2, ATTRS)
    counts += [histogram_points(r)["point"].count for r in reversed(readers)]

    assert counts == [5, 5, 7, 7]


def test_a_full_queue_makes_callers_record_their_own_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(deferred, "MAX_PENDING", 10)
    reader = InMemoryMetricReader()
    values = deferred_on(MeterProvider(metric_readers=[reader]))

    values.record_many([0.1] * 8, ATTRS)
    values.record_many([0.2] * 4, ATTRS)  # would pass 10: recorded now, not queued
    values.record_many([0.3] * 2, ATTRS)  # fits

    assert [len(batch) for batch, _, _ in values._pending] == [8, 2]
    assert values._queued == 10
    point = histogram_points(reader)["point"]
    assert point.count == 14
    assert point.sum == pytest.approx(0.8 + 0.8 + 0.6)
    assert values._queued == 0


def test_a_failing_record_is_counted_and_the_collection_goes_on() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    meter = provider.get_meter("test")
    errors = meter.create_counter("test.errors")

    class Broken:
        def record(self, *_args: Any, **_kwargs: Any) -> None:
            raise RuntimeError("exporter-side bug")

    values = DeferredHistogram(Broken(), meter, errors)  # type: ignore[arg-type]
    values.record_many([0.1], ATTRS)
    data = reader.get_metrics_data()

    counted = [
        p.value
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "test.errors"
        for p in m.data.data_points
    ]
    assert counted == [1]


def test_concurrent_streams_and_collections_count_every_value_once() -> None:
    reader = InMemoryMetricReader()
    values = deferred_on(MeterProvider(metric_readers=[reader]))
    threads, batches, per_batch = 4, 200, 7
    done = threading.Event()

    def stream() -> None:
        for _ in range(batches):
            values.record_many([0.001] * per_batch, ATTRS)

    def collect() -> None:
        while not done.is_set():
            reader.get_metrics_data()

    collector = threading.Thread(target=collect)
    collector.start()
    workers = [threading.Thread(target=stream) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    done.set()
    collector.join(timeout=60)

    assert not any(t.is_alive() for t in [*workers, collector])
    assert histogram_points(reader)["point"].count == threads * batches * per_batch
