"""otel_ml's request-path code alone, on a hot loop: no model, no server.

Two measurements, best of the rounds (timeit's estimator: the least disturbed
round), on the same SDK set-up as ``server.py``'s 1% rows and ``overhead.py``'s
sampled-out rows::

    python benchmarks/hot_path.py [--rounds R] [--calls N]

- **ASGI layers at 1% tracing** (``ParentBased(TraceIdRatioBased(0.01))``): a
  trivial ASGI app that answers at once, bare and inside otel_ml's context
  isolation, HTTP layer and ML layer, alone and stacked as ``instrument(app)``
  stacks them. What each layer costs with nothing else competing for the caches.
- **Sampled out** (``ParentBased(ALWAYS_OFF)``): ``wrap_model`` around a model
  whose ``predict`` returns a constant, against ``overhead.py``'s floor (one SDK
  span and one SDK histogram record) around the same model: the telemetry alone.
- **Beside a real model** (sampled out): ``wrap_model`` around a model whose
  ``predict_proba`` returns a constant row, alone; a fitted scikit-learn
  ``LogisticRegression.predict_proba`` alone; the two one after the other in
  each loop turn; and the real model wrapped. What the telemetry adds to a real
  call beyond its own hot-loop cost is the two sharing the CPU's caches and
  predictors (the reason a server's profile charges it two to four times more).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import math
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from _server_app import DiscardingMetricExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, TraceIdRatioBased
from overhead import Sdk, fitted_model, floor_call, otel_ml_call

from otel_ml.instrumentation.fastapi.http_server import HttpServerMiddleware
from otel_ml.instrumentation.fastapi.isolation import IsolateRequestContext
from otel_ml.instrumentation.fastapi.middleware import ModelRequestMiddleware
from otel_ml.sdk import cells_meter_provider

SCOPE = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
         "scheme": "http", "path": "/predict", "raw_path": b"/predict", "query_string": b"",
         "root_path": "", "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"text/plain")],
         "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}  # fmt: skip


async def _leaf(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"[]", "more_body": False}


async def _send(message: Any) -> None:
    return None


def asgi_stacks() -> dict[str, Any]:
    """The trivial app bare and inside each of otel_ml's layers, on 1%-sampled providers."""
    tracer_provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.01)))
    meter_provider = cells_meter_provider(
        [DiscardingMetricExporter()], export_interval_millis=math.inf
    )
    model = {"ml.model.name": "bench", "ml.model.version": "1"}

    def ml_layer(app: Any) -> Any:
        return ModelRequestMiddleware(app, model_name="bench", model_version="1",
                                      header="x-prediction-id", tag_model=False)  # fmt: skip

    def http_layer(inner: Any = None) -> Any:
        return HttpServerMiddleware(
            _leaf,
            inner=inner,
            span_attributes=model,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
        )

    return {
        "bare ASGI app": _leaf,
        "context isolation": IsolateRequestContext(_leaf),
        "ML layer": ml_layer(_leaf),
        "HTTP layer": http_layer(),
        "all three, as instrument(app) stacks them": IsolateRequestContext(http_layer(ml_layer)),
    }


def time_asgi(app: Any, calls: int) -> float:
    """Microseconds per request of ``app`` over ``calls`` requests."""

    async def run() -> float:
        start = time.perf_counter_ns()
        for _ in range(calls):
            await app(dict(SCOPE), _receive, _send)
        return (time.perf_counter_ns() - start) / calls / 1e3

    return asyncio.run(run())


def time_call(call: Callable[[], object], calls: int) -> float:
    """Microseconds per call of ``call`` over ``calls`` calls."""
    start = time.perf_counter_ns()
    for _ in range(calls):
        call()
    return (time.perf_counter_ns() - start) / calls / 1e3


class ConstantModel:
    """A classifier whose ``predict`` costs nothing: only the telemetry is timed."""

    classes_ = np.array([0, 1])
    _out = np.array([1])

    def predict(self, rows: Any) -> Any:
        return self._out


class ConstantProbabilities:
    """A classifier whose ``predict_proba`` returns one constant row."""

    classes_ = np.array([0, 1])
    _out = np.array([[0.2, 0.8]])

    def predict_proba(self, rows: Any) -> Any:
        return self._out


def beside_a_model(sdk: Sdk, rounds: int, calls: int) -> str:
    """The sampled-out telemetry alone, a real model alone, both in one loop turn."""
    real, row = fitted_model()
    constant = otel_ml_call(sdk, ConstantProbabilities(), "predict_proba", row)
    wrapped = otel_ml_call(sdk, real, "predict_proba", row)
    timings = {
        "model": lambda: real.predict_proba(row),
        "telemetry": constant,
        "both": lambda: (real.predict_proba(row), constant()),
        "wrapped": wrapped,
    }
    for call in timings.values():
        time_call(call, calls)  # warm up
    timed = best(rounds, {k: functools.partial(time_call, c, calls) for k, c in timings.items()})
    alone = timed["model"] + timed["telemetry"]
    return (
        f"beside a real model, sampled out: LogisticRegression.predict_proba "
        f"{timed['model']:.2f} us, otel_ml around a constant predict_proba "
        f"{timed['telemetry']:.2f} us, the two in one loop turn {timed['both']:.2f} us "
        f"({timed['both'] - alone:+.2f} us beyond their sum), the model wrapped "
        f"{timed['wrapped']:.2f} us (+{timed['wrapped'] - timed['model']:.2f} us)"
    )


def best(rounds: int, timings: dict[str, Callable[[], float]]) -> dict[str, float]:
    """Each timing's fastest of ``rounds`` interleaved rounds."""
    found: dict[str, list[float]] = {name: [] for name in timings}
    for _ in range(rounds):
        for name, timing in timings.items():
            found[name].append(timing())
    return {name: min(values) for name, values in found.items()}


def main(argv: Sequence[str] | None = None) -> int:
    """Print both measurements."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args(argv)
    stacks = asgi_stacks()
    layers = best(
        args.rounds, {k: functools.partial(time_asgi, a, args.calls) for k, a in stacks.items()}
    )
    print(
        "| ASGI stack at 1% tracing | us per request | added to the bare app, us |\n|---|---|---|"
    )
    for name, us in layers.items():
        print(f"| {name} | {us:.2f} | {us - layers['bare ASGI app']:.2f} |")
    sdk, model, row = Sdk.build(ParentBased(ALWAYS_OFF)), ConstantModel(), np.zeros((1, 20))
    calls = {
        "bare": lambda: model.predict(row),
        "floor, sampled out": floor_call(sdk, model.predict, "predict", row),
        "otel_ml, sampled out": otel_ml_call(sdk, model, "predict", row),
    }
    for call in calls.values():
        time_call(call, args.calls)  # warm up
    timed = best(
        args.rounds, {k: functools.partial(time_call, c, args.calls) for k, c in calls.items()}
    )
    floor, ours = (timed[k] - timed["bare"] for k in ("floor, sampled out", "otel_ml, sampled out"))
    print(f"\nconstant-model predict, sampled out: floor adds {floor:.2f} us, otel_ml "
          f"{ours:.2f} us ({ours / floor:.2f}x the floor's)")  # fmt: skip
    print("\n" + beside_a_model(sdk, args.rounds, args.calls))
    sdk.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
