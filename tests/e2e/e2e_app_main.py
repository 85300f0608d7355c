"""The demo model server as the end-to-end tests run it, in its own process.

    python e2e_app_main.py one-line    # otel_ml.configure() + otel_ml.instrument(app, ...)
    opentelemetry-instrument python e2e_app_main.py zero-code   # no otel_ml call at all

The demo's app (:func:`otel_ml.demo.app.build_app`: ``POST /predict`` and the
RAG endpoint ``POST /ask``), configured only by the environment (``OTEL_*``,
``OTEL_ML_*``), as a deployment would be. ``E2E_LLM_URL`` is the ``/v1`` URL
of the OpenAI-compatible server ``/ask`` streams its answers from. In
``one-line`` mode the app also loads its model with ``otel_ml.load_model``
(from a joblib file, as a deployment would) and instruments the ``openai``
client with ``otel_ml.instrument_openai()``, as ``otel-ml demo`` does.

Prints ``READY <base url>`` once it serves on 127.0.0.1, then serves until
its standard input closes, flushes its telemetry and exits.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from pathlib import Path

import joblib
from opentelemetry.instrumentation.utils import suppress_instrumentation

import otel_ml
from otel_ml.config import get_settings
from otel_ml.demo.app import build_app
from otel_ml.demo.costs import TENANT_SOURCE, demo_prices
from otel_ml.demo.model import MODEL_NAME, MODEL_VERSION, DemoModel, train
from otel_ml.demo.rag import LLM_MODEL, RagService
from otel_ml.demo.server import serve
from otel_ml.genai.evaluation import state as evaluation_state

# Port 9 (discard) on loopback: without E2E_LLM_URL, /ask fails at once.
NO_LLM_URL = "http://127.0.0.1:9/v1"


def _loaded(demo: DemoModel) -> DemoModel:
    """``demo`` with its model saved and loaded back through ``otel_ml.load_model``."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.joblib"
        joblib.dump(demo.model, path)
        model = otel_ml.load_model(path, MODEL_NAME, MODEL_VERSION)
    return dataclasses.replace(demo, model=model)


def main(mode: str) -> int:
    llm_url = os.environ.get("E2E_LLM_URL", NO_LLM_URL)
    # Training is not serving: under the launcher, its predict_proba calls
    # would be inferences of the model too.
    with suppress_instrumentation():
        demo = train()
    if mode == "zero-code":
        with serve(build_app(demo, RagService(llm_url))) as base_url:
            print(f"READY {base_url}", flush=True)
            sys.stdin.read()
        return 0
    handle = otel_ml.configure()
    # Priced and split per tenant (the x-tenant-id header), as otel-ml demo does.
    tenant_source = get_settings().replace(genai_tenant=TENANT_SOURCE)
    undo_openai = otel_ml.instrument_openai(settings=tenant_source, prices=demo_prices(LLM_MODEL))
    app = build_app(_loaded(demo), RagService(llm_url))
    otel_ml.instrument(
        app,
        model_name=MODEL_NAME,
        model_version=MODEL_VERSION,
        reference=demo.reference,
        feedback_route="/feedback",
    )
    with serve(app) as base_url:
        print(f"READY {base_url}", flush=True)
        sys.stdin.read()
    undo_openai()
    for evaluation in evaluation_state.running():  # the last answers' judge calls
        evaluation.close(5.0)
    handle.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
