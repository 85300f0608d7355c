"""The patched ``torch.nn.Module.__call__``: the outermost module call of a
forward pass is one inference; every call nested in it costs a ContextVar read.

Imported by the instrumentor once ``torch`` is (never at the launcher's start).
"""

from __future__ import annotations

import functools
import types
import weakref
from collections.abc import Callable
from typing import Any

import torch
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from otel_ml._internal import guard
from otel_ml.inference.adapters import TORCH_MODULE, adapter_for
from otel_ml.inference.call import invoke_read
from otel_ml.inference.hooks import hooks_quiet, inside
from otel_ml.instrumentation._models import HookConfig

_jit_tracing: Callable[[], bool] = torch.jit.is_tracing  # type: ignore[attr-defined]
"""Whether ``torch.jit.trace`` is recording a graph (untyped in torch's stubs)."""
_known: weakref.WeakKeyDictionary[Any, _Known] = weakref.WeakKeyDictionary()
"""Per module: its name and reader, read once (a forward pass is often a few
microseconds, and reading a transformers model's config is not free)."""


def patched_call(config: HookConfig, original: Callable[..., Any]) -> Callable[..., Any]:
    """The replacement of ``Module.__call__`` (``original``).

    A plain function, not a wrapt wrapper: CPython binds ``__call__`` on every
    module call, and every layer of a model is one. Inside an inference (the
    outermost call made one, a pipeline runs the model, a training forward is
    quiet) a call costs one ContextVar read on top of the original.
    """
    is_inside = inside.get

    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        if is_inside():
            return original(self, *args, **kwargs)
        return outermost_call(config, original, self, args, kwargs)

    functools.update_wrapper(__call__, original)
    __call__.__otel_ml_patched__ = True  # type: ignore[attr-defined]
    return __call__


def outermost_call(
    config: HookConfig,
    original: Callable[..., Any],
    module: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """A module call outside any inference: traced when the module is in eval
    mode and instrumentation is not suppressed; otherwise run with the hooks
    quiet, so its nested calls take the one-read path. Training forward passes
    (``module.training``) and the calls ``torch.jit.trace`` makes to record a
    graph are not served traffic."""
    call = types.MethodType(original, module)
    if module.training or not is_instrumentation_enabled() or _jit_tracing():
        return hooks_quiet(call, args, kwargs)
    try:
        known = _known_of(module)
        model = config.model_for(known.name)
        reading = known.reading
    except Exception as exc:
        guard.report("torch.patch", exc, config.telemetry.internal_errors)
        return hooks_quiet(call, args, kwargs)
    return invoke_read(model, known.operation, call, reading, *args, **kwargs)


class _Known:
    """What the hook reads of a module once: its default name and its reader."""

    __slots__ = ("name", "operation", "reading")

    def __init__(self, module: Any) -> None:
        adapter = adapter_for(module)
        if adapter.reader is None:  # a module no library adapter claims
            adapter = TORCH_MODULE
        self.name = adapter.default_name(module)
        self.operation = adapter.call_operation
        self.reading = adapter.call_reader(self.operation, module, None)


def _known_of(module: Any) -> _Known:
    try:
        known = _known.get(module)
        if known is None:
            known = _known[module] = _Known(module)
    except TypeError:  # a module class that defines __eq__ without __hash__
        return _Known(module)
    return known
