"""Histogram values recorded at the next metric collection, off the request path.

Some calls produce many values of one histogram at once: a streamed answer of
100 chunks has 99 gaps between chunks for
``gen_ai.client.operation.time_per_output_chunk``. Recording each through the
SDK costs the caller tens of microseconds (attribute cleaning and hashing,
exemplar sampling, a lock), so a stream's last ``next()`` would pay
milliseconds. A :class:`DeferredHistogram` queues the values as one batch and
records them from an observable callback, which the SDK runs at the start of
every collection, before it reads the histograms: each collection exports
what the streams that ended before it queued, the same data points as
recording inline; each batch's first value carries the context queued with
it, so exemplars still point at the stream's trace.

The queue is bounded: once it holds :data:`MAX_PENDING` values (no collection
for a long while, or a meter provider that never collects), callers record
their own values inline again, so memory stays bounded and no caller ever
records someone else's backlog.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Counter, Histogram, Meter, Observation

from otel_ml._internal import guard

MAX_PENDING = 65_536
"""Values a deferred histogram holds between collections before callers record inline."""


class DeferredHistogram:
    """Records batches of ``histogram`` values at the next collection of ``meter``."""

    def __init__(self, histogram: Histogram, meter: Meter, errors: Counter | None = None) -> None:
        self._histogram = histogram
        self._errors = errors
        self._lock = threading.Lock()
        self._pending: deque[tuple[Sequence[float], Mapping[str, Any], Context | None]] = deque()
        self._queued = 0
        # An observable instrument that never observes anything exports nothing;
        # it is here for its callback, which every collection runs first.
        meter.create_observable_gauge(
            "otel_ml.internal.deferred_records",
            callbacks=[self._record_pending],
            description="Not exported: records deferred histogram values at collection.",
        )

    def record_many(
        self,
        values: Sequence[float],
        attributes: Mapping[str, Any],
        context: Context | None = None,
    ) -> None:
        """Record ``values`` at the next collection (now, if the queue is full).

        ``context`` (with the span that produced the values) keeps exemplars
        pointing at its trace.
        """
        if not values:
            return
        with self._lock:
            queued = self._queued + len(values) <= MAX_PENDING
            if queued:
                self._queued += len(values)
                self._pending.append((values, attributes, context))
        if not queued:
            self._record(values, attributes, context)

    def flush(self) -> None:
        """Record every queued value now."""
        while True:
            with self._lock:
                if not self._pending:
                    return
                values, attributes, context = self._pending.popleft()
                self._queued -= len(values)
            self._record(values, attributes, context)

    def _record(
        self, values: Sequence[float], attributes: Mapping[str, Any], context: Context | None
    ) -> None:
        # The context goes with the first value only: it makes that one an
        # exemplar candidate for the stream's trace; offering every value to the
        # exemplar reservoir would cost a tenth more for exemplars that replace
        # each other (a reservoir keeps one per bucket).
        record = self._histogram.record
        record(values[0], attributes, context=context)
        for value in values[1:]:
            record(value, attributes)

    def _record_pending(self, _options: CallbackOptions) -> Iterable[Observation]:
        try:
            self.flush()
        except Exception as exc:
            guard.report("deferred.record", exc, self._errors)
        return ()
