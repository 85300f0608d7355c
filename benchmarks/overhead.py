"""Per-call overhead of an instrumented single-row ``predict``.

Compares, side by side in one process, a fitted scikit-learn model's bare
call, "the floor" (one bare OTel SDK span plus one histogram record, the least
any instrumentation can do) and the same call through ``otel_ml.wrap_model``.
Both the floor and otel_ml run against the same SDK set-up, once with every
span sampled and once with the tracer sampled out (metrics only)::

    python benchmarks/overhead.py [--quick] [--rounds R] [--calls N] [--write-readme]

``--previous REV`` adds otel_ml as it was at commit ``REV`` (say ``HEAD~3``),
side by side in the same rounds, and its ratio: how a change compares with
what it replaced, on the same machine at the same moment.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    Stats,
    interleave,
    markdown_table,
    provenance,
    ratio_of_medians,
    replace_section,
)
from _previous import load_previous
from _server_app import DiscardingMetricExporter
from opentelemetry.metrics import Histogram
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, Sampler
from opentelemetry.trace import Tracer
from sklearn.linear_model import LogisticRegression

import otel_ml
from otel_ml import semconv
from otel_ml.sdk import cells_meter_provider

README = Path(__file__).with_name("README.md")
TARGET_OPERATION = "predict"
TARGET_RATIO = 0.7
TARGET_RATIO_SAMPLED_OUT = 0.5
FEATURES = 20
OPERATIONS = ("predict", "predict_proba")
DISTRIBUTIONS = ("opentelemetry-sdk", "numpy", "scikit-learn")


class DiscardingExporter(SpanExporter):
    """Accepts every batch and drops it, so export cost is not measured."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


@dataclass
class Sdk:
    """One SDK set-up, shared by the floor and otel_ml.

    ``cells_meter_provider`` is the meter provider ``otel_ml.configure()`` builds
    (otel_ml's hot-path histograms record into in-process cells there);
    ``meter_provider`` a plain SDK one (the floor's; otel_ml falls back to the
    SDK instruments on it).
    """

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    cells_meter_provider: MeterProvider

    @classmethod
    def build(cls, sampler: Sampler | None = None) -> Sdk:
        """Batch span processor into a discarding exporter; one in-memory metric reader."""
        tracer_provider = TracerProvider(sampler=sampler)
        tracer_provider.add_span_processor(BatchSpanProcessor(DiscardingExporter()))
        meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
        cells = cells_meter_provider([DiscardingMetricExporter()], export_interval_millis=math.inf)
        return cls(tracer_provider, meter_provider, cells)

    def shutdown(self) -> None:
        """Flush and stop the providers."""
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()
        self.cells_meter_provider.shutdown()


def fitted_model() -> tuple[LogisticRegression, np.ndarray]:
    """A logistic regression on 20 features and one (1, 20) input row."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(1000, FEATURES))
    labels = (features[:, 0] + 0.5 * features[:, 1] > 0).astype(int)
    return LogisticRegression().fit(features, labels), features[:1].copy()


def floor_call(
    sdk: Sdk,
    method: Callable[[Any], object],
    operation: str,
    row: Any,
    content: tuple[dict[str, Any], dict[str, Any]] | None = None,
    metrics: bool = True,
) -> Callable[[], None]:
    """One span around the call plus one duration record with otel_ml's metric attributes.

    ``content``: span attributes to set at start and after the call (default none);
    ``metrics=False``: the span alone, no record.
    """
    tracer: Tracer = sdk.tracer_provider.get_tracer("benchmarks.floor")
    duration: Histogram = sdk.meter_provider.get_meter("benchmarks.floor").create_histogram(
        semconv.ML_INFERENCE_DURATION,
        unit="s",
        explicit_bucket_boundaries_advisory=list(semconv.INFERENCE_DURATION_BUCKETS),
    )
    name = semconv.inference_span_name(operation, "bench")
    attributes = {
        semconv.ML_MODEL_NAME: "bench",
        semconv.ML_MODEL_VERSION: "1",
        semconv.ML_OPERATION_NAME: operation,
    }
    at_start, at_end = content or ({}, {})

    def call() -> None:
        with tracer.start_as_current_span(name, attributes=at_start or None) as span:
            start = time.perf_counter_ns()
            method(row)
            if metrics:
                duration.record((time.perf_counter_ns() - start) / 1e9, attributes)
            if at_end:
                span.set_attributes(at_end)

    return call


def span_content(model: Any, row: Any, operation: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The attributes otel_ml puts on this call's span, with values computed once here."""
    at_start = {
        semconv.ML_MODEL_NAME: "bench",
        semconv.ML_MODEL_VERSION: "1",
        semconv.ML_OPERATION_NAME: operation,
        semconv.ML_PREDICTION_ID: "0123456789abcdef0123456789abcdef",
        semconv.ML_BATCH_SIZE: 1,
    }
    at_end: dict[str, Any] = {semconv.ML_PREDICTION_CLASS: str(model.predict(row)[0])}
    if operation == "predict_proba":
        at_end[semconv.ML_PREDICTION_CONFIDENCE] = float(model.predict_proba(row).max())
    return at_start, at_end


def otel_ml_call(
    sdk: Sdk, model: Any, operation: str, row: Any, package: Any = otel_ml, cells: bool = True
) -> Callable[[], object]:
    """The call through ``package.wrap_model`` (default: this tree's) on this SDK
    set-up: on configure()'s meter provider (``cells``) or a plain SDK one."""
    meter_provider = sdk.cells_meter_provider if cells else sdk.meter_provider
    wrapped = package.wrap_model(
        model, "bench", "1", tracer_provider=sdk.tracer_provider, meter_provider=meter_provider
    )
    method = getattr(wrapped, operation)
    return lambda: method(row)


def variants(
    model: Any, row: Any, operation: str, sdks: tuple[Sdk, Sdk], previous: Any = None
) -> dict[str, Callable[[], object]]:
    """The calls to time for one operation, keyed by variant name; ``previous``:
    an earlier otel_ml package (see ``--previous``)."""
    sampled, unsampled = sdks
    bare = getattr(model, operation)
    calls = {
        "bare": lambda: bare(row),
        "floor": floor_call(sampled, bare, operation, row),
        "floor + span attributes": floor_call(
            sampled, bare, operation, row, span_content(model, row, operation)
        ),
        SPAN_ALONE: floor_call(
            sampled, bare, operation, row, span_content(model, row, operation), metrics=False
        ),
        "otel_ml": otel_ml_call(sampled, model, operation, row),
        SDK_PATH: otel_ml_call(sampled, model, operation, row, cells=False),
        "floor, sampled out": floor_call(unsampled, bare, operation, row),
        "otel_ml, sampled out": otel_ml_call(unsampled, model, operation, row),
        SDK_PATH_SAMPLED_OUT: otel_ml_call(unsampled, model, operation, row, cells=False),
    }
    if previous is not None:
        calls[PREVIOUS] = otel_ml_call(sampled, model, operation, row, previous, cells=False)
    return calls


PREVIOUS = "otel_ml, previous commit"
SPAN_ALONE = "SDK span with otel_ml's attributes, no metrics"
SDK_PATH = "otel_ml, SDK instruments"
SDK_PATH_SAMPLED_OUT = "otel_ml, SDK instruments, sampled out"
Comparisons = tuple[tuple[str, dict[str, str]], ...]
# One ratio column per entry: heading, and variant -> the variant it is compared with.
COMPARISONS: Comparisons = (
    ("added / floor's", {"otel_ml": "floor", "otel_ml, sampled out": "floor, sampled out",
                         SPAN_ALONE: "floor",
                         SDK_PATH: "floor", SDK_PATH_SAMPLED_OUT: "floor, sampled out",
                         PREVIOUS: "floor"}),
    ("added / (floor + span attributes)'s", {"otel_ml": "floor + span attributes"}),
    ("added / previous commit's", {"otel_ml": PREVIOUS}),
)  # fmt: skip


def overheads(samples: dict[str, list[float]]) -> dict[str, list[float]]:
    """Per-round microseconds each variant adds to the bare call of the same round."""
    bare = samples["bare"]
    return {
        name: [(v - b) / 1e3 for v, b in zip(values, bare, strict=True)]
        for name, values in samples.items()
        if name != "bare"
    }


def table_rows(
    operation: str, samples: dict[str, list[float]], columns: Comparisons
) -> list[list[str]]:
    """One markdown row per variant: per-call time, overhead over bare, ratio to the floor."""
    added = overheads(samples)
    rows = []
    for name, values in samples.items():
        overhead = Stats.of(added[name]).format() if name in added else "-"
        ratios = [
            ratio_of_medians(added[name], added[against[name]]).format(2, "x")
            if name in against and against[name] in added
            else "-"
            for _, against in columns
        ]
        per_call = Stats.of([v / 1e3 for v in values]).format()
        rows.append([f"`{operation}`", name, per_call, overhead, *ratios])
    return rows


def quietest(by_variant: dict[str, list[float]], name: str, against: str) -> str:
    """``name``'s added cost over ``against``'s from each variant's fastest round
    (timeit's estimator: on a shared machine a slow round measures the other
    processes, and every variant has rounds the scheduler left alone)."""
    bare = min(by_variant["bare"])
    added, floor = min(by_variant[name]) - bare, min(by_variant[against]) - bare
    return f"{added / 1e3:.1f} us / {floor / 1e3:.1f} us = {added / floor:.2f}x"


def verdict(samples: dict[str, dict[str, list[float]]]) -> str:
    """One line per operation: the sampled ratio, against the target for ``predict``
    (the operation the target is set for); then the same from the fastest rounds."""
    lines = []
    for operation, by_variant in samples.items():
        added = overheads(by_variant)
        ratio = ratio_of_medians(added["otel_ml"], added["floor"]).median
        out = ratio_of_medians(added["otel_ml, sampled out"], added["floor, sampled out"]).median
        line = (
            f"- `{operation}`: otel_ml adds {ratio:.2f}x the floor's overhead, "
            f"{out:.2f}x sampled out"
        )
        if operation == TARGET_OPERATION:
            alone = ratio_of_medians(added[SPAN_ALONE], added["floor"]).median
            lines.append(
                f"- `{operation}`: the SDK span with otel_ml's attributes alone adds "
                f"{alone:.2f}x the floor's (the least an instrumentation can add that "
                "puts these attributes on an SDK span)"
            )
            status = "met" if ratio <= TARGET_RATIO else "not met"
            status_out = "met" if out <= TARGET_RATIO_SAMPLED_OUT else "not met"
            line += (
                f" (targets <= {TARGET_RATIO}x: {status}; "
                f"<= {TARGET_RATIO_SAMPLED_OUT}x sampled out: {status_out})"
            )
        else:
            line += " (no target: its second histogram record is not in the floor)"
        lines.append(line)
        lines.append(
            f"- `{operation}`, fastest round of each variant: otel_ml adds "
            f"{quietest(by_variant, 'otel_ml', 'floor')} the floor's; sampled out "
            f"{quietest(by_variant, 'otel_ml, sampled out', 'floor, sampled out')}"
        )
    return "\n".join(lines)


def measure(rounds: int, calls: int, previous: Any = None) -> dict[str, dict[str, list[float]]]:
    """Per-round ns per call of every variant, for each operation."""
    model, row = fitted_model()
    sampled, unsampled = Sdk.build(), Sdk.build(ParentBased(ALWAYS_OFF))
    try:
        results = {}
        for operation in OPERATIONS:
            calls_of = variants(model, row, operation, (sampled, unsampled), previous)
            results[operation] = interleave(calls_of, rounds, calls)
        return results
    finally:
        sampled.shutdown()
        unsampled.shutdown()


def report(command: str, samples: dict[str, dict[str, list[float]]]) -> str:
    """The markdown section: provenance, table, verdict."""
    compared = any(PREVIOUS in by for by in samples.values())
    columns = COMPARISONS if compared else COMPARISONS[:-1]
    headers = ["operation", "variant", "per call, us", "added to bare, us"]
    headers += [heading for heading, _ in columns]
    rows = [row for operation, by in samples.items() for row in table_rows(operation, by, columns)]
    legend = (
        "Medians across rounds; in parentheses the min-max across rounds, and for "
        "ratios a 90% bootstrap interval."
    )
    table = markdown_table(headers, rows)
    parts = [provenance(command, DISTRIBUTIONS), table, legend, verdict(samples)]
    return "\n\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table, optionally rewrite the README section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run (5 x 100 calls)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 40)")
    parser.add_argument("--calls", type=int, help="calls per variant per round (default 300)")
    parser.add_argument("--write-readme", action="store_true", help=f"update {README.name}")
    parser.add_argument("--previous", metavar="REV", help="also run otel_ml of commit REV")
    args = parser.parse_args(argv)
    rounds = args.rounds if args.rounds is not None else (5 if args.quick else 40)
    calls = args.calls if args.calls is not None else (100 if args.quick else 300)
    if rounds < 1 or calls < 1:
        parser.error("--rounds and --calls must be positive")
    given = sys.argv[1:] if argv is None else list(argv)
    command = " ".join(["python benchmarks/overhead.py", *given])
    previous = load_previous(args.previous) if args.previous else None
    section = report(command, measure(rounds, calls, previous))
    print(section)
    if args.write_readme:
        replace_section(README, "overhead", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
