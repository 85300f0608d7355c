"""The Alertmanager config: valid for amtool, routes each severity of the rules
to its tier, inhibits exactly the twins, and links every notification to
the runbook. What it delivers, through a running Alertmanager, is tested end
to end in tests/e2e/test_e2e_alert_delivery.py."""

from __future__ import annotations

import re
from typing import Any

import pytest
from promql_support import PROMETHEUS, REPO, load_yaml, rules, run_tool

ALERTMANAGER = REPO / "alertmanager"
CONFIG = ALERTMANAGER / "alertmanager.yml"
TEMPLATES = sorted((ALERTMANAGER / "templates").glob("*.tmpl"))
# severity -> receiver: page for critical; chat for warning, info and anything unknown.
TIERS = {"critical": "pager", "warning": "chat", "info": "chat", "test": "chat"}


def config() -> dict[str, Any]:
    return dict(load_yaml(CONFIG))


def test_the_config_passes_amtool_check_config() -> None:
    done = run_tool("amtool", "check-config", CONFIG)
    assert done.returncode == 0, done.stdout
    assert "SUCCESS" in done.stdout and f"{len(TEMPLATES)} templates" in done.stdout, done.stdout


@pytest.mark.parametrize(("severity", "receiver"), TIERS.items())
def test_each_severity_routes_to_its_tier(severity: str, receiver: str) -> None:
    done = run_tool(
        "amtool", "config", "routes", "test", f"--config.file={CONFIG}",
        f"--verify.receivers={receiver}", "alertname=Any", "job=svc", f"severity={severity}",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout
    assert done.stdout.strip() == receiver, done.stdout


def test_every_severity_of_the_rules_has_a_route() -> None:
    routed = {
        m.group(1)
        for route in config()["route"]["routes"]
        for matcher in route["matchers"]
        if (m := re.fullmatch(r'severity="(\w+)"', matcher))
    }
    severities = {r["labels"]["severity"] for r in rules(PROMETHEUS / "alerts.yml")}
    assert severities <= routed, severities - routed


def test_inhibition_silences_only_warning_twins_of_the_same_subject() -> None:
    (rule,) = config()["inhibit_rules"]
    assert rule["source_matchers"] == ['severity="critical"', 'signal=~".+"']
    assert rule["target_matchers"] == ['severity="warning"', 'signal=~".+"']
    # Every label the twins keep (their `on (...)` and `by (...)` labels) must be
    # equal: a fast burn of one model silences the slow burn of that model only.
    kept: set[str] = set()
    for alert in rules(PROMETHEUS / "alerts.yml"):
        if "signal" in alert["labels"]:
            for clause in re.findall(r"\b(?:on|by) \(([^)]*)\)", alert["expr"]):
                kept.update(label.strip() for label in clause.split(","))
    assert {"job", "ml_model_name"} <= kept, kept
    assert kept | {"signal"} <= set(rule["equal"]), kept
    assert "alertname" not in rule["equal"] and "severity" not in rule["equal"]


def test_every_notification_carries_the_runbook_link() -> None:
    receivers = {r["name"]: r for r in config()["receivers"]}
    assert set(receivers) == {"pager", "chat"}
    (pager,) = receivers["pager"]["pagerduty_configs"]
    (chat,) = receivers["chat"]["slack_configs"]
    runbook = '{{ template "otel_ml.runbook_url" . }}'
    assert pager["links"] == [{"href": runbook, "text": "Runbook"}]
    assert pager["details"]["runbook_url"] == runbook
    assert chat["title_link"] == runbook
    assert chat["send_resolved"] is True
    text = (ALERTMANAGER / "templates" / "otel-ml.tmpl").read_text(encoding="utf-8")
    assert 'Runbook: {{ template "otel_ml.alert_runbook_url" . }}' in text


def test_secrets_are_files_that_compose_provides() -> None:
    text = CONFIG.read_text(encoding="utf-8")
    files = set(re.findall(r"_file: /run/secrets/(\w+)", text))
    assert files == {"slack_webhook_url", "pagerduty_routing_key"}
    compose = load_yaml(REPO / "docker-compose.yml")
    assert set(compose["secrets"]) == files
    assert set(compose["services"]["alertmanager"]["secrets"]) == files
