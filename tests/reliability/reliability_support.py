"""Helpers shared by the reliability tests: bounded hypothesis settings, a loopback
server that answers with whatever raw bytes a test chooses (tests/raw_server.py),
RSS readings and exported-telemetry readers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from raw_server import RawResponse, RawServer  # re-exported for the reliability tests
from support import Telemetry

from otel_ml import semconv
from otel_ml.demo.server import serve

__all__ = ["RawResponse", "RawServer", "fuzz_settings", "internal_errors", "rss_bytes", "serving"]

IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def fuzz_settings(max_examples: int) -> settings:
    """Hypothesis settings for the fuzz tests: bounded, no example database on disk,
    and under CI derandomized (a red build reproduces with the same examples) and
    without shrinking (hostile examples can take minutes to shrink)."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=IN_CI,
        phases=[p for p in Phase if not (IN_CI and p is Phase.shrink)],
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,  # one telemetry per test, counts are deltas
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


def internal_errors(telemetry: Telemetry) -> dict[str, int]:
    """``otel_ml.internal.errors`` per component, as exported to ``telemetry``."""
    return {
        attrs[semconv.COMPONENT]: int(point.value)
        for attrs, point in telemetry.points(semconv.OTEL_ML_INTERNAL_ERRORS)
    }


def rss_bytes() -> int:
    """Resident set size of this process (``VmRSS`` of ``/proc/self/status``)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free 127.0.0.1 port; yield its base URL; stop it."""
    with serve(app, lifespan="off", log_level="critical") as url:
        yield url
