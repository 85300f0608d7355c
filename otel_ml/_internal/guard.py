"""The one guard between otel_ml's telemetry code and the user's request.

A failure inside otel_ml (never the user's own exception) is swallowed, logged
once per component, counted in ``otel_ml.internal.errors{component}`` and kept
in an in-process tally; in strict mode (``Settings.strict``, from
``OTEL_ML_STRICT=1``, set by the test suite) it is re-raised so bugs cannot
hide behind the guard.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter as _Tally

from opentelemetry import metrics
from opentelemetry.metrics import Counter

from otel_ml import semconv
from otel_ml.config import SettingsError, get_settings

_logger = logging.getLogger("otel_ml")
_lock = threading.Lock()
_logged: set[str] = set()
_tally: _Tally[str] = _Tally()
_strict: bool | None = None
_global_counter: Counter | None = None


def set_strict(strict: bool | None) -> None:
    """Force strict mode on or off; ``None`` goes back to the process settings."""
    global _strict
    _strict = strict


def is_strict() -> bool:
    """Whether telemetry failures are re-raised."""
    global _strict
    if _strict is None:
        try:
            _strict = get_settings().strict
        except SettingsError:
            _strict = False  # the entry point that resolves the settings reports it
    return _strict


def internal_errors_counter(meter: metrics.Meter) -> Counter:
    """Build the ``otel_ml.internal.errors`` counter on ``meter``."""
    return meter.create_counter(
        semconv.OTEL_ML_INTERNAL_ERRORS,
        unit="{error}",
        description="Failures inside otel_ml's telemetry code that were swallowed.",
    )


def report(component: str, exc: BaseException, counter: Counter | None = None) -> None:
    """Record a failure of otel_ml's own code; re-raise it in strict mode.

    Call from an ``except`` block around telemetry work only, never around the
    user's code. ``counter`` defaults to one on the global meter provider.
    """
    try:
        with _lock:
            _tally[component] += 1
            first = component not in _logged
            _logged.add(component)
        if first:
            _logger.warning(
                "otel_ml: telemetry failure in %s was ignored; later failures there "
                "are counted in %s, not logged",
                component,
                semconv.OTEL_ML_INTERNAL_ERRORS,
                exc_info=exc,
            )
        (counter or _default_counter()).add(1, {semconv.COMPONENT: component})
    except Exception:
        pass
    if is_strict():
        raise exc


def count(component: str, counter: Counter | None = None) -> None:
    """Count a telemetry failure that was logged elsewhere already (no log, no raise)."""
    try:
        with _lock:
            _tally[component] += 1
        (counter or _default_counter()).add(1, {semconv.COMPONENT: component})
    except Exception:
        pass


def error_count(component: str | None = None) -> int:
    """Failures swallowed so far in this process, for one component or all."""
    with _lock:
        return _tally[component] if component else sum(_tally.values())


def reset_for_tests() -> None:
    """Forget tallies and logged sites (tests only)."""
    with _lock:
        _tally.clear()
        _logged.clear()


def _default_counter() -> Counter:
    global _global_counter
    if _global_counter is None:
        _global_counter = internal_errors_counter(metrics.get_meter("otel_ml"))
    return _global_counter


def _reset_after_fork() -> None:
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)
