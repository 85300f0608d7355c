"""The GenAI instruments, built once per provider pair by factories.

Each factory carries the semconv unit and bucket advisory, so an SDK without
views still gets the buckets the GenAI conventions recommend.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry import metrics, trace
from opentelemetry.metrics import Histogram, Meter

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml._internal.deferred import DeferredHistogram
from otel_ml._internal.registry import PerProviders
from otel_ml.config import get_settings
from otel_ml.version import __version__

SCOPE = "otel_ml.genai"
"""Instrumentation scope of every GenAI span and metric otel_ml emits."""


def _histogram(
    meter: Meter, name: str, unit: str, description: str, buckets: Sequence[float]
) -> Histogram:
    return meter.create_histogram(
        name, unit=unit, description=description, explicit_bucket_boundaries_advisory=buckets
    )


def operation_duration(meter: Meter) -> Histogram:
    """``gen_ai.client.operation.duration`` (s)."""
    return _histogram(
        meter,
        semconv.GEN_AI_CLIENT_OPERATION_DURATION,
        "s",
        "GenAI operation duration.",
        semconv.GEN_AI_DURATION_BUCKETS,
    )


def token_usage(meter: Meter) -> Histogram:
    """``gen_ai.client.token.usage`` ({token})."""
    return _histogram(
        meter,
        semconv.GEN_AI_CLIENT_TOKEN_USAGE,
        "{token}",
        "Number of input and output tokens used.",
        semconv.GEN_AI_TOKEN_BUCKETS,
    )


def time_to_first_chunk(meter: Meter) -> Histogram:
    """``gen_ai.client.operation.time_to_first_chunk`` (s)."""
    return _histogram(
        meter,
        semconv.GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK,
        "s",
        "Time from the request to the first chunk of the response stream.",
        semconv.GEN_AI_FIRST_CHUNK_BUCKETS,
    )


def time_per_output_chunk(meter: Meter) -> Histogram:
    """``gen_ai.client.operation.time_per_output_chunk`` (s)."""
    return _histogram(
        meter,
        semconv.GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK,
        "s",
        "Time between the previous output chunk and each later one.",
        semconv.GEN_AI_FIRST_CHUNK_BUCKETS,
    )


def server_request_duration(meter: Meter) -> Histogram:
    """``gen_ai.server.request.duration`` (s)."""
    return _histogram(
        meter,
        semconv.GEN_AI_SERVER_REQUEST_DURATION,
        "s",
        "GenAI server request duration, to the last output token.",
        semconv.GEN_AI_DURATION_BUCKETS,
    )


def server_time_to_first_token(meter: Meter) -> Histogram:
    """``gen_ai.server.time_to_first_token`` (s)."""
    return _histogram(
        meter,
        semconv.GEN_AI_SERVER_TIME_TO_FIRST_TOKEN,
        "s",
        "Time to generate the first token of successful responses.",
        semconv.GEN_AI_FIRST_CHUNK_BUCKETS,
    )


def server_time_per_output_token(meter: Meter) -> Histogram:
    """``gen_ai.server.time_per_output_token`` (s)."""
    return _histogram(
        meter,
        semconv.GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN,
        "s",
        "Time per output token after the first, for successful responses.",
        semconv.GEN_AI_PER_TOKEN_BUCKETS,
    )


class GenAITelemetry:
    """Tracer and instruments shared by every GenAI invocation of a provider pair."""

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self._providers = (tracer_provider, meter_provider)  # keeps ids in the cache unique
        self.tracer = trace.get_tracer(SCOPE, __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider=meter_provider)
        self.internal_errors = guard.internal_errors_counter(meter)
        self.duration = operation_duration(meter)
        self.tokens = token_usage(meter)
        self.first_chunk = time_to_first_chunk(meter)
        self.per_chunk: DeferredHistogram | None = None
        """Recorded at collection: a stream's gaps are many values at once (``None``:
        turned off by ``OTEL_ML_GENAI_TIME_PER_CHUNK``)."""
        if get_settings().genai_time_per_chunk:
            self.per_chunk = DeferredHistogram(
                time_per_output_chunk(meter), meter, self.internal_errors
            )
        self.server_duration = server_request_duration(meter)
        self.server_first_token = server_time_to_first_token(meter)
        self.server_per_token = server_time_per_output_token(meter)


_bundles: PerProviders[GenAITelemetry] = PerProviders(lambda tp, mp: GenAITelemetry(tp, mp))


def genai_telemetry(
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
) -> GenAITelemetry:
    """The shared :class:`GenAITelemetry` for these providers (``None``: global)."""
    return _bundles.get(tracer_provider, meter_provider)
