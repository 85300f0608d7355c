"""One drift tool's run on the benchmark data, in a process of its own.

``drift.py`` starts this script once per tool and round, with the project's
interpreter (otel_ml, scipy) or the Evidently virtualenv's, so that each peak
RSS belongs to one tool. It times only the tool's work (the data is read from
``.npy`` files first) and writes a JSON result::

    python _drift_tools.py TOOL --reference REF.npy --current CUR.npy --rows N --result OUT.json

Only numpy is imported up front: the Evidently virtualenv has no otel_ml.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float64]
FeatureResults = dict[str, dict[str, Any]]
Outcome = tuple[float, float, FeatureResults]
"""Seconds of work, RSS in MiB when the work started, per-feature results."""


def memory_mb(field: str) -> float:
    """``VmHWM`` (peak) or ``VmRSS`` of this process in MiB, from /proc/self/status."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _open_npy(path: Path) -> tuple[Any, int, np.dtype[Any]]:
    handle = path.open("rb")
    version = np.lib.format.read_magic(handle)
    if version != (1, 0):
        raise ValueError(f"{path}: expected .npy format 1.0, got {version}")
    shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
    if fortran or len(shape) != 2:
        raise ValueError(f"{path}: expected a C-ordered 2-D array, got {shape}")
    return handle, int(shape[1]), dtype


def read_rows(path: Path, rows: int | None = None) -> Matrix:
    """The first ``rows`` rows (all by default) of a 2-D .npy file, read without mmap."""
    handle, columns, dtype = _open_npy(path)
    with handle:
        count = -1 if rows is None else rows * columns
        return np.fromfile(handle, dtype, count=count).reshape(-1, columns)


def batches(path: Path, rows: int, batch_rows: int) -> Iterator[Matrix]:
    """The first ``rows`` rows of a .npy file, ``batch_rows`` at a time (constant memory)."""
    handle, columns, dtype = _open_npy(path)
    with handle:
        for start in range(0, rows, batch_rows):
            count = min(batch_rows, rows - start) * columns
            yield np.fromfile(handle, dtype, count=count).reshape(-1, columns)


def names(n: int) -> list[str]:
    """Feature names, as ``_drift_data.feature_name`` spells them."""
    return [f"f{i:02d}" for i in range(n)]


def otel_fit(args: argparse.Namespace) -> Outcome:
    """ReferenceProfile.fit on the reference rows; saves the profile for otel-check."""
    from otel_ml.drift.profile import ReferenceProfile

    reference = read_rows(args.reference)
    rss = memory_mb("VmRSS")
    start = time.perf_counter()
    profile = ReferenceProfile.fit(reference, feature_names=names(reference.shape[1]))
    seconds = time.perf_counter() - start
    profile.save(args.profile)
    return seconds, rss, {}


def otel_check(args: argparse.Namespace) -> Outcome:
    """Stream the current rows through a DriftWindow; scores and verdicts of one window."""
    from otel_ml.drift.profile import ReferenceProfile
    from otel_ml.drift.results import WindowConfig
    from otel_ml.drift.window import DriftWindow

    profile = ReferenceProfile.load(args.profile)
    config = WindowConfig(max_rows=2**62, max_seconds=1e9, min_count=1)
    window = DriftWindow(profile, config)
    no_categorical = np.empty((args.batch_rows, 0), object)
    no_issues = np.zeros(len(profile.features), np.int64)
    rss, seconds = memory_mb("VmRSS"), 0.0
    for batch in batches(args.current, args.rows, args.batch_rows):
        start = time.perf_counter()
        window.add_rows(batch, no_categorical[: batch.shape[0]], no_issues)
        seconds += time.perf_counter() - start
    start = time.perf_counter()
    report = window.tick(force=True)
    seconds += time.perf_counter() - start
    assert report is not None
    assert report.rows == args.rows, "the window must hold every row"
    results = {}
    for f in report.features:
        assert f.scores is not None
        results[f.name] = {"verdict": f.verdict, "psi": f.scores.psi, "ks": f.scores.ks}
    return seconds, rss, results


def scipy_ks(args: argparse.Namespace) -> Outcome:
    """scipy.stats.ks_2samp per feature on the raw columns."""
    from scipy import stats

    reference, current = read_rows(args.reference), read_rows(args.current, args.rows)
    rss = memory_mb("VmRSS")
    start = time.perf_counter()
    results = {}
    for i, name in enumerate(names(reference.shape[1])):
        test = stats.ks_2samp(reference[:, i], current[:, i])
        results[name] = {"ks": float(test.statistic), "p": float(test.pvalue)}
    return time.perf_counter() - start, rss, results


def evidently_report(args: argparse.Namespace) -> Outcome:
    """Evidently's DataDriftPreset report on pandas frames, with its default methods."""
    pd = importlib.import_module("pandas")
    evidently = importlib.import_module("evidently")
    presets = importlib.import_module("evidently.presets")
    reference, current = read_rows(args.reference), read_rows(args.current, args.rows)
    columns = names(reference.shape[1])
    rss = memory_mb("VmRSS")
    start = time.perf_counter()
    ref_frame = pd.DataFrame(reference, columns=columns)
    cur_frame = pd.DataFrame(current, columns=columns)
    snapshot = evidently.Report([presets.DataDriftPreset()]).run(cur_frame, ref_frame)
    results = evidently_verdicts(snapshot.dict(), columns)
    return time.perf_counter() - start, rss, results


def evidently_windows(args: argparse.Namespace) -> Outcome:
    """Evidently's DataDriftPreset on windows as columns: column i of the current
    rows against column i of the reference rows (the signal table)."""
    pd = importlib.import_module("pandas")
    evidently = importlib.import_module("evidently")
    presets = importlib.import_module("evidently.presets")
    reference, current = np.load(args.reference), np.load(args.current)
    columns = names(reference.shape[1])
    start = time.perf_counter()
    ref_frame = pd.DataFrame(reference, columns=columns)
    cur_frame = pd.DataFrame(current, columns=columns)
    snapshot = evidently.Report([presets.DataDriftPreset()]).run(cur_frame, ref_frame)
    return time.perf_counter() - start, 0.0, evidently_verdicts(snapshot.dict(), columns)


def evidently_verdicts(doc: dict[str, Any], columns: list[str]) -> FeatureResults:
    """Per-column drift flag, score and method from an Evidently 0.7 snapshot."""
    results: FeatureResults = {}
    counted = -1
    for metric in doc["metrics"]:
        config = metric.get("config", {})
        column = config.get("column")
        if config.get("type", "").endswith("ValueDrift") and column in columns:
            method = str(config.get("method", ""))
            threshold = float(config["threshold"])
            score = float(metric["value"])
            # Evidently's rule: a test (its method is a "p_value") drifts at or
            # below its threshold, a distance at or above it.
            drifted = score <= threshold if "p_value" in method else score >= threshold
            results[column] = {"drift": drifted, "score": score, "method": method}
        elif config.get("type", "").endswith("DriftedColumnsCount"):
            counted = int(metric["value"]["count"])
    if set(results) != set(columns):
        raise RuntimeError(f"Evidently reported columns {sorted(results)}, expected {columns}")
    if counted != sum(r["drift"] for r in results.values()):
        raise RuntimeError(f"Evidently counts {counted} drifted columns, the flags say otherwise")
    return results


TOOLS: dict[str, Callable[[argparse.Namespace], Outcome]] = {
    "otel-fit": otel_fit,
    "otel-check": otel_check,
    "scipy": scipy_ks,
    "evidently": evidently_report,
    "evidently-windows": evidently_windows,
}


def main(argv: list[str] | None = None) -> int:
    """Run one tool and write ``{seconds, rss_before_mb, peak_rss_mb, features}``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tool", choices=sorted(TOOLS))
    parser.add_argument("--reference", type=Path)
    parser.add_argument("--current", type=Path)
    parser.add_argument("--rows", type=int, default=0, help="current rows to use")
    parser.add_argument("--batch-rows", type=int, default=8192)
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args(argv)
    seconds, rss_before, features = TOOLS[args.tool](args)
    result = {
        "seconds": seconds,
        "rss_before_mb": rss_before,
        "peak_rss_mb": memory_mb("VmHWM"),
        "features": features,
    }
    args.result.write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
