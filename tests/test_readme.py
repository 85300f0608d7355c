"""Every Python block of the README runs, as a reader would paste it.

A block that cannot run here (it talks to a server elsewhere) says why, in an
HTML comment on the line before it: ``<!-- not run: reason -->``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
_FENCE = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_NOT_RUN = re.compile(r"<!-- not run: (\S.*?) -->\n$")


def python_blocks() -> list[tuple[int, str, str | None]]:
    """``(line, code, reason it is not run)`` of every Python block."""
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()]
        skipped = _NOT_RUN.search(before[-200:])
        blocks.append((before.count("\n") + 1, match.group(1), skipped and skipped.group(1)))
    return blocks


BLOCKS = python_blocks()


def test_the_readme_has_python_blocks_and_one_that_does_not_run() -> None:
    assert len(BLOCKS) >= 8
    not_run = [reason for _, _, reason in BLOCKS if reason is not None]
    assert not_run == ["it posts to a serving replica (fraud-model:8000)"]


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("line", "code"),
    [(line, code) for line, code, reason in BLOCKS if reason is None],
    ids=[f"README.md:{line}" for line, _, reason in BLOCKS if reason is None],
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
