"""Running a script under ``opentelemetry-instrument`` and reading its console spans."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LAUNCHER = Path(sys.executable).parent / "opentelemetry-instrument"


def run_launched(tmp_path: Path, script: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` under the launcher with the console span exporter (120 s bound)."""
    path = tmp_path / "serve.py"
    path.write_text(script)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environ.update(
        OTEL_ML_STRICT="1",
        OTEL_TRACES_EXPORTER="console",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_SERVICE_NAME="launcher-test",
    )
    environ.update(env)
    return subprocess.run(
        [str(LAUNCHER), sys.executable, str(path)],
        env=environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _json_objects(stdout: str) -> Iterator[Any]:
    """Every JSON object printed in ``stdout`` between other output."""
    decoder = json.JSONDecoder()
    position = 0
    while (start := stdout.find("{", position)) != -1:
        try:
            found, position = decoder.raw_decode(stdout, start)
        except json.JSONDecodeError:
            position = start + 1
            continue
        yield found


def console_spans(stdout: str) -> list[dict[str, Any]]:
    """The span objects the console span exporter printed."""
    return [o for o in _json_objects(stdout) if isinstance(o, dict) and "context" in o]


def console_metrics(stdout: str) -> dict[str, list[dict[str, Any]]]:
    """Metric name -> data points, from every batch the console metric exporter printed."""
    points: dict[str, list[dict[str, Any]]] = {}
    for found in _json_objects(stdout):
        if not isinstance(found, dict) or "resource_metrics" not in found:
            continue
        for resource in found["resource_metrics"]:
            for scope in resource["scope_metrics"]:
                for metric in scope["metrics"]:
                    points.setdefault(metric["name"], []).extend(metric["data"]["data_points"])
    return points


def printed(stdout: str, tag: str) -> list[Any]:
    """The JSON list a launched script printed after ``tag`` (``print(tag, json.dumps(...))``)."""
    line = next(line for line in stdout.splitlines() if line.startswith(tag + " "))
    values: list[Any] = json.loads(line[len(tag) + 1 :])
    return values
