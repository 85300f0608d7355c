"""The source distribution: what a packager or a user building from it gets."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from importlib.metadata import entry_points, version
from pathlib import Path

import pytest
from floors import (
    LANE_EXTRAS,
    FloorError,
    constraints,
    floors,
    gathered_extras,
    load_project,
    runtime_requirements,
)
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LLM_EXTRAS = {"llm", "anthropic", "litellm", "langchain", "llamaindex"}


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
            "tests/test_sdk.py", "tests/launcher.py", "tests/floors.py"} <= names  # fmt: skip
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


def test_every_runtime_requirement_has_one_floor() -> None:
    project = load_project()
    requirements = runtime_requirements(project)
    pins = floors(requirements, "3.11")
    assert set(pins) == {canonicalize_name(r.name) for r in requirements}
    # What the lane must cover: the base, the web, ML and LLM libraries, the launcher.
    assert {"opentelemetry-sdk", "wrapt", "numpy", "fastapi", "scikit-learn", "openai",
            "opentelemetry-distro", "uvicorn"} <= set(pins)  # fmt: skip
    assert constraints(pins).splitlines() == [f"{n}=={v}" for n, v in sorted(pins.items())]


def test_the_lane_covers_every_extra_but_gpu() -> None:
    project = load_project()
    # gpu: the unit tests replace NVML with a stand-in module, so its floor would
    # be installed and never run; instruments-any repeats floors (checked below).
    # llm and what it gathers: the LLM frameworks' floors are where their hooks
    # were written and tested, not a lane of their own (their dependency trees
    # pin openai and pydantic ranges that would hold the lane back).
    outside = set(project["optional-dependencies"]) - set(gathered_extras(project))
    assert outside == {"dev", "dev-base", "instruments-any", "gpu", *LLM_EXTRAS}


def test_the_launchers_dependency_checks_ask_for_the_floors() -> None:
    project = load_project()
    requirements = runtime_requirements(project, (*LANE_EXTRAS, "llm"))
    declared = {canonicalize_name(r.name): r.specifier for r in requirements}
    checks = [Requirement(text) for text in project["optional-dependencies"]["instruments-any"]]
    for entry_point in entry_points(group="opentelemetry_instrumentor"):
        if entry_point.value.startswith("otel_ml."):
            instrumentor = entry_point.load()()
            checks += map(Requirement, instrumentor.instrumentation_dependencies())
    libraries = {"scikit-learn", "fastapi", "openai", "xgboost", "lightgbm", "onnxruntime"}
    llm = {"anthropic", "litellm", "langchain-core", "llama-index-core"}
    assert {canonicalize_name(r.name) for r in checks} == libraries | {
        "transformers",
        "torch",
    } | llm
    for requirement in checks:
        assert requirement.specifier == declared[canonicalize_name(requirement.name)], requirement


def test_installed_versions_meet_the_floors_and_are_them_in_the_lowest_lane() -> None:
    pins = floors(runtime_requirements(load_project()), "{}.{}".format(*sys.version_info))
    installed = {name: Version(version(name)) for name in pins}
    if os.environ.get("OTEL_ML_LOWEST_LANE") == "1":  # set by `make test-lowest`
        assert installed == pins
    else:
        assert all(installed[name] >= pin for name, pin in pins.items()), installed


def test_the_readme_states_the_declared_floors() -> None:
    project = load_project()
    gpu = map(Requirement, project["optional-dependencies"]["gpu"])
    stated_extras = [*runtime_requirements(project, (*LANE_EXTRAS, "llm")), *gpu]
    declared = {canonicalize_name(r.name): r.specifier for r in stated_extras}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    stated = [Requirement(text) for text in re.findall(r"`([\w.-]+>=[^`]+)`", readme)]
    assert len(stated) >= 10
    for requirement in stated:
        assert requirement.specifier == declared[canonicalize_name(requirement.name)], requirement


@pytest.mark.parametrize("requirement", ["numpy", "numpy>=1,>=2", "numpy==1.26", "numpy>1.26"])
def test_a_requirement_without_one_floor_is_refused(requirement: str) -> None:
    project = {"name": "otel-ml", "dependencies": [requirement],
               "optional-dependencies": {"all": []}}  # fmt: skip
    with pytest.raises(FloorError, match="exactly one '>=' floor"):
        floors(runtime_requirements(project), "3.11")


def test_markers_pick_the_floor_of_the_python_the_lane_runs() -> None:
    project = {
        "name": "otel-ml",
        "dependencies": ["numpy>=1.24", "numpy>=1.26; python_version>='3.12'"],
        "optional-dependencies": {"all": ["otel-ml[web]"], "web": ["uvicorn>=0.23,<1"]},
    }
    uvicorn = {"uvicorn": Version("0.23")}
    assert floors(runtime_requirements(project), "3.11") == {"numpy": Version("1.24"), **uvicorn}
    assert floors(runtime_requirements(project), "3.12") == {"numpy": Version("1.26"), **uvicorn}
