"""Map feature values to fixed bins with numpy, counting data-quality issues.

Numeric features have *fine* bins whose edges are the distinct reference
quantiles ``u[0] = min < u[1] < ... < u[k-1] = max`` (500 by default) and the
float just above every *atom* (a value at two quantiles: zeros of zero-inflated
data), which makes the atom a point bin. In order, the fine bins are underflow
(``x < min``), ``[u[0], u[1])``, ..., the point ``{max}`` and overflow
(``x > max``). Fine bins feed the KS statistic: inside a bin the exact CDF gap
differs from the gap at its edges by at most the bin's reference mass outside
an atom, so binned KS is within ``1 / n_bins`` (0.002) of the exact two-sample
statistic, never above it. Contiguous groups of fine bins form the *coarse*
bins (deciles by default, underflow and overflow kept apart) that PSI,
chi-square and Jensen-Shannon use: on fine bins those measure mostly noise.

Categorical features have one bin per top-K (50 by default) reference
category plus ``__other__``, which holds the rest and unseen categories. Bad
values never raise: missing (None, NaN), non-finite and wrongly typed values
are counted per :data:`otel_ml.semconv.DATA_ISSUES` and left out of the bins;
out-of-range values are binned *and* counted.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

import numpy as np
import numpy.typing as npt

from otel_ml.drift.quantiles import coarse_starts, inverted_cdf_indexes, with_atoms
from otel_ml.semconv import DATA_ISSUES, OTHER_LABEL, UNPRINTABLE

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MISSING: Final = DATA_ISSUES.index("missing")
NON_FINITE: Final = DATA_ISSUES.index("non_finite")
OUT_OF_RANGE: Final = DATA_ISSUES.index("out_of_range")
UNSEEN: Final = DATA_ISSUES.index("unseen_category")
TYPE: Final = DATA_ISSUES.index("type")

# pandas' missing markers, recognised by type name so pandas stays optional.
_NA_TYPE_NAMES: Final = frozenset({"NAType", "NaTType"})
_NUMBER_TYPES: Final = (int, float, bool, np.integer, np.floating, np.bool_)


@dataclass(frozen=True, eq=False)
class BinnedBatch:
    """One feature's batch: counts per fine bin, and data-quality issue counts."""

    counts: IntArray
    issue_array: IntArray = field(repr=False)

    @property
    def issues(self) -> dict[str, int]:
        """Non-zero issue counts keyed by issue kind (``missing``, ``type``, ...)."""
        return {kind: int(n) for kind, n in zip(DATA_ISSUES, self.issue_array, strict=True) if n}


def _is_na(value: object) -> bool:
    return type(value).__name__ in _NA_TYPE_NAMES


def _to_float(value: object) -> float | None:
    """``value`` as a float (NaN when missing), or None when it is not a number."""
    if value is None or _is_na(value):
        return math.nan
    if isinstance(value, (str, bytes)) or not isinstance(value, _NUMBER_TYPES):
        return None
    try:
        return float(value)
    except OverflowError:  # an int beyond the float range
        return math.inf if value > 0 else -math.inf


def coerce_numeric(values: Any) -> tuple[FloatArray, int]:
    """Convert a 1-D batch of one numeric feature to float64, and count type issues.

    Missing values (None, NaN, pandas NA) become NaN. Values that are not
    numbers (strings included, even ``"1.5"``) also become NaN and are counted
    in the returned type-issue count, so ``isnan(x).sum() - type_issues`` is the
    number of missing values.
    """
    arr = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"expected a 1-D batch of values, got shape {arr.shape}")
    if arr.dtype.kind in "fiub":
        return arr.astype(np.float64, copy=False), 0
    if arr.dtype.kind != "O":  # strings, bytes, dates: none of it is a number
        return np.full(arr.shape, math.nan), int(arr.size)
    if all(t in (float, int, type(None)) for t in set(map(type, arr))):
        try:
            return arr.astype(np.float64), 0
        except OverflowError:
            pass
    floats = [_to_float(v) for v in arr]
    out = np.fromiter((math.nan if f is None else f for f in floats), np.float64, len(floats))
    return out, sum(f is None for f in floats)


def _search_edges(edges: FloatArray) -> FloatArray:
    # Appending the float just above max makes {max} a bin and x > max overflow.
    return np.append(edges, np.nextafter(edges[-1], math.inf))


@dataclass(frozen=True, eq=False)
class NumericBins:
    """Fine and coarse bins of one numeric feature (see the module docstring).

    ``coarse_starts[i]`` is the first fine bin of coarse bin ``i``; the first
    two coarse bins start at 0 (underflow) and 1, the last one is overflow.
    """

    edges: FloatArray
    coarse_starts: IntArray
    _search: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        edges = np.asarray(self.edges, dtype=np.float64)
        starts = np.asarray(self.coarse_starts, dtype=np.int64)
        if edges.ndim != 1 or edges.size == 0 or not np.isfinite(edges).all():
            raise ValueError("edges must be a non-empty 1-D array of finite numbers")
        if np.any(np.diff(edges) <= 0):
            raise ValueError("edges must be strictly increasing")
        last = edges.size + 1
        if (
            starts.ndim != 1
            or starts.size < 3
            or list(starts[:2]) != [0, 1]
            or starts[-1] != last
            or np.any(np.diff(starts) <= 0)
        ):
            raise ValueError(f"coarse_starts must rise strictly from [0, 1, ...] to {last}")
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "coarse_starts", starts)
        object.__setattr__(self, "_search", _search_edges(edges))

    @classmethod
    def fit(cls, values: npt.ArrayLike, n_bins: int = 500, n_coarse_bins: int = 10) -> NumericBins:
        """Bins at the quantiles of finite reference ``values`` (equal edges merged)."""
        x = np.asarray(values, dtype=np.float64)
        return cls.fit_sorted(np.sort(x[np.isfinite(x)]), n_bins, n_coarse_bins)[0]

    @classmethod
    def fit_sorted(
        cls, xs: FloatArray, n_bins: int = 500, n_coarse_bins: int = 10
    ) -> tuple[NumericBins, IntArray]:
        """:meth:`fit` on sorted finite values ``xs``, and the fine counts of ``xs``.

        Quantiles are read off by index (as numpy's ``inverted_cdf``) and bins
        counted by locating the edges: cheaper than partitioning and binning.
        """
        if n_bins < 1 or n_coarse_bins < 1:
            raise ValueError("n_bins and n_coarse_bins must be at least 1")
        if xs.size == 0:
            raise ValueError("no finite values to fit numeric bins on")
        # + 0.0 turns -0.0 into 0.0: the sort leaves the two zeros in no set order.
        picked = xs[inverted_cdf_indexes(xs.size, n_bins)] + 0.0
        edges = with_atoms(picked)
        counts = np.diff(np.searchsorted(xs, _search_edges(edges), side="left"), prepend=0)
        counts = np.append(counts, xs.size - counts.sum()).astype(np.int64)
        return cls(edges, coarse_starts(counts / xs.size, n_coarse_bins, edges)), counts

    @property
    def n_fine(self) -> int:
        """Number of fine bins, underflow and overflow included."""
        return int(self.edges.size + 2)

    @property
    def n_coarse(self) -> int:
        """Number of coarse bins, underflow and overflow included."""
        return int(self.coarse_starts.size)

    @property
    def coarse_edges(self) -> FloatArray:
        """Boundaries ``b``: coarse bin ``i + 1`` is ``[b[i], b[i+1])``, the last closed.

        Coarse bin 0 is underflow (``x < b[0]``) and the last is overflow (``x > b[-1]``).
        """
        return np.append(self.edges[self.coarse_starts[1:-1] - 1], self.edges[-1])

    def coarse(self, fine_counts: npt.ArrayLike) -> npt.NDArray[Any]:
        """Sum fine-bin counts (or fractions) into the coarse bins."""
        fine = np.asarray(fine_counts)
        if fine.shape != (self.n_fine,):
            raise ValueError(f"expected {self.n_fine} fine counts, got shape {fine.shape}")
        return np.add.reduceat(fine, self.coarse_starts)

    def count(self, x: FloatArray, type_issues: int = 0) -> tuple[IntArray, IntArray]:
        """Fine counts and the issue array of float values ``x`` (see coerce_numeric)."""
        counts, issues = count_columns([self._search], x.reshape(1, -1), np.array([type_issues]))
        return counts, issues[0]

    def bin(self, values: Any) -> BinnedBatch:
        """Bin a 1-D batch of this feature's values; bad values are counted, not raised."""
        x, type_issues = coerce_numeric(values)
        return BinnedBatch(*self.count(x, type_issues))


def category_key(value: object) -> str | None:
    """The category label of ``value``, or None when it is missing.

    Integral floats share the label of the int (``3.0`` -> ``"3"``), so a
    column that pandas turned into floats still matches its integer categories.
    """
    if value.__class__ is str:
        return value
    if value is None or _is_na(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if math.isnan(f):
            return None
        return str(int(f)) if f.is_integer() and abs(f) < 2**53 else repr(f)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    try:
        return str(value)
    except Exception:  # an object that cannot name itself is no known category
        return UNPRINTABLE  # then unseen: a profile never has it


def category_counts(values: Iterable[object]) -> Counter[str | None]:
    """How often each :func:`category_key` occurs in ``values`` (None counts missing).

    Equal values are counted together first unless equal values could have
    different keys (``True == 1``, ``2**60 == 2.0**60``): mixed types.
    """
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        uniques, n = np.unique(values, return_counts=True)
        raw: Mapping[Any, int] = dict(zip(uniques.tolist(), n.tolist(), strict=True))
    else:
        if isinstance(values, np.ndarray) and values.dtype.kind in "US":
            values = values.tolist()  # Python strings hash faster than numpy sorts them
        items = values if isinstance(values, (np.ndarray, list, tuple)) else list(values)
        mixed = set(map(type, items)) - {str, bytes, type(None)} not in ({int}, {float}, set())
        raw = Counter(map(category_key, items) if mixed else items)  # keys key themselves
    freq: Counter[str | None] = Counter()
    for value, count in raw.items():
        freq[category_key(value)] += count
    return freq


@dataclass(frozen=True, eq=False)
class CategoricalBins:
    """Top-K categories (bins ``0..K-1``) plus ``__other__`` (bin ``K``).

    ``tail`` holds the other reference categories, so that a value outside both
    is counted as ``unseen_category``; it is None when the reference had too
    many distinct values to keep, and then unseen values are not detected.
    """

    categories: tuple[str, ...]
    tail: tuple[str, ...] | None = ()
    _lookup: dict[str | None, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        known = list(self.categories) + list(self.tail or ())
        if len(set(known)) != len(known) or OTHER_LABEL in self.categories:
            raise ValueError(f"categories must be distinct and must not contain {OTHER_LABEL!r}")
        k = len(self.categories)
        lookup: dict[str | None, int] = dict.fromkeys(self.tail or (), k)
        lookup.update({c: i for i, c in enumerate(self.categories)})
        lookup[OTHER_LABEL] = k
        lookup[None] = k + 1
        object.__setattr__(self, "_lookup", lookup)

    @classmethod
    def fit(
        cls, values: Iterable[object], top_k: int = 50, max_tail: int = 1000
    ) -> CategoricalBins:
        """The ``top_k`` most frequent categories of ``values`` (ties by label)."""
        return cls.from_counts(category_counts(values), top_k, max_tail)

    @classmethod
    def from_counts(
        cls, counts: Mapping[str | None, int], top_k: int = 50, max_tail: int = 1000
    ) -> CategoricalBins:
        """:meth:`fit` on values counted by :func:`category_counts`."""
        if top_k < 1:
            raise ValueError("top_k must be at least 1")
        freq = {k: n for k, n in counts.items() if k is not None and k != OTHER_LABEL and n}
        ranked = sorted(freq, key=lambda c: (-freq[c], c))
        tail = ranked[top_k:]
        return cls(tuple(ranked[:top_k]), tuple(sorted(tail)) if len(tail) <= max_tail else None)

    @property
    def n_fine(self) -> int:
        """Number of bins: the categories plus ``__other__``."""
        return len(self.categories) + 1

    @property
    def labels(self) -> tuple[str, ...]:
        """Bin labels: the categories, then ``__other__``."""
        return (*self.categories, OTHER_LABEL)

    def codes(self, values: Any) -> npt.NDArray[np.intp]:
        """Bin of each value; ``K + 1`` marks missing, ``K + 2`` unseen."""
        unseen = len(self.categories) + (2 if self.tail is not None else 0)
        get = self._lookup.get
        if isinstance(values, np.ndarray) and values.dtype.kind != "O":
            if values.ndim != 1:
                raise ValueError(f"expected a 1-D batch of values, got shape {values.shape}")
            uniques, inverse = np.unique(values, return_inverse=True)
            mapped = [get(category_key(u), unseen) for u in uniques.tolist()]
            return np.asarray(mapped, dtype=np.intp)[inverse.reshape(-1)]
        if isinstance(values, np.ndarray) and values.ndim != 1:
            raise ValueError(f"expected a 1-D batch of values, got shape {values.shape}")
        keys = [v if v.__class__ is str else category_key(v) for v in values]
        return np.fromiter((get(k, unseen) for k in keys), np.intp, len(keys))

    def count(self, values: Any) -> tuple[IntArray, IntArray]:
        """Counts per bin (unseen values in ``__other__``) and the issue array."""
        k = len(self.categories)
        raw = np.bincount(self.codes(values), minlength=k + 3).astype(np.int64)
        issues = np.zeros(len(DATA_ISSUES), dtype=np.int64)
        issues[MISSING] = raw[k + 1]
        issues[UNSEEN] = raw[k + 2]
        counts = raw[: k + 1].copy()
        counts[k] += raw[k + 2]
        return counts, issues

    def bin(self, values: Any) -> BinnedBatch:
        """Bin a 1-D batch of this feature's values."""
        return BinnedBatch(*self.count(values))


FeatureBins: TypeAlias = NumericBins | CategoricalBins


def count_columns(
    searches: Sequence[FloatArray], columns: FloatArray, type_issues: npt.ArrayLike
) -> tuple[IntArray, IntArray]:
    """Fine counts (concatenated) and issue rows of float ``columns`` (features x values).

    ``searches[j]`` are the search edges of column ``j``. Each column is sorted
    once and the edges located in it, which costs less than locating every
    value among the edges; NaN sorts last and infinities at the ends, so
    counting them apart keeps them out of the bins.
    """
    xs = np.sort(columns, axis=1)
    n = xs.shape[1]
    n_nan = np.count_nonzero(np.isnan(xs), axis=1)
    below_min = np.count_nonzero(xs == -math.inf, axis=1)
    not_above = n - n_nan - np.count_nonzero(xs == math.inf, axis=1)
    sizes = np.array([s.size + 2 for s in searches])
    ends = np.cumsum(sizes)
    cum = np.empty(
        int(ends[-1]), dtype=np.int64
    )  # per column: -inf count, #(x < edge), -inf+finite
    cum[ends - sizes] = below_min
    cum[ends - 1] = not_above
    for j, search in enumerate(searches):
        cum[ends[j] - sizes[j] + 1 : ends[j] - 1] = np.searchsorted(xs[j], search, side="left")
    counts = np.delete(np.diff(cum), ends[:-1] - 1)
    last = np.cumsum(sizes - 1) - 1
    issues = np.zeros((len(searches), len(DATA_ISSUES)), dtype=np.int64)
    issues[:, MISSING] = n_nan - np.asarray(type_issues, dtype=np.int64)
    issues[:, NON_FINITE] = n - n_nan - (not_above - below_min)
    issues[:, OUT_OF_RANGE] = counts[last - sizes + 2] + counts[last]
    issues[:, TYPE] = type_issues
    return counts, issues
