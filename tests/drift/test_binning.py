"""Binning: bin layout, edge cases counted as data-quality issues, row batches."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from otel_ml.drift.binning import (
    CategoricalBins,
    NumericBins,
    category_key,
    coerce_numeric,
)
from otel_ml.drift.rows import RowBinner
from otel_ml.semconv import OTHER_LABEL


@pytest.fixture(scope="module")
def normal_bins() -> NumericBins:
    return NumericBins.fit(np.random.default_rng(1).normal(size=100_000), n_bins=100)


def test_continuous_layout_has_percentile_fine_bins_and_decile_coarse_bins(
    normal_bins: NumericBins,
) -> None:
    ref = np.random.default_rng(1).normal(size=100_000)
    assert normal_bins.n_fine == 103  # underflow, 100 intervals, {max}, overflow
    assert normal_bins.edges[0] == ref.min() and normal_bins.edges[-1] == ref.max()
    assert normal_bins.coarse_starts.tolist() == [0, 1, *range(11, 92, 10), 102]
    fine = normal_bins.bin(ref).counts
    assert fine[0] == fine[-1] == 0 and fine[-2] == 1  # only the maximum is in {max}
    np.testing.assert_allclose(fine[1:-2] / ref.size, 0.01, atol=2e-5)
    coarse = normal_bins.coarse(fine)
    assert coarse[0] == coarse[-1] == 0
    assert np.abs(coarse[1:-1] - 10_000).max() <= 1  # the first and last decile share a value
    np.testing.assert_allclose(
        normal_bins.coarse_edges[1:-1], np.quantile(ref, np.arange(1, 10) / 10), atol=1e-3
    )


def test_values_on_edges_go_to_the_bin_they_open() -> None:
    bins = NumericBins(np.arange(10.0), np.array([0, 1, 11]))
    assert bins.n_fine == 12 and bins.n_coarse == 3
    batch = bins.bin([-0.5, 0.0, 3.0, 8.999, 9.0, 9.0 + 1e-12, 1e308, -1e308])
    expected = np.zeros(12, dtype=np.int64)
    expected[[0, 1, 4, 9, 10, 11]] = [2, 1, 1, 1, 1, 2]
    assert batch.counts.tolist() == expected.tolist()
    assert batch.issues == {"out_of_range": 4}


def test_discrete_feature_keeps_each_value_in_a_point_bin() -> None:
    ref = np.repeat([0.0, 1.0, 2.0], [500, 200, 300])
    bins = NumericBins.fit(ref)
    up = np.nextafter  # an atom's bin is [value, next float): the value alone
    assert bins.edges.tolist() == [0.0, up(0.0, 1), 1.0, up(1.0, 2), 2.0]
    assert bins.bin(ref).counts.tolist() == [0, 500, 0, 200, 0, 300, 0]
    assert bins.bin([0.5, 1.5, 3.0]).counts.tolist() == [0, 0, 1, 0, 1, 0, 1]
    # Coarse bins never start between an atom and its gap: one per value.
    assert bins.coarse_starts.tolist() == [0, 1, 3, 5, 6]
    assert bins.coarse_edges.tolist() == [0.0, 1.0, 2.0, 2.0]


def test_default_fine_bins_are_500_quantiles() -> None:
    bins = NumericBins.fit(np.random.default_rng(3).normal(size=50_000))
    assert bins.n_fine == 503 and bins.n_coarse == 12


def test_constant_feature_has_a_single_point_bin() -> None:
    bins = NumericBins.fit(np.full(50, 7.0))
    batch = bins.bin([6.0, 7.0, 7.0, 8.0])
    assert batch.counts.tolist() == [1, 2, 1]
    assert bins.coarse(batch.counts).tolist() == [1, 2, 1]
    assert batch.issues == {"out_of_range": 2}


def test_bad_values_are_counted_and_never_raise(normal_bins: NumericBins) -> None:
    values = [0.1, None, math.nan, math.inf, -math.inf, "1.5", b"x", [1], 1e308, 10**400, pd.NA]
    batch = normal_bins.bin(values)
    assert batch.counts.sum() == 2  # 0.1 and 1e308
    assert batch.issues == {
        "missing": 3,  # None, nan, pd.NA
        "non_finite": 3,  # inf, -inf, 10**400 (beyond the float range)
        "out_of_range": 1,  # 1e308
        "type": 3,  # "1.5", b"x", [1]
    }
    assert batch.counts[-1] == 1 and batch.counts[0] == 0


@pytest.mark.parametrize(
    ("values", "issues"),
    [
        (np.full(5, np.nan), {"missing": 5}),
        (np.array([], dtype=np.float64), {}),
        ([], {}),
        (np.array(["a", "b"]), {"type": 2}),
        ([None, None], {"missing": 2}),
        (np.array([np.inf, -np.inf, np.nan]), {"missing": 1, "non_finite": 2}),
    ],
)
def test_degenerate_batches_bin_nothing(
    normal_bins: NumericBins, values: object, issues: dict[str, int]
) -> None:
    batch = normal_bins.bin(values)
    assert batch.counts.tolist() == [0] * normal_bins.n_fine
    assert batch.issues == issues


def test_coerce_numeric_rejects_strings_even_when_they_parse() -> None:
    x, bad = coerce_numeric(np.array([1, "2.5", None, True], dtype=object))
    assert bad == 1
    np.testing.assert_array_equal(x, [1.0, np.nan, np.nan, 1.0])
    with pytest.raises(ValueError, match=r"1-D batch.*\(2, 2\)"):
        coerce_numeric(np.zeros((2, 2)))


def test_category_keys_unify_integral_floats_and_mark_missing() -> None:
    assert [category_key(v) for v in ("a", 3, 3.0, np.int64(3), 2.5, True, np.bool_(False))] == [
        "a", "3", "3", "3", "2.5", "True", "False",
    ]  # fmt: skip
    assert [category_key(v) for v in (None, math.nan, np.float32("nan"), pd.NA)] == [None] * 4


def test_categorical_top_k_other_unseen_and_missing() -> None:
    ref = ["a"] * 50 + ["b"] * 30 + ["c"] * 15 + ["d"] * 5 + [None] * 7
    bins = CategoricalBins.fit(ref, top_k=2)
    assert bins.categories == ("a", "b") and bins.tail == ("c", "d")
    assert bins.labels == ("a", "b", OTHER_LABEL)
    batch = bins.bin(["a", "b", "c", "zzz", None, math.nan, "a", OTHER_LABEL])
    assert batch.counts.tolist() == [2, 1, 3]  # c (known tail), zzz (unseen), "__other__"
    assert batch.issues == {"missing": 2, "unseen_category": 1}
    as_array = bins.bin(np.array(["a", "b", "c", "zzz", "a"]))
    assert as_array.counts.tolist() == [2, 1, 2] and as_array.issues == {"unseen_category": 1}


def test_categorical_with_too_many_reference_values_cannot_flag_unseen() -> None:
    bins = CategoricalBins.fit([str(i) for i in range(50)], top_k=5, max_tail=10)
    assert bins.tail is None
    batch = bins.bin(["0", "49", "never-seen"])
    assert batch.counts.tolist() == [1, 0, 0, 0, 0, 2] and batch.issues == {}


def test_categorical_integer_and_float_arrays_map_like_lists() -> None:
    bins = CategoricalBins.fit([1, 1, 2, 3])
    assert bins.bin(np.array([1.0, 2.0, np.nan, 4.0])).counts.tolist() == [1, 1, 0, 1]
    assert bins.bin(np.array([1.0, 2.0, np.nan, 4.0])).issues == {
        "missing": 1,
        "unseen_category": 1,
    }
    assert bins.bin([1, 2, None, 4]).counts.tolist() == [1, 1, 0, 1]


def test_invalid_bins_are_programmer_errors() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        NumericBins(np.array([1.0, 1.0]), np.array([0, 1, 3]))
    with pytest.raises(ValueError, match="coarse_starts"):
        NumericBins(np.array([1.0, 2.0]), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="no finite values"):
        NumericBins.fit([np.nan, np.inf])
    with pytest.raises(ValueError, match="distinct"):
        CategoricalBins(("a", "a"))
    with pytest.raises(ValueError, match="expected 12 fine counts"):
        NumericBins(np.arange(10.0), np.array([0, 1, 11])).coarse(np.zeros(5))


@pytest.fixture(scope="module")
def row_binner() -> RowBinner:
    rng = np.random.default_rng(2)
    return RowBinner(
        [
            NumericBins.fit(rng.normal(size=5000)),
            CategoricalBins.fit(rng.choice(["x", "y", "z"], size=5000)),
            NumericBins.fit(rng.integers(0, 4, size=5000)),
        ]
    )


def test_row_binner_equals_binning_each_feature(row_binner: RowBinner) -> None:
    rng = np.random.default_rng(3)
    numeric = np.column_stack([rng.normal(1, 2, 300), rng.integers(-1, 6, 300).astype(float)])
    numeric[::7, 0] = np.nan
    numeric[::11, 1] = np.inf
    cats = rng.choice(["x", "y", "z", "new"], size=300).astype(object)
    cats[::13] = None
    result = row_binner.bin(numeric, [cats], type_issues=[2, 0])
    per_feature = [
        row_binner.bins[0].bin(numeric[:, 0]),
        row_binner.bins[1].bin(cats),
        row_binner.bins[2].bin(numeric[:, 1]),
    ]
    for got, want in zip(row_binner.split(result.fine), per_feature, strict=True):
        assert got.tolist() == want.counts.tolist()
    expected_issues = np.array([b.issue_array for b in per_feature])
    expected_issues[0, 0] -= 2  # two of the NaNs were type issues when the matrix was filled
    expected_issues[0, 4] = 2
    assert result.issues.tolist() == expected_issues.tolist()
    as_matrix = row_binner.bin(numeric, cats.reshape(-1, 1), type_issues=[2, 0])
    assert as_matrix.fine.tolist() == result.fine.tolist()


def test_row_binner_rejects_wrong_shapes(row_binner: RowBinner) -> None:
    with pytest.raises(ValueError, match=r"\(rows x 2\) numeric matrix, got shape \(4, 3\)"):
        row_binner.bin(np.zeros((4, 3)), [["x"] * 4])
    with pytest.raises(ValueError, match="expected 1 categorical columns, got 0"):
        row_binner.bin(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="must have 4 values"):
        row_binner.bin(np.zeros((4, 2)), [["x"] * 3])


def test_row_binner_on_an_empty_batch_counts_nothing(row_binner: RowBinner) -> None:
    result = row_binner.bin(np.empty((0, 2)), [[]])
    assert result.fine.sum() == 0 and result.issues.sum() == 0


floats = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=60, deadline=None)
@given(
    ref=hnp.arrays(np.float64, st.integers(1, 300), elements=st.floats(-1e6, 1e6)),
    cur=hnp.arrays(np.float64, st.integers(0, 300), elements=floats),
    n_bins=st.integers(1, 40),
    n_coarse=st.integers(1, 12),
)
def test_counts_partition_the_valid_values(
    ref: np.ndarray, cur: np.ndarray, n_bins: int, n_coarse: int
) -> None:
    bins = NumericBins.fit(ref, n_bins, n_coarse)
    batch = bins.bin(cur)
    finite = cur[np.isfinite(cur)]
    assert batch.counts.sum() == finite.size
    assert batch.issue_array[0] + batch.issue_array[1] == cur.size - finite.size
    out = int(np.count_nonzero((finite < ref.min()) | (finite > ref.max())))
    assert batch.issues.get("out_of_range", 0) == out
    starts = bins.coarse_starts
    grouped = [
        batch.counts[a:b].sum() for a, b in zip(starts, [*starts[1:], bins.n_fine], strict=True)
    ]
    assert bins.coarse(batch.counts).tolist() == grouped
    assert bins.n_coarse <= n_coarse + 2
