"""The handle ``configure()`` returns: the providers in effect, flush and shutdown."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider

from otel_ml.sdk._deadline import finish_within, run_by_deadline
from otel_ml.sdk._export_watch import WatchedExporter

__all__ = ["TelemetryHandle"]


class TelemetryHandle:
    """What :func:`otel_ml.configure` set up.

    ``tracer_provider`` and ``meter_provider`` are the providers in effect:
    the ones otel_ml created, or the application's own when it had already set
    one (otel_ml never replaces it), or the global proxy when a signal was
    disabled. :meth:`force_flush` and :meth:`shutdown` act only on the
    providers otel_ml created (:attr:`created`); the application stays in
    charge of its own.
    """

    def __init__(
        self,
        tracer_provider: trace.TracerProvider,
        meter_provider: metrics.MeterProvider,
        created: Sequence[SdkTracerProvider | SdkMeterProvider] = (),
        watched: Sequence[WatchedExporter] = (),
        shutdown_timeout_s: float = 5.0,
    ) -> None:
        self._shutdown_timeout_s = shutdown_timeout_s
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._created = tuple(created)
        self._watched = tuple(watched)
        self._lock = threading.Lock()
        self._shut_down = False

    @property
    def tracer_provider(self) -> trace.TracerProvider:
        """The tracer provider in effect."""
        return self._tracer_provider

    @property
    def meter_provider(self) -> metrics.MeterProvider:
        """The meter provider in effect."""
        return self._meter_provider

    @property
    def watched(self) -> tuple[WatchedExporter, ...]:
        """The OTLP exporters of the created providers, as wrapped by otel_ml."""
        return self._watched

    @property
    def created(self) -> tuple[SdkTracerProvider | SdkMeterProvider, ...]:
        """The SDK providers otel_ml built and owns."""
        return self._created

    def force_flush(self, timeout_ms: int = 30_000) -> bool:
        """Export everything buffered now; ``True`` when every provider finished in time.

        ``timeout_ms`` bounds the whole call, not each provider, even when the
        collector does not answer (the export goes on in the background). What
        is bound for an endpoint that accepts no connection is dropped and
        counted at once instead of retried.
        """
        flushed: list[bool] = []

        def flush() -> None:
            deadline = time.monotonic() + timeout_ms / 1000
            with self.skipping_unreachable():
                for provider in self._created:
                    remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
                    flushed.append(provider.force_flush(remaining_ms))

        return finish_within(flush, timeout_ms / 1000) and all(flushed)

    @contextmanager
    def skipping_unreachable(self) -> Iterator[None]:
        """Within the block, exports to an endpoint that accepts no connection
        fail at once instead of retrying: the flushes someone waits on."""
        with ExitStack() as stack:
            for exporter in self._watched:
                stack.enter_context(exporter.skipped_if_unreachable())
            yield

    def shutdown(self) -> None:
        """Flush and stop the providers otel_ml created; later calls do nothing.

        A shut-down provider stays installed globally (OpenTelemetry does not
        allow replacing it) and drops what is recorded afterwards, so call this
        at process exit; :func:`~otel_ml.configure` registers it with ``atexit``.
        It ends within ``OTEL_ML_SHUTDOWN_TIMEOUT`` whatever the collector does
        (what is left is counted and logged once); an exporter whose endpoint
        accepts no connection is closed first, without waiting.
        """
        with self._lock:
            if self._shut_down:
                return
            self._shut_down = True

        def stop() -> None:
            for exporter in self._watched:
                exporter.close_if_unreachable()
            for provider in self._created:
                provider.shutdown()

        run_by_deadline(stop, self._shutdown_timeout_s, self._watched)

    def __repr__(self) -> str:
        return (
            f"TelemetryHandle(tracer_provider={self._tracer_provider!r}, "
            f"meter_provider={self._meter_provider!r}, created={len(self._created)})"
        )
