"""Checks of the arguments users hand to entry points: a clear error naming the argument."""

from __future__ import annotations

from typing import Any

TASKS = (None, "classification", "regression")


def check_name(argument: str, value: Any) -> str:
    """A non-empty string argument, or a TypeError/ValueError naming it."""
    if not isinstance(value, str):
        raise TypeError(f"{argument} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{argument} must not be empty")
    return value


def check_task(task: Any) -> None:
    """``task`` is ``"classification"``, ``"regression"`` or ``None``, or a ValueError."""
    if task not in TASKS:
        raise ValueError(f"task={task!r}: expected 'classification', 'regression' or None")
