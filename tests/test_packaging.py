"""The source distribution: what a packager or a user building from it gets."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.subprocess
def test_the_sdist_carries_the_license_and_a_test_suite_that_can_run(tmp_path: Path) -> None:
    # A copy without build leftovers: an old *.egg-info/SOURCES.txt would add its files.
    source = tmp_path / "source"
    junk = shutil.ignore_patterns(".*", "*.egg-info", "__pycache__", "build", "dist")
    shutil.copytree(ROOT, source, ignore=junk)
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(tmp_path)],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=300,
    )
    [sdist] = tmp_path.glob("otel_ml-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    assert {"LICENSE", "CHANGELOG.md", "pyproject.toml", "README.md"} <= names
    # What test_sdk.py and conftest.py import sits beside them.
    assert {"tests/conftest.py", "tests/support.py", "tests/otlp_receiver.py",
            "tests/test_sdk.py", "tests/launcher.py"} <= names  # fmt: skip
    assert {"stack/collector-builder.yaml", "prometheus/alerts.yml",
            "alertmanager/alertmanager.yml", "alertmanager/templates/otel-ml.tmpl"
            } <= names  # fmt: skip
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
