"""Drift statistics computed from bin counts, and the verdict drawn from them.

Every function compares *reference fractions* (or counts: they are normalised)
with the *current counts* of one window over the same bins. A window with no
values has no drift score: the functions return NaN for it, which no verdict
treats as drift. Effect sizes (PSI, KS, Jensen-Shannon) are what verdicts use;
the chi-square p-value is reported only, because at serving volume it is tiny
for any difference, however irrelevant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

DEFAULT_EPS: Final = 1e-4
"""Floor for empty-bin fractions in PSI and chi-square (see :func:`psi`)."""

Verdict = Literal["ok", "warn", "drift"]


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
    least ``eps`` without renormalising. Every term stays >= 0, an empty bin on
    both sides contributes 0, and a bin the reference never filled (underflow,
    overflow) contributes a bounded term: ``ln(1 / eps) ~ 9.2`` when it
    receives the whole window.
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


def chi_square(
    ref_frac: npt.ArrayLike, cur_counts: npt.ArrayLike, eps: float = DEFAULT_EPS
) -> tuple[float, float]:
    """Pearson goodness of fit of the current counts to ``ref_frac * n``: (statistic, p).

    Bins empty in both the reference and the window carry no information and
    are dropped; reference fractions below ``eps`` are raised to ``eps`` and
    the fractions renormalised, so expected counts are positive and sum to ``n``.
    Degrees of freedom: the bins kept minus one.
    """
    ref, cur, n = _prepare(ref_frac, cur_counts)
    if n == 0:
        return math.nan, math.nan
    keep = (ref > 0) | (cur > 0)
    expected_frac = np.maximum(ref[keep], eps)
    expected = expected_frac / expected_frac.sum() * n
    statistic = float(np.sum((cur[keep] - expected) ** 2 / expected))
    dof = int(keep.sum()) - 1
    # Imported here: scipy.special takes a tenth of a second to import, at every
    # start of a process that loads otel_ml (the launcher's included).
    from scipy.special import chdtrc

    p_value = float(chdtrc(dof, statistic)) if dof > 0 else 1.0  # chi2 survival function
    return statistic, p_value


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
) -> DriftScores:
    """All scores of one window: PSI, chi-square and JS on coarse bins, KS on fine bins."""
    statistic, p_value = chi_square(ref_coarse_frac, cur_coarse_counts, eps)
    ks = None
    if ref_fine_frac is not None and cur_fine_counts is not None:
        ks = ks_from_counts(ref_fine_frac, cur_fine_counts)
    return DriftScores(
        n=int(np.sum(cur_coarse_counts)),
        psi=psi(ref_coarse_frac, cur_coarse_counts, eps),
        chi2=statistic,
        chi2_p=p_value,
        js=jensen_shannon(ref_coarse_frac, cur_coarse_counts),
        ks=ks,
    )


@dataclass(frozen=True)
class DriftThresholds:
    """Effect-size thresholds: reaching a ``*_drift`` one means drift.

    The defaults are the usual PSI rule of thumb (0.1 moderate, 0.25 major)
    and, for KS and JS, a gap that sampling noise in a window of 1000 values
    essentially never reaches.
    """

    psi_warn: float = 0.1
    psi_drift: float = 0.25
    ks_drift: float = 0.1
    js_drift: float = 0.1

    def __post_init__(self) -> None:
        if not 0 < self.psi_warn <= self.psi_drift:
            raise ValueError("thresholds need 0 < psi_warn <= psi_drift")
        if self.ks_drift <= 0 or self.js_drift <= 0:
            raise ValueError("ks_drift and js_drift must be positive")


def verdict(scores: DriftScores, thresholds: DriftThresholds | None = None) -> Verdict:
    """``drift`` if any score reaches its drift threshold, ``warn`` if PSI reaches
    its warn threshold, else ``ok`` (also for NaN scores of an empty window)."""
    t = thresholds or DriftThresholds()
    ks = scores.ks if scores.ks is not None else math.nan
    if scores.psi >= t.psi_drift or ks >= t.ks_drift or scores.js >= t.js_drift:
        return "drift"
    return "warn" if scores.psi >= t.psi_warn else "ok"
