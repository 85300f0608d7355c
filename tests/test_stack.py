"""The stack package without running anything: one version per component
(compose's images are what `make stack` builds), and the local configs made
from compose's. The binaries check these configs in tests/e2e/."""

from __future__ import annotations

import importlib
import stat
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def stack() -> ModuleType:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    return importlib.import_module("stack")


def test_compose_runs_the_versions_the_stack_builds(stack: ModuleType) -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    images = {name: s["image"] for name, s in compose["services"].items() if "image" in s}
    assert images == {
        "collector": f"otel/opentelemetry-collector-contrib:{stack.COLLECTOR_VERSION[1:]}",
        "jaeger": f"jaegertracing/jaeger:{stack.JAEGER_VERSION[1:]}",
        "prometheus": f"prom/prometheus:{stack.PROMETHEUS_VERSION}",
        "alertmanager": f"prom/alertmanager:{stack.ALERTMANAGER_VERSION}",
        "grafana": "grafana/grafana:12.0.0",
        "redis": "redis:7.0-alpine",  # Debian 12's redis-server (7.0) runs the store tests
    }


def test_the_cache_keys_hold_the_versions(stack: ModuleType, tmp_path: Path) -> None:
    paths = stack.Paths(tmp_path / "cache", tmp_path / "state")
    assert paths.prometheus.parent == paths.promtool.parent
    assert stack.PROMETHEUS_VERSION in str(paths.prometheus)
    assert paths.amtool.parent == paths.alertmanager.parent
    assert stack.ALERTMANAGER_VERSION in str(paths.alertmanager)
    binaries = (paths.prometheus, paths.promtool, paths.alertmanager, paths.amtool)
    assert [b.name for b in binaries] == ["prometheus", "promtool", "alertmanager", "amtool"]


def test_every_service_listens_on_loopback_ports_of_its_own(
    stack: ModuleType, tmp_path: Path
) -> None:
    services = stack.services(stack.Paths(tmp_path / "cache", tmp_path / "state"))
    assert [s.name for s in services] == ["jaeger", "collector", "alertmanager", "prometheus"]
    ports = [p for s in services for p in s.ports]
    assert len(ports) == len(set(ports))
    (alertmanager,) = [s for s in services if s.name == "alertmanager"]
    assert "--web.listen-address=127.0.0.1:9093" in alertmanager.args
    assert "--cluster.listen-address=" in alertmanager.args
    assert alertmanager.health_url == "http://127.0.0.1:9093/-/ready"


def test_the_local_alertmanager_config_is_compose_s_on_loopback(
    stack: ModuleType, tmp_path: Path
) -> None:
    source = (REPO / "alertmanager" / "alertmanager.yml").read_text(encoding="utf-8")
    local = yaml.safe_load(stack.alertmanager_config(source, tmp_path, "http://127.0.0.1:1/pd"))
    compose = yaml.safe_load(source)
    assert local["global"]["pagerduty_url"] == "http://127.0.0.1:1/pd"
    assert local["global"]["slack_api_url_file"] == f"{tmp_path}/secrets/slack_webhook_url"
    assert local["templates"] == [
        f"{REPO}/alertmanager/templates/otel-ml.tmpl",
        f"{tmp_path}/runbook-base.tmpl",
    ]
    assert (local["route"]["group_wait"], local["route"]["group_interval"]) == ("1s", "2s")
    # Everything else is compose's: receivers, routes (but the waits), inhibition.
    for config in (local, compose):
        del config["global"], config["templates"]
        del config["route"]["group_wait"], config["route"]["group_interval"]
        pager = config["receivers"][0]["pagerduty_configs"][0]
        pager["routing_key_file"] = Path(pager["routing_key_file"]).name
    assert local == compose


def test_the_local_alertmanager_files_come_from_the_environment(
    stack: ModuleType, tmp_path: Path
) -> None:
    environ = {
        "OTEL_ML_SLACK_WEBHOOK_URL": "https://hooks.example/T/B/x",
        "OTEL_ML_RUNBOOK_BASE_URL": "https://docs.example/otel-ml/",
    }
    stack.configs.write_alertmanager_files(tmp_path / "am", environ)
    secrets = tmp_path / "am" / "secrets"
    assert (secrets / "slack_webhook_url").read_text() == environ["OTEL_ML_SLACK_WEBHOOK_URL"]
    assert (secrets / "pagerduty_routing_key").read_text() == "otel-ml-local-stack"
    for path in (secrets, *secrets.iterdir()):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    base = (tmp_path / "am" / "runbook-base.tmpl").read_text()
    assert base == '{{ define "otel_ml.runbook_base_url" }}https://docs.example/otel-ml/{{ end }}\n'
    assert stack.alert_receivers(tmp_path / "am") == {
        "pager": f"{stack.ALERT_RECEIVER_URL}/pagerduty",
        "chat": environ["OTEL_ML_SLACK_WEBHOOK_URL"],
    }


def test_the_default_runbook_base_is_this_clone(stack: ModuleType) -> None:
    base = stack.configs.ALERTING_ENV["OTEL_ML_RUNBOOK_BASE_URL"]
    assert base == REPO.as_uri() + "/"
    assert Path(base.removeprefix("file://")) / "docs" / "runbook.md" == REPO / "docs/runbook.md"
