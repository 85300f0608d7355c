"""Hot-path histograms aggregated in-process, exported at collection.

One ``Histogram.record`` through the OpenTelemetry SDK costs microseconds
(attribute copying and hashing, two locks, an exemplar offer); a ``bisect``
into a preallocated list costs a tenth of one. A :class:`CellHistogram`
keeps, per attribute set, one :class:`Cell` (bucket counts with the SDK's
boundaries, sum, min, max and the last exemplar per bucket) and records into
it with plain list and attribute updates. At each collection otel_ml's metric
reader (``otel_ml.sdk``) takes every cell's counts since the previous one
(:meth:`Hub.collect`) and exports them as ordinary histogram points.

Thread safety without a lock on the request path: :meth:`Cell.add` and
:meth:`Cell.take` are straight-line bytecode with no call and no allocation
of a garbage-collected object, and CPython with the GIL switches threads only
at calls, backward jumps and such allocations, so neither can interleave with
the other (tests/_internal/test_cells.py counts exactly under 32 threads with
a 1 us switch interval). Interpreters without the GIL get :class:`LockedCell`.

:func:`create_histogram` gives a :class:`CellHistogram` on a meter provider
whose readers export cells (:func:`attach`), and the SDK's own instrument
anywhere else, so every other set-up keeps its data exactly as before.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
import weakref
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.metrics import Counter

from otel_ml._internal import guard
from otel_ml._internal.registry import reset_after_fork

CARDINALITY_LIMIT = 2000
"""Attribute sets per histogram before the overflow set: the SDK's default limit."""
OVERFLOW_ATTRIBUTES: Mapping[str, Any] = {"otel.metric.overflow": True}
"""The attribute set that takes values of attribute sets past the limit (as in the SDK)."""
EXEMPLAR_FILTERS = ("trace_based", "always_on", "always_off")
_INF = math.inf
_NINF = -math.inf

Exemplar = tuple[float, int, int | None, int | None, Mapping[str, Any] | None]
"""value, time (unix ns), span id, trace id, the measurement's attributes."""
Epoch = tuple[list[int], float, float, float, list[Exemplar | None]]
"""What a cell took since the previous take: bucket counts, sum, min, max, exemplars."""


class HistogramLike(Protocol):
    """What the request path calls: the SDK ``Histogram`` or a :class:`CellHistogram`."""

    def record(
        self,
        amount: float,
        attributes: Mapping[str, Any] | None = None,
        context: Context | None = None,
    ) -> None: ...


class Cell:
    """The aggregate of one attribute set since the last collection."""

    __slots__ = ("attributes", "counts", "created_ns", "exemplars", "max", "min", "size", "sum")

    def __init__(self, attributes: Mapping[str, Any], size: int) -> None:
        self.attributes = attributes
        self.size = size
        self.created_ns = time.time_ns()
        self.counts = [0] * size
        self.exemplars: list[Exemplar | None] = [None] * size
        self.sum: float = 0
        self.min: float = _INF
        self.max: float = _NINF

    def add(self, index: int, amount: float, exemplar: Exemplar | None) -> None:
        """Count ``amount`` in bucket ``index`` (atomic under the GIL: see the module)."""
        self.counts[index] += 1
        self.sum += amount
        if amount < self.min:
            self.min = amount
        if amount > self.max:
            self.max = amount
        if exemplar is not None:
            self.exemplars[index] = exemplar

    def take(self) -> Epoch:
        """What was added since the previous take; the cell starts empty again."""
        # Allocations first: only they can switch threads in what follows, which
        # swaps attribute by attribute (a tuple would be an allocation).
        counts = [0] * self.size
        exemplars: list[Exemplar | None] = [None] * self.size
        taken_counts = self.counts
        self.counts = counts
        taken_sum = self.sum
        self.sum = 0
        taken_min = self.min
        self.min = _INF
        taken_max = self.max
        self.max = _NINF
        taken_exemplars = self.exemplars
        self.exemplars = exemplars
        return taken_counts, taken_sum, taken_min, taken_max, taken_exemplars


class LockedCell(Cell):
    """A cell for interpreters without the GIL: both sides take its lock."""

    __slots__ = ("_lock",)

    def __init__(self, attributes: Mapping[str, Any], size: int) -> None:
        super().__init__(attributes, size)
        self._lock = threading.Lock()

    def add(self, index: int, amount: float, exemplar: Exemplar | None) -> None:
        with self._lock:
            super().add(index, amount, exemplar)

    def take(self) -> Epoch:
        with self._lock:
            return super().take()


def _gil_enabled() -> bool:
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


_CELL: type[Cell] = Cell if _gil_enabled() else LockedCell


class CellHistogram:
    """A histogram of one instrumentation scope recorded into cells.

    ``record`` has the SDK ``Histogram.record`` signature and semantics:
    negative values are dropped, the exemplar filter decides which values may
    become a bucket's exemplar (``trace_based``: those recorded under a sampled
    span), attribute sets past :data:`CARDINALITY_LIMIT` go to the overflow set.
    """

    def __init__(self, hub: Hub, scope: tuple[str, str | None, str | None], name: str,
                 unit: str, description: str, boundaries: Sequence[float]) -> None:  # fmt: skip
        self.scope, self.name, self.unit, self.description = scope, name, unit, description
        self.boundaries = tuple(float(b) for b in boundaries)
        self._size = len(self.boundaries) + 1
        self._hub = hub
        self._cells: dict[frozenset[tuple[str, Any]], Cell] = {}
        # Callers on the request path pass the same few dicts again and again
        # (a model's attributes per operation): found by identity, no hashing.
        self._by_id: dict[int, tuple[Mapping[str, Any], Cell]] = {}
        self._exemplar = hub.exemplar
        self._lock = threading.Lock()

    def record(
        self,
        amount: float,
        attributes: Mapping[str, Any] | None = None,
        context: Context | None = None,
    ) -> None:
        """Count ``amount`` for ``attributes``; a failure is counted, never raised."""
        try:
            if amount < 0:
                return  # the SDK drops negative histogram values too
            found = self._by_id.get(id(attributes))
            cell = found[1] if found is not None and found[0] is attributes else None
            if cell is None:
                cell = self._find(attributes)
            index = bisect_left(self.boundaries, amount)
            cell.add(index, amount, self._exemplar(amount, attributes, context))
        except Exception as exc:
            guard.report("cells.record", exc, self._hub.errors)

    def record_many(
        self,
        amounts: Sequence[float],
        attributes: Mapping[str, Any] | None = None,
        context: Context | None = None,
    ) -> None:
        """``record`` each of ``amounts``; only the first may become an exemplar
        (``context`` usually names the span that produced them all)."""
        if amounts:
            self.record(amounts[0], attributes, context)
            for amount in amounts[1:]:
                self.record(amount, attributes, _NO_EXEMPLAR)

    def cells(self) -> list[Cell]:
        """Every cell, overflow included."""
        with self._lock:
            return list(self._cells.values())

    def _find(self, attributes: Mapping[str, Any] | None) -> Cell:
        key = frozenset(attributes.items()) if attributes else _EMPTY_KEY
        cell = self._cells.get(key) or self._cell(key, attributes)
        if attributes and len(self._by_id) < _IDENTITY_CACHE:
            # The entry keeps ``attributes`` alive, so its id cannot name another dict.
            self._by_id[id(attributes)] = (attributes, cell)
        return cell

    def _cell(self, key: frozenset[tuple[str, Any]], attributes: Mapping[str, Any] | None) -> Cell:
        with self._lock:
            found = self._cells.get(key)
            if found is not None:
                return found
            if len(self._cells) >= CARDINALITY_LIMIT:
                key = _OVERFLOW_KEY
                found = self._cells.get(key)
                if found is not None:
                    return found
                attributes = OVERFLOW_ATTRIBUTES
            cell = self._cells[key] = _CELL(dict(attributes or {}), self._size)
            return cell

    def reset(self) -> None:
        """Forget every cell (a forked child starts from nothing)."""
        self._lock = threading.Lock()
        self._cells = {}
        self._by_id = {}


_OVERFLOW_KEY = frozenset(OVERFLOW_ATTRIBUTES.items())
_EMPTY_KEY: frozenset[tuple[str, Any]] = frozenset()
_IDENTITY_CACHE = 64
_NO_EXEMPLAR = Context()  # a context without a span: never an exemplar under trace_based


class Consumer(Protocol):
    """A reader's side of the hub: receives every cell's epoch at each collection."""

    def merge(self, histogram: CellHistogram, cell: Cell, epoch: Epoch) -> None: ...

    def reset(self) -> None: ...


class Hub:
    """The cell histograms of one meter provider and the readers that export them."""

    def __init__(self, exemplar_filter: str = "trace_based", errors: Counter | None = None) -> None:
        if exemplar_filter not in EXEMPLAR_FILTERS:
            raise ValueError(
                f"OTEL_METRICS_EXEMPLAR_FILTER={exemplar_filter!r}: expected one of "
                f"{', '.join(EXEMPLAR_FILTERS)}"
            )
        self.exemplar_filter = exemplar_filter
        self._always_off = exemplar_filter == "always_off"
        self._trace_based = exemplar_filter == "trace_based"
        self.errors = errors
        self._histograms: dict[tuple[tuple[str, str | None, str | None], str], CellHistogram] = {}
        self._consumers: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.RLock()
        reset_after_fork(self, Hub._reset_in_child)

    def histogram(self, scope: tuple[str, str | None, str | None], name: str, unit: str,
                  description: str, boundaries: Sequence[float]) -> CellHistogram:  # fmt: skip
        """The histogram ``name`` of ``scope`` (name, version, schema URL), made once."""
        with self._lock:
            found = self._histograms.get((scope, name))
            if found is None:
                found = CellHistogram(self, scope, name, unit, description, boundaries)
                self._histograms[(scope, name)] = found
            return found

    def add_consumer(self, consumer: Consumer) -> None:
        """Give ``consumer`` every epoch from now on (held weakly)."""
        with self._lock:
            self._consumers.add(consumer)

    def collect(self) -> None:
        """Take every cell's epoch and hand it to every consumer."""
        with self._lock:
            consumers = list(self._consumers)
            for histogram, cell in self.cells():
                epoch = cell.take()
                if any(epoch[0]):
                    for consumer in consumers:
                        consumer.merge(histogram, cell, epoch)

    def cells(self) -> Iterator[tuple[CellHistogram, Cell]]:
        """Every (histogram, cell) pair."""
        with self._lock:
            histograms = list(self._histograms.values())
        for histogram in histograms:
            for cell in histogram.cells():
                yield histogram, cell

    def exemplar(
        self, amount: float, attributes: Mapping[str, Any] | None, context: Context | None
    ) -> Exemplar | None:
        """The exemplar ``amount`` would leave, if the filter lets it be one."""
        if self._always_off:
            return None
        span = trace.get_current_span(context)
        span_context = span.get_span_context()
        if self._trace_based and not span_context.trace_flags.sampled:
            return None
        if span is trace.INVALID_SPAN:
            return (amount, time.time_ns(), None, None, attributes)
        return (amount, time.time_ns(), span_context.span_id, span_context.trace_id, attributes)

    def _reset_in_child(self) -> None:
        # A forked worker is a new instance: it must not export its parent's counts.
        self._lock = threading.RLock()
        for histogram in self._histograms.values():
            histogram.reset()
        for consumer in list(self._consumers):
            consumer.reset()


_hubs: weakref.WeakKeyDictionary[Any, Hub] = weakref.WeakKeyDictionary()


def attach(meter_provider: metrics.MeterProvider, hub: Hub) -> None:
    """Record that every reader of ``meter_provider`` exports ``hub``'s cells."""
    _hubs[meter_provider] = hub


Finder = Callable[[metrics.MeterProvider], "Hub | None"]
_finders: list[Finder] = []


def add_finder(finder: Finder) -> None:
    """Let ``finder`` name the hub of a provider built before its readers'
    cells could be attached (``opentelemetry-instrument``'s, in ``otel_ml.sdk``)."""
    _finders.append(finder)


def hub_of(meter_provider: metrics.MeterProvider | None) -> Hub | None:
    """The hub whose cells ``meter_provider``'s readers export (``None``: the global one)."""
    provider = metrics.get_meter_provider() if meter_provider is None else meter_provider
    try:
        found = _hubs.get(provider)
    except TypeError:  # a provider that cannot be weakly referenced has no hub
        return None
    for finder in _finders if found is None else ():
        found = finder(provider)
        if found is not None:
            attach(provider, found)
            break
    return found


def create_histogram(
    meter: metrics.Meter,
    meter_provider: metrics.MeterProvider | None,
    name: str,
    *,
    unit: str,
    description: str,
    boundaries: Sequence[float],
) -> HistogramLike:
    """The histogram ``name`` on ``meter``: recorded into cells when the
    provider's readers export them, else the SDK instrument with the same
    unit, description and bucket advisory."""
    hub = hub_of(meter_provider)
    if hub is None:
        return meter.create_histogram(
            name, unit=unit, description=description,
            explicit_bucket_boundaries_advisory=list(boundaries),
        )  # fmt: skip
    scope = (meter.name, meter.version, meter.schema_url)
    return hub.histogram(scope, name, unit, description, boundaries)


def exemplar_filter_from(environ: Mapping[str, str] | None = None) -> str:
    """``OTEL_METRICS_EXEMPLAR_FILTER`` (default ``trace_based``), as the SDK reads it."""
    env = os.environ if environ is None else environ
    return env.get("OTEL_METRICS_EXEMPLAR_FILTER", "trace_based").strip().lower()
