"""The memory soak, run in a process of its own by ``test_memory_soak.py``.

``python memory_soak_worker.py CALLS`` makes CALLS single-row instrumented
predictions (drift and feedback on, settings from ``OTEL_ML_*`` variables),
labels some of them, collects metrics now and then, samples RSS, and prints
one JSON object: the RSS samples and the size of every bounded buffer.

The OpenTelemetry SDK is left out of the loop (no-op tracer and meter
providers, so spans are non-recording as when sampled out): a million calls
through the SDK's span and histogram code take minutes on a small CI machine,
and its memory is OpenTelemetry's, bounded by the attribute sets otel_ml
hands it. What is soaked is everything otel_ml keeps itself (prediction
store and its side tables, drift buffers and windows, label and segment caps,
tallies, quality window), and every 50,000 calls the worker does what a
metric collection does: closes and scores drift windows and reads every
observable callback.
"""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from typing import Any

import numpy as np
from opentelemetry.metrics import CallbackOptions, NoOpMeterProvider
from opentelemetry.trace import NoOpTracerProvider
from reliability_support import rss_bytes

import otel_ml
from otel_ml import semconv
from otel_ml.config import get_settings
from otel_ml.drift.profile import ReferenceProfile
from otel_ml.feedback.stores.registry import prediction_store
from otel_ml.inference.instruments import InferenceTelemetry
from otel_ml.models.sinks import drift_monitor, model_for

SAMPLE_EVERY = 50_000
STOP_LABELLING_BEFORE_END = 20_000  # so the store ends full of unlabelled predictions
CLASSES = 500  # ten times the default label cap


class ChurningModel:
    """Predicts one of 500 classes in turn: far more than metrics may carry."""

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, x: Any) -> list[str]:
        self.calls += 1
        return [f"class-{self.calls % CLASSES}"]


def main(calls: int) -> dict[str, Any]:
    providers = {"tracer_provider": NoOpTracerProvider(), "meter_provider": NoOpMeterProvider()}
    rng = np.random.default_rng(5)
    profile = ReferenceProfile.fit(
        rng.normal(size=(5000, 3)), predictions=[f"class-{i % 60}" for i in range(5000)]
    )
    model = otel_ml.wrap_model(ChurningModel(), "soak", "1", reference=profile, feedback=True,
                               **providers)  # fmt: skip
    monitor = model.drift_monitor
    buffer_nbytes = monitor.window.buffer_nbytes
    rows = [rng.normal(size=(1, 3)) for _ in range(1000)]
    recent: deque[str] = deque(maxlen=2000)
    samples: list[tuple[int, int]] = []
    started = time.perf_counter()
    for i in range(calls):
        model.predict(rows[i % 1000])
        recent.append(otel_ml.last_prediction_id() or "")
        if i % 10 == 0 and i < calls - STOP_LABELLING_BEFORE_END and len(recent) == 2000:
            otel_ml.record_feedback(recent[0], f"class-{i % 7}")  # 2,000 predictions old
        if i % 100 == 0:
            otel_ml.set_segments(country=f"country-{i // 100 % 1000}")
            otel_ml.record_feedback(f"never-seen-{i}", "class-1")
        if (i + 1) % SAMPLE_EVERY == 0:
            collect(providers)
            samples.append((i + 1, rss_bytes()))
    elapsed = time.perf_counter() - started
    return report(calls, elapsed, samples, buffer_nbytes, collect(providers), providers)


def collect(providers: dict[str, Any]) -> dict[str, int]:
    """What a metric collection does: every observable callback of the model's
    inference, drift and feedback instruments (drift windows close and are
    scored in the first); the number of observations each returned."""
    context = model_for("soak", "1", InferenceTelemetry.of(**providers), get_settings())
    monitor, feedback = drift_monitor(context), context.sink("feedback")
    assert monitor is not None and feedback is not None
    telemetry, options = context.telemetry, CallbackOptions()
    window = feedback.window.snapshot()
    return {
        semconv.ML_DRIFT_SCORE: len(monitor.score_observations()),
        semconv.ML_DRIFT_BIN_COUNT: len(monitor.bin_observations()),
        semconv.ML_PREDICTIONS: len(list(telemetry.predictions.observe(options))),
        semconv.ML_DATA_QUALITY_ISSUES: len(list(telemetry.data_quality.observe(options))),
        semconv.ML_INFERENCE_ACTIVE: len(list(telemetry.active.observe(options))),
        semconv.ML_FEEDBACK_PRECISION: len(window.precision),
        semconv.ML_FEEDBACK_RECALL: len(window.recall),
    }


def report(
    calls: int,
    elapsed: float,
    samples: list[tuple[int, int]],
    buffer_nbytes: int,
    observations: dict[str, int],
    providers: dict[str, Any],
) -> dict[str, Any]:
    """The RSS samples and every bounded structure's size, as plain JSON."""
    settings = get_settings()
    context = model_for("soak", "1", InferenceTelemetry.of(**providers), settings)
    monitor, feedback = drift_monitor(context), context.sink("feedback")
    assert monitor is not None and feedback is not None
    store = prediction_store(settings)
    window = monitor.window
    classes = {
        dict(o.attributes or {})[semconv.ML_PREDICTION_CLASS]
        for o in context.telemetry.predictions.observe(CallbackOptions())
    }
    return {
        "calls": calls,
        "us_per_call": elapsed / calls * 1e6,
        "rss": samples,
        "store": {"live": len(store), "capacity": store.capacity,
                  "generation": store._generation_size, "evicted": len(store._evicted),
                  "labelled": len(store._labelled)},
        "labels": {"admitted": len(context.labels), "cap": settings.max_class_labels,
                   "class_keys": len(context._class_keys), "exported": sorted(classes)},
        "segments": {name: len(values) for name, values in
                     feedback._segment_values.items()},
        "segment_cap": settings.max_segment_values,
        "quality": {"pairs": len(feedback.window._pairs),
                    "size": settings.feedback_window},
        "drift": {"fill": window._fill, "buffer_rows": window.config.buffer_rows,
                  "label_counts": len(window._label_counts),
                  "buffer_nbytes": [buffer_nbytes, window.buffer_nbytes],
                  "windows_closed": window._index,
                  "bins": sum(len(f.coarse_fractions) for f in (*monitor.profile.features,
                              monitor.profile.prediction) if f is not None)},
        "tallies": {"predictions": len(context.telemetry.predictions._values),
                    "data_quality": len(context.telemetry.data_quality._values)},
        "observations": observations,
    }  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))))
