"""A real ``redis-server`` (Debian's package) on a free loopback port, for the store tests.

Started with no persistence (``--save '' --appendonly no``): killing it loses
everything, as a restarted cache would. Under CI (``CI=true``) a missing
binary fails the test; elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from served_process import free_port

INSTALL_HINT = "apt-get install redis-server (.ci/run installs it)"


def redis_binary() -> str:
    """The redis-server binary; skip (fail under CI) when it is not installed."""
    found = shutil.which("redis-server")
    if found is None:
        reason = f"redis-server is not installed: {INSTALL_HINT}"
        if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)
    return found


class RedisServer:
    """One redis-server process on 127.0.0.1:``port``; ``kill`` and ``start`` again."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 20) -> None:
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.workdir)]  # fmt: skip
        with (self.workdir / "redis.log").open("a") as log:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout_s
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                log_text = (self.workdir / "redis.log").read_text()[-2000:]
                pytest.fail(f"redis-server did not start on {self.port}:\n{log_text}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL, as a crash: every key is gone."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None
