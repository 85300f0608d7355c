"""Shared plumbing for observable instruments and per-process state."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Generic, TypeVar

from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Counter, Observation

from otel_ml._internal import guard
from otel_ml.version import __version__

S = TypeVar("S")
T = TypeVar("T")
E = TypeVar("E")
B = TypeVar("B", bound="TelemetryBundle")
_extension_lock = threading.RLock()  # an extension may build while its bundle is being made


class TelemetryBundle:
    """The tracer, meter and ``otel_ml.internal.errors`` counter of one
    instrumentation scope on one provider pair (``None``: the global ones),
    and the instruments of features built on them on first use.

    A subclass names its :attr:`scope` and creates its instruments in
    :meth:`_create`; :meth:`of` gives the one bundle of a provider pair.
    """

    scope: ClassVar[str]

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self.tracer = trace.get_tracer(self.scope, __version__, tracer_provider=tracer_provider)
        self.meter = metrics.get_meter(self.scope, __version__, meter_provider=meter_provider)
        self.meter_provider = meter_provider
        """The provider given (``None``: the global one), for ``cells.create_histogram``."""
        self.internal_errors = guard.internal_errors_counter(self.meter)
        self._extensions: dict[str, Any] = {}
        self._create(self.meter)

    def _create(self, meter: metrics.Meter) -> None:
        """Create the bundle's own instruments on ``meter``."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._shared = PerProviders(cls)

    _shared: ClassVar[PerProviders[Any]]

    @classmethod
    def of(
        cls: type[B],
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> B:
        """The bundle shared by everything on these providers (``None``: global)."""
        bundle: B = cls._shared.get(tracer_provider, meter_provider)
        return bundle

    def extension(self: B, key: str, build: Callable[[B], E]) -> E:
        """The instruments of a feature (drift, feedback, model info) on this
        bundle's meter, built by ``build(self)`` on first use."""
        found = self._extensions.get(key)
        if found is None:
            with _extension_lock:
                found = self._extensions.get(key)
                if found is None:
                    found = self._extensions[key] = build(self)
        return found


class PerProviders(Generic[T]):
    """One ``T`` per (tracer provider, meter provider) pair, built on first use.

    ``None`` stands for the global providers. The providers are kept alive with
    their entry, so an id in the key can never be reused by a new provider.
    """

    def __init__(self, build: Callable[[Any, Any], T]) -> None:
        self._build = build
        self._entries: dict[tuple[int, int], tuple[T, Any, Any]] = {}
        self._lock = threading.RLock()  # a build may ask for another bundle

    def get(self, tracer_provider: Any = None, meter_provider: Any = None) -> T:
        """The bundle for these providers."""
        key = (id(tracer_provider), id(meter_provider))
        found = self._entries.get(key)
        if found is None:
            with self._lock:
                found = self._entries.get(key)
                if found is None:
                    bundle = self._build(tracer_provider, meter_provider)
                    found = self._entries[key] = (bundle, tracer_provider, meter_provider)
        return found[0]


class SourceRegistry(Generic[S]):
    """Weakly held sources (monitors, recorders) read by observable callbacks.

    A source that fails while being read is reported through the guard under
    ``component`` and skipped; the others are still exported.
    """

    def __init__(self, component: str, errors: Counter) -> None:
        self._sources: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._component = component
        self._errors = errors

    def register(self, source: S) -> None:
        """Export ``source`` from now on (until it is garbage collected)."""
        with self._lock:
            self._sources.add(source)

    def unregister(self, source: S) -> None:
        """Stop exporting ``source`` (a replaced one may live on until collected)."""
        with self._lock:
            self._sources.discard(source)

    def callback(
        self, read: Callable[[S], Iterable[Observation]]
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        """An observable-instrument callback gathering ``read(source)`` of every source."""

        def observe(_options: CallbackOptions) -> Iterable[Observation]:
            with self._lock:
                sources = list(self._sources)
            out: list[Observation] = []
            for source in sources:
                try:
                    out.extend(read(source))
                except Exception as exc:
                    guard.report(self._component, exc, self._errors)
            return out

        return observe


def reset_after_fork(owner: Any, reset: Callable[[Any], None]) -> None:
    """Call ``reset(owner)`` in a forked child while ``owner`` is alive: a forked
    worker is a new instance and must not carry its parent's state or locks."""
    ref = weakref.ref(owner)

    def in_child() -> None:
        alive = ref()
        if alive is not None:
            reset(alive)

    os.register_at_fork(after_in_child=in_child)
