"""What a closed drift window reports, and how windows are configured. No OpenTelemetry here."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from otel_ml.drift.binning import IntArray, NumericBins
from otel_ml.drift.features import FeatureProfile
from otel_ml.drift.significance import Decision, DriftPolicy, Verdict
from otel_ml.drift.statistics import DriftScores


@dataclass(frozen=True)
class WindowConfig:
    """How windows close and when verdicts count.

    ``min_count`` 0 (the default) judges a feature from its smallest useful
    window on; a larger one raises that floor for every feature.
    """

    max_rows: int = 1000
    max_seconds: float = 60.0
    min_count: int = 0
    buffer_rows: int = 256
    policy: DriftPolicy = field(default_factory=DriftPolicy)

    def __post_init__(self) -> None:
        if min(self.max_rows, self.buffer_rows) < 1 or self.min_count < 0 or self.max_seconds <= 0:
            raise ValueError("window sizes and buffer rows must be positive, min_count >= 0")
        if self.min_count > self.max_rows:
            raise ValueError(f"min_count {self.min_count} exceeds max_rows {self.max_rows}")


@dataclass(frozen=True)
class FeatureWindow:
    """One feature in a closed window: its scores (None while too small to judge),
    the decision on its distribution and the one on its share of missing values."""

    name: str
    kind: str
    n: int
    scores: DriftScores | None
    decision: Decision | None
    missing: Decision | None
    smallest_window: int | None
    coarse_counts: IntArray
    reference_fractions: npt.NDArray[np.float64]
    bin_labels: tuple[str, ...]
    issues: dict[str, int]

    @property
    def verdict(self) -> Verdict | None:
        """The distribution verdict; None when the window is too small (or unscored)."""
        return None if self.decision is None else self.decision.verdict

    @property
    def too_small(self) -> bool:
        """Scored but below the size where the test could tell drift from noise."""
        return self.decision is not None and self.decision.verdict is None


@dataclass(frozen=True)
class WindowReport:
    """A closed window: when, how many rows, and every feature's result."""

    index: int
    rows: int
    duration_s: float
    features: tuple[FeatureWindow, ...]

    @property
    def drifted(self) -> list[FeatureWindow]:
        """Features whose distribution or missing-value verdict is ``drift``."""
        return [
            f
            for f in self.features
            if f.verdict == "drift" or (f.missing is not None and f.missing.verdict == "drift")
        ]


def bin_labels(feature: FeatureProfile) -> tuple[str, ...]:
    """Labels of a feature's coarse bins: ``lt:<edge>``, ``<a>..<b>``, ``ge:<edge>``
    for numeric features, the categories for categorical ones. Edges get the
    fewest significant digits (4 to 10) that keep every label distinct."""
    if not isinstance(feature.bins, NumericBins):
        return feature.bins.labels
    for digits in (4, 6, 8, 10):
        edges = [f"{e:.{digits}g}" for e in feature.bins.coarse_edges]
        inner = [f"{a}..{b}" for a, b in itertools.pairwise(edges)]
        labels = (f"lt:{edges[0]}", *inner, f"ge:{edges[-1]}")
        if len(set(labels)) == len(labels) == feature.bins.n_coarse:
            return labels
    return tuple(f"bin{i:02d}" for i in range(feature.bins.n_coarse))
