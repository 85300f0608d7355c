"""Zero-code: a PyTorch script run under ``opentelemetry-instrument``."""

from __future__ import annotations

import json

import pytest
from launcher import console_spans, run_launched

SCRIPT = """\
import json
import sys
import torch

torch.manual_seed(0)
blocks = [torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU()) for _ in range(3)]
model = torch.nn.Sequential(*blocks, torch.nn.Linear(4, 3))
rows = torch.randn(5, 4)
model.train()(rows).sum().backward()  # training: not served traffic
with torch.no_grad():
    logits = model.eval()(rows[:1])
print("RESULT", json.dumps({
    "probabilities": logits.double().softmax(-1)[0].tolist(),
    "patched": getattr(torch.nn.Module.__call__, "__otel_ml_patched__", False),
    "imported": sorted(name for name in ("transformers", "sklearn") if name in sys.modules),
}))
"""


@pytest.mark.subprocess
def test_launcher_traces_the_outermost_eval_call_only(tmp_path):
    result = run_launched(tmp_path, SCRIPT, OTEL_ML_MODEL_NAME="mlp", OTEL_ML_MODEL_VERSION="2")

    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    found = json.loads(line.removeprefix("RESULT "))
    assert found["patched"] is True
    assert found["imported"] == []  # the other hooks wait for their library's import
    spans = console_spans(result.stdout)
    assert [span["name"] for span in spans] == ["predict mlp"], result.stdout
    attrs = spans[0]["attributes"]
    assert len(attrs.pop("ml.prediction.id")) == 32
    probabilities = found["probabilities"]
    assert attrs == {
        "ml.model.name": "mlp",
        "ml.model.version": "2",
        "ml.operation.name": "predict",
        "ml.batch.size": 1,
        "ml.prediction.class": str(probabilities.index(max(probabilities))),
        "ml.prediction.confidence": pytest.approx(max(probabilities)),
    }
