"""What every otel_ml Instrumentor shares: the dependency check and undoing patches."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from typing import Any

from opentelemetry.instrumentation.dependencies import get_dependency_conflicts

Target = tuple[type, str, Any]
"""A patched class attribute: ``(owner, name, original __dict__ entry)``."""

_logger = logging.getLogger("otel_ml")


def library_usable(instruments: Collection[str], module: str) -> bool:
    """Whether the instrumented library is installed in a supported version.

    The launcher skips the per-instrumentor dependency check (the distribution
    declares ``instruments-any``), so each ``_instrument`` asks here. A missing
    library raises ModuleNotFoundError, which the launcher reads as "skip this
    one"; an unsupported version is logged and skipped (any other exception
    would abort the whole launch).
    """
    conflict = get_dependency_conflicts(instruments)
    if conflict is None:
        return True
    if not conflict.found:
        raise ModuleNotFoundError(f"{module} is not installed", name=module)
    _logger.warning("otel_ml: %s not instrumented: %s", module, conflict)
    return False


def restore(patched: Iterable[Target]) -> None:
    """Put the original ``__dict__`` entries back (the same objects)."""
    for owner, name, original in patched:
        setattr(owner, name, original)
