"""Headless Chromium driven over the DevTools protocol on a pipe (no extra packages).

``--remote-debugging-pipe`` makes Chromium read protocol messages from fd 3 and
write them to fd 4, each a JSON object ended by a NUL byte. :class:`Chromium`
starts the browser with those descriptors, sends commands, and keeps every
event, so a test can look at console messages, uncaught exceptions and log
entries (failed loads, Content-Security-Policy violations) of a page. Every
wait is bounded, and :meth:`Chromium.close` always ends the process.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",  # containers without user namespaces
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--remote-debugging-pipe",
)


_TRAMPOLINE = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
    "os.execv(sys.argv[3], sys.argv[3:])"
)


def find_chromium() -> str | None:
    """Debian's ``chromium`` (``stack/build.py`` installs it in CI), if installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class ProtocolError(RuntimeError):
    """A command failed, or the browser did not answer in time."""


class Chromium:
    """One headless browser process; use as a context manager."""

    def __init__(self, executable: str, profile_dir: Path, timeout_s: float = 30.0) -> None:
        self.timeout_s = timeout_s
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        to_browser_r, from_browser_w = _above_4(to_browser_r), _above_4(from_browser_w)
        # A trampoline moves the browser's pipe ends to fds 3 and 4, then becomes
        # Chromium (sh cannot: dash only redirects single-digit descriptors).
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _TRAMPOLINE,
                str(to_browser_r),
                str(from_browser_w),
                executable,
                *FLAGS,
                f"--user-data-dir={profile_dir}",
            ],
            pass_fds=(to_browser_r, from_browser_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: close() can end all of it
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.events: list[dict[str, Any]] = []
        self._next_id = 0
        self._reader = threading.Thread(target=self._read, name="chromium-pipe", daemon=True)
        self._reader.start()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self) -> None:
        buffer = b""
        with os.fdopen(self._from_browser, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                for message in messages:
                    self._messages.put(json.loads(message))
        self._messages.put(None)  # the browser closed the pipe

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Run one command and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        command: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            command["sessionId"] = session
        os.write(self._to_browser, json.dumps(command).encode() + b"\0")
        reply = self._until(lambda m: m.get("id") == self._next_id, f"the reply to {method}")
        if "error" in reply:
            raise ProtocolError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    def wait_event(self, method: str, session: str | None = None) -> dict[str, Any]:
        """The next event ``method`` (of ``session``), waiting at most ``timeout_s``."""
        for event in self.events:
            if event.get("method") == method and event.get("sessionId") == session:
                self.events.remove(event)
                return event
        return self._until(
            lambda m: m.get("method") == method and m.get("sessionId") == session, method
        )

    def _until(self, wanted: Any, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = self._messages.get(timeout=left)
            except queue.Empty:
                break
            if message is None:
                raise ProtocolError(f"the browser exited while waiting for {what}")
            if wanted(message):
                return message
            if "method" in message:
                self.events.append(message)
        raise ProtocolError(f"no {what} within {self.timeout_s} s")

    def open_page(self, url: str, width: int = 1280, height: int = 900) -> str:
        """A new tab showing ``url`` once loaded; returns its session id."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            session,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.send("Page.navigate", session, url=url)
        self.wait_event("Page.loadEventFired", session)
        return session

    def evaluate(self, session: str, expression: str) -> Any:
        """The JSON value of ``expression`` in the page (DevTools runs it despite the CSP)."""
        result = self.send("Runtime.evaluate", session, expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise ProtocolError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, session: str, path: Path) -> None:
        """A PNG of the whole page, not just the viewport."""
        data = self.send(
            "Page.captureScreenshot", session, format="png", captureBeyondViewport=True
        )["data"]
        path.write_bytes(base64.b64decode(data))

    def problems(self, session: str) -> list[str]:
        """Console errors and warnings, uncaught exceptions and error log entries so far."""
        self.send("Runtime.evaluate", session, expression="0")  # drain what is in flight
        found = []
        for event in self.events:
            if event.get("sessionId") != session:
                continue
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails'].get('text')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in (
                "error",
                "warning",
                "assert",
            ):
                texts = [str(a.get("value", a.get("description"))) for a in params.get("args", [])]
                found.append(f"console.{params['type']}: {' '.join(texts)}")
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                entry = params["entry"]
                found.append(f"log {entry['level']} ({entry['source']}): {entry['text']}")
        return found

    def close(self, timeout_s: float = 10.0) -> None:
        """Close the browser; kill its process group if it does not exit in time."""
        if self.process.poll() is None:
            with contextlib.suppress(ProtocolError, OSError):
                self.send("Browser.close")
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout_s)
        # The launcher script, the browser and its helpers: all started here.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=timeout_s)
        with contextlib.suppress(OSError):
            os.close(self._to_browser)
        self._reader.join(timeout=timeout_s)


def _above_4(fd: int) -> int:
    """``fd`` moved above 4, so moving it to 3 or 4 in the child clobbers nothing."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved
