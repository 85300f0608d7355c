"""Where a 1%-traced request's CPU goes between the one-liner's parts, in process.

The server benchmark's app (``_server_app.py``: FastAPI, a fitted scikit-learn
``LogisticRegression`` on 20 features, ``POST /predict`` of 20 floats answered
with ``predict_proba``) called directly as an ASGI app: no uvicorn, no sockets,
no load generator, so a difference of a few microseconds shows::

    python benchmarks/in_process.py [--rounds R] [--requests N] [--passes P]

Each variant runs in a process of its own (the scikit-learn hook patches the
class, and the SDK providers are set once), ``R`` rounds of ``N`` requests after
a warm-up; a round's figure is the process's CPU time per request, a pass's
the median of its rounds. The variants run one after the other ``P`` times
(interleaved passes); differences to bare are taken within a pass, and the
report gives medians across passes with their min-max. Traces are head-sampled at
1% (``ParentBased(TraceIdRatioBased(0.01))``) into a discarding exporter;
metrics into a discarding one, collected every 10 s as in ``server.py``.

- **bare**: no telemetry.
- **scikit-learn hook alone**: ``SklearnInstrumentor().instrument()``.
- **ASGI layers alone**: ``otel_ml.instrument(app, ..., instrument_sklearn=False)``:
  context isolation, HTTP layer (server span, ``http.server.request.duration``),
  ML layer (prediction id header).
- **one-liner defaults**: ``otel_ml.instrument(app, ...)``: both.
- **SDK floor**: ``_server_app.py``'s hand-written minimum through the SDK.

The one-liner's cost against the sum of its parts' says how much the parts
slow each other and the app down beyond their own work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
VARIANTS = {
    "bare": "bare",
    "hook": "scikit-learn hook alone",
    "layers": "ASGI layers alone (`instrument_sklearn=False`)",
    "one_liner": "one-liner defaults (both)",
    "sdk_floor": "SDK floor",
}
BODY = json.dumps([float(x) for x in np.random.default_rng(1).normal(size=20)]).encode()
HEADERS = [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
           (b"content-length", str(len(BODY)).encode()), (b"user-agent", b"wrk")]  # fmt: skip
SCOPE = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
         "scheme": "http", "path": "/predict", "raw_path": b"/predict", "query_string": b"",
         "root_path": "", "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
         "headers": HEADERS}  # fmt: skip


def build(variant: str) -> Any:
    """The app of ``variant`` (in this process: patches and providers are global)."""
    sys.path.insert(0, str(HERE))
    import _server_app as server_app

    if variant in ("bare", "one_liner", "sdk_floor"):
        name = {"one_liner": "otel_ml_lean_sampled", "sdk_floor": "sdk_floor_sampled"}
        return server_app.build_app(name.get(variant, variant), None)
    app = server_app.build_app("bare", None)
    server_app.install_sdk("otel_ml_lean_sampled", None)  # 1% sampled, metrics into cells
    if variant == "hook":
        from otel_ml.instrumentation.fastapi.http_server import mute_fastapi_telemetry
        from otel_ml.instrumentation.sklearn import SklearnInstrumentor

        mute_fastapi_telemetry(app)  # the one-liner mutes FastAPI's own telemetry too
        SklearnInstrumentor().instrument()
    else:
        import otel_ml

        otel_ml.instrument(app, "bench", "1", instrument_sklearn=False)
    return app


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": BODY, "more_body": False}


async def _send(message: Any) -> None:
    return None


async def rounds_of(app: Any, rounds: int, requests: int) -> list[float]:
    """CPU microseconds per request of each round, after a warm-up."""
    for _ in range(300):
        await app(dict(SCOPE), _receive, _send)
    found = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(requests):
            await app(dict(SCOPE), _receive, _send)
        found.append((time.process_time() - start) / requests * 1e6)
        await asyncio.sleep(0.02)  # the batch span processor's thread runs between rounds
    return found


def run_variant(variant: str, rounds: int, requests: int) -> list[float]:
    """Run ``variant`` in a fresh process; its rounds."""
    command = [sys.executable, __file__, "--child", variant, "--rounds", str(rounds),
               "--requests", str(requests)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True)
    rounds_found: list[float] = json.loads(done.stdout.strip().splitlines()[-1])
    return rounds_found


def report(passes: list[dict[str, list[float]]]) -> str:
    """The table (medians across passes, min-max in parentheses) and the parts'
    sum against the one-liner. Differences to bare are taken within each pass."""
    per_pass = [{v: statistics.median(r) for v, r in found.items()} for found in passes]

    def summary(values: list[float]) -> str:
        return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"

    lines = ["| variant | CPU per request, us | added to bare, us |", "|---|---|---|"]
    for variant, label in VARIANTS.items():
        cpu = summary([p[variant] for p in per_pass])
        added = "-" if variant == "bare" else summary([p[variant] - p["bare"] for p in per_pass])
        lines.append(f"| {label} | {cpu} | {added} |")
    beyond = [p["one_liner"] - p["hook"] - p["layers"] + p["bare"] for p in per_pass]
    lines.append(f"\nthe one-liner beyond the sum of its parts' added costs: {summary(beyond)} us")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run every variant in its own process, ``passes`` times, and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a smoke run; numbers not meaningful")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.requests, args.passes = 1, 50, 1
    if args.child:
        app = build(args.child)
        print(json.dumps(asyncio.run(rounds_of(app, args.rounds, args.requests))))
        return 0
    passes = [
        {variant: run_variant(variant, args.rounds, args.requests) for variant in VARIANTS}
        for _ in range(args.passes)
    ]
    print(report(passes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
