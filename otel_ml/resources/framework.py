"""Which ML framework a model object comes from, and that framework's version."""

from __future__ import annotations

import functools
import inspect
from importlib.metadata import PackageNotFoundError, version
from typing import Any

__all__ = ["detect_framework"]

# Top-level import name -> distribution name (for the version).
_FRAMEWORKS = {
    "sklearn": "scikit-learn",
    "torch": "torch",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "catboost": "catboost",
    "onnxruntime": "onnxruntime",
    "onnx": "onnx",
    "tensorflow": "tensorflow",
    "keras": "keras",
    "jax": "jax",
    "transformers": "transformers",
    "sentence_transformers": "sentence-transformers",
    "statsmodels": "statsmodels",
    "imblearn": "imbalanced-learn",
}


def detect_framework(model: Any) -> tuple[str, str | None] | None:
    """``(framework, version)`` of a model, from the module of its class or of a
    base class (a user's ``torch.nn.Module`` subclass is ``torch``); ``None``
    for plain Python models."""
    if inspect.isfunction(model) or inspect.ismethod(model):
        candidates = [getattr(model, "__module__", None) or ""]
    else:
        candidates = [cls.__module__ for cls in type(model).__mro__]
    for module in candidates:
        top = module.partition(".")[0]
        if top in _FRAMEWORKS:
            return top, framework_version(top)
    return None


@functools.lru_cache(maxsize=len(_FRAMEWORKS))
def framework_version(top: str) -> str | None:
    """Installed version of a framework's distribution (``None`` when unknown)."""
    try:
        return version(_FRAMEWORKS[top])
    except PackageNotFoundError:
        return None
