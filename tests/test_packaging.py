"""The source distribution: what a packager or a user building from it gets."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
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


@pytest.mark.subprocess
def test_the_demo_image_copies_what_the_package_build_needs(tmp_path: Path) -> None:
    """docker-compose's demo image builds from the files its Dockerfile COPYs
    (no Docker here): the same files alone must make a wheel."""
    context = tmp_path / "context"
    context.mkdir()
    dockerfile = ROOT / "stack" / "demo.Dockerfile"
    for line in dockerfile.read_text(encoding="utf-8").splitlines():
        if not line.startswith("COPY "):
            continue
        *sources, target = line.split()[1:]
        for source in sources:  # relative to WORKDIR; "dir/" targets keep the name
            destination = context / target / source if target.endswith("/") else context / target
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, destination)
            else:
                shutil.copy(ROOT / source, destination)
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path)],
        cwd=context, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    [wheel] = tmp_path.glob("otel_ml-*.whl")
    with zipfile.ZipFile(wheel) as contents:
        assert any(name.endswith("licenses/LICENSE") for name in contents.namelist())
