"""Building the stack's binaries once and caching them outside the repository.

The OpenTelemetry Collector is built with the Collector Builder from
``stack/collector-builder.yaml``; Jaeger v2 from its Go module; Prometheus is
Debian's package. Binaries are keyed by their pinned versions (and the
manifest's digest) under ``$OTEL_ML_STACK_CACHE`` (default
``~/.cache/otel-ml/stack``), so every clone on the machine reuses them.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUILDER_MODULE = "go.opentelemetry.io/collector/cmd/builder"
COLLECTOR_VERSION = "v0.155.0"
COLLECTOR_MANIFEST = REPO / "stack" / "collector-builder.yaml"
# Jaeger's module has no /v2 suffix, so v2.x tags are not module versions. The
# tag v1.76.0 is the commit of the v2.13.0 release (its CHANGELOG says
# "v1.76.0 / v2.13.0"); cmd/jaeger there is the v2 binary. Built inside the
# module, so its own go.mod (with a replace directive) applies.
JAEGER_MODULE = "github.com/jaegertracing/jaeger"
JAEGER_MODULE_VERSION = "v1.76.0"
JAEGER_VERSION = "v2.13.0"
MIN_GO = (1, 25)  # the collector v0.155.0 modules need it; Jaeger v1.76.0 needs 1.24.6


class StackError(Exception):
    """Something the user has to fix (a missing tool, a busy port); the message says what."""


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


def build(paths: Paths, log: Path | None = None) -> None:
    """Build what is missing: the collector, Jaeger; install Prometheus (and Chromium,
    for the browser tests) if needed."""
    paths.cache.mkdir(parents=True, exist_ok=True)
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    with _locked(paths.cache / ".build.lock"):
        if not paths.collector.exists() or not paths.jaeger.exists():
            go = _check_go()
            if not paths.collector.exists():
                _build_collector(go, paths, log)
            if not paths.jaeger.exists():
                _build_jaeger(go, paths, log)
    ensure_prometheus()
    # Not part of the pipeline, but installed the same way for the tests that need
    # it: the drift page is checked in headless Chromium.
    ensure_debian_tool("chromium", "chromium")


def missing(paths: Paths) -> list[str]:
    """What ``build`` would still have to make or install, in words."""
    out = []
    if not paths.collector.exists():
        out.append(f"the collector ({paths.collector})")
    if not paths.jaeger.exists():
        out.append(f"Jaeger ({paths.jaeger})")
    if shutil.which("prometheus") is None:
        out.append("prometheus (Debian package)")
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
            "Go is not installed: the collector and Jaeger are built from Go modules "
            f"(Go >= {MIN_GO[0]}.{MIN_GO[1]}); install it from https://go.dev/dl/"
        )
    found = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=True)
    digits = found.stdout.strip().removeprefix("go").split(".")
    if tuple(int(d) for d in digits[:2] if d.isdigit()) < MIN_GO:
        raise StackError(f"{found.stdout.strip()} is too old: need Go >= {MIN_GO[0]}.{MIN_GO[1]}")
    return go


def _run(argv: Sequence[str], cwd: Path, log: Path | None, **env: str) -> None:
    """Run one build command (go or the builder); its output goes to ``log`` or the terminal."""
    environ = {**os.environ, "GOTOOLCHAIN": "local", "CGO_ENABLED": "0", **env}
    print(
        f"stack: {' '.join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv))}"
        f"  (in {cwd})",
        flush=True,
    )
    out = log.open("a") if log else None
    try:
        done = subprocess.run(argv, cwd=cwd, env=environ, stdout=out, stderr=out, check=False)
    finally:
        if out:
            out.close()
    if done.returncode != 0:
        tail = ""
        if log is not None:
            tail = f"; last lines of {log}:\n" + log.read_text(errors="replace")[-3000:]
        raise StackError(f"`{' '.join(argv)}` failed (exit {done.returncode}){tail}")


def _build_collector(go: str, paths: Paths, log: Path | None) -> None:
    started = time.monotonic()
    if not paths.builder.exists():
        _run(
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
    _run([str(paths.builder), "--config", "manifest.yaml"], work, log)
    os.replace(work / "_build" / paths.collector.name, paths.collector)
    shutil.rmtree(work)
    print(f"stack: collector built in {time.monotonic() - started:.0f} s", flush=True)


def _build_jaeger(go: str, paths: Paths, log: Path | None) -> None:
    started = time.monotonic()
    paths.jaeger.parent.mkdir(parents=True, exist_ok=True)
    module = f"{JAEGER_MODULE}@{JAEGER_MODULE_VERSION}"
    print(f"stack: go mod download {module}", flush=True)
    found = subprocess.run(
        [go, "mod", "download", "-json", module],
        cwd=paths.cache,
        capture_output=True,
        text=True,
        env={**os.environ, "GOTOOLCHAIN": "local"},
    )
    if found.returncode != 0:
        raise StackError(f"`go mod download {module}` failed: {found.stdout}{found.stderr}")
    source = Path(json.loads(found.stdout)["Dir"])
    work = paths.jaeger.parent / "src"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(source, work)  # the module cache is read-only; build a writable copy
    for directory, _, _ in os.walk(work):
        Path(directory).chmod(0o755)
    version = f"{JAEGER_MODULE}/internal/version.latestVersion={JAEGER_VERSION}"
    target = paths.jaeger.with_suffix(".tmp")
    _run(
        [
            go,
            "build",
            "-trimpath",
            "-ldflags",
            f"-s -w -X {version}",
            "-o",
            str(target),
            "./cmd/jaeger",
        ],
        work,
        log,
    )
    os.replace(target, paths.jaeger)
    shutil.rmtree(work)
    print(f"stack: Jaeger built in {time.monotonic() - started:.0f} s", flush=True)


def ensure_prometheus() -> None:
    """Install Debian's prometheus when missing and we are root; else say how."""
    ensure_debian_tool("prometheus", "prometheus")


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
