"""A server run in a subprocess for a test: started in its own session, ready once
``/healthz`` answers, its whole process group stopped at the end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_group(
    process: subprocess.Popen[Any], sig: int = signal.SIGTERM, grace_s: float = 20
) -> int:
    """Send ``sig`` to the process group; SIGKILL it after ``grace_s``. The exit code."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass
    # Workers left behind by a master that died first.
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    return int(process.wait(timeout=10))


@contextmanager
def served(
    argv: list[str],
    environ: dict[str, str],
    port: int,
    log: Path,
    *,
    cwd: Path,
    timeout_s: float = 120,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run the server in ``cwd``; yield once ``/healthz`` answers; kill its process group
    on exit."""
    with log.open("w") as out:
        process = subprocess.Popen(
            argv,
            env=environ,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start (exit {process.poll()}):\n{log.read_text()}")
            time.sleep(0.2)
        yield process
    finally:
        stop_group(process, signal.SIGKILL, grace_s=0)
