"""The thresholds, ``for:`` durations and burn factors of the demo's alerts: read
from ``prometheus/recording.yml`` and ``alerts.yml`` when pyyaml and the files are
there, otherwise the defaults below, which a test keeps equal to the files."""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROMETHEUS_DIR = Path(__file__).resolve().parents[2] / "prometheus"

DEFAULT_CONFIG: Mapping[str, float] = {
    "error_budget_ratio": 0.001,
    "latency_budget_ratio": 0.01,
    "latency_p95_seconds": 0.25,
    "drift_threshold:psi": 0.25,
    "drift_min_window_size": 500,
    "accuracy_margin_ratio": 0.05,
    "feedback_min_labels": 100,
    "low_confidence_share_ratio": 0.25,
    "genai_ttft_p95_seconds": 1,
    "genai_tokens_per_hour_max": 1e6,
    "genai_daily_budget": 100,
    "memory_limit_ratio": 0.9,
    "gpu_memory_saturation_ratio": 0.95,
    "genai_low_score_share_ratio": 0.3,
    "genai_evaluation_min_scores": 20,
}
"""The ``otel_ml_config:*`` recording rules; ``name:method`` for labelled ones."""

DEFAULT_FOR_S: Mapping[str, float] = {
    "MLInferenceErrorBudgetBurnFast": 120,
    "MLInferenceErrorBudgetBurnSlow": 900,
    "MLInferenceLatencyBudgetBurnFast": 120,
    "MLInferenceLatencyBudgetBurnSlow": 900,
    "MLInferenceLatencyP95High": 600,
    "MLFeatureDrift": 900,
    "MLFeatureMissingValuesRise": 900,
    "MLFleetFeatureDrift": 900,
    "MLAccuracyBelowBaseline": 900,
    "MLLowConfidenceShareHigh": 900,
    "MLGenAITimeToFirstChunkHigh": 600,
    "MLGenAITokenSpendHigh": 900,
    "MLGenAICostBudgetBurnFast": 120,
    "MLGenAICostBudgetBurnSlow": 900,
    "MLProcessMemoryNearLimit": 300,
    "MLGPUMemorySaturated": 600,
    "OtelMLInternalErrors": 0,
    "MLGenAIAnswerQualityLow": 900,
}
"""The ``for:`` of each alert, in PromQL seconds."""

DEFAULT_MULTIPLIERS: Mapping[str, float] = {
    "MLInferenceErrorBudgetBurnFast": 14.4,
    "MLInferenceErrorBudgetBurnSlow": 6,
    "MLInferenceLatencyBudgetBurnFast": 14.4,
    "MLInferenceLatencyBudgetBurnSlow": 6,
    "MLGenAICostBudgetBurnFast": 6,
    "MLGenAICostBudgetBurnSlow": 2,
}
"""Burn-rate factors (``14.4 * scalar(otel_ml_config:...)``)."""


@dataclass(frozen=True)
class AlertRules:
    """Thresholds, ``for:`` durations and burn factors, and where they came from."""

    config: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_CONFIG))
    for_s: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_FOR_S))
    multipliers: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MULTIPLIERS))
    source: str = "built-in defaults"


def load_rules(directory: Path = PROMETHEUS_DIR) -> AlertRules:
    """Thresholds from ``recording.yml`` and ``alerts.yml`` in ``directory``, or the
    defaults (with the reason in :attr:`AlertRules.source`)."""
    try:
        yaml = importlib.import_module("yaml")
    except ImportError:
        return AlertRules(source="built-in defaults (pyyaml is not installed)")
    recording, alerting = directory / "recording.yml", directory / "alerts.yml"
    if not (recording.is_file() and alerting.is_file()):
        return AlertRules(source=f"built-in defaults ({directory} not found)")
    config = dict(DEFAULT_CONFIG)
    config.update(_config_rules(yaml.safe_load(recording.read_text())))
    for_s, multipliers = dict(DEFAULT_FOR_S), dict(DEFAULT_MULTIPLIERS)
    for rule in alert_rules(yaml.safe_load(alerting.read_text())):
        for_s[rule["alert"]] = _duration_s(str(rule.get("for", "0s")))
        found = re.search(r"([0-9.]+)\s*\*\s*scalar\(otel_ml_config:", str(rule.get("expr", "")))
        if found:
            multipliers[rule["alert"]] = float(found.group(1))
    return AlertRules(config, for_s, multipliers, f"{alerting.name}, {recording.name}")


def alert_rules(document: Any) -> list[dict[str, Any]]:
    """The alerting rules of a parsed Prometheus rule file."""
    return [
        rule
        for group in (document or {}).get("groups", [])
        for rule in group.get("rules", [])
        if "alert" in rule
    ]


def _config_rules(document: Any) -> dict[str, float]:
    config = {}
    for group in (document or {}).get("groups", []):
        for rule in group.get("rules", []):
            record = str(rule.get("record", ""))
            value = re.fullmatch(r"\s*vector\(([-+0-9.e]+)\)\s*", str(rule.get("expr", "")))
            if not record.startswith("otel_ml_config:") or value is None:
                continue
            key = record.removeprefix("otel_ml_config:")
            method = (rule.get("labels") or {}).get("ml_drift_method")
            config[f"{key}:{method}" if method else key] = float(value.group(1))
    return config


def _duration_s(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", text)
    return sum(float(n) * units[u] for n, u in parts)
