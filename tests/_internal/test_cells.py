"""In-process histogram cells: exact under threads, bounded, reset in a forked child."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics import _internal as sdk_metrics
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from otel_ml._internal import guard
from otel_ml._internal.cells import (
    CARDINALITY_LIMIT,
    OVERFLOW_ATTRIBUTES,
    Cell,
    CellHistogram,
    Hub,
    attach,
    create_histogram,
)

BOUNDS = (0.1, 0.5, 1.0)
SCOPE = ("test", "1", None)


class Totals:
    """A consumer that sums every epoch it is given (what a reader would export)."""

    def __init__(self) -> None:
        self.counts: dict[frozenset[object], list[int]] = {}
        self.sums: dict[frozenset[object], float] = {}

    def merge(self, histogram: CellHistogram, cell: Cell, epoch: tuple) -> None:  # type: ignore[type-arg]
        key = frozenset(cell.attributes.items())
        counts = self.counts.setdefault(key, [0] * len(epoch[0]))
        self.counts[key] = [a + b for a, b in zip(counts, epoch[0], strict=True)]
        self.sums[key] = self.sums.get(key, 0) + epoch[1]

    def reset(self) -> None:
        self.counts.clear()
        self.sums.clear()


@pytest.fixture
def hub() -> Hub:
    return Hub()


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Threads switch every microsecond: any non-atomic update would lose counts."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


def test_counts_are_exact_under_32_threads_while_collections_run(
    hub: Hub, fast_switching: None
) -> None:
    histogram = hub.histogram(SCOPE, "h", "s", "d", BOUNDS)
    totals = Totals()
    hub.add_consumer(totals)
    per_thread, values = 4_000, (0.05, 0.3, 0.7, 2.0)
    start = threading.Barrier(33)
    stop = threading.Event()

    def record(n: int) -> None:
        attrs = {"thread.group": n % 2}
        start.wait()
        for i in range(per_thread):
            histogram.record(values[i % 4], attrs)

    def collect() -> None:
        start.wait()
        while not stop.wait(0.001):
            hub.collect()

    threads = [threading.Thread(target=record, args=(n,)) for n in range(32)]
    collector = threading.Thread(target=collect)
    for thread in [*threads, collector]:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    stop.set()
    collector.join(timeout=10)
    hub.collect()
    expected_per_group = 16 * per_thread // 4
    for group in (0, 1):
        key = frozenset({("thread.group", group)})
        assert totals.counts[key] == [expected_per_group] * 4
        assert totals.sums[key] == pytest.approx(expected_per_group * sum(values))


def test_attribute_sets_past_the_limit_go_to_the_overflow_set(hub: Hub) -> None:
    histogram = hub.histogram(SCOPE, "h", "s", "d", BOUNDS)
    for n in range(CARDINALITY_LIMIT + 50):
        histogram.record(0.2, {"n": n})
    cells = histogram.cells()
    assert len(cells) == CARDINALITY_LIMIT + 1
    [overflow] = [c for c in cells if c.attributes == OVERFLOW_ATTRIBUTES]
    assert overflow.counts == [0, 50, 0, 0]
    histogram.record(0.2, {"n": 3})  # a set seen before the limit keeps its own cell
    assert overflow.counts == [0, 50, 0, 0]


def test_negative_values_are_dropped_like_the_sdk_does(hub: Hub) -> None:
    histogram = hub.histogram(SCOPE, "h", "s", "d", BOUNDS)
    histogram.record(-1.0, {"a": 1})
    histogram.record(0.1, {"a": 1})
    [cell] = histogram.cells()
    assert (cell.counts, cell.sum, cell.min, cell.max) == ([1, 0, 0, 0], 0.1, 0.1, 0.1)


def test_exemplars_come_from_sampled_spans_only(hub: Hub) -> None:
    histogram = hub.histogram(SCOPE, "h", "s", "d", BOUNDS)
    sampled = TracerProvider().get_tracer("t")
    dropped = TracerProvider(sampler=ALWAYS_OFF).get_tracer("t")
    with sampled.start_as_current_span("kept") as span:
        histogram.record(0.05, {"a": 1})
    with dropped.start_as_current_span("dropped"):
        histogram.record(0.3, {"a": 1})
    histogram.record(2.0, {"a": 1})
    [cell] = histogram.cells()
    first, *rest = cell.exemplars
    assert first is not None and rest == [None, None, None]
    assert first[:1] + first[2:4] == (
        0.05,
        span.get_span_context().span_id,
        span.get_span_context().trace_id,
    )


def test_always_off_filter_keeps_no_exemplar() -> None:
    hub = Hub("always_off")
    histogram = hub.histogram(SCOPE, "h", "s", "d", BOUNDS)
    with TracerProvider().get_tracer("t").start_as_current_span("kept"):
        histogram.record(0.05, {"a": 1})
    assert histogram.cells()[0].exemplars == [None] * 4


def test_an_unknown_exemplar_filter_is_named() -> None:
    with pytest.raises(ValueError, match="OTEL_METRICS_EXEMPLAR_FILTER='sometimes'"):
        Hub("sometimes")


def test_a_failing_record_is_counted_not_raised(hub: Hub) -> None:
    histogram = hub.histogram(SCOPE, "h", "s", "d", BOUNDS)
    guard.set_strict(False)
    histogram.record(0.2, {"unhashable": ["a", "list"]})  # type: ignore[dict-item]
    assert guard.error_count("cells.record") == 1
    assert histogram.cells() == []


def test_without_a_hub_the_sdk_instrument_is_used() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    meter = provider.get_meter("test")
    plain = create_histogram(meter, provider, "h", unit="s", description="d", boundaries=BOUNDS)
    assert isinstance(plain, sdk_metrics.instrument._Histogram)
    attach(provider, Hub())
    cells = create_histogram(meter, provider, "h2", unit="s", description="d", boundaries=BOUNDS)
    assert isinstance(cells, CellHistogram)
    assert cells.scope == ("test", "", None) or cells.scope[0] == "test"
    provider.shutdown()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_forked_child_starts_with_no_cells(hub: Hub) -> None:
    histogram = hub.histogram(SCOPE, "h", "s", "d", BOUNDS)
    totals = Totals()
    hub.add_consumer(totals)
    histogram.record(0.2, {"a": 1})
    hub.collect()
    histogram.record(0.3, {"a": 1})
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it would export, then leave at once
        try:
            histogram.record(0.7, {"a": 2})
            hub.collect()
            seen = sorted((sorted(k), v) for k, v in totals.counts.items())
            os.write(write, repr(seen).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    assert child == repr([([("a", 2)], [0, 0, 1, 0])])
    hub.collect()  # the parent keeps its own
    assert totals.counts == {frozenset({("a", 1)}): [0, 2, 0, 0]}
