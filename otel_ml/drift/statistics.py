"""Drift statistics computed from bin counts.

Every function compares *reference fractions* (or counts: they are normalised)
with the *current counts* of one window over the same bins. A window with no
values has no drift score: the functions return NaN for it. The scores are
exported as they are; the verdict drawn from them is a statistical decision
that knows the window and reference sizes (:mod:`otel_ml.drift.significance`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from otel_ml.drift.significance import chi_square_test

DEFAULT_EPS: Final = 1e-4
"""Floor for empty-bin fractions in PSI (see :func:`psi`)."""


def _prepare(
    ref_frac: npt.ArrayLike, cur_counts: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float]:
    ref = np.asarray(ref_frac, dtype=np.float64)
    cur = np.asarray(cur_counts, dtype=np.float64)
    if ref.ndim != 1 or ref.shape != cur.shape:
        raise ValueError(f"bin shapes differ or are not 1-D: {ref.shape} vs {cur.shape}")
    if not (np.isfinite(ref).all() and np.isfinite(cur).all()):
        raise ValueError("fractions and counts must be finite")
    total = float(ref.sum())
    if total <= 0 or (ref < 0).any() or (cur < 0).any():
        raise ValueError("fractions and counts must be non-negative with some reference mass")
    return ref / total, cur, float(cur.sum())


def psi(ref_frac: npt.ArrayLike, cur_counts: npt.ArrayLike, eps: float = DEFAULT_EPS) -> float:
    """Population stability index: ``sum((c - r) * ln(c / r))`` over the bins.

    ``r`` and ``c`` are the reference and current fractions, each raised to at
    least ``eps`` without renormalising (the usual guard against empty bins).
    Every term stays >= 0 and an empty bin on both sides contributes 0. Numeric
    features score it on the reference deciles with open-ended first and last
    bins (:func:`drift_scores` ``open_ends``): classic decile PSI.
    """
    ref, cur, n = _prepare(ref_frac, cur_counts)
    if n == 0:
        return math.nan
    r = np.maximum(ref, eps)
    c = np.maximum(cur / n, eps)
    return float(np.sum((c - r) * np.log(c / r)))


def ks_from_counts(ref_fine_frac: npt.ArrayLike, cur_fine_counts: npt.ArrayLike) -> float:
    """Kolmogorov-Smirnov statistic: the largest CDF gap over the bin edges.

    With bins at every reference percentile the gap found at the edges is
    within about one bin's mass of the exact two-sample statistic.
    """
    ref, cur, n = _prepare(ref_fine_frac, cur_fine_counts)
    if n == 0:
        return math.nan
    return float(np.max(np.abs(np.cumsum(ref) - np.cumsum(cur) / n)))


def chi_square(ref_frac: npt.ArrayLike, cur_counts: npt.ArrayLike) -> tuple[float, float]:
    """Pearson goodness of fit of the current counts to ``ref_frac * n``: (statistic, p).

    Bins expecting fewer than 5 values are pooled into one bin, which is merged
    into the smallest other bin while it still expects fewer than 5 (a bin the
    reference never filled never divides by 0); degrees of freedom: the bins
    left minus one. NaN when fewer than two bins are left.
    """
    ref, cur, n = _prepare(ref_frac, cur_counts)
    if n == 0:
        return math.nan, math.nan
    statistic, p_value, _ = chi_square_test(ref, cur)
    return float(statistic), float(p_value)


def jensen_shannon(ref_frac: npt.ArrayLike, cur_counts: npt.ArrayLike) -> float:
    """Jensen-Shannon distance (square root of the base-2 divergence), in [0, 1].

    Needs no smoothing: the mixture is positive wherever either side is.
    """
    ref, cur, n = _prepare(ref_frac, cur_counts)
    if n == 0:
        return math.nan
    q = cur / n
    m = (ref + q) / 2

    def kl_to_mixture(p: npt.NDArray[np.float64]) -> float:
        nz = (p > 0) & (m > 0)  # a subnormal p can halve to m == 0: it contributes nothing
        return float(np.sum(p[nz] * np.log2(p[nz] / m[nz])))

    divergence = (kl_to_mixture(ref) + kl_to_mixture(q)) / 2
    return math.sqrt(min(max(divergence, 0.0), 1.0))


@dataclass(frozen=True)
class DriftScores:
    """Drift scores of one feature over one window of ``n`` values.

    ``ks`` is None for categorical features, whose bins have no order.
    """

    n: int
    psi: float
    chi2: float
    chi2_p: float
    js: float
    ks: float | None = None

    def methods(self) -> dict[str, float]:
        """Score per ``ml.drift.method`` value (``psi``, ``ks``, ``chi2``, ``js``)."""
        scores = {"psi": self.psi, "chi2": self.chi2, "js": self.js}
        if self.ks is not None:
            scores["ks"] = self.ks
        return scores


def drift_scores(
    ref_coarse_frac: npt.ArrayLike,
    cur_coarse_counts: npt.ArrayLike,
    ref_fine_frac: npt.ArrayLike | None = None,
    cur_fine_counts: npt.ArrayLike | None = None,
    eps: float = DEFAULT_EPS,
    open_ends: bool = False,
) -> DriftScores:
    """All scores of one window: PSI, chi-square and JS on coarse bins, KS on fine bins.

    With ``open_ends`` (numeric features), PSI counts the out-of-range bins
    (first and last) in the end deciles, as classic decile PSI does.
    """
    statistic, p_value = chi_square(ref_coarse_frac, cur_coarse_counts)
    psi_ref, psi_cur = ref_coarse_frac, cur_coarse_counts
    if open_ends:
        psi_ref, psi_cur = _merge_ends(ref_coarse_frac), _merge_ends(cur_coarse_counts)
    ks = None
    if ref_fine_frac is not None and cur_fine_counts is not None:
        ks = ks_from_counts(ref_fine_frac, cur_fine_counts)
    return DriftScores(
        n=int(np.sum(cur_coarse_counts)),
        psi=psi(psi_ref, psi_cur, eps),
        chi2=statistic,
        chi2_p=p_value,
        js=jensen_shannon(ref_coarse_frac, cur_coarse_counts),
        ks=ks,
    )


def _merge_ends(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    x = np.asarray(values, dtype=np.float64)
    if x.size < 4:
        return x
    inner: npt.NDArray[np.float64] = x[1:-1].copy()
    inner[0] += x[0]
    inner[-1] += x[-1]
    return inner
