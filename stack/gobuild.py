"""Building commands of a Go module from its own source, the way its maintainers do.

``go install module/cmd/x@version`` refuses modules whose go.mod has
``replace`` directives (Jaeger) and cannot apply a source change such as
Prometheus's plugin list. So the module is downloaded (``go mod download``),
copied to a writable folder (the module cache is read-only), optionally
adjusted there, and its commands are built inside it, where its go.mod applies.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from stack.errors import StackError


@dataclass(frozen=True)
class GoModule:
    """Commands of one pinned module version and how to stamp and adjust them."""

    name: str  # for messages: "Prometheus"
    path: str  # the module path: github.com/prometheus/prometheus
    version: str  # the module version: v0.305.0
    commands: tuple[str, ...]  # package folders inside the module: ./cmd/prometheus
    ldflags: str = "-s -w"
    prepare: Callable[[Path], None] | None = None  # edits the writable source copy


def run_go_step(argv: Sequence[str], cwd: Path, log: Path | None, **env: str) -> None:
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


def build_module(go: str, module: GoModule, into: Path, log: Path | None) -> None:
    """Build ``module``'s commands into the folder ``into`` (binaries named after
    their package folders). Binaries appear only once all of them are built."""
    started = time.monotonic()
    into.mkdir(parents=True, exist_ok=True)
    work = into / "src"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(_download(go, module, into), work)
    for directory, _, _ in os.walk(work):
        Path(directory).chmod(0o755)
    if module.prepare is not None:
        module.prepare(work)
    staging = into / "staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    argv = [go, "build", "-trimpath", "-ldflags", module.ldflags, "-o", f"{staging}/"]
    run_go_step([*argv, *module.commands], work, log)
    for command in module.commands:
        name = Path(command).name
        os.replace(staging / name, into / name)
    shutil.rmtree(staging)
    shutil.rmtree(work)
    print(f"stack: {module.name} built in {time.monotonic() - started:.0f} s", flush=True)


def _download(go: str, module: GoModule, cwd: Path) -> Path:
    """``go mod download`` the module's source; its (read-only) folder in the module cache."""
    spec = f"{module.path}@{module.version}"
    print(f"stack: go mod download {spec}", flush=True)
    found = subprocess.run(
        [go, "mod", "download", "-json", spec],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "GOTOOLCHAIN": "local"},
        check=False,
    )
    if found.returncode != 0:
        raise StackError(f"`go mod download {spec}` failed: {found.stdout}{found.stderr}")
    return Path(json.loads(found.stdout)["Dir"])
