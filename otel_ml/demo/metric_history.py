"""Snapshots of the demo's in-memory metrics, and PromQL-like reads over a window.

The live view and the in-process alerts read the same data an exporter sends:
every second the demo collects its :class:`InMemoryMetricReader` (cumulative
temporality, like the Prometheus exporter) into a :class:`Snapshot`. A window's
increase is the latest snapshot minus the one taken ``window`` seconds earlier
(the first snapshot when the run is younger), as ``increase()`` and ``rate()``
do in PromQL.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
from opentelemetry.sdk.metrics.export import (
    Gauge,
    Histogram,
    InMemoryMetricReader,
    Sum,
)

Attributes = Mapping[str, Any]
Where = Callable[[Attributes], bool]

_FINE_AGE_S = 70.0  # keep every snapshot this recent; older ones one per _COARSE_STEP_S
_COARSE_STEP_S = 10.0


@dataclass(frozen=True)
class Point:
    """One series of a metric: a counter or gauge value, or a histogram."""

    attributes: Attributes
    value: float = 0.0
    count: int = 0
    bounds: tuple[float, ...] = ()
    buckets: tuple[int, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """Every series of every metric at one instant (monotonic seconds)."""

    at: float
    metrics: Mapping[str, list[Point]]

    def points(self, name: str, where: Where | None = None) -> list[Point]:
        """The series of metric ``name`` whose attributes ``where`` accepts."""
        found = self.metrics.get(name, [])
        return found if where is None else [p for p in found if where(p.attributes)]


@dataclass(frozen=True)
class HistogramWindow:
    """A histogram's increase over a window, summed over the selected series."""

    bounds: tuple[float, ...]
    buckets: npt.NDArray[np.int64]
    count: int
    sum: float

    def quantile(self, q: float) -> float:
        """``histogram_quantile``: linear inside the bucket holding the rank; NaN if empty."""
        if self.count <= 0 or not self.bounds:
            return math.nan
        cumulative = np.cumsum(self.buckets)
        rank = q * cumulative[-1]
        index = int(np.searchsorted(cumulative, rank, side="left"))
        if index >= len(self.bounds):  # the +Inf bucket: its lower bound, as Prometheus
            return self.bounds[-1]
        lower = self.bounds[index - 1] if index > 0 else 0.0
        below = cumulative[index - 1] if index > 0 else 0
        inside = self.buckets[index]
        fraction = (rank - below) / inside if inside else 1.0
        return float(lower + (self.bounds[index] - lower) * fraction)

    def share_at_most(self, bound: float) -> float:
        """Share of observations in buckets with upper bound <= ``bound`` (NaN if empty)."""
        if self.count <= 0:
            return math.nan
        upto = sum(1 for b in self.bounds if b <= bound + 1e-12)
        return float(self.buckets[:upto].sum()) / self.count


class MetricHistory:
    """The snapshots of a bounded past; windows up to ``keep_s`` seconds."""

    def __init__(
        self,
        reader: InMemoryMetricReader,
        keep_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reader = reader
        self._keep_s = keep_s
        self._clock = clock
        self._snapshots: deque[Snapshot] = deque()

    def collect(self) -> Snapshot:
        """Collect the reader now (runs the observable callbacks) and keep the snapshot."""
        snapshot = Snapshot(self._clock(), _read(self._reader))
        self._snapshots.append(snapshot)
        self._thin(snapshot.at)
        return snapshot

    @property
    def latest(self) -> Snapshot:
        """The last snapshot (an empty one before the first collection)."""
        return self._snapshots[-1] if self._snapshots else Snapshot(self._clock(), {})

    def base(self, window_s: float) -> Snapshot:
        """The newest snapshot at least ``window_s`` old, else the first one."""
        latest = self.latest
        for snapshot in reversed(self._snapshots):
            if snapshot.at <= latest.at - window_s:
                return snapshot
        return self._snapshots[0] if self._snapshots else latest

    def span_s(self, window_s: float) -> float:
        """Seconds actually covered by a window (shorter while the run is young)."""
        return self.latest.at - self.base(window_s).at

    def increase(self, name: str, window_s: float, where: Where | None = None) -> float:
        """Increase of a counter (or of a histogram's count) over the window."""
        now, then = self.latest.points(name, where), self.base(window_s).points(name, where)
        return _total(now) - _total(then)

    def increases(
        self, name: str, window_s: float, where: Where | None = None
    ) -> list[tuple[Attributes, float]]:
        """Per series: its attributes and its increase over the window."""
        then = {_key(p): p for p in self.base(window_s).points(name, where)}
        out = []
        for point in self.latest.points(name, where):
            old = then.get(_key(point))
            out.append((point.attributes, _total([point]) - (_total([old]) if old else 0.0)))
        return out

    def histogram(self, name: str, window_s: float, where: Where | None = None) -> HistogramWindow:
        """A histogram's buckets, count and sum over the window."""
        now = self.latest.points(name, where)
        then = {_key(p): p for p in self.base(window_s).points(name, where)}
        bounds = now[0].bounds if now else ()
        buckets = np.zeros(len(bounds) + 1, dtype=np.int64)
        count, total = 0, 0.0
        for point in now:
            if point.bounds != bounds:
                continue
            old = then.get(_key(point))
            buckets += np.asarray(point.buckets, dtype=np.int64)
            count += point.count
            total += point.value
            if old is not None and old.bounds == bounds:
                buckets -= np.asarray(old.buckets, dtype=np.int64)
                count -= old.count
                total -= old.value
        return HistogramWindow(bounds, buckets, count, total)

    def histograms(self, name: str, window_s: float, by: str) -> dict[Any, HistogramWindow]:
        """:meth:`histogram` for each value of the attribute ``by``."""
        values = {p.attributes.get(by) for p in self.latest.points(name)}
        return {v: self.histogram(name, window_s, partial(_has, by, v)) for v in values}

    def _thin(self, now: float) -> None:
        kept: deque[Snapshot] = deque()
        last_step = None
        for i, snapshot in enumerate(self._snapshots):
            age = now - snapshot.at
            if i and age > self._keep_s:
                continue
            step = int(snapshot.at // _COARSE_STEP_S)
            if i == 0 or age <= _FINE_AGE_S or step != last_step:
                kept.append(snapshot)
                last_step = step
        self._snapshots = kept


def _has(key: str, value: Any, attributes: Attributes) -> bool:
    return bool(attributes.get(key) == value)


def _key(point: Point) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(point.attributes.items()))


def _total(points: list[Point]) -> float:
    return sum(p.count if p.bounds else p.value for p in points)


def _read(reader: InMemoryMetricReader) -> dict[str, list[Point]]:
    metrics: dict[str, list[Point]] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                metrics.setdefault(metric.name, []).extend(_points(metric.data))
    return metrics


def _points(data: Any) -> list[Point]:
    if isinstance(data, Histogram):
        return [
            Point(
                dict(p.attributes or {}),
                float(p.sum),
                int(p.count),
                tuple(p.explicit_bounds),
                tuple(p.bucket_counts),
            )
            for p in data.data_points
        ]
    if isinstance(data, Sum | Gauge):
        return [Point(dict(p.attributes or {}), float(p.value)) for p in data.data_points]
    return []
