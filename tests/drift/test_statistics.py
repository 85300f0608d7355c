"""Drift statistics against independent computations, false alarms and detection."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import spatial, stats

from otel_ml.drift.binning import CategoricalBins, NumericBins
from otel_ml.drift.features import CategoricalFeatureProfile, FeatureProfile, NumericFeatureProfile
from otel_ml.drift.significance import DriftPolicy, Verdict
from otel_ml.drift.statistics import (
    DriftScores,
    chi_square,
    jensen_shannon,
    ks_from_counts,
    psi,
)

REF = np.array([0.0, 0.1, 0.2, 0.3, 0.25, 0.15, 0.0])
CUR = np.array([0, 130, 180, 260, 270, 150, 10])


def numeric_profile(ref: np.ndarray) -> NumericFeatureProfile:
    bins = NumericBins.fit(ref)
    return NumericFeatureProfile("x", bins, bins.bin(ref).counts)


def verdict(profile: FeatureProfile, counts: np.ndarray) -> Verdict | None:
    return profile.decide(counts, DriftPolicy()).verdict


def test_psi_matches_the_formula_with_floored_fractions() -> None:
    r = np.maximum(REF, 1e-4)
    c = np.maximum(CUR / CUR.sum(), 1e-4)
    assert psi(REF, CUR) == pytest.approx(np.sum((c - r) * np.log(c / r)), rel=1e-12)
    assert psi(REF, CUR, eps=1e-3) < psi(REF, CUR)  # a higher floor tempers empty bins
    assert psi(REF, REF * 1000) == 0.0


def test_chi_square_is_scipys_on_bins_pooled_below_five_expected() -> None:
    # Expected counts 0, 100, 200, 300, 250, 150, 0: the two empty reference
    # bins are pooled (expected 0 < 5) and the pool merged into the smallest bin.
    pooled_obs = [130 + 0 + 10, 180, 260, 270, 150]
    pooled_exp = np.array([0.1, 0.2, 0.3, 0.25, 0.15]) * CUR.sum()
    want = stats.chisquare(pooled_obs, pooled_exp)
    statistic, p_value = chi_square(REF, CUR)
    assert statistic == pytest.approx(want.statistic, rel=1e-12)
    assert p_value == pytest.approx(want.pvalue, rel=1e-9)
    # Without sparse bins it is the plain Pearson test.
    plain = stats.chisquare(CUR[1:-1], REF[1:-1] / REF.sum() * CUR[1:-1].sum())
    assert chi_square(REF[1:-1], CUR[1:-1])[0] == pytest.approx(plain.statistic, rel=1e-12)


def test_jensen_shannon_matches_scipy() -> None:
    want = spatial.distance.jensenshannon(REF, CUR / CUR.sum(), base=2)
    assert jensen_shannon(REF, CUR) == pytest.approx(want, rel=1e-12)
    assert jensen_shannon([1.0, 0.0], [0, 5]) == 1.0  # disjoint supports


def test_ks_from_counts_is_the_largest_cdf_gap() -> None:
    assert ks_from_counts([0.5, 0.5, 0.0], [0, 1, 3]) == pytest.approx(0.75)
    assert ks_from_counts(REF, REF * 200) == pytest.approx(0.0, abs=1e-12)


def test_an_empty_window_has_nan_scores_and_no_verdict() -> None:
    assert math.isnan(psi(REF, np.zeros(7)))
    assert all(math.isnan(v) for v in chi_square(REF, np.zeros(7)))
    profile = numeric_profile(np.arange(1000.0))
    empty = np.zeros(profile.bins.n_fine, dtype=np.int64)
    assert profile.drift_scores(empty).n == 0 and verdict(profile, empty) is None


def test_mismatched_or_invalid_inputs_raise() -> None:
    with pytest.raises(ValueError, match="shapes differ"):
        psi(REF, CUR[:3])
    with pytest.raises(ValueError, match="non-negative"):
        jensen_shannon(REF, -CUR)
    with pytest.raises(ValueError, match="drift_rate <= warn_rate"):
        DriftPolicy(drift_rate=0.1, warn_rate=0.05)


def test_a_verdict_needs_significance_and_effect() -> None:
    policy = DriftPolicy()
    assert policy.verdict(1e-90, 0.04) == "ok"  # a tiny p-value alone is not drift
    assert policy.verdict(0.2, 0.5) == "ok"  # nor a large shift that noise explains
    assert policy.verdict(0.03, 0.06) == "warn"
    assert policy.verdict(0.005, 0.06) == "drift"
    assert policy.verdict(math.nan, 0.5) == "ok"
    assert DriftPolicy(min_effect=0.01).verdict(0.005, 0.02) == "drift"
    base = DriftScores(n=1000, psi=0.05, chi2=500.0, chi2_p=1e-90, js=0.05, ks=0.05)
    assert base.methods() == {"psi": 0.05, "chi2": 500.0, "js": 0.05, "ks": 0.05}


Sampler = Callable[[np.random.Generator, int], np.ndarray]
SAMPLERS: dict[str, Sampler] = {
    "normal": lambda rng, n: rng.normal(10.0, 2.0, n),
    "lognormal": lambda rng, n: rng.lognormal(0.0, 1.0, n),
    "bimodal": lambda rng, n: np.where(
        rng.random(n) < 0.3, rng.normal(-3, 1, n), rng.normal(2, 0.5, n)
    ),
}


@pytest.mark.parametrize("shift", [0.0, 0.5])
@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_ks_from_fine_bins_tracks_scipy_ks_2samp(name: str, shift: float) -> None:
    rng = np.random.default_rng(7)
    ref = SAMPLERS[name](rng, 100_000)
    cur = SAMPLERS[name](rng, 10_000) + shift * ref.std()
    profile = numeric_profile(ref)
    ks = profile.drift_scores(profile.bin(cur).counts).ks
    assert ks is not None
    assert abs(ks - stats.ks_2samp(ref, cur).statistic) <= 0.005


@pytest.mark.parametrize(
    "change",
    [lambda x: x + 0.5, lambda x: x * 1.5, lambda x: x * 1000],
    ids=["mean+0.5sd", "scale*1.5", "unit*1000"],
)
def test_real_numeric_shifts_are_flagged_within_one_window(
    change: Callable[[np.ndarray], np.ndarray],
) -> None:
    rng = np.random.default_rng(12)
    profile = numeric_profile(rng.normal(size=100_000))
    assert verdict(profile, profile.bin(change(rng.normal(size=1000))).counts) == "drift"


def test_unit_change_shows_in_psi_and_as_out_of_range() -> None:
    rng = np.random.default_rng(13)
    profile = numeric_profile(rng.lognormal(3.0, 0.5, 100_000))
    batch = profile.bin(rng.lognormal(3.0, 0.5, 1000) * 1000)
    assert batch.issues["out_of_range"] == 1000
    scores = profile.drift_scores(batch.counts)
    assert scores.psi > 5 and scores.ks == pytest.approx(1.0)
    assert verdict(profile, batch.counts) == "drift"


def test_category_mix_change_is_flagged() -> None:
    rng = np.random.default_rng(14)
    labels = np.array(["a", "b", "c", "d"])
    ref = rng.choice(labels, size=100_000, p=[0.5, 0.25, 0.15, 0.1])
    bins = CategoricalBins.fit(ref)
    profile = CategoricalFeatureProfile("c", bins, bins.bin(ref).counts)
    unchanged = bins.bin(rng.choice(labels, 1000, p=[0.5, 0.25, 0.15, 0.1])).counts
    changed = bins.bin(rng.choice(labels, 1000, p=[0.3, 0.2, 0.1, 0.4])).counts
    assert verdict(profile, unchanged) == "ok" and profile.drift_scores(unchanged).ks is None
    assert verdict(profile, changed) == "drift"


fractions = st.lists(st.floats(0, 1), min_size=2, max_size=15).filter(lambda v: sum(v) > 0)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), ref=fractions)
def test_scores_stay_in_their_ranges(data: st.DataObject, ref: list[float]) -> None:
    cur = data.draw(st.lists(st.integers(0, 10_000), min_size=len(ref), max_size=len(ref)))
    if sum(cur) == 0:
        return
    assert psi(ref, cur) >= 0
    assert 0 <= jensen_shannon(ref, cur) <= 1
    assert 0 <= ks_from_counts(ref, cur) <= 1 + 1e-12
    statistic, p_value = chi_square(ref, cur)
    if math.isnan(statistic):  # fewer than two bins expect 5 values: no test
        return
    assert statistic >= 0 and 0 <= p_value <= 1


def test_subnormal_reference_fractions_do_not_divide_by_zero() -> None:
    ref = [0.0, 0.0, 5e-324, 1.0]
    assert 0 <= jensen_shannon(ref, [0, 0, 0, 10]) <= 1
    assert psi(ref, [0, 0, 0, 10]) >= 0
