"""What drift monitoring costs on the request path, and otel_ml against scipy and Evidently.

Part 1 times, side by side in one process, a model's bare call, the call
through ``otel_ml.wrap_model`` without a reference profile and with one, and
the pure DriftWindow / RowBinner path. Part 2 runs otel_ml, scipy and
Evidently on the same 20-feature data set, each in a subprocess of its own.
Part 3 (the signal table) counts false alarms and detections per window size
of the three tools on the same windows (``_drift_signal.py``)::

    python benchmarks/drift.py [--quick] [--rounds R] [--compare-rounds C]
                               [--signal-windows W] [--write-readme]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from _common import Stats, interleave, markdown_table, provenance, replace_section
from _drift_compare import Sizes, agreement_table, compare, evidently_peer, summary, timing_table
from _drift_data import FEATURES, feature_name
from _drift_signal import measure_signal, signal_table
from overhead import Sdk, fitted_model

import otel_ml
from otel_ml.drift.profile import ReferenceProfile
from otel_ml.drift.results import WindowConfig
from otel_ml.drift.rows import RowBinner
from otel_ml.drift.window import DriftWindow

README = Path(__file__).with_name("README.md")
TARGET_NS_PER_VALUE = 1000.0
TARGET_SPEEDUP = 50.0
DISTRIBUTIONS = ("opentelemetry-sdk", "numpy", "scipy", "scikit-learn")
# Calls per round are multiples of the 1024 rows after which a default window
# closes (four 256-row buffer flushes), so every round pays the same closes.
WINDOW_ROWS = 1024
FULL = Sizes(reference=1_000_000, current=100_000, streamed=1_000_000)
QUICK = Sizes(reference=20_000, current=5_000, streamed=50_000, batch_rows=1024)


class ConstantClassifier:
    """A model that costs next to nothing: ``predict`` returns class 0 for every row."""

    classes_ = np.array([0, 1])

    def __init__(self) -> None:
        self._labels = np.zeros(4096, dtype=np.int64)

    def predict(self, rows: Any) -> Any:
        """Class 0 for each row."""
        return self._labels[: len(rows)]


def request_variants(
    model: Any, pool: Sequence[Any], profile: ReferenceProfile, sdk: Sdk, tag: str
) -> dict[str, Callable[[], object]]:
    """Bare, wrapped and wrapped-with-drift ``predict``, each cycling through ``pool``.

    The two wrappers get distinct model names: wrappers of one name share a
    model context, and so would share the drift monitor.
    """
    tracer_provider, meter_provider = sdk.tracer_provider, sdk.meter_provider
    plain = otel_ml.wrap_model(
        model, f"{tag}-plain", "1", tracer_provider=tracer_provider, meter_provider=meter_provider
    ).predict
    drift = otel_ml.wrap_model(
        model,
        f"{tag}-drift",
        "1",
        reference=profile,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    ).predict
    return {
        "bare": _cycling(model.predict, pool),
        "otel_ml": _cycling(plain, pool),
        "otel_ml + drift": _cycling(drift, pool),
    }


def _cycling(method: Callable[[Any], object], pool: Sequence[Any]) -> Callable[[], object]:
    """Calls ``method`` on the next input of ``pool``, round and round.

    Distinct inputs keep the drift windows like real traffic: one row repeated
    would drift every feature and log a warning at every window.
    """
    inputs = itertools.cycle(pool)
    return lambda: method(next(inputs))


def measure_request_path(
    profile: ReferenceProfile, rounds: int, single_calls: int
) -> dict[tuple[str, int], dict[str, list[float]]]:
    """Per-round ns per call, keyed by (model, rows per call)."""
    lr, _ = fitted_model()
    rng = np.random.default_rng(1)
    sdk = Sdk.build()
    models = {"LogisticRegression": lr, "constant classifier": ConstantClassifier()}
    results: dict[tuple[str, int], dict[str, list[float]]] = {}
    try:
        for label, model in models.items():
            for rows, calls in ((1, single_calls), (256, max(4, single_calls // 64))):
                data = rng.normal(size=(4096, FEATURES))
                pool = [data[i : i + rows] for i in range(0, data.shape[0], rows)]
                variants = request_variants(model, pool, profile, sdk, f"bench-{len(results)}")
                results[(label, rows)] = interleave(variants, rounds, calls)
    finally:
        sdk.shutdown()
    return results


def request_table(samples: dict[tuple[str, int], dict[str, list[float]]]) -> str:
    """Per-call times, and what drift adds per call and per feature value."""
    rows = []
    for (label, n), by in samples.items():
        added = [(d - p) for d, p in zip(by["otel_ml + drift"], by["otel_ml"], strict=True)]
        for name, values in by.items():
            drift = name == "otel_ml + drift"
            rows.append(
                [
                    label,
                    str(n),
                    name,
                    Stats.of([v / 1e3 for v in values]).format(),
                    Stats.of([a / 1e3 for a in added]).format() if drift else "-",
                    Stats.of([a / (n * FEATURES) for a in added]).format(0) if drift else "-",
                ]
            )
    headers = [
        "model",
        "rows per call",
        "variant",
        "per call, us",
        "drift adds per call, us",
        "drift adds per feature value, ns",
    ]
    return markdown_table(headers, rows)


PURE_UNIT_ROWS = 4 * WINDOW_ROWS


def _repeat(call: Callable[[], object], times: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(times):
            call()

    return run


def measure_pure_path(
    profile: ReferenceProfile, rounds: int, units: int
) -> dict[tuple[str, int], list[float]]:
    """Per-round ns per call of RowBinner.bin and DriftWindow.add_rows, by batch rows.

    Each timed unit feeds 4096 rows whatever the batch size, so batch sizes
    interleave in one set of rounds and every unit closes the same windows.
    """
    rng = np.random.default_rng(2)
    binner = RowBinner([f.bins for f in profile.features])
    variants: dict[str, Callable[[], object]] = {}
    keys: dict[str, tuple[str, int]] = {}
    for rows in (1, 16, 256, 4096):
        batch = rng.normal(size=(rows, FEATURES))
        window = DriftWindow(profile, WindowConfig())
        no_categorical, no_issues = np.empty((rows, 0), object), np.zeros(FEATURES, np.int64)
        calls: dict[str, Callable[[], object]] = {
            "DriftWindow.add_rows": partial(window.add_rows, batch, no_categorical, no_issues),
            "RowBinner.bin": partial(binner.bin, batch),
        }
        for component, call in calls.items():
            name = f"{component} x{rows}"
            variants[name] = _repeat(call, PURE_UNIT_ROWS // rows)
            keys[name] = (component, rows)
    per_unit = interleave(variants, rounds, units)
    return {
        keys[name]: [v * keys[name][1] / PURE_UNIT_ROWS for v in values]
        for name, values in sorted(per_unit.items(), key=lambda item: keys[item[0]])
    }


def pure_table(samples: dict[tuple[str, int], list[float]]) -> str:
    """Per-call and per-value cost of the OTel-free drift path."""
    rows = [
        [
            f"`{component}`",
            str(n),
            Stats.of([v / 1e3 for v in values]).format(2),
            Stats.of([v / (n * FEATURES) for v in values]).format(0),
        ]
        for (component, n), values in samples.items()
    ]
    return markdown_table(["path", "rows per call", "per call, us", "per feature value, ns"], rows)


def request_verdict(samples: dict[tuple[str, int], dict[str, list[float]]]) -> str:
    """One line per model and batch size: drift's cost per value against the target."""
    lines = []
    for (label, n), by in samples.items():
        added = [
            (d - p) / (n * FEATURES)
            for d, p in zip(by["otel_ml + drift"], by["otel_ml"], strict=True)
        ]
        per_value = Stats.of(added).median
        status = "met" if per_value <= TARGET_NS_PER_VALUE else "not met"
        lines.append(
            f"- {label}, {n} row(s) a call: drift adds {per_value:.0f} ns per feature "
            f"value (target <= {TARGET_NS_PER_VALUE:.0f} ns): {status}"
        )
    return "\n".join(lines)


def request_profile() -> ReferenceProfile:
    """The profile the request-path variants watch: 20k rows like their inputs."""
    rng = np.random.default_rng(0)
    names = [feature_name(i) for i in range(FEATURES)]
    return ReferenceProfile.fit(rng.normal(size=(20_000, FEATURES)), feature_names=names)


def report(command: str, args: argparse.Namespace) -> str:
    """Run both parts and return the markdown section."""
    quick = args.quick
    rounds = args.rounds if args.rounds is not None else (3 if quick else 15)
    profile = request_profile()
    started = time.monotonic()
    request = measure_request_path(profile, rounds, 256 if quick else WINDOW_ROWS)
    pure = measure_pure_path(profile, rounds, 1 if quick else 2)
    print(f"request path measured in {time.monotonic() - started:.0f} s", file=sys.stderr)
    peer = evidently_peer(install=not quick)
    sizes = QUICK if quick else FULL
    compare_rounds = args.compare_rounds or (1 if quick else 3)
    results = compare(sizes, compare_rounds, peer)
    print(f"tools compared in {time.monotonic() - started:.0f} s", file=sys.stderr)
    windows = args.signal_windows or (20 if quick else 200)
    signal = measure_signal(windows, peer.python)
    print(f"signal measured in {time.monotonic() - started:.0f} s", file=sys.stderr)
    legend = (
        "Medians across rounds; in parentheses the min-max across rounds, and for "
        "ratios a 90% bootstrap interval."
    )
    peer_line = f"- peer: {peer.version}" if peer.python else f"- peer: Evidently {peer.error}"
    peer_line += f"\n- rounds: {rounds} on the request path, {compare_rounds} in the comparison"
    parts = [
        provenance(command, DISTRIBUTIONS) + "\n" + peer_line,
        "### Request path",
        request_table(request),
        request_verdict(request),
        "### Drift path without OpenTelemetry",
        pure_table(pure),
        "### otel_ml, scipy and Evidently on the same data",
        timing_table(results, sizes),
        agreement_table(results),
        legend,
        summary(results, sizes, TARGET_SPEEDUP),
        "### False alarms and detections per window size",
        signal_table(signal),
    ]
    return "\n\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the tables, optionally rewrite the README section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes and few rounds; skips installing Evidently",
    )
    parser.add_argument("--rounds", type=int, help="request-path rounds (default 15)")
    parser.add_argument(
        "--compare-rounds", type=int, help="rounds of the tool comparison (default 3)"
    )
    parser.add_argument(
        "--signal-windows", type=int, help="windows per family, size and shift (default 200)"
    )
    parser.add_argument("--write-readme", action="store_true", help=f"update {README.name}")
    args = parser.parse_args(argv)
    counts = (args.rounds, args.compare_rounds, args.signal_windows)
    if any(n is not None and n < 1 for n in counts):
        parser.error("--rounds, --compare-rounds and --signal-windows must be positive")
    given = sys.argv[1:] if argv is None else list(argv)
    section = report(" ".join(["python benchmarks/drift.py", *given]), args)
    print(section)
    if args.write_readme:
        replace_section(README, "drift", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
