"""A value read once per model object and remembered while the object lives. Pure."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["PerObject"]

V = TypeVar("V")


class PerObject(Generic[V]):
    """``read(obj)`` computed on the first call for ``obj`` and then remembered,
    weakly keyed (the object's lifetime is never extended). An object that
    cannot be weakly referenced is read on every call.

    For what costs too much to ask a model on every prediction and does not
    change while it serves: a booster's objective, a session's output layout.
    """

    def __init__(self, read: Callable[[Any], V]) -> None:
        self._read = read
        self._known: weakref.WeakKeyDictionary[Any, V] = weakref.WeakKeyDictionary()

    def __call__(self, obj: Any) -> V:
        """The remembered value for ``obj``, read now if it is the first time."""
        try:
            return self._known[obj]
        except KeyError:
            value = self._read(obj)
        except TypeError:  # not weakly referenceable (or unhashable)
            return self._read(obj)
        self._known[obj] = value
        return value
