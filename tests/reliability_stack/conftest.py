"""The Collector binary that ``make stack`` builds, for the reliability tests.

Each test runs its own Collector instance on free loopback ports (it is
started late, killed and restarted on purpose), not the shared stack. Under
CI (``CI=true``) a missing binary is a failure; elsewhere the tests are
skipped with the reason.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from otlp_receiver import GrpcReceiver

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def collector_binary() -> Path:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    stack = importlib.import_module("stack")
    paths = stack.Paths.from_env()
    if not paths.collector.exists():
        reason = (
            f"the Collector is not built ({paths.collector} is missing): `make stack` builds it "
            "once (needs Go >= 1.26)"
        )
        if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)
    return Path(paths.collector)


@pytest.fixture
def sink() -> Iterator[GrpcReceiver]:
    """Where the Collector forwards everything it receives."""
    with GrpcReceiver() as receiver:
        yield receiver
