"""Tumbling drift windows over preallocated buffers. No OpenTelemetry here.

Rows are copied into fixed-size buffers on the request path and binned in
batches with numpy when a buffer fills (or when the window is checked), so the
per-value cost is a slice assignment plus an amortised share of one vectorised
pass. A window closes when it holds ``max_rows`` rows or is ``max_seconds``
old, whichever comes first. A feature gets scores and a verdict only when it
holds at least its smallest useful window of valid values (and ``min_count``,
when set): below it no test can tell a large shift from noise, and the window
is marked too small instead (:mod:`otel_ml.drift.significance`). Memory is
fixed by the profile and the buffer size, whatever the traffic.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from otel_ml._internal.registry import reset_after_fork
from otel_ml.drift.binning import IntArray
from otel_ml.drift.features import FeatureProfile, NumericFeatureProfile, decide_missing
from otel_ml.drift.profile import ReferenceProfile
from otel_ml.drift.results import FeatureWindow, WindowConfig, WindowReport, bin_labels
from otel_ml.drift.rows import RowBinner
from otel_ml.semconv import DATA_ISSUES

_INVALID = [DATA_ISSUES.index(k) for k in ("missing", "non_finite", "type")]


class _Accumulator:
    """Fine counts and issues of a list of features, for the open window and in total."""

    def __init__(self, features: Sequence[FeatureProfile]) -> None:
        self.features = tuple(features)
        self.binner = RowBinner([f.bins for f in self.features])
        size = int(self.binner.offsets[-1])
        self.window = np.zeros(size, np.int64)
        self.total = np.zeros(size, np.int64)
        self.issues = np.zeros((len(self.features), len(DATA_ISSUES)), np.int64)

    def add(self, fine: IntArray, issues: IntArray) -> None:
        self.window += fine
        self.total += fine
        self.issues += issues

    def take(self) -> tuple[IntArray, IntArray]:
        """The open window's counts and issues; starts a new window."""
        fine, issues = self.window, self.issues
        self.window = np.zeros_like(fine)
        self.issues = np.zeros_like(issues)
        return fine, issues


class DriftWindow:
    """Buffers input rows and model outputs; closes tumbling windows.

    Thread-safe: request threads call :meth:`add_rows`/:meth:`add_outputs`, a
    collection thread calls :meth:`tick`. The lock is never held while a
    window's statistics are computed.
    """

    def __init__(
        self,
        profile: ReferenceProfile,
        config: WindowConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_issues: Callable[[str, str, int], None] | None = None,
    ) -> None:
        self.profile = profile
        self._on_issues = on_issues
        self.config = config or WindowConfig()
        self._clock = clock
        outputs = [p for p in (profile.score, profile.prediction) if p is not None]
        self._inputs = _Accumulator(profile.features)
        self._outputs = _Accumulator(outputs)
        self._labels = {f.name: bin_labels(f) for f in (*self._inputs.features, *outputs)}
        self.n_numeric = len(self._inputs.binner.numeric)
        self.n_categorical = len(self._inputs.binner.categorical)
        self.smallest = {
            f.name: f.smallest_window(self.config.policy)
            for f in (*self._inputs.features, *outputs)
        }
        useful = [n for n in self.smallest.values() if n is not None]
        self.min_rows = min(self.config.max_rows, max([self.config.min_count, *useful]))
        self._reset()
        reset_after_fork(self, DriftWindow._reset)

    def _reset(self) -> None:
        # Also the after-fork hook: a forked worker starts with empty state.
        cap = self.config.buffer_rows
        self._lock = threading.Lock()
        self._num = np.empty((cap, self.n_numeric), np.float64)
        self._cat = np.empty((cap, self.n_categorical), object)
        self._type_issues = np.zeros(self.n_numeric, np.int64)
        self._fill = 0
        self._scores = np.empty(cap, np.float64)
        self._score_fill = 0
        self._label_counts: dict[str, int] = {}
        self._rows = 0
        self._started = self._clock()
        self._index = 0
        self._pending: tuple[Any, ...] | None = None
        self._inputs.window[:] = 0
        self._inputs.total[:] = 0
        self._inputs.issues[:] = 0
        self._outputs.window[:] = 0
        self._outputs.total[:] = 0
        self._outputs.issues[:] = 0

    @property
    def buffer_nbytes(self) -> int:
        """Bytes held by the row buffers and count vectors (fixed at construction)."""
        arrays = (self._num, self._cat, self._scores, self._inputs.window, self._inputs.total)
        return sum(a.nbytes for a in arrays) + self._outputs.total.nbytes * 2

    def add_rows(
        self,
        numeric: npt.NDArray[np.float64],
        categorical: npt.NDArray[Any],
        type_issues: npt.NDArray[np.int64] | None = None,
    ) -> bool:
        """Append ``k`` rows (``numeric`` k x numeric features, ``categorical`` k x
        categorical features); True if this closed the window.

        A closed window's counts wait for :meth:`tick` to be scored, so the
        statistics never run on the request path."""
        k = numeric.shape[0] if self.n_numeric else categorical.shape[0]
        with self._lock:
            if self._fill + k > self.config.buffer_rows:
                self._flush_locked()
            if k >= self.config.buffer_rows:  # a big batch is binned as it is
                batch = _bin(self._inputs.binner, numeric, categorical, type_issues)
                self._inputs.add(*batch)
                self._issues(self._inputs.features, batch[1])
                self._rows += k
            else:
                end = self._fill + k
                if self.n_numeric:
                    self._num[self._fill : end] = numeric
                if self.n_categorical:
                    self._cat[self._fill : end] = categorical
                if type_issues is not None:
                    self._type_issues += type_issues
                self._fill = end
            closed = self._close_if_due_locked()
            if closed:
                self._pending = closed  # a newer closed window replaces one not scored yet
        return closed is not None

    def add_outputs(self, scores: npt.NDArray[np.float64] | None, labels: Any) -> None:
        """Append model outputs: scores (confidences) and ``(label, count)`` pairs."""
        with self._lock:
            if scores is not None and self.profile.score is not None and scores.size:
                if self._score_fill + scores.size > self._scores.size:
                    self._flush_scores_locked()
                if scores.size >= self._scores.size:
                    self._add_scores_locked(scores)
                else:
                    self._scores[self._score_fill : self._score_fill + scores.size] = scores
                    self._score_fill += scores.size
            if labels and self.profile.prediction is not None:
                counts = self._label_counts
                for label, count in labels:  # binned with the scores, not per call
                    counts[label] = counts.get(label, 0) + count
                if len(counts) > self.config.buffer_rows:  # many distinct labels: bound it
                    self._flush_scores_locked()

    def tick(self, force: bool = False) -> WindowReport | None:
        """Bin what is buffered, close the window if due (or ``force``d) and score
        the last closed window not scored yet (collection thread)."""
        with self._lock:
            self._flush_locked()
            closed = self._close_if_due_locked(force) or self._pending
            self._pending = None
        return self._report(closed) if closed else None

    def snapshot(self) -> WindowReport:
        """The open window so far, unscored (every feature's ``scores`` is None).

        Nothing closes and nothing is scored: what the buffers hold is binned,
        as a full buffer would be, so the counts are current. The lock is held
        for that one flush of at most ``buffer_rows`` rows and the copies; the
        per-feature split happens after it is released. ``duration_s`` is the
        open window's age.
        """
        with self._lock:
            self._flush_locked()
            index, rows, age = self._index, self._rows, self._clock() - self._started
            parts = [
                (acc, acc.window.copy(), acc.issues.copy()) for acc in (self._inputs, self._outputs)
            ]
        features = [
            self._feature_window(feature, fine, issues[i], scored=False)
            for acc, total, issues in parts
            for i, (feature, fine) in enumerate(
                zip(acc.features, acc.binner.split(total), strict=True)
            )
        ]
        return WindowReport(index, rows, age, tuple(features))

    def cumulative(self) -> list[tuple[FeatureProfile, IntArray]]:
        """Every feature's coarse counts since start (the mergeable per-bin counters)."""
        with self._lock:
            totals = [
                (self._inputs, self._inputs.total.copy()),
                (self._outputs, self._outputs.total.copy()),
            ]
        out = []
        for acc, total in totals:
            for feature, fine in zip(acc.features, acc.binner.split(total), strict=True):
                out.append((feature, _coarse(feature, fine)))
        return out

    def _issues(self, features: Sequence[FeatureProfile], issues: IntArray) -> None:
        # Counted as rows are binned, so data-quality counts never wait for a window.
        if self._on_issues is None or not issues.any():
            return
        for f, row in zip(features, issues, strict=True):
            for name, count in zip(DATA_ISSUES, row.tolist(), strict=True):
                if count:
                    self._on_issues(f.name, name, count)

    def _flush_locked(self) -> None:
        if self._fill:
            # Emptied before binning: a batch that fails to bin is dropped (and
            # counted by the caller's guard), never retried on every later call.
            n, self._fill = self._fill, 0
            type_issues, self._type_issues = self._type_issues, np.zeros_like(self._type_issues)
            batch = _bin(self._inputs.binner, self._num[:n], self._cat[:n], type_issues)
            self._inputs.add(*batch)
            self._issues(self._inputs.features, batch[1])
            self._rows += n
        self._flush_scores_locked()

    def _flush_scores_locked(self) -> None:
        if self._score_fill:
            self._add_scores_locked(self._scores[: self._score_fill])
            self._score_fill = 0
        if self._label_counts:
            self._add_labels_locked(list(self._label_counts.items()))
            self._label_counts = {}

    def _add_scores_locked(self, scores: npt.NDArray[np.float64]) -> None:
        score = self.profile.score
        assert score is not None
        fine, issues = score.bins.count(np.asarray(scores, np.float64))
        acc = self._outputs
        acc.window[acc.binner.offsets[0] : acc.binner.offsets[1]] += fine
        acc.total[acc.binner.offsets[0] : acc.binner.offsets[1]] += fine
        acc.issues[0] += issues
        self._issues(acc.features[:1], issues.reshape(1, -1))

    def _add_labels_locked(self, labels: Sequence[tuple[str, int]]) -> None:
        prediction = self.profile.prediction
        assert prediction is not None
        names = np.array([label for label, _ in labels], dtype=object)
        weights = np.array([count for _, count in labels], dtype=np.int64)
        codes = prediction.bins.codes(names)
        k = len(prediction.bins.categories)
        raw = np.bincount(codes, weights=weights, minlength=k + 3).astype(np.int64)
        fine = raw[: k + 1]
        fine[k] += raw[k + 2]  # unseen classes go to __other__
        i = len(self._outputs.features) - 1
        acc = self._outputs
        acc.window[acc.binner.offsets[i] : acc.binner.offsets[i + 1]] += fine
        acc.total[acc.binner.offsets[i] : acc.binner.offsets[i + 1]] += fine
        acc.issues[i][DATA_ISSUES.index("unseen_category")] += raw[k + 2]
        if raw[k + 2] and self._on_issues is not None:
            self._on_issues(prediction.name, "unseen_category", int(raw[k + 2]))

    def _close_if_due_locked(self, force: bool = False) -> tuple[Any, ...] | None:
        now = self._clock()
        age = now - self._started
        if not (force or self._rows >= self.config.max_rows or age >= self.config.max_seconds):
            return None
        if not force and self._rows < self.min_rows:
            return None  # too few rows for a score yet: keep the window open
        self._flush_scores_locked()
        closed = (self._index, self._rows, age, self._inputs.take(), self._outputs.take())
        self._index += 1
        self._rows = 0
        self._started = now
        return closed

    def _report(self, closed: tuple[Any, ...]) -> WindowReport:
        index, rows, age, (fine_in, issues_in), (fine_out, issues_out) = closed
        features: list[FeatureWindow] = []
        for acc, fine, issues in (
            (self._inputs, fine_in, issues_in),
            (self._outputs, fine_out, issues_out),
        ):
            parts = acc.binner.split(fine)
            for i, feature in enumerate(acc.features):
                features.append(self._feature_window(feature, parts[i], issues[i]))
        return WindowReport(index, rows, age, tuple(features))

    def _feature_window(
        self, feature: FeatureProfile, fine: IntArray, issues: IntArray, scored: bool = True
    ) -> FeatureWindow:
        n = int(fine.sum())
        decision = missing = scores = None
        if scored:
            policy, min_count = self.config.policy, self.config.min_count
            decision = feature.decide(fine, policy, min_count)
            invalid = int(issues[_INVALID].sum())
            missing = decide_missing(feature, invalid, n + invalid, policy, min_count)
            scores = feature.drift_scores(fine) if decision.verdict is not None else None
        return FeatureWindow(
            name=feature.name,
            kind=feature.kind,
            n=n,
            scores=scores,
            decision=decision,
            missing=missing,
            smallest_window=self.smallest[feature.name],
            coarse_counts=_coarse(feature, fine),
            reference_fractions=feature.coarse_fractions,
            bin_labels=self._labels[feature.name],
            issues={name: int(v) for name, v in zip(DATA_ISSUES, issues, strict=True) if v},
        )


def _bin(
    binner: RowBinner, numeric: Any, categorical: Any, type_issues: Any
) -> tuple[IntArray, IntArray]:
    counts = binner.bin(numeric, categorical, type_issues)
    return counts.fine, counts.issues


def _coarse(feature: FeatureProfile, fine: IntArray) -> IntArray:
    if isinstance(feature, NumericFeatureProfile):
        return np.asarray(feature.bins.coarse(fine), np.int64)
    return fine
