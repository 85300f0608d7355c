"""A telemetry-side log line repeated per item is logged once, then counted: a span
attribute no exporter can encode, set 1000 times, through the real OTLP/HTTP exporter."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from otlp_receiver import HttpReceiver

from otel_ml._internal import guard
from otel_ml._internal.log_once import ENCODER_LOGGER, OncePerMessage, limit_repeated_logs


@pytest.fixture
def limited() -> Iterator[OncePerMessage]:
    logger = logging.getLogger(ENCODER_LOGGER)
    before = list(logger.filters)
    for existing in before:
        logger.removeFilter(existing)
    limit_repeated_logs()
    limit_repeated_logs()  # idempotent
    [added] = logger.filters
    assert isinstance(added, OncePerMessage)
    yield added
    logger.removeFilter(added)
    for existing in before:
        logger.addFilter(existing)


def test_the_encoder_logs_the_first_bad_attribute_and_counts_the_rest(
    limited: OncePerMessage, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with HttpReceiver() as receiver:
        provider = TracerProvider()
        exporter = OTLPSpanExporter(endpoint=f"{receiver.endpoint}/v1/traces")
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("user-code")
        for i in range(1000):
            tracer.start_span("label", attributes={"label": f"\ud800{i}", "n": i}).end()
        provider.shutdown()
        arrived = receiver.spans()
    assert len(arrived) == 1000  # the span goes out without the attribute
    said = [r for r in caplog.records if r.name == ENCODER_LOGGER]
    assert len(said) == 1, len(said)
    assert limited.dropped == 999
    assert guard.error_count("otlp.encode") == 999
    logged = sum(len(r.getMessage()) + len(r.exc_text or "") for r in caplog.records)
    assert logged < 5_000
