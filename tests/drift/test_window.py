"""Tumbling windows: closing rules, minimum counts, bounded memory, fork reset."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from otel_ml.drift.profile import ReferenceProfile
from otel_ml.drift.results import WindowConfig
from otel_ml.drift.window import DriftWindow

RNG = np.random.default_rng(42)
REFERENCE = RNG.normal(size=(50_000, 3))


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    return ReferenceProfile.fit(REFERENCE, feature_names=["a", "b", "c"])


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _rows(n: int, shift: float = 0.0, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, 3))
    rows[:, 1] += shift
    return rows


def _feed(window: DriftWindow, rows: np.ndarray, per_call: int = 1) -> list[Any]:
    empty_cat = np.empty((per_call, 0), object)
    no_issues = np.zeros(3, np.int64)
    reports = []
    for i in range(0, len(rows), per_call):
        if window.add_rows(rows[i : i + per_call], empty_cat, no_issues):
            reports.append(window.tick())  # what a collection does: score the closed window
    return reports


def test_window_closes_by_count_and_scores_every_feature(profile: ReferenceProfile) -> None:
    window = DriftWindow(profile, WindowConfig(max_rows=1000, min_count=500, buffer_rows=64))
    reports = _feed(window, _rows(2100))
    # closes at the first flush past 1000 rows; the collection after it bins the buffered row
    assert [r.rows for r in reports] == [1024, 1025]
    first = reports[0]
    assert [f.name for f in first.features] == ["a", "b", "c"]
    assert all(f.n == 1024 and f.scores is not None for f in first.features)
    assert all(f.verdict == "ok" for f in first.features)
    assert all(int(f.coarse_counts.sum()) == 1024 for f in first.features)


def test_shift_is_flagged_within_one_window(profile: ReferenceProfile) -> None:
    window = DriftWindow(profile, WindowConfig(max_rows=1000, min_count=500))
    [report] = _feed(window, _rows(1100, shift=0.5), per_call=1)
    verdicts = {f.name: f.verdict for f in report.features}
    assert verdicts["b"] == "drift"
    assert verdicts["a"] == verdicts["c"] == "ok"
    assert [f.name for f in report.drifted] == ["b"]


def test_window_closes_by_age_only_once_it_has_the_minimum(profile: ReferenceProfile) -> None:
    clock = Clock()
    window = DriftWindow(profile, WindowConfig(max_rows=5000, max_seconds=60, min_count=300), clock)
    _feed(window, _rows(200))
    clock.now = 61.0
    assert window.tick() is None  # old enough, but 200 < 300 values: stays open
    _feed(window, _rows(150, seed=1))
    report = window.tick()
    assert report is not None
    assert report.rows == 350
    assert report.duration_s == 61.0
    assert window.tick() is None  # the next window just started


def test_forced_close_reports_features_below_the_minimum_without_scores(
    profile: ReferenceProfile,
) -> None:
    window = DriftWindow(profile, WindowConfig(max_rows=1000, min_count=500))
    _feed(window, _rows(10))
    report = window.tick(force=True)
    assert report is not None
    assert report.rows == 10
    assert all(f.scores is None and f.verdict is None and f.n == 10 for f in report.features)


def test_few_false_alarms_over_200_unshifted_windows(profile: ReferenceProfile) -> None:
    window = DriftWindow(profile, WindowConfig())  # the defaults users get
    reports = _feed(window, _rows(1024 * 200, seed=7), per_call=256)
    assert len(reports) == 200
    judged = [f for r in reports for f in r.features if f.verdict is not None]
    drifted = [f for f in judged if f.verdict == "drift"]
    # 1% of feature-windows allowed; 3 sd of binomial noise on top.
    assert len(drifted) <= 0.01 * len(judged) + 3 * (0.01 * len(judged)) ** 0.5


def test_closed_windows_wait_for_a_collection_to_be_scored(profile: ReferenceProfile) -> None:
    issues: list[tuple[str, str, int]] = []
    window = DriftWindow(
        profile, WindowConfig(max_rows=1000, min_count=500), on_issues=lambda *i: issues.append(i)
    )
    empty_cat, no_issues = np.empty((1100, 0), object), np.zeros(3, np.int64)
    rows = _rows(1100)
    rows[:5, 0] = np.nan
    assert window.add_rows(rows, empty_cat, no_issues) is True  # closed, not scored yet
    # data quality is counted as rows are binned, before any collection
    assert [i for i in issues if i[1] == "missing"] == [("a", "missing", 5)]
    assert window.add_rows(_rows(1100, seed=2), empty_cat, no_issues) is True  # replaces it
    report = window.tick()
    assert report is not None
    assert report.index == 1  # the newest closed window is the one scored
    assert window.tick() is None


def test_memory_is_fixed_whatever_the_traffic(profile: ReferenceProfile) -> None:
    window = DriftWindow(profile, WindowConfig(buffer_rows=256))
    before = window.buffer_nbytes
    batch = _rows(10_000, seed=3)
    for _ in range(100):  # 1M rows, in batches of every size the buffer handles
        _feed(window, batch[:5_000], per_call=1_000)
        _feed(window, batch[5_000:5_300], per_call=100)
        window.add_rows(batch[5_300:], np.empty((4_700, 0), object), np.zeros(3, np.int64))
    assert window.buffer_nbytes == before
    totals = {f.name: int(c.sum()) for f, c in window.cumulative()}
    window.tick()
    assert 1_000_000 - 256 <= totals["a"] <= 1_000_000  # all binned but what is buffered
    assert {f.name: int(c.sum()) for f, c in window.cumulative()} == dict.fromkeys("abc", 1_000_000)


def test_forked_child_starts_with_empty_state(profile: ReferenceProfile) -> None:
    window = DriftWindow(profile)
    _feed(window, _rows(300))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report what it inherited, then leave without running pytest's exit
        totals = sum(int(c.sum()) for _, c in window.cumulative())
        buffered = window.tick(force=True)
        os.write(write, f"{totals} {buffered.rows if buffered else -1}".encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    message = os.read(read, 100).decode()
    os.close(read)
    assert status == 0
    assert message == "0 0"
    assert window.tick(force=True).rows == 300  # the parent kept its rows


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        WindowConfig(max_rows=100, min_count=200)
    with pytest.raises(ValueError, match="positive"):
        WindowConfig(buffer_rows=0)
