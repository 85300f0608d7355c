"""The real pipeline for the end-to-end tests: Collector -> Jaeger v2 + Prometheus
-> Alertmanager.

The session fixture reuses a stack that ``make stack`` already started, or
starts one (the ``stack`` package, the same code as ``make stack``) and stops what it
started. Under CI (``CI=true``) a stack that cannot run is a failure; elsewhere
the tests are skipped with the reason when the binaries are not built (``make
stack`` builds them once; ``make test`` does too where Go is installed).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from e2e_support import REPO, Alertmanager, Jaeger, Prometheus, Stack
from e2e_traffic import Traffic, answer, send_traffic

from otel_ml.demo.llm_server import running_server
from otel_ml.demo.rag import LLM_MODEL


def load_stack_module() -> ModuleType:
    """The ``stack`` package at the repository root (not part of otel_ml)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    return importlib.import_module("stack")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@pytest.fixture(scope="session")
def stack_control() -> ModuleType:
    return load_stack_module()


@pytest.fixture(scope="session")
def stack_paths(stack_control: ModuleType) -> Any:
    """Cache and state paths; skips (fails under CI) when the binaries are not built."""
    paths = stack_control.Paths.from_env()
    if gaps := stack_control.missing(paths):
        reason = (
            "the end-to-end stack is not built: missing " + ", ".join(gaps) + ". "
            "`make stack` builds it once (needs Go >= 1.26)"
        )
        if _in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    return paths


@pytest.fixture(scope="session")
def stack(stack_control: ModuleType, stack_paths: Any) -> Iterator[Stack]:
    started = stack_control.up(stack_paths)
    jaeger = Jaeger(stack_control.JAEGER_QUERY_URL)
    prometheus = Prometheus(stack_control.PROMETHEUS_URL)
    alertmanager = Alertmanager(stack_control.ALERTMANAGER_URL)
    try:
        yield Stack(stack_control, stack_paths, jaeger, prometheus, alertmanager)
    finally:
        jaeger.close()
        prometheus.close()
        alertmanager.close()
        stack_control.down(stack_paths, started)


@pytest.fixture(scope="session")
def llm_url() -> Iterator[str]:
    """The OpenAI-compatible stand-in LLM (its ``/v1`` URL), outside the app's process."""
    with running_server(answer, model=LLM_MODEL) as url:
        yield url


@pytest.fixture(scope="session")
def traffic(stack: Stack, llm_url: str, tmp_path_factory: pytest.TempPathFactory) -> Traffic:
    """The session's app and traffic (:mod:`e2e_traffic`), sent once, shared by the tests."""
    return send_traffic(Path(tmp_path_factory.mktemp("app")) / "app.log", llm_url, stack.prometheus)
