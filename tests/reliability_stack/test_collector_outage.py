"""Collector down, up, killed, back: the app serves every request; telemetry recovers.

One uvicorn process (``otel_ml.configure()`` + ``otel_ml.instrument(app)``)
gets a steady 200 requests/s for 30 s while its OTLP endpoint goes through
four phases: nothing listens on the port (``down``), a real Collector starts
on it (``up``), is SIGKILLed (``killed``) and started again (``back``).

Asserted (correctness only; the latency figures are printed for
benchmarks/README.md, never asserted):

- every request succeeds;
- the span queue stays within its configured bound (the SDK's own
  ``otel.sdk.processor.span.queue.*`` metrics) and the drops are counted
  (``otel.sdk.processor.span.processed{error.type=queue_full}``);
- failed exports are counted per signal (``otel_ml.export.failures``) and
  logged once per outage, not once per batch;
- spans of requests made after the Collector is back arrive, and the
  cumulative request count that arrives last equals the requests made.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from otlp_receiver import GrpcReceiver
from sklearn.datasets import load_breast_cancer
from stack_support import (
    Collector,
    app_environment,
    free_port,
    latest_cumulative,
    metric_points,
    poll,
    request_counts,
    served,
    server_argv,
    spans_by_prediction_id,
)

RATE = 200  # requests per second
IN_FLIGHT = 8
PHASES = (("down", 8.0), ("up", 10.0), ("killed", 6.0), ("back", 6.0))
QUEUE_SIZE = 512
PROBES = 20


@dataclass
class Phase:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    rss_mib: float = 0.0
    seconds: float = 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _load(
    base_url: str, pid: int, collector: Collector, rows: list[list[float]]
) -> list[Phase]:
    """Send RATE requests/s through the phases; switch the Collector between them."""
    phases = [Phase(name) for name, _ in PHASES]
    limit = asyncio.Semaphore(IN_FLIGHT)
    pending: set[asyncio.Task[None]] = set()

    async def one(client: httpx.AsyncClient, phase: Phase, row: list[float]) -> None:
        started = time.perf_counter()
        try:
            response = await client.post("/predict", json={"rows": [row]})
        except httpx.HTTPError as exc:
            phase.failures.append(f"{type(exc).__name__}: {exc}")
            return
        finally:
            limit.release()
        phase.latencies_ms.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            phase.failures.append(f"HTTP {response.status_code}: {response.text[:200]}")
        else:
            phase.ids.append(response.headers["x-prediction-id"])

    switches = {"up": collector.start, "killed": collector.kill, "back": collector.start}
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    async with httpx.AsyncClient(base_url=base_url, timeout=10, limits=limits) as client:
        sent = 0
        for phase, (name, seconds) in zip(phases, PHASES, strict=True):
            if name in switches:
                await asyncio.to_thread(switches[name])
            start = time.perf_counter()
            # At most RATE requests/s and IN_FLIGHT at once: a server slower than
            # RATE gets fewer requests, never a growing backlog.
            for i in range(int(RATE * seconds)):
                delay = start + i / RATE - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await limit.acquire()
                if time.perf_counter() - start >= seconds:
                    limit.release()
                    break
                task = asyncio.create_task(one(client, phase, rows[sent % len(rows)]))
                pending.add(task)
                task.add_done_callback(pending.discard)
                sent += 1
            phase.seconds = time.perf_counter() - start
            phase.rss_mib = _rss_mib(pid)
        await asyncio.wait_for(asyncio.gather(*pending), timeout=30)
    return phases


def _report(phases: list[Phase]) -> str:
    baseline = next(p for p in phases if p.name == "up")
    lines = [
        f"collector outage: at most {RATE} requests/s, {IN_FLIGHT} in flight, "
        f"span queue {QUEUE_SIZE}",
        "phase    requests  req/s  failed  p50 ms  p99 ms  p99 vs up  RSS MiB",
    ]
    for p in phases:
        ratio = p.percentile(0.99) / baseline.percentile(0.99)
        lines.append(
            f"{p.name:<8} {len(p.latencies_ms):>8}  {len(p.latencies_ms) / p.seconds:>5.0f}  "
            f"{len(p.failures):>6}  "
            f"{statistics.median(p.latencies_ms):>6.2f}  {p.percentile(0.99):>6.2f}  "
            f"{ratio:>8.2f}x  {p.rss_mib:>7.1f}"
        )
    return "\n".join(lines)


def test_requests_and_telemetry_survive_a_collector_outage(
    collector_binary: Path, sink: GrpcReceiver, tmp_path: Path
) -> None:
    collector = Collector(collector_binary, free_port(), sink.endpoint, tmp_path)
    port = free_port()
    environ = app_environment(
        "one-line",
        "outage",
        f"http://127.0.0.1:{collector.port}",
        OTEL_BSP_SCHEDULE_DELAY="200",
        OTEL_BSP_MAX_QUEUE_SIZE=str(QUEUE_SIZE),
        OTEL_METRIC_EXPORT_INTERVAL="1000",
        OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED="true",
    )
    rows = load_breast_cancer().data.tolist()
    log = tmp_path / "server.log"
    base_url = f"http://127.0.0.1:{port}"
    try:
        with served(server_argv("uvicorn", "one-line", port), environ, port, log) as process:
            phases = asyncio.run(
                asyncio.wait_for(_load(base_url, process.pid, collector, rows), 90)
            )
            print("\n" + _report(phases))
            # Requests made once the Collector is back arrive, all of them.
            with httpx.Client(base_url=base_url, timeout=10) as client:
                probes = [
                    client.post("/predict", json={"rows": [rows[i]]}).headers["x-prediction-id"]
                    for i in range(PROBES)
                ]
            poll(
                lambda: spans_by_prediction_id(sink),
                lambda found: set(probes) <= set(found),
                f"the spans of {PROBES} requests made after the restart",
                timeout_s=30,
            )
            os.kill(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        for phase in phases:
            assert phase.failures == [], (phase.name, phase.failures[:5])
        made = sum(len(p.ids) for p in phases) + PROBES
        arrived = spans_by_prediction_id(sink)
        back = next(p for p in phases if p.name == "back")
        print(
            "server spans arrived, per phase: "
            + ", ".join(f"{p.name} {len(set(p.ids) & set(arrived))}/{len(p.ids)}" for p in phases)
        )
        assert set(back.ids) & set(arrived), "no span of the 'back' phase arrived"
        # Cumulative counts: the last export carries every request, dropped batches or not.
        counts = poll(
            lambda: request_counts(sink),
            lambda found: sum(found.values()) == made,
            f"http.server.request.duration counting all {made} requests",
            timeout_s=15,
        )
        assert len(counts) == 1
        _assert_drops_counted_and_logged(sink, log)
    finally:
        collector.stop()


def _assert_drops_counted_and_logged(sink: GrpcReceiver, log: Path) -> None:
    def total(name: str, **where: str) -> float:
        found = latest_cumulative(sink, name, lambda p: float(p.as_int or p.as_double), **where)
        return sum(found.values())

    failures = {s: total("otel_ml.export.failures", signal=s) for s in ("traces", "metrics")}
    queue_full = total("otel.sdk.processor.span.processed", **{"error.type": "queue_full"})
    capacity = total("otel.sdk.processor.span.queue.capacity")
    sizes = [p.as_int for _, p in metric_points(sink, "otel.sdk.processor.span.queue.size")]
    text = log.read_text()
    warnings = {s: text.count(f"otel_ml: exporting {s} to ") for s in ("traces", "metrics")}
    print(
        f"export failures counted {failures}, otel_ml warnings {warnings}, spans dropped "
        f"(queue full) {queue_full:.0f}, queue size max {max(sizes):.0f} of {capacity:.0f}"
    )
    assert failures["traces"] > 0 and failures["metrics"] > 0, failures
    assert all(1 <= n <= 2 for n in warnings.values()), (warnings, text[-3000:])
    assert queue_full > 0
    assert capacity == QUEUE_SIZE
    assert sizes and max(sizes) <= QUEUE_SIZE
    assert "Exception in ASGI application" not in text
