"""The internal-error guard: swallowed and counted in production, raised in strict mode."""

from __future__ import annotations

import logging

import pytest
from support import Telemetry

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml._internal.guard import internal_errors_counter
from otel_ml.config import Settings, get_settings


def _fail(component: str, telemetry: Telemetry) -> None:
    counter = internal_errors_counter(telemetry.meter_provider.get_meter("test"))
    try:
        raise KeyError("boom")
    except KeyError as exc:
        guard.report(component, exc, counter)


def test_strict_mode_reraises_the_original_exception(telemetry: Telemetry) -> None:
    with pytest.raises(KeyError, match="boom"):
        _fail("inference.stop", telemetry)
    assert guard.error_count("inference.stop") == 1


def test_production_mode_swallows_counts_and_logs_once_per_component(
    telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    guard.set_strict(False)
    with caplog.at_level(logging.WARNING, logger="otel_ml"):
        for _ in range(3):
            _fail("inference.stop", telemetry)
        _fail("fastapi.middleware", telemetry)

    assert guard.error_count("inference.stop") == 3
    assert guard.error_count() == 4
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "inference.stop" in messages[0]
    assert "fastapi.middleware" in messages[1]
    assert caplog.records[0].exc_info is not None

    counts = {
        attrs[semconv.COMPONENT]: point.value
        for attrs, point in telemetry.points(semconv.OTEL_ML_INTERNAL_ERRORS)
    }
    assert counts == {"inference.stop": 3, "fastapi.middleware": 1}


def test_strict_mode_follows_the_settings() -> None:
    guard.set_strict(None)
    assert guard.is_strict() is get_settings().strict is True  # OTEL_ML_STRICT=1 in conftest
    guard.set_strict(Settings.load(environ={"OTEL_ML_STRICT": "0"}).strict)
    assert guard.is_strict() is False
