"""The same histogram traffic through otel_ml's bundles of several meter providers.

Shared by tests/test_cells_export.py and tests/e2e/test_e2e_cells.py, which
compare what the SDK instruments and the in-process cells export.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry import context
from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from otel_ml import semconv
from otel_ml._internal.deferred import DeferredHistogram
from otel_ml.genai.instruments import GenAITelemetry
from otel_ml.inference.instruments import InferenceTelemetry

SAMPLED = TracerProvider()
SAMPLED_OUT = TracerProvider(sampler=ALWAYS_OFF)


def traffic(providers: Sequence[MeterProvider], round_: int) -> None:
    """The same values recorded through otel_ml's bundles of each provider, in
    the same spans: some sampled (those become exemplars), some sampled out,
    one under none."""
    model = {semconv.ML_MODEL_NAME: "fraud", semconv.ML_MODEL_VERSION: "3",
             semconv.ML_OPERATION_NAME: "predict"}  # fmt: skip
    failed = {**model, semconv.ERROR_TYPE: "ValueError"}
    chat = {semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_REQUEST_MODEL: "m"}
    bundles = [
        (InferenceTelemetry.of(SAMPLED, p), GenAITelemetry.of(SAMPLED, p)) for p in providers
    ]
    for i, tracer in enumerate(SPANS):
        with tracer.start_as_current_span(f"call {i}"):
            value = 0.0007 * (i + 1) * (round_ + 1)
            for inference, genai in bundles:
                inference.duration.record(value, model)
                inference.duration.record(value * 40, failed if i % 3 == 0 else model)
                inference.confidence.record(0.5 + 0.04 * i, model)
                genai.duration.record(value * 900, chat)
                genai.tokens.record(17 * i + round_, {**chat, semconv.GEN_AI_TOKEN_TYPE: "input"})
                genai.first_chunk.record(value * 30, chat)
                genai.server_per_token.record(value, chat)
                gaps = [value, value * 2, value * 3]
                genai.per_chunk.record_many(gaps, chat, context.get_current())
    for inference, genai in bundles:
        inference.duration.record(0.3, {**model, semconv.ML_OPERATION_NAME: "predict_proba"})
        if isinstance(genai.per_chunk, DeferredHistogram):
            genai.per_chunk.flush()


SPANS = [SAMPLED.get_tracer("t")] * 4 + [SAMPLED_OUT.get_tracer("t")] * 3


SPANS = [SAMPLED.get_tracer("t")] * 4 + [SAMPLED_OUT.get_tracer("t")] * 3
