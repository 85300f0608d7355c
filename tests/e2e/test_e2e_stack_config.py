"""The shipped configs, checked by the real binaries that run them.

collector-config.yaml must validate as the local stack runs it (loopback
defaults), as docker-compose.yml runs it (container addresses from the
environment) and with the tail-sampling overlay; the collector build must hold
exactly the components the configs use; both Prometheus configs must pass
promtool with the rule files they load, the local Alertmanager config amtool;
the binaries must be the versions docker-compose.yml runs.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from e2e_support import REPO

CONFIG = REPO / "collector-config.yaml"
TAIL_SAMPLING = REPO / "stack" / "collector-tail-sampling.yaml"
COMPOSE_ENV = {
    "OTELCOL_OTLP_GRPC_ENDPOINT": "0.0.0.0:4317",
    "OTELCOL_OTLP_HTTP_ENDPOINT": "0.0.0.0:4318",
    "OTELCOL_JAEGER_OTLP_ENDPOINT": "jaeger:4317",
    "OTELCOL_PROMETHEUS_ENDPOINT": "0.0.0.0:8889",
    "OTELCOL_HEALTH_ENDPOINT": "0.0.0.0:13133",
}


def _run(argv: list[Any], **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTELCOL_")}
    return subprocess.run(
        [str(a) for a in argv],
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("configs", "env"),
    [
        pytest.param([CONFIG], {}, id="local"),
        pytest.param([CONFIG], COMPOSE_ENV, id="compose"),
        pytest.param([CONFIG, TAIL_SAMPLING], {}, id="tail-sampling"),
    ],
)
def test_the_collector_config_validates(
    stack_paths: Any, configs: list[Path], env: dict[str, str]
) -> None:
    argv: list[Any] = [stack_paths.collector, "validate"]
    for config in configs:
        argv += ["--config", config]
    done = _run(argv, **env)
    assert done.returncode == 0, done.stderr


def test_a_component_outside_the_build_is_refused(stack_paths: Any, tmp_path: Path) -> None:
    config = tmp_path / "debug.yaml"
    config.write_text("exporters:\n  debug: {}\n")
    done = _run([stack_paths.collector, "validate", "--config", CONFIG, "--config", config])
    assert done.returncode != 0
    assert "debug" in done.stderr


def test_the_build_holds_exactly_the_components_the_configs_use(stack_paths: Any) -> None:
    done = _run([stack_paths.collector, "components"])
    assert done.returncode == 0, done.stderr
    sections: dict[str, set[str]] = {}
    current = ""
    for line in done.stdout.splitlines():
        if re.fullmatch(r"[a-z]+:", line):
            current = line[:-1]
        elif match := re.fullmatch(r"\s+- (?:name|scheme): (\S+)", line):
            sections.setdefault(current, set()).add(match.group(1))
    assert sections == {
        "receivers": {"otlp"},
        "processors": {"memory_limiter", "batch", "tail_sampling"},
        "exporters": {"otlp_grpc", "prometheus"},
        "extensions": {"health_check"},
        "providers": {"env", "file", "yaml"},
    }, done.stdout


def test_the_jaeger_config_validates(stack_paths: Any) -> None:
    done = _run([stack_paths.jaeger, "validate", "--config", REPO / "stack/jaeger-config.yaml"])
    assert done.returncode == 0, done.stderr


def test_the_local_prometheus_config_is_the_compose_one_on_loopback(
    stack_control: ModuleType, stack_paths: Any, tmp_path: Path
) -> None:
    compose = (REPO / "prometheus" / "prometheus.yml").read_text()
    local = stack_control.prometheus_config(compose)
    assert "collector:8889" in compose and "alertmanager:9093" in compose
    assert '"127.0.0.1:8889"' in local and "collector:" not in local
    assert '"127.0.0.1:9093"' in local and "alertmanager:" not in local
    for rules in ("recording.yml", "alerts.yml"):
        assert f"  - {rules}\n" in compose
        assert f"  - {REPO / 'prometheus' / rules}\n" in local
    assert f"  - {REPO / 'tests/e2e/rules/*.yml'}\n" in local
    assert re.findall(r"(\w+_interval|scrape_timeout): (\S+)", local) == [
        ("scrape_interval", "2s"),
        ("scrape_timeout", "2s"),
        ("evaluation_interval", "2s"),
    ]
    promtool = stack_paths.promtool
    (tmp_path / "prometheus.yml").write_text(local)
    for config in (REPO / "prometheus" / "prometheus.yml", tmp_path / "prometheus.yml"):
        done = _run([promtool, "check", "config", config])
        assert done.returncode == 0, done.stdout + done.stderr
        assert "SUCCESS" in done.stdout


def test_the_local_alertmanager_config_passes_amtool(
    stack_control: ModuleType, stack_paths: Any, tmp_path: Path
) -> None:
    stack_control.configs.write_alertmanager_files(tmp_path / "am", {})
    done = _run([stack_paths.amtool, "check-config", tmp_path / "am" / "alertmanager.yml"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout and "2 templates" in done.stdout, done.stdout


@pytest.mark.parametrize(
    ("binary", "version"),
    [
        ("prometheus", "PROMETHEUS_VERSION"),
        ("promtool", "PROMETHEUS_VERSION"),
        ("alertmanager", "ALERTMANAGER_VERSION"),
        ("amtool", "ALERTMANAGER_VERSION"),
    ],
)
def test_the_binaries_are_the_pinned_versions(
    stack_control: ModuleType, stack_paths: Any, binary: str, version: str
) -> None:
    done = _run([getattr(stack_paths, binary), "--version"])
    assert done.returncode == 0, done.stderr
    first_line = (done.stdout or done.stderr).splitlines()[0]
    assert first_line.startswith(f"{binary}, version {getattr(stack_control, version)[1:]} ")
