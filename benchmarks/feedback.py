"""What remembering predictions for delayed labels costs: time on the request path, memory.

Part 1 times, in interleaved rounds, one insert into the prediction store and
the whole ``FeedbackRecorder.remember`` call an inference makes when feedback
is on, against a floor that only takes the next prediction id. Part 2 measures
the memory per stored prediction with tracemalloc. Part 3 remembers 1M
predictions with the default bounds and reports memory at checkpoints. Part 4 does
the same for the shared stores (``OTEL_ML_FEEDBACK_STORE``: SQLite, and Redis when
``redis-server`` is installed): ``remember`` in the same interleaved rounds,
labels joined per second for each backend, and the CPU of the shared stores'
writer thread per 1,000 predictions::

    python benchmarks/feedback.py [--quick] [--rounds R] [--calls N] [--predictions P]
                                  [--write-readme]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from _common import Stats, interleave, markdown_table, provenance, replace_section
from _stores import flusher_cpu_ms, join_rates, remembering, shared_stores
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span

from otel_ml._internal.ids import new_prediction_id
from otel_ml.config import get_settings
from otel_ml.feedback.recorder import FeedbackRecorder
from otel_ml.feedback.store import PredictionStore, Record, Store
from otel_ml.feedback.stores.shared import SharedStore
from otel_ml.inference.instruments import InferenceTelemetry
from otel_ml.inference.model import ModelContext
from otel_ml.models.sinks import model_for
from otel_ml.outputs.extract import OutputSummary

README = Path(__file__).with_name("README.md")
TARGET_US = 2.0
FLAT_TOLERANCE = 0.02
STEADY_AFTER = 3
DISTRIBUTIONS = ("opentelemetry-sdk",)
MIB = 1024 * 1024


@dataclass
class Setup:
    """A model context with feedback machinery, a real span and a one-row summary."""

    model: ModelContext
    span: Span
    summary: OutputSummary
    providers: tuple[TracerProvider, MeterProvider]

    @classmethod
    def build(cls) -> Setup:
        """SDK providers (no span processor: spans are only read, never exported)."""
        tracer_provider = TracerProvider()
        meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
        model = model_for(
            "bench", "1", InferenceTelemetry.of(tracer_provider, meter_provider), get_settings()
        )
        span = tracer_provider.get_tracer("benchmarks.feedback").start_span("predict bench")
        summary = OutputSummary(rows=1, label="setosa", confidence=0.93)
        return cls(model, span, summary, (tracer_provider, meter_provider))

    def recorder(self, store: Store) -> FeedbackRecorder:
        """A recorder of the bench model that remembers into ``store``."""
        return FeedbackRecorder(self.model, store, None)

    def shutdown(self) -> None:
        """End the span and stop both providers."""
        self.span.end()
        for provider in self.providers:
            provider.shutdown()


def default_store() -> PredictionStore:
    """A store with the default bounds (``OTEL_ML_FEEDBACK_*`` settings)."""
    settings = get_settings()
    return PredictionStore(settings.feedback_max_predictions, settings.feedback_ttl_seconds)


def ids(count: int) -> Iterator[str]:
    """``count`` prediction ids, made before timing starts."""
    return iter([new_prediction_id() for _ in range(count)])


def fill(recorder: FeedbackRecorder, setup: Setup, count: int) -> None:
    """Remember ``count`` predictions with fresh ids."""
    remember = recorder.remember
    for _ in range(count):
        remember(new_prediction_id(), setup.summary, setup.span)


def request_path(
    setup: Setup, rounds: int, calls: int, shared: dict[str, SharedStore]
) -> dict[str, list[float]]:
    """Per-round ns per call: the floor, ``store.put`` and ``remember``, on full stores
    (the steady state of a server: every insert also evicts the oldest), and
    ``remember`` into each shared store (an append to the writer's buffer)."""
    per_variant = (rounds + 1) * calls
    put_store, remember_store = default_store(), default_store()
    recorder = setup.recorder(remember_store)
    fill(recorder, setup, remember_store.capacity)
    for _ in range(put_store.capacity):
        put_store.put(new_prediction_id(), stored(0.0))
    floor_ids, put_ids, remember_ids = ids(per_variant), ids(per_variant), ids(per_variant)
    put, now, remember = put_store.put, put_store.now, recorder.remember
    summary, span = setup.summary, setup.span

    variants: dict[str, Callable[[], object]] = {
        "floor (next id)": lambda: next(floor_ids),
        "store.put": lambda: put(next(put_ids), stored(now())),
        "remember": lambda: remember(next(remember_ids), summary, span),
    }
    for backend, store in shared.items():
        into = remembering(setup.recorder(store), summary, span)
        variants[f"remember ({backend})"] = _each_id(into, ids(per_variant))
    return interleave(variants, rounds, calls)


def _each_id(remember: Callable[[str], None], prediction_ids: Iterator[str]) -> Callable[[], None]:
    return lambda: remember(next(prediction_ids))


def backends(setup: Setup, shared: dict[str, SharedStore], quick: bool) -> list[list[str]]:
    """Per backend: labels joined per second and the writer's CPU per 1,000 predictions."""
    labels, rounds = (500, 3) if quick else (2000, 7)
    stores: dict[str, Store] = {"memory": default_store(), **shared}
    recorders = {name: attached(setup, name, store) for name, store in stores.items()}
    rates = join_rates(
        {name: (store, remembering(recorders[name], setup.summary, setup.span))
         for name, store in stores.items()}, labels, rounds,
    )  # fmt: skip
    rows = []
    for name, store in stores.items():
        remember = remembering(recorders[name], setup.summary, setup.span)
        cpu = flusher_cpu_ms(store, remember, rounds) if isinstance(store, SharedStore) else None
        writer = f"{cpu:.1f}" if cpu is not None else "- (no writer)"
        rows.append([name, f"{rates[name]:,.0f}", writer])
    return rows


def attached(setup: Setup, name: str, store: Store) -> FeedbackRecorder:
    """The feedback sink of a model of its own (``bench-<name>``): labels join to the
    model's current recorder, so each store gets one model."""
    model = model_for(f"bench-{name}", "1", setup.model.telemetry, get_settings())
    recorder = FeedbackRecorder(model, store, None)
    model.attach(recorder)
    return recorder


def stored(created_s: float) -> Record:
    """A single-row classification as ``remember`` stores it."""
    return (created_s, 1, "setosa", None, 0.93, None, None, None, 1, 2, 1)


def per_prediction_bytes(setup: Setup, capacity: int) -> tuple[float, float, float]:
    """tracemalloc bytes per live prediction (filling an empty store to ``capacity``),
    per remembered id of an evicted one (``capacity`` more predictions), and the
    objects per live prediction the garbage collector still tracks after a collection
    (each one lengthens every full collection of the server process)."""
    store = PredictionStore(capacity, get_settings().feedback_ttl_seconds)
    recorder = setup.recorder(store)
    gc.collect()
    tracked = len(gc.get_objects())
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        fill(recorder, setup, capacity)
        full = tracemalloc.get_traced_memory()[0]
        gc.collect()
        tracked = len(gc.get_objects()) - tracked
        fill(recorder, setup, capacity)
        steady = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return (full - start) / capacity, (steady - full) / capacity, tracked / capacity


def load_average() -> str:
    """The 1-minute load average (how busy the shared machine was), where known."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "unknown"


def rss_bytes() -> int:
    """Resident set size now (Linux ``/proc``), else the peak from ``getrusage``."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def flat_memory(setup: Setup, total: int, checkpoints: int) -> list[tuple[int, int, float, float]]:
    """``(predictions, live, RSS MiB, tracemalloc MiB)`` at each checkpoint while
    ``total`` predictions are remembered into a store with the default bounds.
    Two runs: RSS without tracemalloc (it has its own cost), then tracemalloc."""
    step = total // checkpoints
    rss: list[tuple[int, int, float]] = []
    traced: list[float] = []
    for tracing in (False, True):
        store = default_store()
        recorder = setup.recorder(store)
        gc.collect()
        if tracing:
            tracemalloc.start()
        start = tracemalloc.get_traced_memory()[0] if tracing else 0
        for index in range(1, checkpoints + 1):
            fill(recorder, setup, step)
            if tracing:
                traced.append((tracemalloc.get_traced_memory()[0] - start) / MIB)
            else:
                rss.append((index * step, len(store), rss_bytes() / MIB))
        tracemalloc.stop()
        del store, recorder
    return [(n, live, r, t) for (n, live, r), t in zip(rss, traced, strict=True)]


def report(
    command: str,
    costs: dict[str, list[float]],
    sizes: tuple[float, float, float],
    checkpoints: list[tuple[int, int, float, float]],
    backend_rows: list[list[str]],
) -> str:
    """The markdown section: provenance, three tables, verdicts."""
    floor = costs["floor (next id)"]
    cost_rows = []
    for name, samples in costs.items():
        added = "-" if samples is floor else _added(samples, floor).format(2)
        cost_rows.append([name, Stats.of([v / 1e3 for v in samples]).format(2), added])
    capacity = get_settings().feedback_max_predictions
    live, remembered, tracked = sizes
    worst = capacity * (live + 2 * remembered) / MIB
    size_rows = [[f"{live:.0f}", f"{remembered:.0f}", f"{worst:.1f}", f"{tracked:.3f}"]]
    memory_rows = [[f"{n:,}", f"{k:,}", f"{r:.1f}", f"{t:.1f}"] for n, k, r, t in checkpoints]
    legend = "Medians across rounds; in parentheses the min-max across rounds."
    parts = [
        provenance(command, DISTRIBUTIONS) + f"\n- load average at the end: {load_average()}",
        markdown_table(["request path", "per call, us", "added to floor, us"], cost_rows),
        legend,
        markdown_table(
            [
                "bytes per live prediction",
                "bytes per remembered id",
                f"worst case at capacity {capacity:,}, MiB",
                "objects tracked by the GC per live prediction",
            ],
            size_rows,
        ),
        markdown_table(["predictions", "live", "RSS, MiB", "tracemalloc, MiB"], memory_rows),
        markdown_table(
            ["store", "labels joined per s", "writer CPU per 1,000 predictions, ms"], backend_rows
        ),
        verdict(costs, checkpoints, capacity),
    ]
    return "\n\n".join(parts)


def _added(samples: Sequence[float], floor: Sequence[float]) -> Stats:
    return Stats.of([(v - f) / 1e3 for v, f in zip(samples, floor, strict=True)])


def verdict(
    costs: dict[str, list[float]], checkpoints: list[tuple[int, int, float, float]], capacity: int
) -> str:
    """The request-path target, and whether memory stays flat once the bounds are reached."""
    lines = []
    for name in [n for n in costs if n.startswith("remember")]:
        added = _added(costs[name], costs["floor (next id)"]).median
        lines.append(f"- `{name}` adds {added:.2f} us per prediction (target < {TARGET_US} us): "
                     + ("met" if added < TARGET_US else "not met"))  # fmt: skip
    # The live table is full at 1x capacity, the evicted-id table at 2x; by 3x
    # their hash tables have also reached the size that the churn keeps them at.
    steady = [(n, t) for n, _, _, t in checkpoints if n >= STEADY_AFTER * capacity]
    if len(steady) >= 2:
        growth = (max(t for _, t in steady) - steady[0][1]) / steady[0][1]
        status = "met" if growth <= FLAT_TOLERANCE else "not met"
        lines.append(
            f"- traced memory from {steady[0][0]:,} to {steady[-1][0]:,} predictions "
            f"grows {growth:.1%} (target flat, <= {FLAT_TOLERANCE:.0%}): {status}"
        )
    else:
        lines.append("- too few predictions to check that memory stays flat (run without --quick)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the tables, optionally rewrite the README section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 30)")
    parser.add_argument("--calls", type=int, help="calls per variant per round (default 2000)")
    parser.add_argument("--predictions", type=int, help="predictions in part 3 (default 1M)")
    parser.add_argument("--write-readme", action="store_true", help=f"update {README.name}")
    args = parser.parse_args(argv)
    rounds = args.rounds if args.rounds is not None else (3 if args.quick else 30)
    calls = args.calls if args.calls is not None else (500 if args.quick else 2000)
    total = args.predictions if args.predictions is not None else (
        200_000 if args.quick else 1_000_000
    )  # fmt: skip
    if rounds < 1 or calls < 1 or total < 10:
        parser.error("--rounds and --calls must be positive, --predictions at least 10")
    given = sys.argv[1:] if argv is None else list(argv)
    command = " ".join(["python benchmarks/feedback.py", *given])
    setup = Setup.build()
    settings = get_settings()
    try:
        # The 1M run first, so its RSS is not lifted by what the other parts allocated.
        checkpoints = flat_memory(setup, total, 10)
        sizes = per_prediction_bytes(setup, 10_000 if args.quick else 100_000)
        bounds = settings.feedback_max_predictions, settings.feedback_ttl_seconds
        with shared_stores(*bounds) as shared:
            costs = request_path(setup, rounds, calls, shared)
            backend_rows = backends(setup, shared, args.quick)
    finally:
        setup.shutdown()
    section = report(command, costs, sizes, checkpoints, backend_rows)
    print(section)
    if args.write_readme:
        replace_section(README, "feedback", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
