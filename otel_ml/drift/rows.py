"""Binning whole rows at once: every feature of a batch in one numpy pass per column.

A :class:`RowBinner` serves a fixed list of features (a profile's); the
window accumulates its :class:`BatchCounts` with one vector addition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from otel_ml.drift.binning import (
    CategoricalBins,
    FeatureBins,
    FloatArray,
    IntArray,
    NumericBins,
    count_columns,
)
from otel_ml.semconv import DATA_ISSUES


@dataclass(frozen=True, eq=False)
class BatchCounts:
    """A batch of rows binned for all features of a :class:`RowBinner`.

    ``fine`` concatenates every feature's fine counts (``RowBinner.offsets``
    locate them), so a window accumulates a batch with one vector addition;
    ``issues[f, i]`` counts issue ``DATA_ISSUES[i]`` of feature ``f``.
    """

    fine: IntArray
    issues: IntArray


class RowBinner:
    """Bins 2-D batches of rows for a fixed list of features, vectorised per column.

    Numeric features arrive as one float matrix (rows x numeric features, NaN
    for missing) and categorical features as columns of objects: the cheap
    layout for a monitor that copies rows into preallocated buffers.
    """

    def __init__(self, bins: Sequence[FeatureBins]) -> None:
        self.bins = tuple(bins)
        sizes = [b.n_fine for b in self.bins]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.intp)
        self.numeric = [i for i, b in enumerate(self.bins) if isinstance(b, NumericBins)]
        self.categorical = [i for i, b in enumerate(self.bins) if isinstance(b, CategoricalBins)]
        self._searches = [b._search for b in self.bins if isinstance(b, NumericBins)]
        slots = [np.arange(self.offsets[i], self.offsets[i + 1]) for i in self.numeric]
        self._numeric_slots = np.concatenate(slots) if slots else np.empty(0, np.intp)

    def split(self, fine: IntArray) -> list[IntArray]:
        """Per-feature views of a concatenated fine-count vector."""
        return [fine[a:b] for a, b in zip(self.offsets[:-1], self.offsets[1:], strict=True)]

    def bin(
        self,
        numeric: npt.ArrayLike | None = None,
        categorical: Sequence[Any] | npt.NDArray[Any] = (),
        type_issues: npt.ArrayLike | None = None,
    ) -> BatchCounts:
        """Bin ``numeric`` (n x numeric features) and ``categorical`` (its columns).

        ``categorical`` is a sequence of columns or an (n x categorical features)
        object matrix. ``type_issues`` counts, per numeric feature, values that
        were not numbers when the matrix was filled (NaN in it, not missing).
        """
        matrix = isinstance(categorical, np.ndarray) and categorical.ndim == 2
        columns = list(np.asarray(categorical).T) if matrix else list(categorical)
        if len(columns) != len(self.categorical):
            raise ValueError(
                f"expected {len(self.categorical)} categorical columns, got {len(columns)}"
            )
        x = self._matrix(numeric, len(columns[0]) if columns else 0)
        if any(len(col) != x.shape[0] for col in columns):
            raise ValueError(f"every categorical column must have {x.shape[0]} values")
        fine = np.zeros(int(self.offsets[-1]), dtype=np.int64)
        issues = np.zeros((len(self.bins), len(DATA_ISSUES)), dtype=np.int64)
        if self.numeric:
            self._bin_numeric(x, fine, issues, type_issues)
        for i, col in zip(self.categorical, columns, strict=True):
            bins = self.bins[i]
            assert isinstance(bins, CategoricalBins)
            counts, issues[i] = bins.count(col)
            fine[self.offsets[i] : self.offsets[i + 1]] = counts
        return BatchCounts(fine, issues)

    def _matrix(self, numeric: npt.ArrayLike | None, n_categorical_rows: int) -> FloatArray:
        if numeric is None and not self.numeric:
            return np.empty((n_categorical_rows, 0))
        x = np.asarray(numeric, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.numeric):
            raise ValueError(
                f"expected a (rows x {len(self.numeric)}) numeric matrix, got shape {x.shape}"
            )
        return x

    def _bin_numeric(
        self, x: FloatArray, fine: IntArray, issues: IntArray, type_issues: npt.ArrayLike | None
    ) -> None:
        bad = np.zeros(len(self.numeric), np.int64) if type_issues is None else type_issues
        counts, numeric_issues = count_columns(self._searches, np.ascontiguousarray(x.T), bad)
        fine[self._numeric_slots] = counts
        issues[self.numeric] = numeric_issues
