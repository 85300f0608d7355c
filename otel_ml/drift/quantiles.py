"""Quantile edges and their grouping for numeric bins (see :mod:`otel_ml.drift.binning`)."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def inverted_cdf_indexes(n: int, n_bins: int) -> IntArray:
    """Indexes in n sorted values of the quantiles 0, 1/n_bins, ..., 1 (inverted CDF)."""
    virtual = n * np.linspace(0.0, 1.0, n_bins + 1) - 1
    below = np.floor(virtual)
    index = np.where(virtual == below, below, below + 1).astype(np.int64)
    return np.clip(index, 0, n - 1)


def with_atoms(picked: FloatArray) -> FloatArray:
    """Distinct quantiles, each value found at two quantiles (an atom: a tie
    holding at least a bin's mass, like the zeros of zero-inflated data or the
    values of a discrete feature) in a point bin of its own, so the KS statistic
    sees the jump of the CDF there, whatever values a window has in between."""
    repeated = picked[1:][picked[1:] == picked[:-1]]
    atoms = np.unique(repeated[repeated < picked[-1]])
    return np.unique(np.concatenate([picked, np.nextafter(atoms, math.inf)]))


def coarse_starts(fine_fractions: FloatArray, n_coarse: int, edges: FloatArray) -> IntArray:
    """First fine bin of each coarse bin: regular bins grouped at the quantiles.

    A coarse bin never starts just above an atom (``edges`` tell): the gap
    between an atom and the next edge joins the atom's coarse bin.
    """
    k = fine_fractions.size - 2
    cum = np.cumsum(fine_fractions[1:-1])
    targets = np.arange(1, n_coarse) / n_coarse
    upper = np.minimum(np.searchsorted(cum, targets), k - 1)
    lower = np.maximum(upper - 1, 0)
    closer = np.abs(cum[lower] - targets) <= np.abs(cum[upper] - targets)
    last = np.where(closer & (upper > 0), lower, upper)  # last regular bin of a group
    inner = last[last <= k - 2] + 2
    starts = np.unique(np.concatenate([[0, 1], inner, [k + 1]])).astype(np.int64)
    above_atom = np.append(False, edges[1:] == np.nextafter(edges[:-1], math.inf))
    keep = (starts < 2) | (starts > edges.size) | ~above_atom[np.minimum(starts, edges.size) - 1]
    return np.asarray(starts[keep], dtype=np.int64)
