"""Auto-instrumentation of ONNX Runtime's ``InferenceSession``.

Under ``opentelemetry-instrument`` (entry point ``otel_ml_onnxruntime``), or
by hand::

    OnnxRuntimeInstrumentor().instrument(model_name="fraud-model", model_version="3")

Every ``InferenceSession.run`` becomes one inference span (``run {model}``)
with RED and prediction metrics: the batch size from the first input of the
feed, the class from a label output, the confidence from a probabilities
output (a ZipMap list of dicts or a float matrix), the value from a single
float output (see :mod:`otel_ml.outputs.onnx`). The patch is applied when
``onnxruntime.capi.onnxruntime_inference_collection`` is imported.
"""

from __future__ import annotations

from otel_ml.inference.adapters import ONNXRUNTIME
from otel_ml.instrumentation._adapted import AdapterInstrumentor
from otel_ml.instrumentation.onnxruntime.package import _instruments

__all__ = ["OnnxRuntimeInstrumentor"]


class OnnxRuntimeInstrumentor(AdapterInstrumentor):
    """Patches ``onnxruntime.InferenceSession.run`` with inference telemetry
    (options: see :class:`AdapterInstrumentor`)."""

    library = "onnxruntime"
    instruments = _instruments
    patch_on_import = "onnxruntime.capi.onnxruntime_inference_collection"
    patched_class = "InferenceSession"
    adapter = ONNXRUNTIME
