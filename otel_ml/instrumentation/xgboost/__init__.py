"""Auto-instrumentation of xgboost's native ``Booster``.

Under ``opentelemetry-instrument`` (entry point ``otel_ml_xgboost``), or by
hand::

    XGBoostInstrumentor().instrument(model_name="fraud-model", model_version="3")

Every ``Booster.predict`` and ``Booster.inplace_predict`` becomes one
inference span with RED and prediction metrics, read by the booster's
objective (``binary:logistic``: class and confidence; ``multi:softprob``:
class and confidence; ``reg:*``: the value; margins, leaf indexes and
contributions: rows only). The scikit-learn classes (``XGBClassifier``) are
the scikit-learn hook's: their inner booster calls make no second span. The
patch is applied when ``xgboost.core`` is imported; the predictions that
training makes (a custom objective or metric) stay untraced.
"""

from __future__ import annotations

from otel_ml.inference.adapters import XGBOOST
from otel_ml.instrumentation._adapted import AdapterInstrumentor
from otel_ml.instrumentation.xgboost.package import _instruments

__all__ = ["XGBoostInstrumentor"]


class XGBoostInstrumentor(AdapterInstrumentor):
    """Patches ``xgboost.Booster.predict`` and ``inplace_predict`` with inference
    telemetry (options: see :class:`AdapterInstrumentor`)."""

    library = "xgboost"
    instruments = _instruments
    patch_on_import = "xgboost.core"
    patched_class = "Booster"
    adapter = XGBOOST
    quiet = ("update", "boost", "eval_set")
