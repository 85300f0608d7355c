"""When a drift score is news: null distributions, critical values and verdicts.

A verdict is a statistical decision per feature-window. ``drift`` means both

* the shift is *significant*: a window drawn from the reference distribution
  would show a statistic this large with probability at most
  ``DriftPolicy.drift_rate`` (``warn_rate`` for ``warn``), for the actual
  window size ``n``, reference size ``m`` and bins; and
* it is *large*: its effect size reaches ``DriftPolicy.min_effect``, so a huge
  window does not alarm on a trivial shift.

The tests, chosen because their null distributions depend only on ``n``, ``m``
and the bins, so nothing has to be resampled or stored in the profile:

* numeric features: the two-sample Kolmogorov-Smirnov statistic ``D`` on the
  fine bins, with the asymptotic Kolmogorov distribution at the effective size
  ``ne = n m / (n + m)`` and Stephens' small-sample correction
  ``(sqrt(ne) + 0.12 + 0.11 / sqrt(ne)) D``. Ties and bins can only lower the
  binned ``D`` (see :mod:`otel_ml.drift.binning`), so the false-alarm rate is
  at most the configured one; effect size: ``D`` itself.
* categorical features: Pearson's chi-square on the categories, bins expecting
  fewer than 5 values pooled into one (merged into the smallest other bin while
  it still expects fewer than 5); under no drift it is ``(1 + n / m)`` times a
  chi-square with ``bins - 1`` degrees of freedom (the reference fractions are
  a sample too); effect size: the total-variation distance (the share of
  values that moved).
* missing values, per feature: the window's share of missing or unusable values
  against the reference's, a two-proportion z-test; effect size: the absolute
  change of the share.

A window is *too small* below :func:`smallest_window`: there no test can tell a
shift moving 20% of the values from noise at the drift level, and it gets no
verdict. Every function here takes numpy arrays, so many windows are decided at
once (the false-alarm tests and the benchmark rely on it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

Verdict = Literal["ok", "warn", "drift"]
FloatArray = npt.NDArray[np.float64]

LARGE_EFFECT: Final = 0.2
"""The shift (KS or total-variation distance) a useful window must be able to detect."""
MIN_EXPECTED: Final = 5.0
"""Chi-square bins expecting fewer values than this are pooled."""


@dataclass(frozen=True)
class DriftPolicy:
    """False-alarm rates per feature-window and the minimum effect of a verdict."""

    drift_rate: float = 0.01
    warn_rate: float = 0.05
    min_effect: float = 0.05

    def __post_init__(self) -> None:
        if not 0 < self.drift_rate <= self.warn_rate < 1:
            raise ValueError("drift rates need 0 < drift_rate <= warn_rate < 1")
        if not 0 <= self.min_effect < 1:
            raise ValueError("min_effect must be in [0, 1)")

    def verdicts(self, p_value: npt.ArrayLike, effect: npt.ArrayLike) -> npt.NDArray[np.str_]:
        """Verdict per window: ``drift``, ``warn`` or ``ok`` (NaN p-values are ``ok``)."""
        p = np.asarray(p_value, dtype=np.float64)
        large = np.asarray(effect, dtype=np.float64) >= self.min_effect
        out = np.where(large & (p <= self.warn_rate), "warn", "ok")
        return np.where(large & (p <= self.drift_rate), "drift", out)

    def verdict(self, p_value: float, effect: float) -> Verdict:
        """:meth:`verdicts` of one window."""
        return _verdict(str(self.verdicts(p_value, effect)))


def _verdict(text: str) -> Verdict:
    if text == "drift":
        return "drift"
    return "warn" if text == "warn" else "ok"


def _stephens(n: npt.ArrayLike, m: float) -> FloatArray:
    n = np.asarray(n, dtype=np.float64)
    root = np.sqrt(n * m / (n + m))
    return np.asarray(root + 0.12 + 0.11 / root, dtype=np.float64)


def _kolmogorov_quantile(alpha: float) -> float:
    # Q(x) = 2 sum (-1)^(k-1) exp(-2 k^2 x^2); the k = 2 term is below 1e-6 here.
    return math.sqrt(-math.log(alpha / 2) / 2)


def ks_critical(n: npt.ArrayLike, m: float, alpha: float) -> FloatArray:
    """The KS distance that a window of ``n`` values reaches with probability
    ``alpha`` under no drift, against ``m`` reference values."""
    return _kolmogorov_quantile(alpha) / _stephens(n, m)


def ks_p_value(d: npt.ArrayLike, n: npt.ArrayLike, m: float) -> FloatArray:
    """Probability of a KS distance of at least ``d`` under no drift."""
    x = np.asarray(d, dtype=np.float64) * _stephens(n, m)
    k = np.arange(1, 101, dtype=np.float64).reshape((-1,) + (1,) * x.ndim)
    series = 2 * np.sum((-1) ** (k - 1) * np.exp(-2 * k**2 * x**2), axis=0)
    p = np.where(x < 0.3, 1.0, np.clip(series, 0.0, 1.0))
    return np.where(np.isnan(x), np.nan, p)


def pooled_groups(ref_frac: npt.ArrayLike, n: int) -> npt.NDArray[np.intp]:
    """Chi-square group of each bin for a window of ``n`` values (see the module docstring)."""
    ref = np.asarray(ref_frac, dtype=np.float64)
    expected = ref / ref.sum() * n
    sparse = expected < MIN_EXPECTED
    groups = np.cumsum(~sparse) - 1
    k = int((~sparse).sum())
    groups[sparse] = k
    if sparse.any() and expected[sparse].sum() < MIN_EXPECTED and k:
        smallest = int(np.argmin(np.where(sparse, np.inf, expected)))
        groups[sparse] = groups[smallest]
    return np.asarray(groups, dtype=np.intp)


def chi_square_test(
    ref_frac: npt.ArrayLike, counts: npt.ArrayLike, m: float = math.inf
) -> tuple[FloatArray, FloatArray, int]:
    """Pooled Pearson chi-square of windows of equal size: (statistic, p-value, dof).

    ``counts`` is one window's counts or a matrix of windows (rows) with one
    total; with fewer than two groups left there is no test (NaN). The
    reference fractions come from ``m`` values, themselves a sample: the
    statistic's null distribution is ``(1 + n / m)`` times chi-square.
    """
    c = np.asarray(counts, dtype=np.float64)
    rows = c.reshape(-1, c.shape[-1])
    n = round(float(rows[0].sum())) if rows.size else 0
    ref = np.asarray(ref_frac, dtype=np.float64)
    groups = pooled_groups(ref, n)
    g = int(groups.max()) + 1
    one_hot = np.zeros((ref.size, g))
    one_hot[np.arange(ref.size), groups] = 1.0
    observed = rows @ one_hot
    expected = (ref / ref.sum() * n) @ one_hot
    if g < 2 or n == 0:
        nan = np.full(rows.shape[0], np.nan)
        return nan.reshape(c.shape[:-1]), nan.reshape(c.shape[:-1]), 0
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(expected > 0, (observed - expected) ** 2 / expected, np.inf)
    terms = np.where(observed == expected, 0.0, terms)
    statistic = terms.sum(axis=1)
    # Imported here: scipy.special takes a tenth of a second to import.
    from scipy.special import chdtrc

    p = np.asarray(chdtrc(g - 1, statistic / (1 + n / m)), dtype=np.float64)
    return statistic.reshape(c.shape[:-1]), p.reshape(c.shape[:-1]), g - 1


def chi_square_critical(dof: int, alpha: float) -> float:
    """The chi-square statistic reached with probability ``alpha`` under no drift."""
    from scipy.special import chdtri

    return float(chdtri(dof, alpha)) if dof > 0 else math.nan


def total_variation(ref_frac: npt.ArrayLike, counts: npt.ArrayLike) -> FloatArray:
    """Half the L1 distance between the fractions: the share of values that moved."""
    c = np.asarray(counts, dtype=np.float64)
    ref = np.asarray(ref_frac, dtype=np.float64)
    n = c.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        return np.asarray(np.abs(c / n - ref / ref.sum()).sum(axis=-1) / 2, dtype=np.float64)


def share_test(
    k: npt.ArrayLike, n: npt.ArrayLike, ref_k: int, ref_n: int
) -> tuple[FloatArray, FloatArray]:
    """Two-proportion z-test of ``k`` of ``n`` against ``ref_k`` of ``ref_n``: (p, |change|)."""
    k_ = np.asarray(k, dtype=np.float64)
    n_ = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        share, ref_share = k_ / n_, ref_k / ref_n
        pooled = (k_ + ref_k) / (n_ + ref_n)
        sd = np.sqrt(pooled * (1 - pooled) * (1 / n_ + 1 / ref_n))
        z = np.abs(share - ref_share) / sd
    from scipy.special import erfc

    p = np.where(sd > 0, erfc(z / math.sqrt(2)), np.where(n_ > 0, 1.0, np.nan))
    return np.asarray(p, dtype=np.float64), np.asarray(np.abs(share - ref_share), np.float64)


def smallest_window(m: int, alpha: float, ref_frac: npt.ArrayLike | None = None) -> int | None:
    """The smallest window that can show a shift of :data:`LARGE_EFFECT` at level
    ``alpha`` against ``m`` reference values; None when even a huge one cannot.

    For categorical features (``ref_frac`` given), the chi-square test also
    needs two bins expecting :data:`MIN_EXPECTED` values each.
    """
    lam = _kolmogorov_quantile(alpha) / LARGE_EFFECT
    # sqrt(ne) + 0.12 + 0.11 / sqrt(ne) = lam, solved for sqrt(ne).
    root = (lam - 0.12 + math.sqrt((lam - 0.12) ** 2 - 0.44)) / 2
    ne = root**2
    if ne >= m:
        return None
    n = math.ceil(ne * m / (m - ne) - 1e-9)
    if ref_frac is not None:
        ref = np.sort(np.asarray(ref_frac, dtype=np.float64) / np.sum(ref_frac))[::-1]
        if ref.size < 2 or ref[1] <= 0:
            return None
        n = max(n, math.ceil(MIN_EXPECTED / ref[1] - 1e-9))
    return n


@dataclass(frozen=True)
class Decision:
    """One test of one feature-window and its verdict (None: too small to judge).

    ``drift_at``/``warn_at`` are the published thresholds for this window: of
    the KS distance or the chi-square statistic, the value reached with
    probability ``drift_rate``/``warn_rate`` under no drift; for the missing
    test, of the change of the share (``effect``; ``statistic`` is the share).
    KS and missing thresholds are never below ``min_effect``, which both
    levels also require of ``effect``.
    """

    test: Literal["ks", "chi2", "missing"]
    n: int
    statistic: float
    p_value: float
    effect: float
    drift_at: float
    warn_at: float
    verdict: Verdict | None


def ks_decision(d: float, n: int, m: int, policy: DriftPolicy, smallest: int | None) -> Decision:
    """The KS :class:`Decision` of a window of ``n`` values at distance ``d``."""
    p = float(ks_p_value(d, n, m)) if n else math.nan
    at = [max(float(ks_critical(n, m, a)), policy.min_effect) if n else math.nan
          for a in (policy.drift_rate, policy.warn_rate)]  # fmt: skip
    judged = smallest is not None and n >= smallest
    return Decision("ks", n, d, p, d, at[0], at[1], policy.verdict(p, d) if judged else None)


def chi2_decision(
    ref_frac: FloatArray, m: int, counts: npt.ArrayLike, policy: DriftPolicy, smallest: int | None
) -> Decision:
    """The pooled chi-square :class:`Decision` of a window's category counts
    against reference fractions of ``m`` values."""
    c = np.asarray(counts, dtype=np.float64)
    n = int(c.sum())
    if n == 0:
        return Decision("chi2", 0, math.nan, math.nan, math.nan, math.nan, math.nan, None)
    statistic, p, dof = chi_square_test(ref_frac, c, m)
    effect = float(total_variation(ref_frac, c))
    scale = 1 + n / m
    at = [chi_square_critical(dof, a) * scale for a in (policy.drift_rate, policy.warn_rate)]
    judged = smallest is not None and n >= smallest and dof > 0
    verdict = policy.verdict(float(p), effect) if judged else None
    return Decision("chi2", n, float(statistic), float(p), effect, at[0], at[1], verdict)


def missing_decision(
    k: int, rows: int, ref_k: int, ref_rows: int, policy: DriftPolicy, smallest: int | None
) -> Decision:
    """The :class:`Decision` on the share of missing values: ``k`` of ``rows``
    against ``ref_k`` of ``ref_rows`` in the reference."""
    p, change = (float(v) for v in share_test(k, rows, ref_k, ref_rows))
    share = k / rows if rows else math.nan
    ref_share = ref_k / ref_rows
    sd = math.sqrt(ref_share * (1 - ref_share) * (1 / max(rows, 1) + 1 / ref_rows))
    from scipy.special import erfcinv

    at = [max(float(erfcinv(a)) * math.sqrt(2) * sd, policy.min_effect)
          for a in (policy.drift_rate, policy.warn_rate)]  # fmt: skip
    judged = smallest is not None and rows >= smallest
    verdict = policy.verdict(p, change) if judged else None
    return Decision("missing", rows, share, p, change, at[0], at[1], verdict)
