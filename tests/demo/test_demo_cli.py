"""`otel-ml demo` end to end in a subprocess, and the CLI's argument errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

OTEL_ML = str(Path(sys.executable).with_name("otel-ml"))


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OTEL_ML, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_demo_serves_traffic_and_prints_its_telemetry() -> None:
    done = _run("demo", "--requests", "40")
    assert done.returncode == 0, done.stderr
    out = done.stdout

    sent = re.search(r"Sent 40 requests .*\((.*)\); (\d+) responses carried x-prediction-id", out)
    assert sent, out
    assert "38 x 200" in sent.group(1)
    assert "2 x 422" in sent.group(1)  # every 20th request is one feature short
    assert int(sent.group(2)) == 40

    inference = re.search(r"predict_proba breast-cancer-classifier\s+INTERNAL\s+(\d+)\s+(\d+)", out)
    assert inference, out
    assert (inference.group(1), inference.group(2)) == ("40", "2")
    assert re.search(r"POST /predict\s+SERVER\s+\d+\s+0", out)

    trace = out.split("One trace")[1].split("Metrics")[0]
    server_line, inference_line = [line for line in trace.splitlines() if "[" in line][:2]
    assert "[SERVER]" in server_line
    assert "[INTERNAL]" in inference_line
    assert inference_line.startswith("    ")  # indented under the server span
    prediction_id = re.search(r"ml.prediction.id=([0-9a-f]{32})", server_line)
    assert prediction_id
    assert prediction_id.group(0) in inference_line

    duration = re.search(r"ml.inference.duration\s+histogram\s+s\s+\d+\s+count=(\d+)", out)
    assert duration
    assert duration.group(1) == "40"
    predictions = re.search(r"ml.predictions\s+sum\s+\{prediction\}\s+\d+\s+total=(\d+)", out)
    assert predictions
    assert int(predictions.group(1)) > 38  # batches of 8 add rows beyond one per request


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "required: COMMAND"),
        (("demo", "--requests", "0"), "expected a number >= 1"),
        (("demo", "--requests", "many"), "expected a whole number"),
        (("fly",), "invalid choice"),
    ],
)
def test_cli_rejects_bad_arguments_with_exit_code_2(args: tuple[str, ...], message: str) -> None:
    done = _run(*args, timeout=30)
    assert done.returncode == 2
    assert message in done.stderr


def test_cli_help_lists_the_demo() -> None:
    done = _run("--help", timeout=30)
    assert done.returncode == 0
    assert "demo" in done.stdout
