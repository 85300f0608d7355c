"""Processes of the server benchmark: the variant servers, wrk, the collector.

Everything listens on 127.0.0.1 on free ports; every process started here is
stopped by the context managers that started it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
APP = HERE / "_server_app.py"
CONNECTIONS = 16
BODY = json.dumps([round(0.1 * i - 1.0, 2) for i in range(20)])
WRK_SCRIPT = f"""wrk.method = "POST"
wrk.body = '{BODY}'
wrk.headers["Content-Type"] = "application/json"
"""
TICKS = os.sysconf("SC_CLK_TCK")


class LoadError(Exception):
    """A process of the benchmark could not start or answer; the message says why."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def ensure_wrk() -> str:
    """The wrk binary; installed from Debian's packages when missing and root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise LoadError("wrk is not installed: run `sudo apt-get install -y wrk`, then try again")
    environ = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("installing wrk with apt-get ...", file=sys.stderr)
    subprocess.run(["apt-get", "update", "-qq"], env=environ, check=True, timeout=300)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"],
        env=environ,
        check=True,
        timeout=300,
    )
    return shutil.which("wrk") or "/usr/bin/wrk"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (``/proc/<pid>/stat``)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14, 15)


def peak_rss_mib(pid: int) -> float:
    """``VmHWM`` of ``pid`` in MiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise LoadError(f"no VmHWM for pid {pid}")


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failures: int  # non-2xx responses and socket errors

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> WrkResult:
    """The numbers of ``wrk --latency`` output."""
    done = re.search(r"(\d+) requests in ([\d.]+)(\w+)", output)
    p50 = re.search(r"^\s*50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s*99%\s+(\S+)", output, re.MULTILINE)
    if not (done and p50 and p99):
        raise LoadError(f"unexpected wrk output: {output.strip()[-400:]}")
    seconds = _ms(done.group(2) + done.group(3)) / 1e3
    failures = sum(
        int(n)
        for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output)
        + re.findall(r"(?:connect|read|write|timeout) (\d+)", output)
    )
    return WrkResult(int(done.group(1)), seconds, _ms(p50.group(1)), _ms(p99.group(1)), failures)


class Load:
    """``wrk -t1 -c16 --latency`` with the POST body of the app."""

    def __init__(self, wrk: str, folder: Path) -> None:
        self._wrk = wrk
        self._script = folder / "post.lua"
        self._script.write_text(WRK_SCRIPT, encoding="utf-8")

    def run(self, port: int, seconds: float) -> WrkResult:
        """Load the server on ``port`` for ``seconds``."""
        argv = [self._wrk, "-t1", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--latency"]
        argv += ["--timeout", "10s", "-s", str(self._script), f"http://127.0.0.1:{port}/predict"]
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
        if done.returncode:
            raise LoadError(f"wrk failed ({done.returncode}): {done.stderr.strip()[-400:]}")
        return parse_wrk(done.stdout)


@dataclass
class Server:
    """One variant's uvicorn process."""

    variant: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def dropped_spans(self) -> int:
        """Spans its batch span processor dropped so far (the SDK logs each
        "Queue full, dropping" when the exporter falls behind)."""
        return self.log.read_text(encoding="utf-8", errors="replace").count("Queue full")


def _answers(port: int, method: str = "POST", path: str = "/predict") -> bool:
    """Whether ``method path`` on 127.0.0.1:``port`` answers 200 (a POST sends the body)."""
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            if method == "POST":
                headers = {"Content-Type": "application/json"}
                connection.request(method, path, BODY, headers=headers)
            else:
                connection.request(method, path)
            return connection.getresponse().status == 200
        finally:
            connection.close()
    except OSError:
        return False


@contextlib.contextmanager
def servers(
    variants: Mapping[str, Mapping[str, str]],
    folder: Path,
    otlp: str | None,
    timeout_s: float = 120.0,
) -> Iterator[dict[str, Server]]:
    """Start one server per variant (``variants``: name -> extra environment), wait
    until each answers, stop them all on exit."""
    started: dict[str, Server] = {}
    try:
        for variant, environ in variants.items():
            port = free_port()
            log = folder / f"{variant}.log"
            argv = [sys.executable, str(APP), variant, str(port)]
            argv += ["--otlp", otlp] if otlp else []
            with log.open("wb") as sink:
                process = subprocess.Popen(
                    argv, cwd=REPO, env={**os.environ, **environ}, stdout=sink, stderr=sink
                )
            started[variant] = Server(variant, port, process, log)
        deadline = time.monotonic() + timeout_s
        for server in started.values():
            while not _answers(server.port):
                if server.process.poll() is not None or time.monotonic() > deadline:
                    tail = server.log.read_text(encoding="utf-8", errors="replace")[-800:]
                    raise LoadError(f"server {server.variant} did not start: {tail}")
                time.sleep(0.2)
        yield started
    finally:
        for server in started.values():
            _stop(server.process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


COLLECTOR_CONFIG = """
extensions:
  health_check:
    endpoint: 127.0.0.1:{health}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
processors:
  batch:
    send_batch_size: 8192
    timeout: 200ms
  # The build has no debug or nop exporter: traces are received, decoded and
  # then dropped by a policy that matches nothing.
  tail_sampling:
    decision_wait: 1s
    num_traces: 50000
    policies:
      - name: none
        type: string_attribute
        string_attribute: {{key: bench.never, values: ["never"]}}
exporters:
  otlp_grpc/unused:
    endpoint: 127.0.0.1:{unused}
    tls: {{insecure: true}}
  prometheus:
    endpoint: 127.0.0.1:{prometheus}
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [tail_sampling]
      exporters: [otlp_grpc/unused]
    metrics:
      receivers: [otlp]
      processors: [batch]
      exporters: [prometheus]
  telemetry:
    metrics:
      level: none
"""


def collector_binary() -> Path | None:
    """The collector ``python3 -m stack build`` cached, if it did."""
    sys.path.insert(0, str(REPO))
    try:
        from stack.build import Paths
    finally:
        sys.path.remove(str(REPO))
    binary = Paths.from_env().collector
    return binary if binary.is_file() else None


@contextlib.contextmanager
def collector(binary: Path, folder: Path, timeout_s: float = 60.0) -> Iterator[str]:
    """A collector on free loopback ports; yields its OTLP/gRPC endpoint (host:port)."""
    ports = {name: free_port() for name in ("health", "grpc", "unused", "prometheus")}
    config = folder / "collector.yaml"
    config.write_text(COLLECTOR_CONFIG.format(**ports), encoding="utf-8")
    log = folder / "collector.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(binary), "--config", str(config)], stdout=sink, stderr=sink, cwd=folder
        )
    try:
        deadline = time.monotonic() + timeout_s
        while not _answers(ports["health"], "GET", "/"):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(encoding="utf-8", errors="replace")[-800:]
                raise LoadError(f"the collector did not start: {tail}")
            time.sleep(0.2)
        yield f"127.0.0.1:{ports['grpc']}"
    finally:
        _stop(process)


@contextlib.contextmanager
def workspace() -> Iterator[Path]:
    """A temporary folder for scripts, configs and logs."""
    with tempfile.TemporaryDirectory(prefix="otel-ml-server-bench-") as folder:
        yield Path(folder)
