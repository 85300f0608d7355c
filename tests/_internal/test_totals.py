"""In-process counters exported at collection."""

from __future__ import annotations

import threading

from support import Telemetry

from otel_ml._internal.totals import Totals


def test_sums_per_attribute_set_are_cumulative_at_each_collection(telemetry: Telemetry) -> None:
    meter = telemetry.meter_provider.get_meter("t")
    totals = Totals(meter, "x.cost", "USD", "a cost")
    totals.add(0.25, {"a": "1", "b": 2})
    totals.add(0.5, {"b": 2, "a": "1"})  # the same set in another order
    totals.add(1.0, {"a": "2"})
    first = {tuple(sorted(a.items())): p.value for a, p in telemetry.points("x.cost")}
    assert first == {(("a", "1"), ("b", 2)): 0.75, (("a", "2"),): 1.0}
    totals.add(1.0, {"a": "2"})
    second = {tuple(sorted(a.items())): p.value for a, p in telemetry.points("x.cost")}
    assert second[(("a", "2"),)] == 2.0
    metric = telemetry.metrics()["x.cost"]
    assert metric.unit == "USD" and metric.data.is_monotonic


def test_concurrent_adds_are_all_counted(telemetry: Telemetry) -> None:
    totals = Totals(telemetry.meter_provider.get_meter("t"), "x.calls", "{call}", "calls")

    def add() -> None:
        for _ in range(10_000):
            totals.add(1, {"k": "v"})

    threads = [threading.Thread(target=add) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    [(_, point)] = telemetry.points("x.calls")
    assert point.value == 40_000
