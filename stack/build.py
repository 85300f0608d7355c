"""Building the stack's binaries once and caching them outside the repository.

The OpenTelemetry Collector is built with the Collector Builder from
``stack/collector-builder.yaml``; Jaeger v2, Prometheus (with promtool) and
Alertmanager (with amtool) from their Go modules (:mod:`stack.components`).
Binaries are keyed by their pinned versions (and the manifest's digest) under
``$OTEL_ML_STACK_CACHE`` (default ``~/.cache/otel-ml/stack``), so every clone
on the machine reuses them.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from stack.components import (
    ALERTMANAGER,
    ALERTMANAGER_VERSION,
    JAEGER,
    JAEGER_VERSION,
    PROMETHEUS,
    PROMETHEUS_VERSION,
)
from stack.errors import StackError
from stack.gobuild import GoModule, build_module, run_go_step

REPO = Path(__file__).resolve().parents[1]
BUILDER_MODULE = "go.opentelemetry.io/collector/cmd/builder"
COLLECTOR_VERSION = "v0.155.0"
COLLECTOR_MANIFEST = REPO / "stack" / "collector-builder.yaml"
# The collector v0.155.0 modules need 1.25, Alertmanager v0.34.2's go.mod 1.26.0.
MIN_GO = (1, 26)


@dataclass(frozen=True)
class Paths:
    """Where binaries are cached and where a running stack keeps its state."""

    cache: Path
    state: Path

    @classmethod
    def from_env(cls) -> Paths:
        """``$OTEL_ML_STACK_CACHE`` and ``$OTEL_ML_STACK_STATE``, or their defaults."""
        cache = os.environ.get("OTEL_ML_STACK_CACHE") or Path.home() / ".cache/otel-ml/stack"
        state = os.environ.get("OTEL_ML_STACK_STATE") or REPO / ".stack"
        return cls(Path(cache), Path(state))

    @property
    def builder(self) -> Path:
        return self.cache / f"builder-{COLLECTOR_VERSION}" / "builder"

    @property
    def collector(self) -> Path:
        digest = hashlib.sha256(COLLECTOR_MANIFEST.read_bytes()).hexdigest()[:12]
        return self.cache / f"collector-{COLLECTOR_VERSION}-{digest}" / "otelcol-otel-ml"

    @property
    def jaeger(self) -> Path:
        return self.cache / f"jaeger-{JAEGER_VERSION}" / "jaeger"

    @property
    def prometheus(self) -> Path:
        # "-static-sd": built without the optional service discoveries.
        return self.cache / f"prometheus-{PROMETHEUS_VERSION}-static-sd" / "prometheus"

    @property
    def promtool(self) -> Path:
        return self.prometheus.with_name("promtool")

    @property
    def alertmanager(self) -> Path:
        return self.cache / f"alertmanager-{ALERTMANAGER_VERSION}" / "alertmanager"

    @property
    def amtool(self) -> Path:
        return self.alertmanager.with_name("amtool")

    def go_builds(self) -> list[tuple[GoModule, tuple[Path, ...]]]:
        """Each Go module built from its source, with the binaries it makes."""
        return [
            (JAEGER, (self.jaeger,)),
            (PROMETHEUS, (self.prometheus, self.promtool)),
            (ALERTMANAGER, (self.alertmanager, self.amtool)),
        ]


def build(paths: Paths, log: Path | None = None) -> None:
    """Build what is missing: the collector, Jaeger, Prometheus, Alertmanager; install
    Chromium (for the browser tests) if needed."""
    paths.cache.mkdir(parents=True, exist_ok=True)
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    with _locked(paths.cache / ".build.lock"):
        if missing(paths):
            go = _check_go()
            if not paths.collector.exists():
                _build_collector(go, paths, log)
            for module, binaries in paths.go_builds():
                if not all(b.exists() for b in binaries):
                    build_module(go, module, binaries[0].parent, log)
    # Not part of the pipeline, but installed the same way for the tests that need
    # it: the drift page is checked in headless Chromium.
    ensure_debian_tool("chromium", "chromium")


def missing(paths: Paths) -> list[str]:
    """What ``build`` would still have to make, in words."""
    out = []
    if not paths.collector.exists():
        out.append(f"the collector ({paths.collector})")
    for module, binaries in paths.go_builds():
        out += [f"{module.name} ({b})" for b in binaries if not b.exists()]
    return out


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One build at a time per cache, across processes (make stack beside a test run)."""
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _check_go() -> str:
    go = shutil.which("go")
    if go is None:
        raise StackError(
            "Go is not installed: the collector, Jaeger, Prometheus and Alertmanager are "
            "built from Go modules "
            f"(Go >= {MIN_GO[0]}.{MIN_GO[1]}); install it from https://go.dev/dl/"
        )
    found = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=True)
    digits = found.stdout.strip().removeprefix("go").split(".")
    if tuple(int(d) for d in digits[:2] if d.isdigit()) < MIN_GO:
        raise StackError(f"{found.stdout.strip()} is too old: need Go >= {MIN_GO[0]}.{MIN_GO[1]}")
    return go


def _build_collector(go: str, paths: Paths, log: Path | None) -> None:
    started = time.monotonic()
    if not paths.builder.exists():
        run_go_step(
            [go, "install", f"{BUILDER_MODULE}@{COLLECTOR_VERSION}"],
            paths.cache,
            log,
            GOBIN=str(paths.builder.parent),
        )
    work = paths.collector.parent / "build"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copy(COLLECTOR_MANIFEST, work / "manifest.yaml")
    # The builder generates the sources under ./_build and runs `go build` there.
    run_go_step([str(paths.builder), "--config", "manifest.yaml"], work, log)
    os.replace(work / "_build" / paths.collector.name, paths.collector)
    shutil.rmtree(work)
    print(f"stack: collector built in {time.monotonic() - started:.0f} s", flush=True)


def ensure_debian_tool(binary: str, package: str) -> None:
    """Install Debian's ``package`` when ``binary`` is not on PATH and we are root;
    else raise :class:`StackError` saying how."""
    if shutil.which(binary):
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise StackError(
            f"{binary} is not installed: run `sudo apt-get install -y {package}` "
            f"(Debian/Ubuntu) or put a {binary} binary on PATH, then try again"
        )
    environ = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"stack: installing {package} with apt-get ...", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], env=environ, check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
        env=environ,
        check=True,
    )
