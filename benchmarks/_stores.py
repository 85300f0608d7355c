"""The shared prediction stores for ``feedback.py``: opened on real backends, measured.

SQLite in a temporary directory; Redis is a ``redis-server`` started on a
free loopback port (no persistence) when the binary is installed, else its
rows are left out.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from statistics import median

from otel_ml._internal.ids import new_prediction_id
from otel_ml.feedback.recorder import FeedbackRecorder, join_label
from otel_ml.feedback.store import Store
from otel_ml.feedback.stores.redis_store import RedisStore
from otel_ml.feedback.stores.shared import SharedStore
from otel_ml.feedback.stores.sqlite import SqliteStore


@contextmanager
def shared_stores(capacity: int, ttl_s: float) -> Iterator[dict[str, SharedStore]]:
    """``{"sqlite": ..., "redis": ...}`` (Redis only where redis-server is installed)."""
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="otel-ml-bench-")))
        stores: dict[str, SharedStore] = {
            "sqlite": SqliteStore(f"sqlite://{workdir}/predictions.db", capacity, ttl_s)
        }
        binary = shutil.which("redis-server")
        if binary is not None:
            url = stack.enter_context(_redis_server(binary, workdir))
            stores["redis"] = RedisStore(url, capacity, ttl_s)
        try:
            yield stores
        finally:
            for store in stores.values():
                store.close()


@contextmanager
def _redis_server(binary: str, workdir: Path) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(workdir)]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def join_rates(
    stores: dict[str, tuple[Store, Callable[[str], None]]], labels: int, rounds: int
) -> dict[str, float]:
    """Median labels joined per second per store (``join_label``, all matched: span,
    metrics, quality), in interleaved rounds (the starting store rotates)."""
    rates: dict[str, list[float]] = {name: [] for name in stores}
    names = list(stores)
    for index in range(rounds):
        for name in names[index % len(names) :] + names[: index % len(names)]:
            store, remember = stores[name]
            ids = [new_prediction_id() for _ in range(labels)]
            for prediction_id in ids:
                remember(prediction_id)
            if isinstance(store, SharedStore):
                store.flush()
            started = time.perf_counter()
            for prediction_id in ids:
                if join_label(prediction_id, "setosa", store, _unmatched) != "matched":
                    raise RuntimeError(f"a label found no prediction in {name}")
            rates[name].append(labels / (time.perf_counter() - started))
    return {name: median(found) for name, found in rates.items()}


def _unmatched(outcome: str) -> None:
    raise RuntimeError(f"unexpected outcome {outcome}")


def flusher_cpu_ms(store: SharedStore, remember: Callable[[str], None], rounds: int) -> float:
    """Median CPU milliseconds of the writer thread per 1,000 predictions (encoding,
    writing, its wake-ups until they are written; client side: Redis's own CPU is
    not counted), read from that thread's CPU clock."""
    remember(new_prediction_id())  # starts the writer
    store.flush()
    thread = store._flusher._thread
    assert thread is not None
    assert thread.ident is not None
    clock = time.pthread_getcpuclockid(thread.ident)
    costs = []
    for _ in range(rounds):
        before = time.clock_gettime(clock)
        for _ in range(1000):
            remember(new_prediction_id())
        while store._flusher.pending():
            time.sleep(0.01)
        time.sleep(0.1)  # the last batch is out of the buffer, maybe not yet written
        costs.append((time.clock_gettime(clock) - before) * 1e3)
    return median(costs)


def remembering(recorder: FeedbackRecorder, summary: object, span: object) -> Callable[[str], None]:
    """``remember`` of one prediction id, with the benchmark's summary and span."""
    remember = recorder.remember
    return lambda prediction_id: remember(prediction_id, summary, span)  # type: ignore[arg-type]
