"""32 threads and 1,000 asyncio tasks predict and label at once while another
thread collects metrics in a loop: every count exact, no deadlock, no error.

Strict mode stays on here: any failure inside otel_ml is re-raised into the
worker that hit it and fails the test. Latency is printed, not asserted (speed
belongs to benchmarks/); the only time bound is "no call waited 5 s", i.e. no
call was stuck behind a collection.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from support import Telemetry

import otel_ml
from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml.config import Settings
from otel_ml.drift.profile import ReferenceProfile
from otel_ml.feedback.stores.registry import use_prediction_store

THREADS = 32
CALLS_PER_THREAD = 200
TASKS = 1_000
CALLS_PER_TASK = 3
FEATURES = 3
JOIN_TIMEOUT_S = 120.0
STUCK_S = 5.0


def predicted(row: np.ndarray) -> str:
    """The classifier's rule: the sign of the first feature."""
    return "pos" if row[0, 0] >= 0 else "neg"


class SignModel:
    def predict(self, x: np.ndarray) -> list[str]:
        return [predicted(x)]


class AsyncSignModel:
    async def predict(self, x: np.ndarray) -> list[str]:
        await asyncio.sleep(0)
        return [predicted(x)]


@pytest.fixture
def models(telemetry: Telemetry) -> Iterator[tuple[Any, Any]]:
    settings = Settings.load(environ={"OTEL_ML_DRIFT_BUFFER_ROWS": "64",
                                      "OTEL_ML_DRIFT_WINDOW_ROWS": "500",
                                      "OTEL_ML_DRIFT_MIN_COUNT": "100"})  # fmt: skip
    previous = use_prediction_store(None)
    rng = np.random.default_rng(3)
    reference = rng.normal(size=(2000, FEATURES))
    profile = ReferenceProfile.fit(
        reference, predictions=np.where(reference[:, 0] >= 0, "pos", "neg")
    )
    options = {"reference": profile, "feedback": True, "settings": settings, **telemetry.providers}
    yield (
        otel_ml.wrap_model(SignModel(), "concurrent", "1", **options),
        otel_ml.wrap_model(AsyncSignModel(), "concurrent-async", "1", **options),
    )
    use_prediction_store(previous)


class Results:
    """What the workers did, gathered under a lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.errors: list[BaseException] = []
        self.slowest_s = 0.0
        self.slowest_task_s = 0.0
        """An awaited call also waits for its turn among 1,000 tasks: printed only."""
        self.correct = 0
        self.incorrect = 0

    def timed(self, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - start
        with self.lock:
            self.slowest_s = max(self.slowest_s, elapsed)
        return result

    def labelled(self, correct: bool) -> None:
        with self.lock:
            if correct:
                self.correct += 1
            else:
                self.incorrect += 1


def label(results: Results, prediction_id: str | None, row: np.ndarray, i: int) -> None:
    """Label every other prediction; every third label is wrong on purpose."""
    if i % 2 or prediction_id is None:
        return
    truth = predicted(row) if i % 3 else ("neg" if predicted(row) == "pos" else "pos")
    assert otel_ml.record_feedback(prediction_id, truth) == "matched"
    results.labelled(truth == predicted(row))


def thread_worker(model: Any, seed: int, results: Results) -> None:
    rng = np.random.default_rng(seed)
    try:
        for i in range(CALLS_PER_THREAD):
            row = rng.normal(size=(1, FEATURES))
            assert results.timed(lambda row=row: model.predict(row)) == [predicted(row)]
            label(results, otel_ml.last_prediction_id(), row, i)
    except BaseException as exc:
        with results.lock:
            results.errors.append(exc)


async def task_worker(model: Any, seed: int, results: Results) -> None:
    rng = np.random.default_rng(seed)
    for i in range(CALLS_PER_TASK):
        row = rng.normal(size=(1, FEATURES))
        start = time.perf_counter()
        assert await model.predict(row) == [predicted(row)]
        with results.lock:
            results.slowest_task_s = max(results.slowest_task_s, time.perf_counter() - start)
        label(results, otel_ml.last_prediction_id(), row, i)


def run_tasks(model: Any, results: Results) -> None:
    async def main() -> None:
        outcomes = await asyncio.gather(
            *(task_worker(model, 10_000 + t, results) for t in range(TASKS)),
            return_exceptions=True,
        )
        with results.lock:
            results.errors.extend(o for o in outcomes if isinstance(o, BaseException))

    try:
        asyncio.run(main())
    except BaseException as exc:
        with results.lock:
            results.errors.append(exc)


def test_threads_tasks_and_collection_at_once_count_exactly(
    telemetry: Telemetry, models: tuple[Any, Any]
) -> None:
    model, async_model = models
    results = Results()
    stop = threading.Event()
    collections = [0]

    def collect_in_a_loop() -> None:
        try:
            while not stop.is_set():
                telemetry.reader.collect()
                collections[0] += 1
        except BaseException as exc:
            with results.lock:
                results.errors.append(exc)

    collector = threading.Thread(target=collect_in_a_loop, name="collector")
    workers = [
        threading.Thread(target=thread_worker, args=(model, seed, results), name=f"w{seed}")
        for seed in range(THREADS)
    ]
    workers.append(threading.Thread(target=run_tasks, args=(async_model, results), name="tasks"))
    started = time.perf_counter()
    collector.start()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=JOIN_TIMEOUT_S)
    stop.set()
    collector.join(timeout=JOIN_TIMEOUT_S)
    wall_s = time.perf_counter() - started

    stuck = [w.name for w in (*workers, collector) if w.is_alive()]
    assert stuck == [], f"deadlock: {stuck} still running after {JOIN_TIMEOUT_S} s"
    assert results.errors == []
    assert guard.error_count() == 0
    print(f"\n{THREADS * CALLS_PER_THREAD} thread calls + {TASKS * CALLS_PER_TASK} task calls "
          f"in {wall_s:.1f} s, {collections[0]} collections meanwhile, "
          f"slowest thread call {results.slowest_s * 1000:.1f} ms, "
          f"slowest awaited call {results.slowest_task_s * 1000:.1f} ms")  # fmt: skip
    assert collections[0] > 0
    assert results.slowest_s < STUCK_S

    for wrapped in models:
        wrapped.drift_monitor.tick(force=True)
    calls = {"concurrent": THREADS * CALLS_PER_THREAD, "concurrent-async": TASKS * CALLS_PER_TASK}
    assert exact_counts(telemetry) == {
        "predictions": calls,
        "durations": calls,
        "drift rows": calls,
        "outcomes": {"correct": results.correct, "incorrect": results.incorrect},
    }
    labels = sum(CALLS_PER_THREAD // 2 for _ in range(THREADS)) + TASKS * 2
    assert results.correct + results.incorrect == labels


def exact_counts(telemetry: Telemetry) -> dict[str, Any]:
    """Per model: predicted rows, duration-histogram counts, rows binned for drift
    (feature ``f0``); feedback outcomes over both models."""
    metrics = telemetry.metrics()
    counts: dict[str, Any] = {"predictions": {}, "durations": {}, "drift rows": {},
                              "outcomes": {}}  # fmt: skip

    def add(kind: str, key: str, value: int) -> None:
        counts[kind][key] = counts[kind].get(key, 0) + value

    for point in metrics[semconv.ML_PREDICTIONS].data.data_points:
        add("predictions", point.attributes[semconv.ML_MODEL_NAME], point.value)
    for point in metrics[semconv.ML_INFERENCE_DURATION].data.data_points:
        add("durations", point.attributes[semconv.ML_MODEL_NAME], point.count)
    for point in metrics[semconv.ML_DRIFT_BIN_COUNT].data.data_points:
        if point.attributes[semconv.ML_FEATURE_NAME] == "f0":
            add("drift rows", point.attributes[semconv.ML_MODEL_NAME], point.value)
    for point in metrics[semconv.ML_FEEDBACK_OUTCOMES].data.data_points:
        add("outcomes", point.attributes[semconv.ML_FEEDBACK_OUTCOME], point.value)
    return counts
