"""Pre-fork servers: two workers, each exporting on its own, nothing doubled or lost.

``gunicorn -k uvicorn.workers.UvicornWorker -w 2`` and ``uvicorn --workers 2``,
each with the one-liner (``otel_ml.configure()`` + ``otel_ml.instrument(app)``
at import, so in every worker) and under ``opentelemetry-instrument`` (the SDK
set up by the launcher, ``otel_ml.instrument(app)`` for drift and feedback).
Telemetry goes through a real Collector to a loopback receiver. The export
intervals are longer than the test and the server is stopped with SIGTERM,
so everything that arrives was sent by each worker's shutdown flush.

Per worker (``service.instance.id``): its own request count, drift bin
counts and feedback outcomes; summed over the workers they equal what was
sent. The fleet-wide PSI is computed from the per-worker bin counters the way
prometheus/recording.yml does (sum over instances, fraction per bin, both
fractions floored at 1e-4) and matches otel_ml's PSI of the combined counts.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from otlp_receiver import GrpcReceiver
from sklearn.datasets import load_breast_cancer
from stack_support import (
    FLUSH_AT_SHUTDOWN_ONLY,
    Collector,
    app_environment,
    free_port,
    latest_cumulative,
    metric_points,
    per_instance,
    poll,
    request_counts,
    served,
    server_argv,
)

from otel_ml.drift.statistics import psi

WORKERS = 2
MAX_REQUESTS = 400
MIN_PER_WORKER = 5
LABELS = 24
IN_FLIGHT = 8
EPS = 1e-4  # the floor of prometheus/recording.yml's fleet PSI


async def _predict_until_every_worker_served(
    base_url: str, rows: list[list[float]]
) -> tuple[dict[str, int], Counter[int]]:
    """Fresh connections (so the kernel spreads them) until each worker served a few;
    the prediction ids with the worker that made each."""
    ids: dict[str, int] = {}
    served_by: Counter[int] = Counter()
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, timeout=10, limits=limits) as client:

        async def one(row: list[float]) -> None:
            response = await client.post("/predict", json={"rows": [row]})
            assert response.status_code == 200, response.text
            worker = response.json()["worker"]
            ids[response.headers["x-prediction-id"]] = worker
            served_by[worker] += 1

        for start in range(0, MAX_REQUESTS, IN_FLIGHT):
            batch = rows[start : start + IN_FLIGHT]
            await asyncio.wait_for(asyncio.gather(*(one(r) for r in batch)), timeout=30)
            if len(served_by) == WORKERS and min(served_by.values()) >= MIN_PER_WORKER:
                break
    return ids, served_by


def _labelled_ids(ids: dict[str, int]) -> list[str]:
    """Up to ``LABELS`` ids, as many made by each worker: whichever worker a label reaches,
    some of the labels are for its own predictions (the first ids may all be one
    worker's, when the other started late)."""
    by_worker: dict[int, list[str]] = {}
    for prediction_id, worker in ids.items():
        by_worker.setdefault(worker, []).append(prediction_id)
    share = LABELS // len(by_worker)
    return [pid for made in by_worker.values() for pid in made[:share]]


def _send_feedback(base_url: str, ids: list[str], actual: int) -> Counter[str]:
    """One label per request on a fresh connection; the outcomes the workers answered."""
    outcomes: Counter[str] = Counter()
    with httpx.Client(base_url=base_url, timeout=10, headers={"connection": "close"}) as client:
        for prediction_id in ids:
            body = {"prediction_id": prediction_id, "actual": actual}
            response = client.post("/feedback", json=body)
            assert response.status_code == 200, response.text
            outcomes.update({k: v for k, v in response.json().items() if k != "received"})
    return outcomes


def _value(point: Any) -> float:
    return float(point.as_int or point.as_double)


def _fleet_psi(sink: GrpcReceiver, feature: str) -> tuple[float, float, dict[str, float]]:
    """(fleet PSI as the recording rule computes it, otel_ml's PSI, per-worker totals)."""
    counts = latest_cumulative(sink, "ml.drift.bin.count", _value, **{"ml.feature.name": feature})
    by_bin: dict[str, float] = {}
    for (_, point_attributes), found in counts.items():
        label = dict(point_attributes)["ml.drift.bin"]
        by_bin[label] = by_bin.get(label, 0.0) + found
    reference: dict[str, float] = {}
    for _, point in metric_points(sink, "ml.drift.reference.fraction"):
        point_attributes = {kv.key: kv.value.string_value for kv in point.attributes}
        if point_attributes["ml.feature.name"] == feature:
            label = point_attributes["ml.drift.bin"]
            reference[label] = max(reference.get(label, 0.0), point.as_double)
    total = sum(by_bin.values())
    rule = 0.0
    for label, ref in reference.items():
        current = max(by_bin.get(label, 0.0) / total, EPS)
        floor_ref = max(ref, EPS)
        rule += (current - floor_ref) * math.log(current / floor_ref)
    labels = sorted(reference)
    ours = psi([reference[b] for b in labels], [by_bin.get(b, 0.0) for b in labels], eps=EPS)
    return rule, ours, per_instance(counts)


@pytest.mark.parametrize("mode", ["one-line", "launcher"])
@pytest.mark.parametrize("server", ["gunicorn", "uvicorn"])
def test_every_worker_exports_its_own_share(
    server: str, mode: str, collector_binary: Path, sink: GrpcReceiver, tmp_path: Path
) -> None:
    collector = Collector(collector_binary, free_port(), sink.endpoint, tmp_path)
    collector.start()
    port = free_port()
    environ = app_environment(
        mode,
        f"prefork-{server}-{mode}",
        f"http://127.0.0.1:{collector.port}",
        **FLUSH_AT_SHUTDOWN_ONLY,
    )
    data = load_breast_cancer()
    rows = data.data.tolist()
    base_url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    try:
        argv = server_argv(server, mode, port, workers=WORKERS)
        with served(argv, environ, port, log) as process:
            ids, served_by = asyncio.run(_predict_until_every_worker_served(base_url, rows))
            assert len(served_by) == WORKERS, served_by
            labelled = _labelled_ids(ids)
            outcomes = _send_feedback(base_url, labelled, actual=1)
            os.kill(process.pid, signal.SIGTERM)  # to the master, as an orchestrator would
            process.wait(timeout=40)
        sent = len(ids)
        # Requests: one series per worker, each with its own share; none doubled or lost.
        counts = poll(
            lambda: request_counts(sink),
            lambda found: sum(found.values()) == sent,
            f"http.server.request.duration counting {sent} requests",
            timeout_s=20,
        )
        print(
            f"\n{server} ({mode}): served per worker pid {dict(served_by)}, per instance {counts}"
        )
        assert sorted(counts.values()) == sorted(float(n) for n in served_by.values())
        # Feedback: a worker joins the labels of its own predictions only; the labels
        # another worker answered are counted there as unmatched (reason "unknown").
        matched = per_instance(latest_cumulative(sink, "ml.feedback.outcomes", _value))
        unmatched: Counter[str] = Counter()
        for (_, attrs), found in latest_cumulative(sink, "ml.feedback.unmatched", _value).items():
            unmatched[dict(attrs)["ml.feedback.unmatched.reason"]] += int(found)
        print(f"feedback answered {dict(outcomes)}; exported matched {matched}, {dict(unmatched)}")
        assert sum(matched.values()) == outcomes["matched"] > 0
        assert unmatched == +Counter({k: v for k, v in outcomes.items() if k != "matched"})
        assert sum(matched.values()) + sum(unmatched.values()) == len(labelled)
        assert set(matched) <= set(counts)
        # Drift: per-worker bin counters; the fleet PSI combines them.
        rule, ours, per_worker = _fleet_psi(sink, data.feature_names[0])
        print(f"drift values per instance {per_worker}; fleet PSI {rule:.6f} (otel_ml {ours:.6f})")
        assert set(per_worker) == set(counts)
        assert sorted(per_worker.values()) == sorted(counts.values())
        assert rule == pytest.approx(ours, rel=1e-9)
    finally:
        collector.stop()
