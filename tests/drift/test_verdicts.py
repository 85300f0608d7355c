"""Drift verdicts as statistical decisions: false alarms at the configured rate at
every window size, power against real shifts, binned statistics against scipy.

Many windows are decided at once: a window's fine counts come from one
``searchsorted`` over all windows' values, and the statistics and p-values of
:mod:`otel_ml.drift.significance` take whole matrices of windows. A sample of
windows is checked against the per-window path the monitor uses.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from sklearn import datasets

from otel_ml.drift.binning import CategoricalBins, NumericBins
from otel_ml.drift.features import (
    CategoricalFeatureProfile,
    FeatureProfile,
    NumericFeatureProfile,
    decide_missing,
)
from otel_ml.drift.profile import ReferenceProfile
from otel_ml.drift.significance import (
    DriftPolicy,
    chi_square_test,
    ks_p_value,
    total_variation,
)

POLICY = DriftPolicy()
WINDOWS = 1000
REFERENCE = 20_000
SIZES = (100, 250, 500, 1000, 5000)
CATEGORIES = np.array([f"c{i:02d}" for i in range(50)])
ZIPF = (1 / np.arange(1, 51)) / (1 / np.arange(1, 51)).sum()  # rank 50: 0.44%

Sampler = Callable[[np.random.Generator, int], np.ndarray]


def _zero_inflated(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.where(rng.random(n) < 0.4, 0.0, np.round(rng.lognormal(0.0, 1.0, n), 1))


NUMERIC: dict[str, Sampler] = {
    "normal": lambda rng, n: rng.normal(0.0, 1.0, n),
    "integer": lambda rng, n: rng.poisson(20, n).astype(float),
    "heavily_tied": _zero_inflated,
    "binary": lambda rng, n: (rng.random(n) < 0.3).astype(float),
}


def _zipf(rng: np.random.Generator, n: int, p: np.ndarray = ZIPF) -> np.ndarray:
    return CATEGORIES[rng.choice(50, n, p=p)]


def numeric_profile(values: np.ndarray) -> NumericFeatureProfile:
    bins = NumericBins.fit(values)
    return NumericFeatureProfile("x", bins, bins.bin(values).counts)


def categorical_profile(values: np.ndarray) -> CategoricalFeatureProfile:
    bins = CategoricalBins.fit(values)
    return CategoricalFeatureProfile("c", bins, bins.bin(values).counts)


def numeric_counts(profile: NumericFeatureProfile, windows: np.ndarray) -> np.ndarray:
    """Fine counts of each row of ``windows``, as ``NumericBins.count`` bins them."""
    index = np.searchsorted(profile.bins._search, windows, side="right")
    k = profile.bins.n_fine
    flat = index + k * np.arange(windows.shape[0])[:, None]
    return np.bincount(flat.ravel(), minlength=k * windows.shape[0]).reshape(-1, k)


def categorical_counts(profile: CategoricalFeatureProfile, windows: np.ndarray) -> np.ndarray:
    codes = profile.bins.codes(windows.ravel()).reshape(windows.shape)
    codes = np.minimum(codes, profile.bins.n_fine - 1)  # unseen values count in __other__
    k = profile.bins.n_fine
    flat = codes + k * np.arange(windows.shape[0])[:, None]
    return np.bincount(flat.ravel(), minlength=k * windows.shape[0]).reshape(-1, k)


def verdicts(profile: FeatureProfile, counts: np.ndarray) -> np.ndarray:
    """Verdict per window (rows of equal size), by the monitor's tests, vectorised."""
    n = int(counts[0].sum())
    if isinstance(profile, NumericFeatureProfile):
        cdf_gap = np.cumsum(profile.fine_fractions) - np.cumsum(counts, axis=1) / n
        d = np.abs(cdf_gap).max(axis=1)
        out = POLICY.verdicts(ks_p_value(d, n, profile.count), d)
    else:
        _, p, _ = chi_square_test(profile.coarse_fractions, counts, profile.count)
        out = POLICY.verdicts(p, total_variation(profile.coarse_fractions, counts))
    # The per-window path the monitor takes agrees on a sample of windows.
    for row, want in list(zip(counts, out, strict=True))[:25]:
        assert profile.decide(row, POLICY).verdict == want
    return out


def _within(share: float, rate: float, trials: int) -> bool:
    return share <= rate + 3 * (rate * (1 - rate) / trials) ** 0.5


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", [*NUMERIC, "zipf50"])
def test_unshifted_windows_alarm_at_most_at_the_configured_rates(name: str, size: int) -> None:
    rng = np.random.default_rng([size, len(name)])
    profile: FeatureProfile
    if name == "zipf50":
        profile = categorical_profile(_zipf(rng, REFERENCE))
        counts = categorical_counts(profile, _zipf(rng, WINDOWS * size).reshape(WINDOWS, size))
    else:
        profile = numeric_profile(NUMERIC[name](rng, REFERENCE))
        counts = numeric_counts(profile, NUMERIC[name](rng, WINDOWS * size).reshape(-1, size))
    smallest = profile.smallest_window(POLICY)
    assert smallest is not None and smallest <= 100, smallest
    found = verdicts(profile, counts)
    drift, warn = np.mean(found == "drift"), np.mean(found != "ok")
    assert _within(drift, POLICY.drift_rate, WINDOWS), (drift, warn)
    assert _within(warn, POLICY.warn_rate, WINDOWS), (drift, warn)


def test_warn_and_drift_both_occur_without_a_shift() -> None:
    # The levels are real: on unshifted continuous windows each fires near its rate.
    rng = np.random.default_rng(5)
    profile = numeric_profile(rng.normal(size=REFERENCE))
    found = verdicts(profile, numeric_counts(profile, rng.normal(size=(4000, 250))))
    assert 0.002 <= np.mean(found == "drift") <= 0.02
    assert 0.02 <= np.mean(found == "warn") <= 0.06


def _split_verdicts(data: np.ndarray, seed: int, size: int = 100) -> list[str]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data))
    half = len(data) // 2
    profile = ReferenceProfile.fit(data[order[:half]])
    rest = data[order[half:]]
    out = []
    for start in range(0, len(rest) - size + 1, size):
        fine = profile.row_binner.split(profile.bin_rows(rest[start : start + size]).fine)
        pairs = zip(profile.features, fine, strict=True)
        out += [f.decide(counts, POLICY).verdict for f, counts in pairs]
    return [v for v in out if v is not None]


@pytest.mark.parametrize("name", ["breast_cancer", "diabetes", "digits"])
def test_random_halves_of_sklearn_data_sets_rarely_alarm(name: str) -> None:
    data = getattr(datasets, f"load_{name}")().data.astype(float)
    found = [v for seed in range(25) for v in _split_verdicts(data, seed)]
    assert len(found) >= 400
    drift = found.count("drift") / len(found)
    # Windows of one split share a reference: allow twice the binomial spread.
    assert drift <= POLICY.drift_rate + 6 * (POLICY.drift_rate / len(found)) ** 0.5, drift


def test_a_reference_of_89_rows_judges_no_window_of_100() -> None:
    # wine: half of 178 rows cannot tell a 20% shift from noise at 1% in any window.
    data = datasets.load_wine().data.astype(float)
    assert _split_verdicts(data, 0, size=80) == []


def _power(profile: FeatureProfile, counts: np.ndarray) -> float:
    return float(np.mean(verdicts(profile, counts) == "drift"))


@pytest.mark.parametrize(
    ("size", "change"),
    [
        (1000, lambda x: x + 0.25),
        (250, lambda x: x + 0.5),
        (1000, lambda x: x * 1.5),
        (100, lambda x: x * 1000),
    ],
    ids=["mean+0.25sd@1000", "mean+0.5sd@250", "scale*1.5@1000", "unit*1000@100"],
)
def test_numeric_shifts_are_detected(size: int, change: Callable[[np.ndarray], np.ndarray]) -> None:
    rng = np.random.default_rng(21)
    profile = numeric_profile(
        rng.lognormal(0, 0.1, REFERENCE) if size == 100 else rng.normal(size=REFERENCE)
    )
    base = rng.lognormal(0, 0.1, (500, size)) if size == 100 else rng.normal(size=(500, size))
    assert _power(profile, numeric_counts(profile, change(base))) >= 0.99


def test_category_mix_changes_are_detected() -> None:
    rng = np.random.default_rng(22)
    profile = categorical_profile(_zipf(rng, REFERENCE))
    # A category never seen before takes 10% of a 1000-row window.
    windows = _zipf(rng, 500 * 1000).reshape(500, 1000)
    windows[:, :100] = "brand-new"
    assert _power(profile, categorical_counts(profile, windows)) >= 0.99
    # The rarest category (0.44%) rises to 14%.
    rare = ZIPF * 0.86 / (1 - ZIPF[-1])
    rare[-1] = 0.14
    windows = _zipf(rng, 500 * 1000, rare).reshape(500, 1000)
    assert _power(profile, categorical_counts(profile, windows)) >= 0.99
    # A 70/30 split becomes 50/50 in windows of 250.
    yes_no = categorical_profile(np.where(rng.random(REFERENCE) < 0.7, "yes", "no"))
    windows = np.where(rng.random((500, 250)) < 0.5, "yes", "no")
    assert _power(yes_no, categorical_counts(yes_no, windows)) >= 0.99


def test_a_rise_of_missing_values_is_its_own_signal() -> None:
    rng = np.random.default_rng(23)
    profile = numeric_profile(rng.normal(size=REFERENCE))
    assert decide_missing(profile, 0, 1000, POLICY).verdict == "ok"
    missing = rng.binomial(1000, 0.2, 500)
    found = [decide_missing(profile, int(k), 1000, POLICY).verdict for k in missing]
    assert found.count("drift") == 500
    # A stray missing value is no news, and neither is a small rise in a huge window.
    assert decide_missing(profile, 1, 100, POLICY).verdict == "ok"
    assert decide_missing(profile, 2000, 100_000, POLICY).verdict == "ok"


def test_windows_below_the_smallest_useful_size_get_no_verdict() -> None:
    rng = np.random.default_rng(24)
    profile = numeric_profile(rng.normal(size=REFERENCE))
    smallest = profile.smallest_window(POLICY)
    assert smallest is not None and 60 <= smallest <= 70
    counts = profile.bin(rng.normal(size=smallest - 1) + 5).counts  # a huge shift
    decision = profile.decide(counts, POLICY)
    assert decision.verdict is None and decision.statistic > 0.9
    assert profile.decide(profile.bin(rng.normal(size=smallest) + 5).counts, POLICY).verdict == (
        "drift"
    )
    assert profile.decide(profile.bin(rng.normal(size=500)).counts, POLICY, 600).verdict is None
    # A reference too small for any window: never judged.
    assert numeric_profile(rng.normal(size=50)).smallest_window(POLICY) is None


def test_huge_windows_do_not_alarm_on_trivial_shifts() -> None:
    rng = np.random.default_rng(25)
    profile = numeric_profile(rng.normal(size=200_000))
    counts = profile.bin(rng.normal(size=100_000) + 0.05).counts  # KS 0.02: significant
    decision = profile.decide(counts, POLICY)
    assert decision.p_value < 1e-6 and decision.verdict == "ok"


@pytest.mark.parametrize("size", [100, 1000, 5000])
@pytest.mark.parametrize("shift", [0.0, 0.3])
@pytest.mark.parametrize(
    "name", ["normal", "cauchy", "integer", "heavily_tied", "zero_inflated_continuous"]
)
def test_binned_ks_is_within_0005_of_scipy(name: str, shift: float, size: int) -> None:
    samplers: dict[str, Sampler] = {
        **NUMERIC,
        "cauchy": lambda rng, n: rng.standard_cauchy(n),
        "zero_inflated_continuous": lambda rng, n: np.where(
            rng.random(n) < 0.4, 0.0, rng.lognormal(0, 1, n)
        ),
    }
    rng = np.random.default_rng(26)
    ref = samplers[name](rng, REFERENCE)
    profile = numeric_profile(ref)
    for _ in range(10):
        cur = samplers[name](rng, size) + shift
        d = profile.decide(profile.bin(cur).counts, POLICY).statistic
        exact = stats.ks_2samp(ref, cur).statistic
        assert exact - 0.005 <= d <= exact + 1e-12


def test_ks_p_values_follow_scipys_two_sample_distribution() -> None:
    # scipy's exact two-sample p-value for small samples, its kstwo otherwise.
    for n, m, d in [(100, 20_000, 0.12), (250, 20_000, 0.09), (1000, 5000, 0.05)]:
        want = stats.kstwo.sf(d, round(n * m / (n + m)))
        assert ks_p_value(d, n, m) == pytest.approx(want, rel=0.15)


def test_a_profile_in_the_old_layout_still_loads_and_judges(tmp_path: Path) -> None:
    # Version 1 profiles written before 500 bins and 50 categories: same format.
    rng = np.random.default_rng(27)
    frame = {"x": rng.normal(size=5000), "c": rng.choice(CATEGORIES[:30], 5000)}
    old = ReferenceProfile.fit(frame, n_bins=100, top_k=20)
    old.save(tmp_path / "old.json")
    loaded = ReferenceProfile.load(tmp_path / "old.json")
    x, c = loaded.feature("x"), loaded.feature("c")
    assert x.bins.n_fine < 110 and len(c.bins.categories) == 20
    shifted = x.decide(x.bin(rng.normal(size=1000) + 0.5).counts, POLICY)
    assert shifted.verdict == "drift"
    assert c.decide(c.bin(rng.choice(CATEGORIES[:30], 1000)).counts, POLICY).verdict == "ok"
