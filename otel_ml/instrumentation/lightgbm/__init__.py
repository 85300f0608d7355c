"""Auto-instrumentation of lightgbm's native ``Booster``.

Under ``opentelemetry-instrument`` (entry point ``otel_ml_lightgbm``), or by
hand::

    LightGBMInstrumentor().instrument(model_name="fraud-model", model_version="3")

Every ``Booster.predict`` becomes one inference span with RED and prediction
metrics, read by the booster's objective (``binary``, ``multiclass``,
``multiclassova``: class and confidence; ``regression`` and the other value
objectives: the value; ``raw_score``, ``pred_leaf``, ``pred_contrib``: rows
only). The scikit-learn classes (``LGBMClassifier``) are the scikit-learn
hook's: their inner booster calls make no second span. The patch is applied
when ``lightgbm.basic`` is imported; training predicts through its own
internals and stays untraced.
"""

from __future__ import annotations

from otel_ml.inference.adapters import LIGHTGBM
from otel_ml.instrumentation._adapted import AdapterInstrumentor
from otel_ml.instrumentation.lightgbm.package import _instruments

__all__ = ["LightGBMInstrumentor"]


class LightGBMInstrumentor(AdapterInstrumentor):
    """Patches ``lightgbm.Booster.predict`` with inference telemetry (options:
    see :class:`AdapterInstrumentor`)."""

    library = "lightgbm"
    instruments = _instruments
    patch_on_import = "lightgbm.basic"
    patched_class = "Booster"
    adapter = LIGHTGBM
