"""The server benchmark's traced variants emit the spans their rows describe,
and the in-process benchmark's variants record only their own part.

Its otel_ml rows once traced only the ``decision_function`` inside
``predict_proba``: the endpoint had bound the method before the one-liner
patched the class, so they measured a span without class or confidence while
the SDK floor beside them recorded both. Each variant runs in a subprocess of
its own (the app installs a global SDK), under a global tracer provider with an
in-memory exporter set first, and its spans are compared with the floor's.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
_SCRIPT = """
import json, sys
sys.path.insert(0, {benchmarks!r})
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)  # the app's own install_sdk is refused after this
from fastapi.testclient import TestClient
import _server_app
client = TestClient(_server_app.build_app({variant!r}, None))
for _ in range(2):
    assert client.post("/predict", json=[0.5] * _server_app.FEATURES).status_code == 200
print(json.dumps([[s.kind.name, dict(s.attributes)] for s in exporter.get_finished_spans()]))
"""


def _run(script: str, variant: str) -> Any:
    """What ``script`` for ``variant`` prints last, as JSON, run in a fresh interpreter."""
    source = script.format(benchmarks=str(BENCHMARKS), variant=variant)
    done = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True,
                          timeout=180, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


@functools.cache  # the floor's spans serve every parametrised case
def _spans(variant: str) -> list[tuple[str, dict[str, object]]]:
    return [(kind, attributes) for kind, attributes in _run(_SCRIPT, variant)]


def _inference_spans(spans: list[tuple[str, dict[str, object]]]) -> list[dict[str, object]]:
    return [attributes for kind, attributes in spans if kind == "INTERNAL"]


@pytest.mark.parametrize("variant", ["otel_ml", "otel_ml_contrib_http"])
def test_otel_ml_rows_trace_the_call_the_floor_traces(variant: str) -> None:
    floor = _inference_spans(_spans("sdk_floor"))
    ours = _inference_spans(_spans(variant))
    assert len(ours) == len(floor) == 2  # one inference span per request, none nested
    for attributes in (*floor, *ours):
        assert attributes["ml.operation.name"] == "predict_proba"
        assert attributes["ml.prediction.class"] in ("no", "yes")
        assert 0.5 <= float(attributes["ml.prediction.confidence"]) <= 1.0
    assert {a["ml.prediction.class"] for a in ours} == {a["ml.prediction.class"] for a in floor}


_IN_PROCESS_SCRIPT = """
import asyncio, json, sys
sys.path.insert(0, {benchmarks!r})
import in_process
from otel_ml._internal import cells
app = in_process.build({variant!r})

async def serve() -> None:
    for _ in range(5):
        await app(dict(in_process.SCOPE), in_process._receive, in_process._send)

asyncio.run(serve())
counts = {{}}
for hub in list(cells._hubs.values()):
    for histogram, cell in hub.cells():
        counts[histogram.name] = counts.get(histogram.name, 0) + sum(cell.counts)
print(json.dumps(counts))
"""
_INFERENCE = {"ml.inference.duration": 5, "ml.prediction.confidence": 5}
_HTTP = {"http.server.request.duration": 5}


@pytest.mark.parametrize(
    ("variant", "expected"),
    [("hook", _INFERENCE), ("layers", _HTTP), ("one_liner", {**_INFERENCE, **_HTTP})],
)
def test_in_process_variants_record_what_their_rows_say(
    variant: str, expected: dict[str, int]
) -> None:
    # in_process.py subtracts these rows from each other: each must hold its part only.
    assert _run(_IN_PROCESS_SCRIPT, variant) == expected
