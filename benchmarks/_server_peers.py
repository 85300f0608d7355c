"""Tools the server benchmark installs into virtualenvs of its own, never the project's:
prometheus-fastapi-instrumentator (a peer) and py-spy (the profiler).

The peer is installed without dependencies and put on the server's
``PYTHONPATH``, so it runs on the project's own FastAPI, Starlette and uvicorn
and only the instrumentation differs between the rows.
"""

from __future__ import annotations

import collections
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

VENVS = Path(__file__).resolve().parent / ".venvs"
PROMETHEUS_PACKAGES = ("prometheus-fastapi-instrumentator", "prometheus-client")
INSTALL_TIMEOUT_S = 600


@dataclass(frozen=True)
class Installed:
    """A virtualenv's site-packages and the versions in it, or why there is none."""

    site_packages: Path | None
    versions: str = ""
    error: str = ""


def _tail(text: str) -> str:
    return " / ".join(line.strip() for line in text.strip().splitlines()[-3:])


def install(name: str, packages: tuple[str, ...]) -> Installed:
    """``packages`` (no dependencies) in ``benchmarks/.venvs/<name>``, once."""
    home = VENVS / name
    python = home / "bin" / "python"
    marker = home / ".installed"
    wanted = " ".join(packages)
    if not (marker.is_file() and marker.read_text(encoding="utf-8") == wanted):
        print(f"installing {wanted} into {home} ...", file=sys.stderr)
        venv.create(home, with_pip=True, clear=True)
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--no-deps", *packages],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
            check=False,
        )
        if done.returncode:
            return Installed(None, error=f"install failed: {_tail(done.stderr or done.stdout)}")
        marker.write_text(wanted, encoding="utf-8")
    probe = (
        "import importlib.metadata as m, sys, sysconfig; "
        f"print(sysconfig.get_paths()['purelib']); print(', '.join("
        f"f'{{p}} {{m.version(p)}}' for p in {list(packages)!r}))"
    )
    done = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode:
        return Installed(None, error=f"not usable: {_tail(done.stderr)}")
    site, versions = done.stdout.strip().splitlines()
    return Installed(Path(site), versions)


def prometheus_peer() -> Installed:
    """prometheus-fastapi-instrumentator and prometheus-client."""
    return install("prometheus-fastapi-instrumentator", PROMETHEUS_PACKAGES)


def py_spy() -> Path | None:
    """The py-spy binary from its own virtualenv, or None when it cannot be installed."""
    installed = install("py-spy", ("py-spy",))
    if installed.site_packages is None:
        print(f"py-spy: {installed.error}", file=sys.stderr)
        return None
    binary = VENVS / "py-spy" / "bin" / "py-spy"
    return binary if binary.is_file() else None


# A sample is charged to the first of these found walking its stack from the
# leaf up (for each frame, the first needle that matches): SDK frames on the
# request path match nothing, so their time goes to the code that called them
# (otel_ml's layer, the contrib middleware, ...), not to "the SDK".
_CHARGES = (
    ("/otel_ml/drift/", "otel_ml: drift"),
    ("/otel_ml/feedback/", "otel_ml: feedback store"),
    ("/otel_ml/instrumentation/fastapi/", "otel_ml: HTTP layer (server span, duration, id)"),
    ("/otel_ml/", "otel_ml: inference span, ML metrics"),
    ("/opentelemetry/instrumentation/", "contrib: ASGI + FastAPI instrumentation"),
    ("/opentelemetry/util/http", "contrib: ASGI + FastAPI instrumentation"),
    ("/prometheus_fastapi_instrumentator/", "prometheus-fastapi-instrumentator"),
    ("/prometheus_client/", "prometheus-fastapi-instrumentator"),
    ("/opentelemetry/exporter/", "SDK thread: OTLP export"),
    ("/grpc/", "SDK thread: OTLP export"),
    ("/google/protobuf/", "SDK thread: OTLP export"),
    ("/_shared_internal/", "SDK thread: batch span processor"),
    ("PeriodicExportingMetricReader", "SDK thread: metric collection"),
    ("/sklearn/", "model: scikit-learn, numpy"),
    ("/numpy/", "model: scikit-learn, numpy"),
    ("/narwhals/", "model: scikit-learn, numpy"),
    ("/scipy/", "model: scikit-learn, numpy"),
    ("/_server_app.py", "endpoint body"),
    ("/fastapi/telemetry/", "FastAPI built-in telemetry"),
    ("/fastapi/", "FastAPI, Starlette, pydantic"),
    ("/starlette/", "FastAPI, Starlette, pydantic"),
    ("/pydantic", "FastAPI, Starlette, pydantic"),
    ("/uvicorn/", "uvicorn, h11, asyncio"),
    ("/h11/", "uvicorn, h11, asyncio"),
    ("/asyncio/", "uvicorn, h11, asyncio"),
    ("/selectors.py", "uvicorn, h11, asyncio"),
)
_WAITING = ("Condition.wait (", "Event.wait (")


def charge(stack: list[str]) -> str | None:
    """The part of the server a sampled stack's time is charged to; None for a wait.

    Frames must carry full file names (``py-spy record --full-filenames``).
    """
    if stack[-1].startswith(_WAITING) and stack[-1].endswith("threading.py)"):
        return None
    for frame in reversed(stack):
        for needle, part in _CHARGES:
            if needle in frame:
                return part
    return "other"


def summarise(raw: Path) -> list[tuple[str, float]]:
    """Share of the busy samples per part of the server, from py-spy's raw (collapsed)
    output; threads waiting on a condition are left out."""
    parts: collections.Counter[str] = collections.Counter()
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        part = charge(stack.split(";"))
        if part is not None:
            parts[part] += int(count)
    total = sum(parts.values()) or 1
    return [(name, n / total) for name, n in parts.most_common()]
