"""``OTEL_METRICS_EXPORTER=otel_ml`` under ``opentelemetry-instrument``: the
launcher's OTLP metric export with otel_ml's histograms aggregated in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from launcher import run_launched
from otlp_receiver import HttpReceiver, attributes

from otel_ml import semconv
from otel_ml.sdk import resolve_settings

SCRIPT = """
import numpy as np
from opentelemetry import metrics

import otel_ml
from otel_ml.sdk import cells_in_use


class Model:
    def predict(self, rows):
        return np.zeros(len(rows))


model = otel_ml.wrap_model(Model(), "launched", "1")
for _ in range(3):
    model.predict(np.zeros((2, 3)))
print("CELLS", cells_in_use())
metrics.get_meter_provider().force_flush()
"""

pytestmark = pytest.mark.subprocess


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as found:
        yield found


def launch(tmp_path: Path, receiver: HttpReceiver, exporters: str) -> str:
    done = run_launched(
        tmp_path,
        SCRIPT,
        OTEL_TRACES_EXPORTER="none",
        OTEL_METRICS_EXPORTER=exporters,
        OTEL_EXPORTER_OTLP_METRICS_PROTOCOL="http/protobuf",
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=f"{receiver.endpoint}/v1/metrics",
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def durations(receiver: HttpReceiver) -> list[tuple[dict[str, Any], Any]]:
    """``(resource attributes, point)`` of every ``ml.inference.duration`` point received."""
    return [
        (attributes(rm.resource.attributes), point)
        for received in receiver.metrics
        for rm in received.request.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == semconv.ML_INFERENCE_DURATION
        for point in metric.histogram.data_points
    ]


@pytest.mark.newest  # at the SDK 1.42 floor the launcher keeps the SDK instruments (fallback)
def test_the_launcher_exports_otel_mls_cells_over_otlp(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    stdout = launch(tmp_path, receiver, "otel_ml")
    assert "CELLS True" in stdout
    resource, point = durations(receiver)[-1]  # cumulative: the last export has all
    assert resource["service.name"] == "launcher-test"
    assert point.count == 3
    assert list(point.explicit_bounds) == list(semconv.INFERENCE_DURATION_BUCKETS)
    assert attributes(point.attributes)[semconv.ML_MODEL_NAME] == "launched"
    assert point.start_time_unix_nano < point.time_unix_nano  # cumulative, from the first value


def test_another_reader_beside_it_keeps_the_sdk_instruments(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    stdout = launch(tmp_path, receiver, "otel_ml,console")
    assert "CELLS False" in stdout
    _, point = durations(receiver)[-1]  # through the SDK instrument, to both readers
    assert point.count == 3


def test_configure_takes_otel_ml_as_its_own_otlp() -> None:
    """``configure()`` builds cells readers for ``otlp`` anyway: ``otel_ml`` is
    that same exporter, once, beside any other."""
    settings = resolve_settings(environ={"OTEL_METRICS_EXPORTER": "otel_ml,console,otlp"})
    assert settings.metrics.exporters == ("otlp", "console")
