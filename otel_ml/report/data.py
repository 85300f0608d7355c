"""The content of the drift page as a JSON document. No HTML here.

One document describes one or more models: per model the window settings and
thresholds, the last closed (scored) window and the open one, and per watched
feature (inputs, then the ``__score__`` and ``__prediction__`` outputs) the
reference fraction and the window counts per coarse bin, the scores, the
decisions (test, statistic, p-value, effect, the thresholds for this window
size, verdict) on its distribution and its missing share, the smallest useful
window and the data-quality counts. Only aggregates appear: bin edges and
category names come from the reference profile, never from requests.

The HTML page (:mod:`otel_ml.report.page`) is rendered from this document,
so the page and its JSON twin always show the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Final

from otel_ml.drift.profile import ReferenceProfile
from otel_ml.drift.results import FeatureWindow, WindowConfig, WindowReport
from otel_ml.drift.significance import Decision
from otel_ml.semconv import PREDICTION_FEATURE, SCORE_FEATURE

if TYPE_CHECKING:
    from otel_ml.drift.monitor import DriftMonitor

PAGE_FORMAT: Final = "otel-ml-drift-page"
PAGE_VERSION: Final = 2

Doc = dict[str, Any]


def page_document(title: str, models: Sequence[Doc], note: str | None = None) -> Doc:
    """The whole page: a title, when it was made, a note (e.g. why no model is shown)."""
    return {
        "format": PAGE_FORMAT,
        "version": PAGE_VERSION,
        "title": title,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "note": note,
        "models": list(models),
    }


def monitor_section(monitor: DriftMonitor) -> Doc:
    """One live model: its last closed window and a snapshot of the open one."""
    return model_section(
        monitor.model_name,
        monitor.model_version,
        monitor.profile,
        monitor.window.config,
        last=monitor.latest,
        open_window=monitor.window.snapshot(),
    )


def model_section(
    model_name: str,
    model_version: str,
    profile: ReferenceProfile,
    config: WindowConfig,
    last: WindowReport | None,
    open_window: WindowReport | None = None,
    data: str | None = None,
) -> Doc:
    """One model's part of the page (see the module docstring); ``data`` names the
    file of an offline report, whose rows are one window."""
    last_by_name = {f.name: f for f in last.features} if last else {}
    open_by_name = {f.name: f for f in open_window.features} if open_window else {}
    watched = [*profile.features, *(p for p in (profile.score, profile.prediction) if p)]
    features = [
        _feature(f.name, f.kind, last_by_name.get(f.name), open_by_name.get(f.name))
        for f in watched
    ]
    policy = config.policy
    return {
        "model": model_name,
        "version": model_version,
        "data": data,
        "profile": {"features": len(profile.features), "metadata": dict(profile.metadata)},
        "window": {
            "max_rows": config.max_rows,
            "max_seconds": _number(config.max_seconds),
            "min_count": config.min_count,
        },
        "policy": {
            "drift_rate": policy.drift_rate,
            "warn_rate": policy.warn_rate,
            "min_effect": policy.min_effect,
        },
        "last_window": _window(last),
        "open_window": _window(open_window),
        "verdicts": _verdict_counts(features),
        "features": features,
    }


def _window(report: WindowReport | None) -> Doc | None:
    if report is None:
        return None
    return {"index": report.index, "rows": report.rows, "duration_s": _number(report.duration_s)}


def _feature(
    name: str, kind: str, last: FeatureWindow | None, open_window: FeatureWindow | None
) -> Doc:
    shown = last or open_window
    assert shown is not None, f"feature {name!r} is in neither window"
    return {
        "name": name,
        "kind": kind,
        "role": _role(name),
        "bins": list(shown.bin_labels),
        "reference": [_number(x) for x in shown.reference_fractions.tolist()],
        "smallest_window": shown.smallest_window,
        "last_window": _counts(last, scored=True),
        "open_window": _counts(open_window, scored=False),
    }


def _counts(window: FeatureWindow | None, scored: bool) -> Doc | None:
    if window is None:
        return None
    out: Doc = {"n": window.n, "counts": window.coarse_counts.tolist(), "issues": window.issues}
    if scored:
        scores = window.scores
        out["scores"] = (
            None
            if scores is None
            else {
                "psi": _number(scores.psi),
                "ks": _number(scores.ks),
                "chi2": _number(scores.chi2),
                "chi2_p": _number(scores.chi2_p),
                "js": _number(scores.js),
            }
        )
        out["verdict"] = window.verdict
        out["too_small"] = window.too_small
        out["decision"] = _decision(window.decision)
        out["missing"] = _decision(window.missing)
    return out


def _decision(decision: Decision | None) -> Doc | None:
    if decision is None:
        return None
    return {
        "test": decision.test,
        "n": decision.n,
        "statistic": _number(decision.statistic),
        "p_value": _number(decision.p_value),
        "effect": _number(decision.effect),
        "drift_at": _number(decision.drift_at),
        "warn_at": _number(decision.warn_at),
        "verdict": decision.verdict,
    }


def _role(name: str) -> str:
    return {SCORE_FEATURE: "score", PREDICTION_FEATURE: "prediction"}.get(name, "input")


def _verdict_counts(features: Sequence[Doc]) -> dict[str, int]:
    counts = {"drift": 0, "warn": 0, "ok": 0, "too_small": 0, "not_scored": 0}
    for feature in features:
        last = feature["last_window"]
        key = (last and last["verdict"]) or ("too_small" if last and last["too_small"] else None)
        counts[key or "not_scored"] += 1
    return counts


def _number(value: float | None) -> float | None:
    """A JSON number: NaN and infinities (no score, no time limit) become null."""
    return value if value is not None and math.isfinite(value) else None
