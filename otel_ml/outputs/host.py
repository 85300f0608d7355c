"""Reading a framework's output on the host, never an accelerator's memory unless allowed.

Pure: no OpenTelemetry, and no framework import (a PyTorch tensor is known by
its ``detach`` and ``device``). A tensor on an accelerator is never copied to
the host or waited for unless the caller allows it (``read_device``): the copy
synchronises the device, which would put telemetry on the model's critical path.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["host_array", "is_tensor", "on_accelerator", "to_host"]


def is_tensor(value: Any) -> bool:
    """Whether ``value`` looks like a PyTorch tensor (``detach`` and ``device``)."""
    return hasattr(value, "detach") and hasattr(value, "device")


def on_accelerator(value: Any) -> bool:
    """Whether ``value`` is a tensor whose data lives off the host (CUDA, MPS, XLA...)."""
    device = getattr(value, "device", None)
    return is_tensor(value) and getattr(device, "type", "cpu") != "cpu"


def host_array(value: Any, read_device: bool = False) -> np.ndarray | None:
    """``value`` as a numpy array, or ``None`` for an accelerator tensor when
    ``read_device`` is off (see :func:`to_host`)."""
    if not read_device and on_accelerator(value):
        return None
    return to_host(value)


def to_host(value: Any) -> np.ndarray:
    """``value`` as a numpy array. A CPU tensor shares its memory (no copy unless
    its dtype has no numpy twin, such as bfloat16); an accelerator tensor is
    copied, which waits for the device: callers decide that with :func:`host_array`."""
    if isinstance(value, np.ndarray):
        return value
    if not is_tensor(value):
        return np.asarray(value)
    tensor = value.detach()
    if on_accelerator(tensor):
        tensor = tensor.cpu()
    if not tensor.is_floating_point() or str(tensor.dtype) in _NUMPY_FLOATS:
        return np.asarray(tensor.numpy())
    return np.asarray(tensor.float().numpy())


_NUMPY_FLOATS = frozenset({"torch.float16", "torch.float32", "torch.float64"})
