"""The demo model server as the end-to-end tests run it, in its own process.

    python e2e_app_main.py one-line    # otel_ml.configure() + otel_ml.instrument(app, ...)
    opentelemetry-instrument python e2e_app_main.py zero-code   # no otel_ml call at all

Configured only by the environment (``OTEL_*``, ``OTEL_ML_*``), as a
deployment would be. Prints ``READY <base url>`` once it serves on
127.0.0.1, then serves until its standard input closes, flushes its
telemetry and exits.
"""

from __future__ import annotations

import sys

from sklearn.datasets import load_breast_cancer

import otel_ml
from otel_ml.demo.app import MODEL_NAME, MODEL_VERSION, build_app, train
from otel_ml.demo.server import serve
from otel_ml.drift.profile import ReferenceProfile


def main(mode: str) -> int:
    handle = otel_ml.configure() if mode == "one-line" else None
    app = build_app(train())
    if mode == "one-line":
        data = load_breast_cancer()
        reference = ReferenceProfile.fit(data.data, feature_names=list(data.feature_names))
        otel_ml.instrument(
            app,
            model_name=MODEL_NAME,
            model_version=MODEL_VERSION,
            reference=reference,
            feedback_route="/feedback",
        )
    with serve(app) as base_url:
        print(f"READY {base_url}", flush=True)
        sys.stdin.read()
    if handle is not None:
        handle.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
