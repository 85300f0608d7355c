"""The alerts of ``prometheus/alerts.yml``, evaluated in-process over the demo's metrics.

PromQL does not run here, so each alert has a hand-written equivalent over the
same metric data (:mod:`otel_ml.demo.metric_history`): :data:`CHECKS` maps every
alert name to it, and :data:`NOT_APPLICABLE` would list, with the reason, an
alert the demo cannot evaluate; a test fails when ``alerts.yml`` gains an alert
that is in neither.

So that a one-minute demo can show them, time is scaled by :data:`TIME_SCALE`:
a PromQL window of 5m becomes 5 s, 1h becomes 60 s, and ``for: 15m`` becomes
15 s. Thresholds (the ``otel_ml_config:*`` constants of ``recording.yml``) and
the multipliers and ``for:`` durations of ``alerts.yml`` come from
:mod:`otel_ml.demo.alert_rules`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from otel_ml import semconv
from otel_ml.demo.alert_rules import AlertRules
from otel_ml.demo.costs import daily_spend, per_day
from otel_ml.demo.metric_history import Attributes, MetricHistory
from otel_ml.genai.evaluation.names import GEN_AI_EVALUATION_NAME, ML_GENAI_EVALUATION_SCORE

TIME_SCALE = 60.0
"""PromQL seconds per demo second."""

# Bucket bounds the recording rules hard-code (le="0.25", le="0.6").
SLOW_CALL_S = 0.25
LOW_CONFIDENCE = 0.6


@dataclass(frozen=True)
class Condition:
    """An alert's expression now: whether it holds, and what it compared."""

    active: bool
    detail: str


Check = Callable[[MetricHistory, AlertRules, str], Condition]


def _window(promql_s: float) -> float:
    return promql_s / TIME_SCALE


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole > 0 else math.nan


def _error_ratio(history: MetricHistory, window_s: float) -> float:
    name = semconv.ML_INFERENCE_DURATION
    errors = history.increase(name, window_s, lambda a: semconv.ERROR_TYPE in a)
    return _ratio(errors, history.increase(name, window_s))


def _slow_ratio(history: MetricHistory, window_s: float) -> float:
    return 1 - history.histogram(semconv.ML_INFERENCE_DURATION, window_s).share_at_most(SLOW_CALL_S)


def _burn(ratio: Callable[[MetricHistory, float], float], budget: str, long_s: float,
          short_s: float, fmt: Callable[[float], str] | None = None) -> Check:  # fmt: skip
    def check(history: MetricHistory, rules: AlertRules, name: str) -> Condition:
        limit = rules.multipliers[name] * rules.config[budget]
        long, short = ratio(history, _window(long_s)), ratio(history, _window(short_s))
        return Condition(
            long > limit and short > limit,
            f"{(fmt or _pct)(long)} (long) / {(fmt or _pct)(short)} (short) vs "
            f"{(fmt or _pct)(limit)}",
        )

    return check


def _latency_p95(history: MetricHistory, rules: AlertRules, name: str) -> Condition:
    p95 = history.histogram(semconv.ML_INFERENCE_DURATION, _window(300)).quantile(0.95)
    limit = rules.config["latency_p95_seconds"]
    return Condition(p95 > limit, f"p95 {_ms(p95)} vs {_ms(limit)}")


def _verdict(metric: str, what: str) -> Check:
    """Any feature whose exported verdict (``metric``) is drift, as the alert reads it."""

    def check(history: MetricHistory, rules: AlertRules, name: str) -> Condition:
        drifted = sorted(
            (str(p.attributes.get(semconv.ML_FEATURE_NAME))
             for p in history.latest.points(metric) if p.value >= semconv.DRIFT_STATUS["drift"]),
            key=lambda feature: (feature.startswith("__"), feature),  # inputs first
        )  # fmt: skip
        if not drifted:
            return Condition(False, f"no {what} drift verdict")
        more = f" (+{len(drifted) - 1} more)" if len(drifted) > 1 else ""
        return Condition(True, f"{drifted[0]} {what} drift{more}")

    return check


def _feature_bin(attrs: Attributes) -> tuple[str, str]:
    return str(attrs.get(semconv.ML_FEATURE_NAME)), str(attrs.get(semconv.ML_DRIFT_BIN))


def _fleet_psi(history: MetricHistory, rules: AlertRules) -> dict[str, float]:
    """PSI per feature from the bin-count increases, like the recording rule."""
    counts: dict[str, dict[str, float]] = {}
    for attrs, increase in history.increases(semconv.ML_DRIFT_BIN_COUNT, _window(3600)):
        feature, label = _feature_bin(attrs)
        counts.setdefault(feature, {})[label] = increase
    reference = {
        _feature_bin(p.attributes): p.value
        for p in history.latest.points(semconv.ML_DRIFT_REFERENCE_FRACTION)
    }
    psi = {}
    for feature, bins in counts.items():
        total = sum(bins.values())
        if total < rules.config["drift_min_window_size"]:
            continue
        score = 0.0
        for label, count in bins.items():
            current = max(count / total, 1e-4)
            expected = max(reference.get((feature, label), 0.0), 1e-4)
            score += (current - expected) * math.log(current / expected)
        psi[feature] = score
    return psi


def _fleet_drift(history: MetricHistory, rules: AlertRules, name: str) -> Condition:
    psi = _fleet_psi(history, rules)
    limit = rules.config["drift_threshold:psi"]
    if not psi:
        return Condition(False, "too few values yet")
    feature, score = max(psi.items(), key=lambda item: item[1])
    return Condition(score > limit, f"{feature} psi {score:.2f} vs {limit:g}")


def _is_correct(attrs: Attributes) -> bool:
    return attrs.get(semconv.ML_FEEDBACK_OUTCOME) == "correct"


def _accuracy(history: MetricHistory, rules: AlertRules, name: str) -> Condition:
    window = _window(3600)
    labels = history.increase(semconv.ML_FEEDBACK_OUTCOMES, window)
    accuracy = _ratio(history.increase(semconv.ML_FEEDBACK_OUTCOMES, window, _is_correct), labels)
    baselines = [p.value for p in history.latest.points(semconv.ML_FEEDBACK_BASELINE)]
    if not baselines:
        return Condition(False, "no baseline accuracy")
    baseline, margin = max(baselines), rules.config["accuracy_margin_ratio"]
    enough = labels >= rules.config["feedback_min_labels"]
    detail = f"accuracy {accuracy:.3f} < {baseline:.3f} - {margin:g} ({labels:,.0f} labels)"
    return Condition(baseline - accuracy > margin and enough, detail)


def _low_confidence(history: MetricHistory, rules: AlertRules, name: str) -> Condition:
    confidence = history.histogram(semconv.ML_PREDICTION_CONFIDENCE_METRIC, _window(1800))
    share = confidence.share_at_most(LOW_CONFIDENCE)
    limit = rules.config["low_confidence_share_ratio"]
    return Condition(share > limit, f"{_pct(share)} at <= {LOW_CONFIDENCE} vs {_pct(limit)}")


def _ttft(history: MetricHistory, rules: AlertRules, name: str) -> Condition:
    ttft = history.histogram(semconv.GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK, _window(300))
    p95, limit = ttft.quantile(0.95), rules.config["genai_ttft_p95_seconds"]
    return Condition(p95 > limit, f"p95 {_ms(p95)} vs {_ms(limit)}")


def _token_spend(history: MetricHistory, rules: AlertRules, name: str) -> Condition:
    window = _window(3600)
    tokens = history.histogram(semconv.GEN_AI_CLIENT_TOKEN_USAGE, window).sum
    per_hour = _ratio(tokens, history.span_s(window)) * 3600
    limit = rules.config["genai_tokens_per_hour_max"]
    return Condition(per_hour > limit, f"{per_hour:,.0f} tokens/h vs {limit:,.0f}")


def _answer_quality(history: MetricHistory, rules: AlertRules, name: str) -> Condition:
    least = rules.config["genai_evaluation_min_scores"]
    limit = rules.config["genai_low_score_share_ratio"]
    by_name = history.histograms(ML_GENAI_EVALUATION_SCORE, _window(3600), GEN_AI_EVALUATION_NAME)
    judged = [(s.share_at_most(0.5), e) for e, s in by_name.items() if s.count >= least]
    share, evaluation = max(judged, default=(0.0, f"any evaluation ({least:g} scores an hour)"))
    return Condition(share > limit, f"{_pct(share)} of {evaluation} low vs {_pct(limit)}")


def _memory(history: MetricHistory, rules: AlertRules, name: str) -> Condition:
    snapshot = history.latest
    limits = [p.value for p in snapshot.points(semconv.OTEL_ML_CGROUP_MEMORY_LIMIT)]
    used = [p.value for p in snapshot.points(semconv.PROCESS_MEMORY_USAGE)]
    if not limits or not used:
        return Condition(False, "no cgroup memory limit: no series, as in Prometheus")
    share, limit = max(used) / max(limits), rules.config["memory_limit_ratio"]
    return Condition(share > limit, f"{_pct(share)} of the limit vs {_pct(limit)}")


def _gpu_memory(history: MetricHistory, rules: AlertRules, name: str) -> Condition:
    snapshot = history.latest
    sizes = {p.attributes.get(semconv.HW_ID): p.value
             for p in snapshot.points(semconv.HW_GPU_MEMORY_LIMIT)}  # fmt: skip
    shares = [
        p.value / sizes[gpu]
        for p in snapshot.points(semconv.HW_GPU_MEMORY_USAGE)
        if (gpu := p.attributes.get(semconv.HW_ID)) in sizes and sizes[gpu] > 0
    ]
    if not shares:
        return Condition(False, "no GPU metrics: no series")
    limit = rules.config["gpu_memory_saturation_ratio"]
    return Condition(max(shares) > limit, f"{_pct(max(shares))} used vs {_pct(limit)}")


def _internal_errors(history: MetricHistory, rules: AlertRules, name: str) -> Condition:
    errors = history.increase(semconv.OTEL_ML_INTERNAL_ERRORS, _window(900))
    return Condition(errors > 0, f"{errors:.0f} swallowed telemetry errors")


CHECKS: Mapping[str, Check] = {
    "MLInferenceErrorBudgetBurnFast": _burn(_error_ratio, "error_budget_ratio", 3600, 300),
    "MLInferenceErrorBudgetBurnSlow": _burn(_error_ratio, "error_budget_ratio", 21600, 1800),
    "MLInferenceLatencyBudgetBurnFast": _burn(_slow_ratio, "latency_budget_ratio", 3600, 300),
    "MLInferenceLatencyBudgetBurnSlow": _burn(_slow_ratio, "latency_budget_ratio", 21600, 1800),
    "MLInferenceLatencyP95High": _latency_p95,
    "MLFeatureDrift": _verdict(semconv.ML_DRIFT_STATUS, "distribution"),
    "MLFeatureMissingValuesRise": _verdict(semconv.ML_DRIFT_MISSING_STATUS, "missing share"),
    "MLFleetFeatureDrift": _fleet_drift,
    "MLAccuracyBelowBaseline": _accuracy,
    "MLLowConfidenceShareHigh": _low_confidence,
    "MLGenAITimeToFirstChunkHigh": _ttft,
    "MLGenAITokenSpendHigh": _token_spend,
    "MLGenAICostBudgetBurnFast": _burn(daily_spend, "genai_daily_budget", 3600, 300, per_day),
    "MLGenAICostBudgetBurnSlow": _burn(daily_spend, "genai_daily_budget", 21600, 1800, per_day),
    "MLProcessMemoryNearLimit": _memory,
    "MLGPUMemorySaturated": _gpu_memory,
    "OtelMLInternalErrors": _internal_errors,
    "MLGenAIAnswerQualityLow": _answer_quality,
}
"""The in-process equivalent of every alert of ``alerts.yml``."""

NOT_APPLICABLE: Mapping[str, str] = {}
"""Alerts of ``alerts.yml`` the demo does not evaluate, with the reason (none today)."""


@dataclass
class AlertState:
    """An alert's state, as Prometheus keeps it: inactive, pending (the condition
    holds, not yet for its ``for:``) or firing."""

    name: str
    for_s: float
    state: str = "inactive"
    detail: str = ""
    active_since: float | None = None
    first_fired_at: float | None = None

    def update(self, condition: Condition, now: float) -> None:
        """Move to the state ``condition`` gives at ``now`` (demo seconds)."""
        self.detail = condition.detail
        if not condition.active:
            self.state, self.active_since = "inactive", None
            return
        if self.active_since is None:
            self.active_since = now
        held = now - self.active_since
        self.state = "firing" if held >= self.for_s else "pending"
        if self.state == "firing" and self.first_fired_at is None:
            self.first_fired_at = now


class AlertEvaluator:
    """Evaluates every check of :data:`CHECKS` over a :class:`MetricHistory`."""

    def __init__(self, rules: AlertRules) -> None:
        self.rules = rules
        self.states = [AlertState(name, rules.for_s.get(name, 0.0) / TIME_SCALE) for name in CHECKS]

    def evaluate(self, history: MetricHistory, now: float) -> list[AlertState]:
        """Evaluate every alert at ``now`` (seconds since the demo started)."""
        for state in self.states:
            state.update(CHECKS[state.name](history, self.rules, state.name), now)
        return self.states


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2%}"


def _ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.0f} ms"
