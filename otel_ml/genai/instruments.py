"""The GenAI instruments, built once per provider pair from one table.

Each histogram carries the semconv unit and bucket advisory, so an SDK
without views still gets the buckets the GenAI conventions recommend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from opentelemetry.metrics import Histogram, Meter, MeterProvider

from otel_ml import semconv
from otel_ml._internal.cells import CellHistogram, HistogramLike, create_histogram
from otel_ml._internal.deferred import DeferredHistogram
from otel_ml._internal.registry import TelemetryBundle

SCOPE = "otel_ml.genai"
"""Instrumentation scope of every GenAI span and metric otel_ml emits."""


# name -> (unit, description, bucket advisory): every GenAI histogram otel_ml records.
HISTOGRAMS: dict[str, tuple[str, str, Sequence[float]]] = {
    semconv.GEN_AI_CLIENT_OPERATION_DURATION: (
        "s", "GenAI operation duration.", semconv.GEN_AI_DURATION_BUCKETS),
    semconv.GEN_AI_CLIENT_TOKEN_USAGE: (
        "{token}", "Number of input and output tokens used.", semconv.GEN_AI_TOKEN_BUCKETS),
    semconv.GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK: (
        "s", "Time from the request to the first chunk of the response stream.",
        semconv.GEN_AI_CLIENT_CHUNK_BUCKETS),
    semconv.GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK: (
        "s", "Time between the previous output chunk and each later one.",
        semconv.GEN_AI_CLIENT_CHUNK_BUCKETS),
    semconv.GEN_AI_SERVER_REQUEST_DURATION: (
        "s", "GenAI server request duration, to the last output token.",
        semconv.GEN_AI_DURATION_BUCKETS),
    semconv.GEN_AI_SERVER_TIME_TO_FIRST_TOKEN: (
        "s", "Time to generate the first token of successful responses.",
        semconv.GEN_AI_FIRST_CHUNK_BUCKETS),
    semconv.GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN: (
        "s", "Time per output token after the first, for successful responses.",
        semconv.GEN_AI_PER_TOKEN_BUCKETS),
}  # fmt: skip


def histogram(
    meter: Meter, name: str, meter_provider: MeterProvider | None = None
) -> HistogramLike:
    """The GenAI histogram ``name`` on ``meter``, with its unit and bucket advisory
    (in-process cells where ``meter_provider``'s readers export them)."""
    unit, description, buckets = HISTOGRAMS[name]
    return create_histogram(
        meter, meter_provider, name, unit=unit, description=description, boundaries=buckets
    )


class GenAITelemetry(TelemetryBundle):
    """Tracer and instruments shared by every GenAI invocation of a provider pair."""

    scope = SCOPE

    def _create(self, meter: Meter) -> None:
        provider = self.meter_provider
        self.duration = histogram(meter, semconv.GEN_AI_CLIENT_OPERATION_DURATION, provider)
        self.tokens = histogram(meter, semconv.GEN_AI_CLIENT_TOKEN_USAGE, provider)
        self.first_chunk = histogram(meter, semconv.GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK, provider)
        per_chunk = histogram(meter, semconv.GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK, provider)
        self.per_chunk: CellHistogram | DeferredHistogram = (
            per_chunk
            if isinstance(per_chunk, CellHistogram)
            else DeferredHistogram(cast(Histogram, per_chunk), meter, self.internal_errors)
        )
        """Cells, or through the SDK at collection: a stream's gaps are many values
        at once (calls of entry points with ``OTEL_ML_GENAI_TIME_PER_CHUNK`` off record none)."""
        self.server_duration = histogram(meter, semconv.GEN_AI_SERVER_REQUEST_DURATION, provider)
        self.server_first_token = histogram(
            meter, semconv.GEN_AI_SERVER_TIME_TO_FIRST_TOKEN, provider
        )
        self.server_per_token = histogram(
            meter, semconv.GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN, provider
        )
