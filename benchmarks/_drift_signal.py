"""False alarms and detections per window size: otel_ml, scipy and Evidently on the same windows.

For each window size, ``windows`` unshifted windows and as many shifted ones
(+0.25 and +0.5 standard deviations of the mean) of three feature families
(normal, lognormal, bimodal, as in :mod:`_drift_data`) are drawn once and
judged by every tool against the same 20,000-value references:

- otel_ml: the monitor's decision (``FeatureProfile.decide``, default policy:
  ``drift`` at a 1% false-alarm rate and a minimum effect of 0.05);
- scipy: ``ks_2samp`` on the raw values, drift at p < 0.01 (the same rate);
- Evidently: its ``DataDriftPreset`` with defaults (for a reference of more
  than 1,000 values: normed Wasserstein distance >= 0.1), in its own
  virtualenv, one report per size and shift whose columns are the windows.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from _common import markdown_table
from _drift_data import draw
from scipy import stats

from otel_ml.drift.binning import NumericBins
from otel_ml.drift.features import NumericFeatureProfile
from otel_ml.drift.significance import DriftPolicy

HERE = Path(__file__).parent
SIZES = (100, 250, 500, 1000, 5000)
SHIFTS = (0.0, 0.25, 0.5)
FAMILIES = (0, 1, 2)  # _drift_data feature indexes: normal, lognormal, bimodal
REFERENCE = 20_000
SCIPY_ALPHA = 0.01
Matrix = npt.NDArray[np.float64]


@dataclass
class Signal:
    """Share of windows flagged, per (tool, window size, shift)."""

    flagged: dict[tuple[str, int, float], float]
    windows: int
    evidently: str


def _windows(size: int, shift: float, windows: int) -> Matrix:
    """``size`` x (families x windows) values, shifted by ``shift`` standard deviations."""
    rng = np.random.default_rng([size, int(shift * 100)])
    columns = []
    for feature in FAMILIES:
        scale = np.std(draw(feature, REFERENCE, np.random.default_rng(feature)))
        for _ in range(windows):
            columns.append(draw(feature, size, rng) + shift * scale)
    return np.column_stack(columns)


def _references() -> Matrix:
    return np.column_stack(
        [draw(feature, REFERENCE, np.random.default_rng([7, feature])) for feature in FAMILIES]
    )


def _otel(references: Matrix, windows: Matrix, per_family: int) -> float:
    policy, flagged = DriftPolicy(), 0
    for f in range(len(FAMILIES)):
        ref = references[:, f]
        bins = NumericBins.fit(ref)
        profile = NumericFeatureProfile("x", bins, bins.bin(ref).counts)
        for column in windows[:, f * per_family : (f + 1) * per_family].T:
            flagged += profile.decide(bins.count(column)[0], policy).verdict == "drift"
    return float(flagged / windows.shape[1])


def _scipy(references: Matrix, windows: Matrix, per_family: int) -> float:
    flagged = 0
    for i, column in enumerate(windows.T):
        test = stats.ks_2samp(references[:, i // per_family], column)
        flagged += bool(test.pvalue < SCIPY_ALPHA)
    return float(flagged / windows.shape[1])


def _evidently(
    python: str, references: Matrix, windows: Matrix, per_family: int, folder: Path
) -> float:
    ref = np.repeat(references, per_family, axis=1)  # column i: the reference of window i
    np.save(folder / "ref.npy", ref)
    np.save(folder / "cur.npy", windows)
    result = folder / "result.json"
    command = [python, str(HERE / "_drift_tools.py"), "evidently-windows",
               "--reference", str(folder / "ref.npy"), "--current", str(folder / "cur.npy"),
               "--result", str(result)]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=1800, check=False,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )  # fmt: skip
    if done.returncode:
        raise RuntimeError(done.stderr.strip().splitlines()[-1])
    features = json.loads(result.read_text(encoding="utf-8"))["features"]
    return float(sum(f["drift"] for f in features.values()) / windows.shape[1])


def measure_signal(windows: int, evidently: str | None) -> Signal:
    """Flag rates of every tool on the same windows (``windows`` per family, size, shift)."""
    references = _references()
    flagged: dict[tuple[str, int, float], float] = {}
    note = "not run" if evidently is None else ""
    with tempfile.TemporaryDirectory(prefix="otel-ml-signal-") as tmp:
        for size in SIZES:
            for shift in SHIFTS:
                current = _windows(size, shift, windows)
                flagged[("otel_ml", size, shift)] = _otel(references, current, windows)
                flagged[("scipy", size, shift)] = _scipy(references, current, windows)
                if evidently is None or note:
                    continue
                try:
                    got = _evidently(evidently, references, current, windows, Path(tmp))
                    flagged[("Evidently", size, shift)] = got
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    note = f"failed: {exc}"
    return Signal(flagged, windows * len(FAMILIES), note)


def signal_table(signal: Signal) -> str:
    """Rows per window size and tool: false alarms, then detections per shift."""
    tools = ("otel_ml", "scipy", "Evidently")
    rows = []
    for size in SIZES:
        for tool in tools:
            if (tool, size, 0.0) not in signal.flagged:
                continue
            cells = [f"{signal.flagged[(tool, size, s)]:.1%}" for s in SHIFTS]
            rows.append([str(size), tool, *cells])
    headers = ["window", "tool", "false alarms (no shift)", "flagged +0.25 sd", "flagged +0.5 sd"]
    note = (
        f"{signal.windows} windows per cell (normal, lognormal and bimodal features alike), "
        f"references of {REFERENCE:,} values; otel_ml: verdict `drift` (default policy); "
        f"scipy: `ks_2samp` p < {SCIPY_ALPHA}; Evidently: `DataDriftPreset` defaults."
    )
    if signal.evidently:
        note += f" Evidently: {signal.evidently}."
    return markdown_table(headers, rows) + "\n\n" + note
