"""What the live view shows, read from the demo's metrics (never from the traffic
generator's own bookkeeping): rates, latency, confidence, drift, accuracy, LLM."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from otel_ml import semconv
from otel_ml.demo.costs import tenant_costs
from otel_ml.demo.metric_history import Attributes, MetricHistory
from otel_ml.drift.significance import Verdict
from otel_ml.genai.evaluation.names import GEN_AI_EVALUATION_NAME, ML_GENAI_EVALUATION_SCORE

RATE_WINDOW_S = 5.0
ERROR_WINDOW_S = 60.0  # errors are rare: a short window mostly shows none
LLM_WINDOW_S = 10.0
_VERDICT_RANK = {"drift": 2, "warn": 1, "ok": 0}


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's scores in the last closed drift window, and its verdict."""

    feature: str
    scores: dict[str, float]
    window_size: int
    verdict: Verdict


@dataclass(frozen=True)
class Readout:
    """One frame of numbers (NaN where there is no data yet)."""

    request_rate: float
    error_ratio: float
    latency_s: tuple[float, float, float]
    confidence_mix: tuple[float, float, float]
    drift: list[FeatureDrift]
    data_issues: dict[str, int]
    accuracy: float
    accuracy_labels: int
    baseline: float
    llm_calls: int
    ttft_s: tuple[float, float]
    tokens: tuple[int, int]
    token_rate: float
    tenant_costs: dict[str, float] = field(default_factory=dict)
    """LLM spend since start per tenant (``gen_ai.client.operation.cost``)."""
    answer_scores: dict[str, tuple[float, int]] = field(default_factory=dict)
    """Mean score and count per evaluation (judge's groundedness, users' feedback)."""

    @property
    def drifted(self) -> list[str]:
        """Features whose verdict is ``drift``."""
        return [f.feature for f in self.drift if f.verdict == "drift"]


def read(history: MetricHistory) -> Readout:
    """A :class:`Readout` of the latest snapshot."""
    duration = history.histogram(semconv.ML_INFERENCE_DURATION, RATE_WINDOW_S)
    errors = history.increase(
        semconv.ML_INFERENCE_DURATION, ERROR_WINDOW_S, lambda a: semconv.ERROR_TYPE in a
    )
    calls = history.increase(semconv.ML_INFERENCE_DURATION, ERROR_WINDOW_S)
    http = history.increase("http.server.request.duration", RATE_WINDOW_S, _predict_route)
    confidence = history.histogram(semconv.ML_PREDICTION_CONFIDENCE_METRIC, RATE_WINDOW_S)
    low, mid = confidence.share_at_most(0.6), confidence.share_at_most(0.9)
    ttft = history.histogram(semconv.GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK, 3600.0)
    ttft_recent = history.histogram(semconv.GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK, LLM_WINDOW_S)
    recent = ttft_recent if ttft_recent.count else ttft
    return Readout(
        request_rate=_ratio(http, history.span_s(RATE_WINDOW_S)),
        error_ratio=_ratio(errors, calls),
        latency_s=(duration.quantile(0.5), duration.quantile(0.95), duration.quantile(0.99)),
        confidence_mix=(1 - mid, mid - low, low),
        drift=_drift(history),
        data_issues=_data_issues(history),
        accuracy=_gauge(history, semconv.ML_FEEDBACK_ACCURACY),
        accuracy_labels=int(_gauge(history, semconv.ML_FEEDBACK_WINDOW_SIZE, 0.0)),
        baseline=_gauge(history, semconv.ML_FEEDBACK_BASELINE),
        llm_calls=ttft.count,
        ttft_s=(recent.quantile(0.5), recent.quantile(0.95)),
        tokens=(_tokens(history, "input"), _tokens(history, "output")),
        token_rate=_ratio(
            history.histogram(semconv.GEN_AI_CLIENT_TOKEN_USAGE, LLM_WINDOW_S).sum,
            history.span_s(LLM_WINDOW_S),
        ),
        tenant_costs=tenant_costs(history),
        answer_scores=_answer_scores(history),
    )


def answer_scores(r: Readout) -> str:
    """``groundedness 0.83 (12 judged)  user_feedback 0.75 (30 rated)``."""
    return "  ".join(
        f"{name} {mean:.2f} ({count} {'rated' if name == 'user_feedback' else 'judged'})"
        for name, (mean, count) in sorted(r.answer_scores.items())
    )


def _answer_scores(history: MetricHistory) -> dict[str, tuple[float, int]]:
    scores = history.histograms(ML_GENAI_EVALUATION_SCORE, 1e9, GEN_AI_EVALUATION_NAME)
    return {str(name): (s.sum / s.count, s.count) for name, s in scores.items() if s.count}


def _predict_route(attributes: Attributes) -> bool:
    return attributes.get("http.route") == "/predict"


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole > 0 else math.nan


def _gauge(history: MetricHistory, name: str, default: float = math.nan) -> float:
    values = [p.value for p in history.latest.points(name)]
    return max(values) if values else default


def _tokens(history: MetricHistory, kind: str) -> int:
    usage = history.histogram(
        semconv.GEN_AI_CLIENT_TOKEN_USAGE, 1e9, lambda a: a.get(semconv.GEN_AI_TOKEN_TYPE) == kind
    )
    return int(usage.sum)


def _drift(history: MetricHistory) -> list[FeatureDrift]:
    snapshot = history.latest
    scores: dict[str, dict[str, float]] = {}
    for point in snapshot.points(semconv.ML_DRIFT_SCORE):
        feature = str(point.attributes.get(semconv.ML_FEATURE_NAME))
        scores.setdefault(feature, {})[str(point.attributes.get(semconv.ML_DRIFT_METHOD))] = (
            point.value
        )
    sizes = {
        str(p.attributes.get(semconv.ML_FEATURE_NAME)): int(p.value)
        for p in snapshot.points(semconv.ML_DRIFT_WINDOW_SIZE)
    }
    # The verdict the monitor exported (ml.drift.status): the one alerts use.
    names = {value: name for name, value in semconv.DRIFT_STATUS.items()}
    verdicts: dict[str, Verdict] = {
        str(p.attributes.get(semconv.ML_FEATURE_NAME)): _as_verdict(names.get(int(p.value), "ok"))
        for p in snapshot.points(semconv.ML_DRIFT_STATUS)
    }
    features = [
        FeatureDrift(feature, methods, sizes.get(feature, 0), verdicts.get(feature, "ok"))
        for feature, methods in scores.items()
    ]
    return sorted(
        features, key=lambda f: (-_VERDICT_RANK[f.verdict], -f.scores.get("psi", 0.0), f.feature)
    )


def _as_verdict(name: str) -> Verdict:
    return "drift" if name == "drift" else "warn" if name == "warn" else "ok"


def _data_issues(history: MetricHistory) -> dict[str, int]:
    """Issue counts since start, as ``"issue (feature)"``."""
    issues: dict[str, int] = {}
    for point in history.latest.points(semconv.ML_DATA_QUALITY_ISSUES):
        key = (
            f"{point.attributes.get(semconv.ML_DATA_ISSUE)} "
            f"({point.attributes.get(semconv.ML_FEATURE_NAME)})"
        )
        issues[key] = issues.get(key, 0) + int(point.value)
    return dict(sorted(issues.items(), key=lambda item: -item[1]))
