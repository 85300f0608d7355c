"""Labels that reach any worker or replica: real servers sharing a real store.

- gunicorn with 3 uvicorn workers and ``OTEL_ML_FEEDBACK_STORE=sqlite:///...``:
  300 predictions, then their labels one per request on fresh connections
  (so they land on whichever worker the kernel picks); 300 more labelled in
  one request; 300 more whose labels are each posted twice at once, on two
  connections: each is matched exactly once.
- two single-worker uvicorn "replicas" sharing a real redis-server: labels
  posted to the replica that did not predict are matched; Redis killed
  mid-run: predictions still succeed, the route answers 503 for the labels it
  cannot check, the store errors are counted; Redis restarted: joins resume.

The app is tests/reliability_stack/reliability_app.py (one-line setup in
each worker, OTLP/gRPC). Counts are read from what the workers export to a
loopback OTLP receiver: per ``service.instance.id``, summed over the fleet.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from otlp_receiver import GrpcReceiver, attributes
from redis_support import RedisServer
from reliability_stack.stack_support import (
    app_environment,
    free_port,
    latest_cumulative,
    per_instance,
    poll,
    served,
    server_argv,
)

pytestmark = pytest.mark.subprocess

FRESH = httpx.Limits(max_keepalive_connections=0)
IN_FLIGHT = 8
ROW = [float(v) for v in range(30)]  # breast-cancer rows have 30 features


def _environment(sink: GrpcReceiver, service: str, store: str, **extra: str) -> dict[str, str]:
    return app_environment("one-line", service, sink.endpoint, OTEL_ML_FEEDBACK_STORE=store,
                           OTEL_METRIC_EXPORT_INTERVAL="500", OTEL_BSP_SCHEDULE_DELAY="200",
                           **extra)  # fmt: skip


def predict(base_url: str, n: int) -> dict[str, int]:
    """``n`` predictions on fresh connections: prediction id -> the worker's pid."""

    async def run() -> dict[str, int]:
        made: dict[str, int] = {}
        async with httpx.AsyncClient(base_url=base_url, timeout=20, limits=FRESH) as client:

            async def one() -> None:
                response = await client.post("/predict", json={"rows": [ROW]})
                assert response.status_code == 200, response.text
                made[response.headers["x-prediction-id"]] = response.json()["worker"]

            for _ in range(0, n, IN_FLIGHT):
                await asyncio.wait_for(asyncio.gather(*(one() for _ in range(IN_FLIGHT))), 60)
        return made

    return dict(list(asyncio.run(run()).items())[:n])


def label_each(base_url: str, ids: list[str], copies: int = 1) -> Counter[str]:
    """One label per request on fresh connections, ``copies`` of each sent at once."""

    async def run() -> Counter[str]:
        answered: Counter[str] = Counter()
        async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=FRESH) as client:

            async def one(prediction_id: str) -> None:
                body = {"prediction_id": prediction_id, "actual": 1}
                response = await client.post("/feedback", json=body)
                assert response.status_code == 200, response.text
                answered.update({k: v for k, v in response.json().items() if k != "received"})

            for start in range(0, len(ids), IN_FLIGHT):
                batch = [pid for pid in ids[start : start + IN_FLIGHT] for _ in range(copies)]
                await asyncio.wait_for(asyncio.gather(*(one(pid) for pid in batch)), 60)
        return answered

    return +asyncio.run(run())  # without the zeros


def label_all(base_url: str, ids: list[str]) -> httpx.Response:
    """Every label in one request."""
    items = [{"prediction_id": pid, "actual": 1} for pid in ids]
    return httpx.post(f"{base_url}/feedback", json={"items": items}, timeout=60)


def exported(sink: GrpcReceiver, name: str, by: str | None = None) -> dict[str, float]:
    """The fleet's total of a cumulative metric, per value of point attribute ``by``
    (or per ``service.instance.id`` when ``by`` is None)."""
    latest = latest_cumulative(sink, name, lambda p: float(p.as_int or p.as_double))
    if by is None:
        return per_instance(latest)
    totals: Counter[str] = Counter()
    for (_, point_attributes), found in latest.items():
        totals[str(dict(point_attributes).get(by))] += found
    return dict(totals)


def feedback_spans(sink: GrpcReceiver) -> dict[str, list[tuple[str, Any]]]:
    """Prediction id -> ``(service.instance.id, span)`` of its feedback spans."""
    found: dict[str, list[tuple[str, Any]]] = {}
    for resource, span in sink.spans():
        span_attributes = attributes(span.attributes)
        if span.name.startswith("feedback ") and "ml.prediction.id" in span_attributes:
            entry = (str(resource["service.instance.id"]), span)
            found.setdefault(str(span_attributes["ml.prediction.id"]), []).append(entry)
    return found


def inference_spans(sink: GrpcReceiver) -> dict[str, tuple[str, Any]]:
    """Prediction id -> ``(service.instance.id, span)`` of its inference span."""
    found = {}
    for resource, span in sink.spans():
        span_attributes = attributes(span.attributes)
        if span.name.startswith("predict") and "ml.prediction.id" in span_attributes:
            found[str(span_attributes["ml.prediction.id"])] = (
                resource["service.instance.id"],
                span,
            )
    return found


def test_gunicorn_workers_share_the_sqlite_store(tmp_path: Path) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    store = f"sqlite://{tmp_path}/predictions.db"
    with GrpcReceiver() as sink:
        environ = _environment(sink, "shared-sqlite", store)
        argv = server_argv("gunicorn", "one-line", port, workers=3)
        with served(argv, environ, port, tmp_path / "server.log"):
            first = predict(base_url, 300)
            print(f"\npredictions per worker: {Counter(first.values())}")
            assert len(set(first.values())) >= 2
            assert label_each(base_url, list(first)) == {"matched": 300}
            assert _totals(sink, matched=300) == {"matched": 300.0}

            second = predict(base_url, 300)
            response = label_all(base_url, list(second))
            assert response.status_code == 200, response.text
            assert response.json()["matched"] == 300
            assert _totals(sink, matched=600) == {"matched": 600.0}

            third = predict(base_url, 300)
            assert label_each(base_url, list(third), copies=2) == {"matched": 300, "duplicate": 300}
            assert _totals(sink, matched=900, duplicate=300) == {
                "matched": 900.0,
                "duplicate": 300.0,
            }
            _check_spans(sink, first, third)
    assert "OTEL_ML_FEEDBACK_STORE" not in (tmp_path / "server.log").read_text()


def test_workers_with_a_store_each_say_so_once(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    with GrpcReceiver() as sink:
        environ = _environment(sink, "memory-store", "memory")
        with served(server_argv("gunicorn", "one-line", port, workers=2), environ, port, log):
            workers: set[int] = set()
            poll(lambda: workers.update(predict(f"http://127.0.0.1:{port}", 8).values()),
                 lambda _: len(workers) == 2, "both workers serving", timeout_s=90)  # fmt: skip
    said = [line for line in log.read_text().splitlines() if "OTEL_ML_FEEDBACK_STORE=" in line]
    assert len(said) == 2, log.read_text()  # once per worker, at start-up
    assert "gunicorn with 2 workers" in said[0]
    assert "sqlite:///path/to/predictions.db" in said[0]


def _totals(sink: GrpcReceiver, **expected: int) -> dict[str, float]:
    """Matched (``ml.feedback.outcomes``) and unmatched labels per reason, fleet-wide,
    once every expected count is exported (each worker exports on its own clock,
    so one worker's duplicates may arrive after the others' matched labels)."""

    def current() -> dict[str, float]:
        unmatched = exported(sink, "ml.feedback.unmatched", by="ml.feedback.unmatched.reason")
        return {"matched": sum(exported(sink, "ml.feedback.outcomes").values()), **unmatched}

    return poll(
        current,
        lambda found: all(found.get(name, 0) >= count for name, count in expected.items()),
        f"labelled outcomes {expected}",
        timeout_s=30,
    )


def _check_spans(sink: GrpcReceiver, first: dict[str, int], third: dict[str, int]) -> None:
    """Each feedback span links to its prediction's span, made by whichever worker."""
    labelled = poll(
        lambda: feedback_spans(sink),
        lambda found: all(len(found.get(pid, ())) == 2 for pid in third),
        "two feedback spans per twice-labelled prediction",
        timeout_s=30,
    )
    made = inference_spans(sink)
    crossed = 0
    for pid in first:
        ((instance, feedback),) = labelled[pid]
        made_by, inference = made[pid]
        assert [link.span_id for link in feedback.links] == [inference.span_id]
        crossed += instance != made_by
    twice_across = sum(len({i for i, _ in labelled[pid]}) == 2 for pid in third)
    print(f"labels joined by another worker: {crossed}/300; duplicates across workers: "
          f"{twice_across}/300")  # fmt: skip
    assert crossed > 0
    assert twice_across > 0


def test_replicas_share_redis_and_survive_its_restart(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    ports = free_port(), free_port()
    a, b = (f"http://127.0.0.1:{port}" for port in ports)
    with GrpcReceiver() as sink:
        replicas = []
        for name, port in zip("ab", ports, strict=True):
            environ = _environment(sink, f"replica-{name}", redis_server.url,
                                   OTEL_ML_FEEDBACK_GRACE_SECONDS="5")  # fmt: skip
            argv = server_argv("uvicorn", "one-line", port)
            replicas.append(served(argv, environ, port, tmp_path / f"{name}.log"))
        with replicas[0], replicas[1]:
            response = label_all(b, list(predict(a, 100)))
            assert response.status_code == 200, response.text
            assert response.json()["matched"] == 100

            redis_server.kill()
            while_down = predict(a, 48)  # every prediction still answered 200
            response = label_all(b, list(while_down))
            assert response.status_code == 503, response.text
            assert response.headers["content-type"] == "application/json"
            assert response.json()["store_unavailable"] == 48
            assert "prediction store is unavailable" in response.json()["detail"]

            redis_server.start()
            after = list(predict(a, 48))
            # As a labelling job would, on 503: send the labels again (the route skips the
            # store for a second after a failure, so the first try may come too soon). A
            # 503 try may have recorded some labels (a slow store call marks it down for
            # the rest): sent again, those come back as duplicates.
            tries: list[dict[str, int]] = []

            def label_after() -> httpx.Response:
                tried = label_all(b, after)
                tries.append(tried.json())
                return tried

            response = poll(label_after, lambda r: r.status_code != 503,
                            "labels accepted after the restart", timeout_s=20)  # fmt: skip
            assert response.status_code == 200, response.text
            assert sum(t["matched"] for t in tries) == 48, tries
            assert response.json()["matched"] + response.json()["duplicate"] == 48, tries
            _check_redis_counts(sink, duplicates=response.json()["duplicate"])


def _check_redis_counts(sink: GrpcReceiver, duplicates: int) -> None:
    """Replica b joined every label; a counted what it could not write, b what it
    could not check (and the ``duplicates`` labels sent again after a partial 503)."""
    matched = poll(
        lambda: exported(sink, "ml.feedback.outcomes"),
        lambda found: sum(found.values()) >= 148,
        "148 labelled outcomes",
        timeout_s=30,
    )
    errors = poll(
        lambda: exported(sink, "ml.feedback.store.errors", by="ml.feedback.store.operation"),
        lambda found: found.get("write", 0) > 0 and found.get("join", 0) >= 48,
        "store errors of both replicas",
        timeout_s=30,
    )
    unmatched = exported(sink, "ml.feedback.unmatched", by="ml.feedback.unmatched.reason")
    print(f"\nmatched per replica {matched}; store errors {errors}; unmatched {unmatched}")
    assert len(matched) == 1  # all joined by replica b
    assert unmatched.pop("duplicate", 0) == duplicates
    assert set(unmatched) == {"store_unavailable"}
    assert unmatched["store_unavailable"] >= 48
