"""Per-call overhead of the xgboost, lightgbm and ONNX Runtime hooks.

Side by side in one process, for each library, one single-row call of a
binary classifier on 20 features: the bare call (the library's original
method, called directly), "the floor" (one bare OTel SDK span plus one
histogram record around it, the least any instrumentation can do), the same
call through the library's otel_ml hook (the patched class method, as under
``opentelemetry-instrument``) and through ``otel_ml.wrap_model``::

    python benchmarks/models.py [--quick] [--rounds R] [--calls N] [--write-readme]

The calls: ``xgboost.Booster.inplace_predict`` (binary:logistic, 20 rounds
of depth 4), ``lightgbm.Booster.predict`` (binary, 20 rounds of 15 leaves)
and ``onnxruntime.InferenceSession.run`` of a scikit-learn
``LogisticRegression`` converted by skl2onnx (labels and ZipMap
probabilities), each on one thread: a single row gains nothing from more,
and a thread pool on a shared machine makes the bare call the noise.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import onnxruntime as ort
import xgboost as xgb
from _common import Stats, interleave, markdown_table, provenance, ratio_of_medians, replace_section
from overhead import Sdk, floor_call
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression

import otel_ml
from otel_ml.config import Settings
from otel_ml.instrumentation.lightgbm import LightGBMInstrumentor
from otel_ml.instrumentation.onnxruntime import OnnxRuntimeInstrumentor
from otel_ml.instrumentation.xgboost import XGBoostInstrumentor

README = Path(__file__).with_name("README.md")
FEATURES = 20
DISTRIBUTIONS = ("opentelemetry-sdk", "numpy", "xgboost", "lightgbm", "onnxruntime", "skl2onnx")
Call = Callable[[], object]


def training_data() -> tuple[np.ndarray, np.ndarray]:
    """1,000 rows of 20 float32 features and a binary label."""
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(1000, FEATURES)).astype(np.float32)
    return rows, (rows[:, 0] + 0.5 * rows[:, 1] > 0).astype(int)


Built = tuple[Any, str, tuple[Any, ...], dict[str, Any]]
"""``(model, operation, arguments and keywords of one single-row call)``."""


def xgboost_model(rows: np.ndarray, labels: np.ndarray) -> Built:
    """An xgboost binary:logistic booster and one ``inplace_predict`` row."""
    params = {"objective": "binary:logistic", "max_depth": 4, "nthread": 1}
    booster = xgb.train(params, xgb.DMatrix(rows, label=labels), num_boost_round=20)
    return booster, "inplace_predict", (rows[:1].copy(),), {}


def lightgbm_model(rows: np.ndarray, labels: np.ndarray) -> Built:
    """A lightgbm binary booster and one ``predict`` row."""
    params = {"objective": "binary", "num_leaves": 15, "num_threads": 1, "verbose": -1}
    booster = lgb.train(params, lgb.Dataset(rows, label=labels), num_boost_round=20)
    return booster, "predict", (rows[:1].copy(),), {"num_threads": 1}


def onnx_model(rows: np.ndarray, labels: np.ndarray) -> Built:
    """A session of a skl2onnx ``LogisticRegression`` and one ``run`` feed."""
    onx = to_onnx(LogisticRegression().fit(rows, labels), rows[:1]).SerializeToString()
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(onx, options, providers=["CPUExecutionProvider"])
    return session, "run", (None, {"X": rows[:1].copy()}), {}


LIBRARIES: dict[str, tuple[Callable[[np.ndarray, np.ndarray], Built], type[Any]]] = {
    "xgboost": (xgboost_model, XGBoostInstrumentor),
    "lightgbm": (lightgbm_model, LightGBMInstrumentor),
    "onnxruntime": (onnx_model, OnnxRuntimeInstrumentor),
}


def variants(built: Built, original: Callable[..., object], sdk: Sdk) -> dict[str, Call]:
    """The calls to time for one model, its hook instrumented on ``sdk``."""
    model, operation, args, kwargs = built
    wrapped = otel_ml.wrap_model(
        model, "bench", "1", tracer_provider=sdk.tracer_provider, meter_provider=sdk.meter_provider
    )
    hooked, through_wrapper = getattr(model, operation), getattr(wrapped, operation)
    return {
        "bare": lambda: original(model, *args, **kwargs),
        "floor": floor_call(sdk, lambda _: original(model, *args, **kwargs), operation, None),
        "hook": lambda: hooked(*args, **kwargs),
        "wrap_model": lambda: through_wrapper(*args, **kwargs),
    }


def measure(library: str, rounds: int, calls: int) -> tuple[str, dict[str, list[float]]]:
    """The operation and per-round ns per call of every variant of one library,
    its hook on for the run."""
    build, instrumentor_class = LIBRARIES[library]
    built = build(*training_data())
    original = getattr(type(built[0]), built[1])  # the library's own method
    sdk = Sdk.build()
    instrumentor = instrumentor_class()
    instrumentor.instrument(
        tracer_provider=sdk.tracer_provider,
        meter_provider=sdk.meter_provider,
        settings=Settings.load(environ={}),
        model_name="bench",
        model_version="1",
    )
    try:
        return built[1], interleave(variants(built, original, sdk), rounds, calls)
    finally:
        instrumentor.uninstrument()
        sdk.shutdown()


def table_rows(library: str, operation: str, samples: dict[str, list[float]]) -> list[list[str]]:
    """One markdown row per variant: per call, added to bare, added / the floor's."""
    bare = samples["bare"]
    added = {
        name: [(v - b) / 1e3 for v, b in zip(values, bare, strict=True)]
        for name, values in samples.items()
        if name != "bare"
    }
    rows = []
    for name, values in samples.items():
        overhead = Stats.of(added[name]).format() if name in added else "-"
        ratio = (
            ratio_of_medians(added[name], added["floor"]).format(2, "x")
            if name in ("hook", "wrap_model")
            else "-"
        )
        per_call = Stats.of([v / 1e3 for v in values]).format()
        rows.append([f"{library} `{operation}`", name, per_call, overhead, ratio])
    return rows


def report(command: str, samples: dict[str, tuple[str, dict[str, list[float]]]]) -> str:
    """The markdown section: provenance and table."""
    headers = ["call", "variant", "per call, us", "added to bare, us", "added / floor's"]
    rows = [row for lib, (op, by) in samples.items() for row in table_rows(lib, op, by)]
    legend = (
        "Medians across rounds; in parentheses the min-max across rounds, and for "
        "ratios a 90% bootstrap interval."
    )
    return "\n\n".join([provenance(command, DISTRIBUTIONS), markdown_table(headers, rows), legend])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table, optionally rewrite the README section."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run (5 x 100 calls)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 30)")
    parser.add_argument("--calls", type=int, help="calls per variant per round (default 300)")
    parser.add_argument("--write-readme", action="store_true", help=f"update {README.name}")
    args = parser.parse_args(argv)
    rounds = args.rounds if args.rounds is not None else (5 if args.quick else 30)
    calls = args.calls if args.calls is not None else (100 if args.quick else 300)
    if rounds < 1 or calls < 1:
        parser.error("--rounds and --calls must be positive")
    given = sys.argv[1:] if argv is None else list(argv)
    command = " ".join(["python benchmarks/models.py", *given])
    samples = {library: measure(library, rounds, calls) for library in LIBRARIES}
    section = report(command, samples)
    print(section)
    if args.write_readme:
        replace_section(README, "models", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
