"""Build something once per meter provider: instruments cannot be unregistered,
so turning a metric family on twice for one provider must do nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from opentelemetry import metrics

_lock = threading.Lock()
# id(provider) -> (provider, what was built); the provider is kept so its id stays unique.
_built: dict[tuple[str, int], tuple[metrics.MeterProvider, Any]] = {}


def resolve(meter_provider: metrics.MeterProvider | None) -> metrics.MeterProvider:
    """The given provider, or the global one (a proxy until the SDK is installed)."""
    return meter_provider if meter_provider is not None else metrics.get_meter_provider()


def once_per_provider(
    family: str,
    meter_provider: metrics.MeterProvider,
    build: Callable[[metrics.MeterProvider], Any],
) -> bool:
    """Run ``build(meter_provider)`` unless ``family`` was built for this provider;
    ``True`` when it ran now."""
    key = (family, id(meter_provider))
    with _lock:
        if key in _built:
            return False
        _built[key] = (meter_provider, build(meter_provider))
    return True
