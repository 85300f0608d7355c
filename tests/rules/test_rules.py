"""The Prometheus rules: valid for promtool, unit-tested alert by alert, every
alert documented, and written only against otel_ml's metric contract."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from promql_support import (
    PROMETHEUS,
    REPO,
    RULE_FILES,
    contract_labels,
    contract_series,
    load_yaml,
    names_in,
    recorded_names,
    rules,
    run_promtool,
)

TEST_FILES = sorted((PROMETHEUS / "tests").glob("*_test.yml"))
RUNBOOK = REPO / "docs" / "runbook.md"
# The field's tiers (kube-prometheus, the mixins); alertmanager/alertmanager.yml routes on them.
SEVERITIES = {"critical", "warning", "info"}


def alerts() -> list[dict[str, Any]]:
    return rules(PROMETHEUS / "alerts.yml")


def alert_rule_tests() -> list[dict[str, Any]]:
    """Every ``alert_rule_test`` entry of every promtool test file."""
    return [
        case
        for path in TEST_FILES
        for test in load_yaml(path)["tests"]
        for case in test.get("alert_rule_test", [])
    ]


def runbook_anchors() -> set[str]:
    """GitHub anchors of the runbook's headings."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", RUNBOOK.read_text(encoding="utf-8"), re.M)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


def test_rule_files_pass_promtool_check() -> None:
    result = run_promtool("check", "rules", *RULE_FILES)
    assert result.returncode == 0, result.stdout
    assert result.stdout.count("SUCCESS") == len(RULE_FILES), result.stdout


@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.name)
def test_promtool_unit_tests_pass(test_file: Path) -> None:
    result = run_promtool("test", "rules", test_file.name, cwd=test_file.parent)
    assert result.returncode == 0, result.stdout
    assert "SUCCESS" in result.stdout, result.stdout


def test_unit_tests_fail_when_a_threshold_changes(tmp_path: Path) -> None:
    # The burn-rate tests must notice a 10x looser fast-burn threshold.
    rules_dir, tests_dir = tmp_path / "prometheus", tmp_path / "prometheus" / "tests"
    tests_dir.mkdir(parents=True)
    shutil.copy(PROMETHEUS / "recording.yml", rules_dir)
    slo_tests = load_yaml(PROMETHEUS / "tests" / "slo_test.yml")
    slo_tests["tests"] = [t for t in slo_tests["tests"] if t["name"] == "error budget burns 100x"]
    (tests_dir / "slo_test.yml").write_text(yaml.safe_dump(slo_tests), encoding="utf-8")
    text = (PROMETHEUS / "alerts.yml").read_text(encoding="utf-8")
    assert text.count("14.4 * scalar(otel_ml_config:error_budget_ratio)") == 2
    loosened = text.replace("14.4 * scalar(otel_ml_config:error_budget_ratio)",
                            "144 * scalar(otel_ml_config:error_budget_ratio)")  # fmt: skip
    (rules_dir / "alerts.yml").write_text(loosened, encoding="utf-8")

    result = run_promtool("test", "rules", "slo_test.yml", cwd=tests_dir)

    assert result.returncode != 0, result.stdout
    assert "alertname: MLInferenceErrorBudgetBurnFast" in result.stdout, result.stdout


def test_every_alert_fires_and_stays_silent_in_a_unit_test() -> None:
    cases = alert_rule_tests()
    for alert in alerts():
        name = alert["alert"]
        outcomes = [bool(c.get("exp_alerts")) for c in cases if c["alertname"] == name]
        assert True in outcomes, f"{name}: no promtool case where it fires"
        assert False in outcomes, f"{name}: no promtool case where it stays silent"
    unknown = {c["alertname"] for c in cases} - {a["alert"] for a in alerts()}
    assert not unknown, f"promtool tests name alerts that do not exist: {unknown}"


def test_every_alert_has_severity_annotations_and_a_runbook_section() -> None:
    anchors = runbook_anchors()
    for alert in alerts():
        name = alert["alert"]
        assert alert["labels"]["severity"] in SEVERITIES, name
        annotations = alert["annotations"]
        assert annotations["summary"] and annotations["description"], name
        assert "{{" in annotations["description"], f"{name}: description has no templated value"
        assert annotations["runbook_url"] == f"docs/runbook.md#{name.lower()}", name
        assert name.lower() in anchors, f"{name}: no section in docs/runbook.md"


def _seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return int(duration[:-1]) * units[duration[-1]]


def test_twins_pair_one_critical_with_one_warning_that_fires_later() -> None:
    # The inhibition rule silences a warning while the critical with the same
    # `signal` (and service and model) fires; the critical must come first.
    twins: dict[str, dict[str, dict[str, Any]]] = {}
    for alert in alerts():
        if signal := alert["labels"].get("signal"):
            twins.setdefault(signal, {})[alert["labels"]["severity"]] = alert
    assert set(twins) == {"inference-error-budget", "inference-latency-budget", "genai-cost-budget"}
    for signal, pair in twins.items():
        assert set(pair) == {"critical", "warning"}, signal
        critical, warning = pair["critical"], pair["warning"]
        assert _seconds(critical["for"]) < _seconds(warning["for"]), signal
        by = re.compile(r"\bon \(([^)]*)\)")
        assert by.findall(critical["expr"]) == by.findall(warning["expr"]), signal


def test_rules_use_only_contract_metrics_and_labels() -> None:
    series = contract_series() | recorded_names()
    labels = contract_labels()
    for path in RULE_FILES:
        for rule in rules(path):
            metrics, used_labels = names_in(rule["expr"])
            name = rule.get("alert") or rule.get("record")
            assert metrics <= series, f"{name}: unknown metrics {metrics - series}"
            assert used_labels <= labels, f"{name}: unknown labels {used_labels - labels}"


def test_recording_rules_are_defined_before_use() -> None:
    # A group evaluates its rules in order: a rule reading a series recorded
    # later in the same group would see the previous evaluation's value.
    seen: set[str] = set()
    for group in load_yaml(PROMETHEUS / "recording.yml")["groups"]:
        in_group = {r["record"] for r in group["rules"]}
        for rule in group["rules"]:
            metrics, _ = names_in(rule["expr"])
            later = (metrics & in_group) - seen
            assert not later, f"{rule['record']} reads {later} before it is recorded"
            seen.add(rule["record"])


def test_name_extraction_finds_metrics_and_labels() -> None:
    metrics, labels = names_in(
        'sum by (job, le) (rate(ml_x_bucket{ml_model_name=~"a|b", error_type!=""}[5m]))'
        " / on (job) group_left () scalar(cfg:y) > 1e-4 and z offset 15m"
    )
    assert metrics == {"ml_x_bucket", "cfg:y", "z"}
    assert labels == {"job", "le", "ml_model_name", "error_type"}
