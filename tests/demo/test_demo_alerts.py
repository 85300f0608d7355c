"""The demo's in-process alerts: every alert of prometheus/alerts.yml is covered,
the thresholds match the rule files, and the checks fire on real otel_ml telemetry."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from support import Telemetry

import otel_ml
from otel_ml.demo.alert_rules import (
    DEFAULT_CONFIG,
    DEFAULT_FOR_S,
    DEFAULT_MULTIPLIERS,
    AlertRules,
    alert_rules,
    load_rules,
)
from otel_ml.demo.alerts import CHECKS, NOT_APPLICABLE, AlertEvaluator, AlertState, Condition
from otel_ml.demo.metric_history import MetricHistory
from otel_ml.drift.profile import ReferenceProfile

PROMETHEUS = Path(__file__).resolve().parents[2] / "prometheus"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_every_alert_of_alerts_yml_is_evaluated_or_listed_as_not_applicable() -> None:
    names = {
        rule["alert"]
        for rule in alert_rules(yaml.safe_load((PROMETHEUS / "alerts.yml").read_text()))
    }
    assert names, "no alert found in prometheus/alerts.yml"
    unknown = names - set(CHECKS) - set(NOT_APPLICABLE)
    assert not unknown, (
        f"alerts.yml has alerts the demo neither evaluates nor lists: {sorted(unknown)}; add a "
        "check to otel_ml.demo.alerts.CHECKS or a reason to NOT_APPLICABLE"
    )
    assert not set(CHECKS) & set(NOT_APPLICABLE)
    assert set(CHECKS) | set(NOT_APPLICABLE) == names, "the demo lists alerts alerts.yml lacks"
    assert all(reason.strip() for reason in NOT_APPLICABLE.values())


def test_the_built_in_defaults_equal_the_rule_files() -> None:
    rules = load_rules(PROMETHEUS)
    assert rules.source == "alerts.yml, recording.yml"
    assert dict(rules.config) == dict(DEFAULT_CONFIG)
    assert dict(rules.for_s) == dict(DEFAULT_FOR_S)
    assert dict(rules.multipliers) == dict(DEFAULT_MULTIPLIERS)


def test_without_the_rule_files_the_defaults_say_so(tmp_path: Path) -> None:
    rules = load_rules(tmp_path)
    assert rules.source == f"built-in defaults ({tmp_path} not found)"
    assert rules.config == AlertRules().config


def test_an_alert_is_pending_then_firing_after_its_scaled_for_then_inactive() -> None:
    state = AlertState("MLFeatureDrift", for_s=15.0)
    state.update(Condition(True, "x"), now=10.0)
    assert state.state == "pending"
    state.update(Condition(True, "x"), now=24.0)
    assert state.state == "pending"
    state.update(Condition(True, "x"), now=25.0)
    assert (state.state, state.first_fired_at) == ("firing", 25.0)
    state.update(Condition(False, "y"), now=26.0)
    assert (state.state, state.first_fired_at) == ("inactive", 25.0)


def _calls(telemetry: Telemetry, count: int, fail_every: int = 0) -> None:
    for i in range(count):
        try:
            with otel_ml.inference("burner", "1", **telemetry.providers) as call:
                if fail_every and i % fail_every == 0:
                    raise ValueError("bad row")
                call.record_predictions(["ok"])
        except ValueError:
            pass


def test_error_budget_burn_fires_on_real_inference_errors(telemetry: Telemetry) -> None:
    clock = Clock()
    history = MetricHistory(telemetry.reader, keep_s=400, clock=clock)
    history.collect()
    evaluator = AlertEvaluator(AlertRules())
    _calls(telemetry, 100, fail_every=25)  # 4% errors: above 14.4 x 0.1%
    clock.now = 1.0
    history.collect()
    states = {s.name: s for s in evaluator.evaluate(history, 1.0)}
    fast = states["MLInferenceErrorBudgetBurnFast"]
    assert fast.state == "pending"
    assert fast.detail == "4.00% (long) / 4.00% (short) vs 1.44%"
    clock.now = 3.0
    history.collect()
    states = {s.name: s for s in evaluator.evaluate(history, 3.0)}
    assert states["MLInferenceErrorBudgetBurnFast"].state == "firing"  # for: 2m -> 2 s
    assert states["MLInferenceErrorBudgetBurnSlow"].state == "pending"  # for: 15m -> 15 s
    assert states["MLInferenceLatencyBudgetBurnFast"].state == "inactive"
    _calls(telemetry, 2000)  # then no errors for a while: the short window clears
    clock.now = 10.0
    history.collect()
    states = {s.name: s for s in evaluator.evaluate(history, 10.0)}
    assert states["MLInferenceErrorBudgetBurnFast"].state == "inactive"


class Threshold:
    """A model: class "high" above 0.5."""

    classes_ = np.array(["high", "low"])

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.where(np.asarray(x)[:, 0] > 0.5, "high", "low")


def test_drift_and_accuracy_alerts_fire_on_real_drift_and_feedback(
    telemetry: Telemetry,
) -> None:
    rng = np.random.default_rng(3)
    train = rng.normal(0.0, 1.0, size=(2000, 1))
    profile = ReferenceProfile.fit(train, feature_names=["x"], metadata={"baseline_accuracy": 0.95})
    model = otel_ml.wrap_model(Threshold(), "shifty", "1", reference=profile, feedback=True,
                               **telemetry.providers)  # fmt: skip
    clock = Clock()
    history = MetricHistory(telemetry.reader, keep_s=400, clock=clock)
    history.collect()
    for _ in range(1100):  # one drift window of 1000 rows closes, shifted by 1.5 sd
        label = model.predict(rng.normal(1.5, 1.0, size=(1, 1)))[0]
        wrong = rng.random() < 0.3
        actual = ("low" if label == "high" else "high") if wrong else label
        assert otel_ml.record_feedback(otel_ml.last_prediction_id(), actual) == "matched"
    clock.now = 1.0
    history.collect()
    states = {s.name: s for s in AlertEvaluator(AlertRules()).evaluate(history, 1.0)}
    assert states["MLFeatureDrift"].state == "pending"
    assert states["MLFeatureDrift"].detail.startswith("x ")
    assert states["MLFleetFeatureDrift"].state == "pending"
    accuracy = states["MLAccuracyBelowBaseline"]
    assert accuracy.state == "pending"
    assert re.fullmatch(r"accuracy 0\.[0-9]{3} < 0\.950 - 0\.05 \(1,100 labels\)", accuracy.detail)
    assert states["OtelMLInternalErrors"].state == "inactive"


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_every_check_runs_on_an_empty_history(name: str, telemetry: Telemetry) -> None:
    history = MetricHistory(telemetry.reader, keep_s=10)
    history.collect()
    condition = CHECKS[name](history, AlertRules(), name)
    assert condition.active is False
    assert condition.detail


def test_answer_quality_fires_on_real_evaluation_scores(telemetry: Telemetry) -> None:
    from opentelemetry.trace import SpanContext

    from otel_ml.genai.evaluation.answers import Answer
    from otel_ml.genai.evaluation.results import (
        EvaluationResult,
        EvaluationTelemetry,
        record_result,
    )

    clock = Clock()
    history = MetricHistory(telemetry.reader, keep_s=400, clock=clock)
    history.collect()
    scores = EvaluationTelemetry.of(**telemetry.providers)
    answer = Answer(SpanContext(1, 2, False), "chat-model", "openai")
    for score in [0.2] * 12 + [0.9] * 18:  # relevance: 40% low
        record_result(scores, answer, EvaluationResult("relevance", score), "judge")
    for score in [0.0] * 5:  # user feedback: all low, too few
        record_result(scores, answer, EvaluationResult("user_feedback", score), "user")
    clock.now = 1.0
    history.collect()
    (state,) = [s for s in AlertEvaluator(AlertRules()).evaluate(history, 1.0)
                if s.name == "MLGenAIAnswerQualityLow"]  # fmt: skip
    assert state.state == "pending" and state.detail == "40.00% of relevance low vs 30.00%"
