"""Starting, checking and stopping the local stack: Jaeger v2, the Collector,
Alertmanager, Prometheus.

Every server listens on 127.0.0.1. Pid files, logs, the generated Prometheus
and Alertmanager configs (:mod:`stack.configs`) and their data live in
``$OTEL_ML_STACK_STATE`` (default ``.stack/`` in the repository). ``down``
stops processes by the pid ``up`` recorded, after checking that the pid still
runs the same binary.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stack.build import REPO, Paths, missing
from stack.configs import write_alertmanager_files, write_prometheus_files
from stack.errors import StackError

JAEGER_QUERY_URL = "http://127.0.0.1:16686"
PROMETHEUS_URL = "http://127.0.0.1:9090"
ALERTMANAGER_URL = "http://127.0.0.1:9093"
OTLP_GRPC_ENDPOINT = "http://127.0.0.1:4317"
# Services this process started and has not stopped yet (a test session stops
# what it started; `make stack` exits and leaves them to `make stack-down`).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class Service:
    """One server of the stack: how to start it and how to tell it is ready."""

    name: str
    binary: Path
    args: tuple[str, ...]
    health_url: str
    ports: tuple[int, ...]


def services(paths: Paths) -> list[Service]:
    """Each service before those that send to it: Jaeger, the collector,
    Alertmanager, Prometheus."""
    prom_dir = paths.state / "prometheus"
    am_dir = paths.state / "alertmanager"
    return [
        Service(
            "jaeger",
            paths.jaeger,
            ("--config", str(REPO / "stack/jaeger-config.yaml")),
            "http://127.0.0.1:13134/status",
            (14317, 14318, 16685, 16686, 13134),
        ),
        Service(
            "collector",
            paths.collector,
            ("--config", str(REPO / "collector-config.yaml")),
            "http://127.0.0.1:13133/",
            (4317, 4318, 8889, 13133),
        ),
        Service(
            "alertmanager",
            paths.alertmanager,
            (
                f"--config.file={am_dir / 'alertmanager.yml'}",
                f"--storage.path={am_dir / 'data'}",
                "--web.listen-address=127.0.0.1:9093",
                f"--web.external-url={ALERTMANAGER_URL}",
                "--cluster.listen-address=",  # one instance: no gossip port
            ),
            f"{ALERTMANAGER_URL}/-/ready",
            (9093,),
        ),
        Service(
            "prometheus",
            paths.prometheus,
            (
                f"--config.file={prom_dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={prom_dir / 'data'}",
                "--storage.tsdb.retention.time=1d",
                "--web.listen-address=127.0.0.1:9090",
                "--enable-feature=exemplar-storage",
            ),
            f"{PROMETHEUS_URL}/-/ready",
            (9090,),
        ),
    ]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _pid(paths: Paths, service: Service) -> int | None:
    """The pid recorded for ``service`` if that process still runs our binary."""
    pid_file = paths.state / f"{service.name}.pid"
    try:
        pid = int(pid_file.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    if cmdline and os.fsencode(service.binary) == cmdline[0]:
        return pid
    return None


def _port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def up(paths: Paths, timeout_s: float = 60.0) -> list[str]:
    """Start every service that is not running; wait until all are healthy.

    Returns the names of the services this call started (a caller that
    started them stops them; one that found them running leaves them).
    """
    if gaps := missing(paths):
        raise StackError("not built yet: " + ", ".join(gaps) + "; run `make stack` first")
    (paths.state / "logs").mkdir(parents=True, exist_ok=True)
    started: list[str] = []
    try:
        for service in services(paths):
            if _pid(paths, service) is None:
                _start(paths, service)
                started.append(service.name)
            _wait_healthy(paths, service, timeout_s)
    except BaseException:
        down(paths, started)
        raise
    return started


def _start(paths: Paths, service: Service) -> None:
    if busy := [p for p in service.ports if _port_taken(p)]:
        raise StackError(
            f"cannot start {service.name}: 127.0.0.1 port(s) {busy} already in use by "
            "another process (not one this stack started)"
        )
    # Config and data start afresh with the process: no alert, silence or
    # series from an earlier run.
    directory = paths.state / service.name
    if service.name == "prometheus":
        shutil.rmtree(directory, ignore_errors=True)
        write_prometheus_files(directory)
    elif service.name == "alertmanager":
        shutil.rmtree(directory, ignore_errors=True)
        write_alertmanager_files(directory, os.environ)
    log = (paths.state / "logs" / f"{service.name}.log").open("w")
    with log:
        process = subprocess.Popen(
            [str(service.binary), *service.args],
            cwd=paths.state,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives `make stack`; `down` stops it by pid
        )
    _CHILDREN[process.pid] = process
    (paths.state / f"{service.name}.pid").write_text(str(process.pid))
    # /proc/<pid>/cmdline names the binary only once exec is done: wait for it,
    # so that _pid() (what `down` trusts) recognises the process from now on.
    deadline = time.monotonic() + 5
    while _pid(paths, service) is None and process.poll() is None:
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    print(f"stack: started {service.name} (pid {process.pid})", flush=True)


def _wait_healthy(paths: Paths, service: Service, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not _healthy(service.health_url):
        if _pid(paths, service) is None or time.monotonic() > deadline:
            log = paths.state / "logs" / f"{service.name}.log"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise StackError(
                f"{service.name} did not become healthy at {service.health_url}; "
                f"last lines of {log}:\n{tail}"
            )
        time.sleep(0.2)


def down(paths: Paths, names: Sequence[str] | None = None) -> None:
    """Stop the services (all, or ``names``) that ``up`` started, by their pid."""
    for service in reversed(services(paths)):
        if names is not None and service.name not in names:
            continue
        pid = _pid(paths, service)
        if pid is not None:
            _stop(paths, service, pid)
            print(f"stack: stopped {service.name} (pid {pid})", flush=True)
        (paths.state / f"{service.name}.pid").unlink(missing_ok=True)


def _stop(paths: Paths, service: Service, pid: int) -> None:
    """SIGTERM, up to 15 s to exit, then SIGKILL; reap it when it is our child."""
    child = _CHILDREN.pop(pid, None)
    os.kill(pid, signal.SIGTERM)
    if child is not None:  # started by this process (a test session): wait on it
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=10)
        return
    deadline = time.monotonic() + 15
    while _pid(paths, service) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    if _pid(paths, service) is not None:
        os.kill(pid, signal.SIGKILL)


def status(paths: Paths) -> dict[str, str]:
    """Service name -> one line saying whether and where it runs."""
    lines = {}
    for service in services(paths):
        pid = _pid(paths, service)
        health = "healthy" if _healthy(service.health_url) else "not answering"
        lines[service.name] = (
            f"running (pid {pid}), {health} at {service.health_url}" if pid else "stopped"
        )
    return lines
