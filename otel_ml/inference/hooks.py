"""Keeping auto hooks quiet where their calls are not served traffic.

Library hooks (the scikit-learn, transformers and PyTorch patches) skip calls
made inside an otel_ml inference (a pipeline's final step, ``predict`` calling
``predict_proba``, a ``wrap_model`` proxy around a patched estimator, every
layer of a traced PyTorch forward pass: one span per user-level call) and
inside training and scoring (:func:`hooks_quiet`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

# A ContextVar of its own rather than a key in the OpenTelemetry context: setting
# it does not copy the context. Invocations set it only while an auto hook that
# reads it is installed: most processes have none, and this is every call.
inside: ContextVar[bool] = ContextVar("otel_ml_inside_inference", default=False)
installed = False
"""Whether invocations mark their context (read as ``hooks.installed`` per call)."""
_installed_by: set[str] = set()


def auto_hooks_installed(on: bool, hook: str = "sklearn") -> None:
    """Tell invocations whether the auto hook ``hook``, which asks
    :func:`inside_inference`, is installed, so they mark their context for it.

    Invocations mark it while any such hook is installed: removing one hook
    leaves the others quiet inside an inference (a PyTorch hook without the
    mark would trace every layer of a forward pass).
    """
    global installed
    if on:
        _installed_by.add(hook)
    else:
        _installed_by.discard(hook)
    installed = bool(_installed_by)


def inside_inference() -> bool:
    """Whether auto hooks stay quiet here: an otel_ml inference is running in this
    context, or the code runs inside :func:`hooks_quiet` (training, scoring)."""
    return inside.get()


def hooks_quiet(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Call ``fn`` with the auto hooks quiet: the predictions a ``fit`` or a scorer
    makes are not served traffic, and would pollute latency, drift and feedback."""
    token = inside.set(True)
    try:
        return fn(*args, **kwargs)
    finally:
        inside.reset(token)
