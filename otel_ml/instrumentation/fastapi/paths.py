"""Checking the fixed route paths the one-liner adds (feedback route, drift page)."""

from __future__ import annotations

from typing import Any


def check_route_path(argument: str, path: Any, example: str) -> str:
    """``path`` if it is a fixed route path such as ``example``; otherwise a
    ``TypeError`` or ``ValueError`` naming ``argument``."""
    if not isinstance(path, str):
        raise TypeError(f"{argument} must be a string path, got {type(path).__name__}")
    if not path.startswith("/") or any(c in path for c in "{}?# \t\r\n"):
        raise ValueError(
            f"{argument}={path!r}: expected a fixed path starting with '/' "
            f"(no path parameters, query or whitespace), e.g. {example!r}"
        )
    return path
