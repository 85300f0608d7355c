"""Every Python and shell block of the README runs, as a reader would paste it.

A block that cannot run here (it talks to a server elsewhere, needs Docker)
says why, in an HTML comment on the line before it: ``<!-- not run: reason -->``.
The shell blocks run in README order in one folder holding the files they name
(``train.csv``, ``current.csv``), with this environment's ``otel-ml`` on PATH.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
_FENCE = re.compile(r"^```(python|sh)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_NOT_RUN = re.compile(r"<!-- not run: (\S.*?) -->\n$")


def readme_blocks(language: str) -> list[tuple[int, str, str | None]]:
    """``(line, code, reason it is not run)`` of every block in ``language``."""
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in _FENCE.finditer(text):
        if match.group(1) != language:
            continue
        before = text[: match.start()]
        skipped = _NOT_RUN.search(before[-200:])
        blocks.append((before.count("\n") + 1, match.group(2), skipped and skipped.group(1)))
    return blocks


BLOCKS = readme_blocks("python")
SHELL_BLOCKS = readme_blocks("sh")


def test_the_readme_says_why_each_block_that_does_not_run_does_not() -> None:
    assert len(BLOCKS) >= 8
    not_run = [reason for _, _, reason in BLOCKS if reason is not None]
    assert not_run == ["it posts to a serving replica (fraud-model:8000)"]
    shell_not_run = [reason for _, _, reason in SHELL_BLOCKS if reason is not None]
    assert len(shell_not_run) == len(SHELL_BLOCKS) - 2, shell_not_run  # profile, report


# The LLM frameworks are not installed in the lowest-versions lane (see the Makefile).
_FRAMEWORKS = re.compile(r"^(import|from) (anthropic|litellm|langchain\w*|llama_index)\b", re.M)


def _param(line: int, code: str) -> Any:
    marks = [pytest.mark.newest] if _FRAMEWORKS.search(code) else []
    return pytest.param(line, code, marks=marks, id=f"README.md:{line}")


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("line", "code"), [_param(line, code) for line, code, reason in BLOCKS if reason is None]
)
def test_the_python_block_runs(line: int, code: str, tmp_path: Path) -> None:
    script = tmp_path / "block.py"
    script.write_text(code, encoding="utf-8")
    # configure() in a block sets up the SDK; nothing is listening for OTLP here.
    environ = {**os.environ, "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"README.md:{line}\n{done.stderr}"
    assert "Traceback" not in done.stderr, f"README.md:{line}\n{done.stderr}"


def _write_csv(path: Path, rows: int, seed: int) -> None:
    """Rows from one fixed distribution: a file of recent inputs with no drift."""
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3.0, 1.0, rows)
    age = rng.normal(40.0, 12.0, rows)
    channel = rng.choice(["web", "app", "store"], rows, p=[0.5, 0.3, 0.2])
    label = np.where(amount > 60, "fraud", "ok")
    lines = ["amount,age,channel,label"]
    lines += [
        f"{a:.2f},{b:.1f},{c},{d}" for a, b, c, d in zip(amount, age, channel, label, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.subprocess
def test_the_shell_blocks_run_in_order(tmp_path: Path) -> None:
    _write_csv(tmp_path / "train.csv", 5000, seed=1)
    _write_csv(tmp_path / "current.csv", 5000, seed=2)
    environ = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    for line, code, reason in SHELL_BLOCKS:
        if reason is not None:
            continue
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", code],
            cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, f"README.md:{line}\n{done.stdout}\n{done.stderr}"
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    (model,) = report["models"]
    assert model["verdicts"]["ok"] == 3 and model["verdicts"]["drift"] == 0, model["verdicts"]
    assert (tmp_path / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
