"""Reference distributions of single features: the bins and the counts in them.

A numeric feature keeps fine bins at reference quantiles (with its mean and
standard deviation); a categorical one its top categories plus a tail. Both
score a window's counts against themselves (:mod:`otel_ml.drift.statistics`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, TypeAlias

import numpy as np

from otel_ml.drift.binning import (
    BinnedBatch,
    CategoricalBins,
    FloatArray,
    IntArray,
    NumericBins,
)
from otel_ml.drift.significance import (
    Decision,
    DriftPolicy,
    chi2_decision,
    ks_decision,
    missing_decision,
    smallest_window,
)
from otel_ml.drift.statistics import DEFAULT_EPS, DriftScores, drift_scores, ks_from_counts

Kind = Literal["numeric", "categorical"]
JsonScalar: TypeAlias = str | int | float | bool | None


@dataclass(frozen=True, eq=False)
class NumericFeatureProfile:
    """Reference distribution of one numeric feature over its fine bins."""

    name: str
    bins: NumericBins
    fine_counts: IntArray
    missing: int = 0
    non_finite: int = 0
    mean: float = 0.0
    std: float = 0.0
    kind: Kind = field(default="numeric", init=False)

    def __post_init__(self) -> None:
        _set_counts(self, "fine_counts", self.bins.n_fine)
        if not (np.isfinite(self.mean) and np.isfinite(self.std)):
            raise ValueError(
                f"feature {self.name!r}: mean {self.mean} and std {self.std} must be finite"
            )

    @property
    def count(self) -> int:
        """Number of finite reference values."""
        return int(self.fine_counts.sum())

    @property
    def min(self) -> float:
        """Smallest finite reference value."""
        return float(self.bins.edges[0])

    @property
    def max(self) -> float:
        """Largest finite reference value."""
        return float(self.bins.edges[-1])

    @cached_property
    def fine_fractions(self) -> FloatArray:
        """Reference fraction per fine bin (underflow and overflow are 0)."""
        return self.fine_counts / self.count

    @cached_property
    def coarse_fractions(self) -> FloatArray:
        """Reference fraction per coarse bin, the bins exported per feature."""
        return np.asarray(self.bins.coarse(self.fine_counts) / self.count, dtype=np.float64)

    def bin(self, values: Any) -> BinnedBatch:
        """Bin a 1-D batch of this feature's values."""
        return self.bins.bin(values)

    def drift_scores(self, fine_counts: IntArray, eps: float = DEFAULT_EPS) -> DriftScores:
        """Scores of a window's fine counts against this reference."""
        return drift_scores(
            self.coarse_fractions,
            self.bins.coarse(fine_counts),
            self.fine_fractions,
            fine_counts,
            eps,
            open_ends=True,
        )

    def smallest_window(self, policy: DriftPolicy) -> int | None:
        """The smallest window KS can judge against this reference (see significance)."""
        return smallest_window(self.count, policy.drift_rate)

    def decide(self, fine_counts: IntArray, policy: DriftPolicy, min_count: int = 0) -> Decision:
        """The KS decision on a window's fine counts; no verdict below the smallest
        useful window or ``min_count``."""
        n = int(fine_counts.sum())
        d = ks_from_counts(self.fine_fractions, fine_counts) if n else float("nan")
        smallest = self.smallest_window(policy)
        floor = None if smallest is None else max(smallest, min_count)
        return ks_decision(d, n, self.count, policy, floor)

    @property
    def invalid(self) -> int:
        """Reference values that were missing or not finite."""
        return self.missing + self.non_finite


@dataclass(frozen=True, eq=False)
class CategoricalFeatureProfile:
    """Reference distribution of one categorical feature: top-K plus ``__other__``."""

    name: str
    bins: CategoricalBins
    counts: IntArray
    missing: int = 0
    kind: Kind = field(default="categorical", init=False)

    def __post_init__(self) -> None:
        _set_counts(self, "counts", self.bins.n_fine)

    @property
    def count(self) -> int:
        """Number of non-missing reference values."""
        return int(self.counts.sum())

    @property
    def fine_counts(self) -> IntArray:
        """Counts per bin (categorical features have one resolution)."""
        return self.counts

    @cached_property
    def coarse_fractions(self) -> FloatArray:
        """Reference fraction per bin, in the order of ``bins.labels``."""
        return self.counts / self.count

    def bin(self, values: Any) -> BinnedBatch:
        """Bin a 1-D batch of this feature's values."""
        return self.bins.bin(values)

    def drift_scores(self, fine_counts: IntArray, eps: float = DEFAULT_EPS) -> DriftScores:
        """Scores of a window's counts against this reference (no KS: no order)."""
        return drift_scores(self.coarse_fractions, fine_counts, eps=eps)

    def smallest_window(self, policy: DriftPolicy) -> int | None:
        """The smallest window the chi-square test can judge (see significance)."""
        return smallest_window(self.count, policy.drift_rate, self.coarse_fractions)

    def decide(self, fine_counts: IntArray, policy: DriftPolicy, min_count: int = 0) -> Decision:
        """The pooled chi-square decision on a window's counts."""
        smallest = self.smallest_window(policy)
        floor = None if smallest is None else max(smallest, min_count)
        return chi2_decision(self.coarse_fractions, self.count, fine_counts, policy, floor)

    @property
    def invalid(self) -> int:
        """Reference values that were missing."""
        return self.missing


FeatureProfile: TypeAlias = NumericFeatureProfile | CategoricalFeatureProfile


def decide_missing(
    feature: FeatureProfile, invalid: int, rows: int, policy: DriftPolicy, min_count: int = 0
) -> Decision:
    """The decision on a window's share of missing (or unusable) values of ``feature``:
    ``invalid`` of ``rows`` against the reference's share."""
    smallest = feature.smallest_window(policy)
    floor = None if smallest is None else max(smallest, min_count)
    ref_rows = feature.count + feature.invalid
    return missing_decision(invalid, rows, feature.invalid, ref_rows, policy, floor)


def _set_counts(profile: object, name: str, n_bins: int) -> None:
    """Check the counts field ``name`` of a frozen feature profile and store it as int64."""
    counts = np.asarray(getattr(profile, name), dtype=np.int64)
    if counts.shape != (n_bins,) or (counts < 0).any() or counts.sum() == 0:
        raise ValueError(f"{name} must be {n_bins} non-negative counts, not all 0")
    object.__setattr__(profile, name, counts)
