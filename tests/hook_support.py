"""Fixtures and readers shared by the tests of the model-library hooks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support import Telemetry

from otel_ml import semconv
from otel_ml.config import Settings
from otel_ml.instrumentation._patching import PatchingInstrumentor

HEX_ID = re.compile(r"[0-9a-f]{32}")


def instrument_fixture(cls: type[PatchingInstrumentor]) -> Any:
    """A fixture ``instrument(**kwargs)``: ``cls().instrument`` with the test's
    providers and an empty environment; uninstrumented after the test."""

    @pytest.fixture
    def instrument(telemetry: Telemetry) -> Iterator[Callable[..., Any]]:
        instrumentor = cls()

        def run(**kwargs: Any) -> Any:
            kwargs.setdefault("settings", Settings.load(environ={}))
            instrumentor.instrument(**telemetry.providers, **kwargs)
            return instrumentor

        yield run
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()

    return instrument


def attributes(span: Any) -> dict[str, Any]:
    """A span's attributes with the random prediction id checked and removed."""
    attrs = dict(span.attributes)
    assert HEX_ID.fullmatch(attrs.pop(semconv.ML_PREDICTION_ID))
    return attrs


def read_values(span: Any) -> dict[str, Any]:
    """What a span says the model predicted: batch size, classes, values, confidences."""
    return {
        k: v
        for k, v in attributes(span).items()
        if k.startswith("ml.prediction.") or k == semconv.ML_BATCH_SIZE
    }


def model(name: str, version: str = "unknown", **extra: Any) -> dict[str, Any]:
    return {semconv.ML_MODEL_NAME: name, semconv.ML_MODEL_VERSION: version, **extra}


def counts(telemetry: Telemetry, metric: str) -> dict[tuple[Any, ...], Any]:
    """Metric points keyed by their sorted attribute items: histogram count or sum value."""
    return {
        tuple(sorted(attrs.items())): getattr(point, "count", None) or point.value
        for attrs, point in telemetry.points(metric)
    }


def key(**attrs: Any) -> tuple[Any, ...]:
    return tuple(sorted(attrs.items()))
