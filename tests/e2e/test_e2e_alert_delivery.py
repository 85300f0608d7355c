"""Alerts reach a person: Prometheus -> Alertmanager -> pager or chat, by severity.

The stack's Alertmanager runs alertmanager/alertmanager.yml with its receivers
pointed at ``ALERT_RECEIVER_URL`` (stack/configs.py), where these tests run a
loopback server that records what PagerDuty's Events API v2 and a Slack
webhook would receive.

The first test injects drift into live traffic: ``mean radius`` far (PSI over
2, both twins of tests/e2e/rules/drift_test_rules.yml fire), ``mean texture``
a little (PSI about 0.7, only the warning fires). The far drift must page,
with its warning twin silenced by inhibition; the small one must reach chat
only. The second test sends the shipped burn-rate twins (labels and
annotations read from prometheus/alerts.yml) to the same Alertmanager.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from alert_receiver import AlertReceiver
from e2e_support import REPO, Stack, app_process, otel_environment, poll, unique_service

from otel_ml.demo.model import train

WINDOW_ROWS = 200
FAR, NEAR = "mean radius", "mean texture"
SHIFTS_SD = {FAR: 3.0, NEAR: 0.75}  # PSI about 8 and 0.7 on these rows (seed 3)
PAGER, CHAT = "/pagerduty", "/slack"
RUNBOOK = REPO / "docs" / "runbook.md"


@pytest.fixture(scope="module")
def receiver(stack: Stack) -> Iterator[AlertReceiver]:
    """The recording server, where the running stack's Alertmanager sends."""
    base = stack.control.ALERT_RECEIVER_URL
    expected = {"pager": base + PAGER, "chat": base + CHAT}
    found = stack.control.alert_receivers(stack.paths.state / "alertmanager")
    if found != expected:
        pytest.fail(
            f"the running stack's Alertmanager sends to {found}, not to the test receiver "
            f"{expected}: it was started with OTEL_ML_PAGERDUTY_URL or OTEL_ML_SLACK_WEBHOOK_URL "
            "set; stop it (`make stack-down`) and let the tests start their own"
        )
    with AlertReceiver(base) as server:
        yield server


def _runbook_url(anchor: str) -> str:
    """The link a notification must carry under `make stack`'s default base URL."""
    assert f"\n## {anchor}\n".lower() in RUNBOOK.read_text(encoding="utf-8").lower()
    return f"{RUNBOOK.as_uri()}#{anchor}"


def _pages(receiver: AlertReceiver, job: str) -> list[dict[str, Any]]:
    return [e for e in receiver.posts(PAGER) if job in e["payload"]["summary"]]


def _chats(receiver: AlertReceiver, job: str) -> list[dict[str, Any]]:
    """The Slack attachments posted about ``job``."""
    posts = receiver.posts(CHAT)
    return [a for post in posts for a in post["attachments"] if job in a["title"]]


def _drifted_rows() -> list[dict[str, Any]]:
    demo = train()
    picked = np.random.default_rng(3).choice(len(demo.rows), size=WINDOW_ROWS, replace=False)
    rows = [demo.rows[i] for i in picked]
    sd = {name: float(np.std([row[name] for row in demo.rows])) for name in SHIFTS_SD}
    return [{**row, **{n: row[n] + k * sd[n] for n, k in SHIFTS_SD.items()}} for row in rows]


def test_drift_pages_for_critical_and_chats_for_warning(
    stack: Stack, receiver: AlertReceiver, tmp_path_factory: pytest.TempPathFactory
) -> None:
    job = unique_service("otel-ml-e2e-alerting")
    environ = otel_environment(
        job,
        OTEL_ML_DRIFT_WINDOW_ROWS=str(WINDOW_ROWS),
        OTEL_ML_DRIFT_MIN_COUNT=str(WINDOW_ROWS),
        OTEL_ML_DRIFT_BUFFER_ROWS="1",
        OTEL_ML_DRIFT_WINDOW_SECONDS="3600",
    )
    rows = _drifted_rows()
    log = Path(tmp_path_factory.mktemp("alerting")) / "app.log"
    with app_process("one-line", environ, log) as client:
        for start in range(0, WINDOW_ROWS, 50):
            response = client.post("/predict", json={"rows": rows[start : start + 50]})
            assert response.status_code == 200
        poll(
            lambda: _chats(receiver, job),
            lambda found: any(f"feature {NEAR} of" in a["text"] for a in found),
            f"a chat message about {NEAR} of {job}",
        )
    pages = poll(lambda: _pages(receiver, job), bool, f"a page for {job}")
    texts = [page["payload"]["custom_details"]["summary"] for page in pages]
    assert f"feature {FAR} of {job}" in texts[0], pages
    assert not [text for text in texts if f"feature {NEAR} of" in text], pages
    link = _runbook_url("mlfeaturedrift")
    for page in pages:
        assert page["event_action"] == "trigger", page
        assert page["routing_key"] == "otel-ml-local-stack", page
        assert page["payload"]["severity"] == "critical", page
        assert "E2EFeatureDriftCritical (critical)" in page["payload"]["summary"], page
        assert page["links"] == [{"href": link, "text": "Runbook"}], page
        assert page["payload"]["custom_details"]["runbook_url"] == link, page
    chats = _chats(receiver, job)
    for attachment in chats:
        assert "E2EFeatureDrift (warning)" in attachment["title"], attachment
        assert attachment["title_link"] == link, attachment
        assert f"Runbook: {link}" in attachment["text"], attachment
        # The far drift's warning twin is inhibited by its critical.
        assert f"feature {FAR} of" not in attachment["text"], chats
    (twin,) = stack.alertmanager.alerts(
        'alertname="E2EFeatureDrift"', f'job="{job}"', f'ml_feature_name="{FAR}"'
    )
    assert twin["status"]["state"] == "suppressed", twin
    assert twin["status"]["inhibitedBy"], twin


def _shipped(name: str) -> dict[str, Any]:
    groups = yaml.safe_load((REPO / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
    (rule,) = [r for g in groups["groups"] for r in g["rules"] if r.get("alert") == name]
    return dict(rule)


def _alert(name: str, job: str, model: str) -> dict[str, Any]:
    """The alert ``name`` of prometheus/alerts.yml as Prometheus would send it
    (its labels and runbook; summary and description filled in)."""
    rule = _shipped(name)
    labels = {"alertname": name, "job": job, "ml_model_name": model, **rule["labels"]}
    annotations = {
        "summary": f"{name} of {model} in {job}",
        "description": "sent by the end-to-end test",
        "runbook_url": rule["annotations"]["runbook_url"],
    }
    return {"labels": labels, "annotations": annotations}


_TITLE = re.compile(r"\] (\w+) \((\w+)\) \S+ (\S+)$")


def _chat_titles(receiver: AlertReceiver, job: str) -> set[tuple[str, str, str]]:
    """(alert name, severity, model) of each chat message about ``job``."""
    found = set()
    for attachment in _chats(receiver, job):
        match = _TITLE.search(attachment["title"])
        assert match is not None, attachment
        found.add((match[1], match[2], match[3]))
    return found


def test_a_firing_fast_burn_silences_exactly_its_slow_twin(
    stack: Stack, receiver: AlertReceiver
) -> None:
    job = unique_service("otel-ml-e2e-burn")
    stack.alertmanager.post(
        [
            _alert("MLInferenceErrorBudgetBurnFast", job, "model-a"),
            _alert("MLInferenceErrorBudgetBurnSlow", job, "model-a"),
            _alert("MLInferenceErrorBudgetBurnSlow", job, "model-b"),  # no fast twin
            _alert("MLInferenceLatencyBudgetBurnSlow", job, "model-a"),  # another signal
        ]
    )
    expected_chats = {("MLInferenceErrorBudgetBurnSlow", "warning", "model-b"),
                      ("MLInferenceLatencyBudgetBurnSlow", "warning", "model-a")}  # fmt: skip
    poll(
        lambda: _chat_titles(receiver, job),
        lambda found: found >= expected_chats,
        f"chat messages {expected_chats}",
    )
    pages = poll(lambda: _pages(receiver, job), bool, f"a page for {job}")
    assert len(pages) == 1, pages
    assert "MLInferenceErrorBudgetBurnFast (critical)" in pages[0]["payload"]["summary"], pages
    assert pages[0]["payload"]["severity"] == "critical", pages
    assert pages[0]["links"][0]["href"] == _runbook_url("mlinferenceerrorbudgetburnfast")
    # The slow burn of model-a is silenced by its fast twin, and by nothing else.
    assert _chat_titles(receiver, job) == expected_chats
    (slow,) = stack.alertmanager.alerts(
        'alertname="MLInferenceErrorBudgetBurnSlow"', f'job="{job}"', 'ml_model_name="model-a"'
    )
    assert slow["status"]["state"] == "suppressed", slow
    (fast,) = stack.alertmanager.alerts(
        'alertname="MLInferenceErrorBudgetBurnFast"', f'job="{job}"', 'ml_model_name="model-a"'
    )
    assert slow["status"]["inhibitedBy"] == [fast["fingerprint"]], (slow, fast)
