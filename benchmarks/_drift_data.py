"""The data set the drift tools are compared on: 20 numeric features, some shifted.

Reference and current rows are drawn from a fixed seed, written once as
``.npy`` files and read by every tool's subprocess, so that otel_ml, scipy and
Evidently (whose virtualenv may hold another numpy) see the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

FEATURES = 20
SEED = 20_240_601
FAMILIES = ("normal", "lognormal", "bimodal")

Column = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Shift:
    """How one feature's current values differ from its reference values."""

    label: str
    material: bool
    apply: Callable[[Column, int], Column]
    bimodal_weight: float = 0.5


def family(feature: int) -> str:
    """The distribution family of feature ``feature``."""
    return FAMILIES[feature % len(FAMILIES)]


def _scale(feature: int) -> float:
    return 1.0 + feature / 10


def draw(feature: int, n: int, rng: np.random.Generator, weight: float = 0.5) -> Column:
    """``n`` unshifted values of a feature; ``weight``: share of a bimodal's first mode."""
    kind = family(feature)
    if kind == "normal":
        return rng.normal(feature, _scale(feature), n)
    if kind == "lognormal":
        return rng.lognormal(0.0, 0.5 + feature / 40, n)
    first = rng.random(n) < weight
    return np.where(first, rng.normal(feature - 2, 1.0, n), rng.normal(feature + 2, 0.7, n))


SHIFTS: dict[int, Shift] = {
    0: Shift("mean +0.5 sd", True, lambda x, f: x + 0.5 * _scale(f)),
    4: Shift("scale x1.5", True, lambda x, f: x * 1.5),
    8: Shift("unit change x1000", True, lambda x, f: x * 1000),
    12: Shift("sd x1.5", True, lambda x, f: f + (x - f) * 1.5),
    17: Shift("mode weights 50/50 -> 70/30", True, lambda x, f: x, bimodal_weight=0.7),
    15: Shift("mean +0.05 sd (negligible)", False, lambda x, f: x + 0.05 * _scale(f)),
}
"""Shifted features of the current rows; every other feature is unshifted."""


def feature_name(feature: int) -> str:
    """The column name of feature ``feature`` (``f00`` .. ``f19``)."""
    return f"f{feature:02d}"


def true_shift(feature: int) -> str:
    """What was done to a feature's current values, for the table."""
    shift = SHIFTS.get(feature)
    return shift.label if shift else "none"


def reference_rows(n: int) -> npt.NDArray[np.float64]:
    """``n`` reference rows (n x FEATURES), C-ordered like a model's input."""
    rng = np.random.default_rng(SEED)
    out = np.empty((n, FEATURES))
    for f in range(FEATURES):
        out[:, f] = draw(f, n, rng)
    return out


def current_rows(n: int, chunk: int = 0) -> npt.NDArray[np.float64]:
    """``n`` current rows with :data:`SHIFTS` applied; ``chunk`` picks a fresh draw."""
    rng = np.random.default_rng([SEED, 1, chunk])
    out = np.empty((n, FEATURES))
    for f in range(FEATURES):
        shift = SHIFTS.get(f)
        x = draw(f, n, rng, shift.bimodal_weight if shift else 0.5)
        out[:, f] = shift.apply(x, f) if shift else x
    return out


def write_current(path: Path, rows: int, chunk_rows: int) -> None:
    """Write ``rows`` current rows to ``path`` as .npy, ``chunk_rows`` at a time.

    The first ``chunk_rows`` rows equal ``current_rows(chunk_rows)``, so a short
    file is the head of a long one.
    """
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(rows, FEATURES))
    for index, start in enumerate(range(0, rows, chunk_rows)):
        stop = min(start + chunk_rows, rows)
        out[start:stop] = current_rows(stop - start, index)
    out.flush()
    del out
