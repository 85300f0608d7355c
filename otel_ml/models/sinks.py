"""Attaching drift and feedback to a model: the composition of core and sinks."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from opentelemetry import metrics, trace

from otel_ml._internal import guard
from otel_ml._internal.arguments import check_name
from otel_ml.config import Settings
from otel_ml.drift.monitor import DriftMonitor, window_config
from otel_ml.drift.profile import ReferenceProfile
from otel_ml.feedback.recorder import FeedbackRecorder
from otel_ml.feedback.stores.registry import prediction_store
from otel_ml.inference.instruments import InferenceTelemetry
from otel_ml.inference.model import ModelContext, model_context

_logger = logging.getLogger("otel_ml")
_unreadable: set[str] = set()


def model_for(
    name: str, version: str, telemetry: InferenceTelemetry, settings: Settings
) -> ModelContext:
    """The model's shared context; when first made, it gets the sinks its settings
    ask for (``OTEL_ML_REFERENCE_PROFILE``, ``OTEL_ML_FEEDBACK_ENABLED``: the
    launcher's way in)."""
    return model_context(name, version, telemetry, settings, on_create=_attach_configured)


def entry_model(
    name: tuple[str, Any],
    version: tuple[str, Any],
    settings: Settings,
    tracer_provider: trace.TracerProvider | None,
    meter_provider: metrics.MeterProvider | None,
) -> ModelContext:
    """The model an entry point was handed: ``name`` and ``version`` are
    ``(argument name, value)`` pairs, checked with errors naming the argument;
    a ``None`` version is the settings' ``model_version``."""
    checked_name = check_name(*name)
    value = version[1] if version[1] is not None else settings.model_version
    checked_version = check_name(version[0], value)
    telemetry = InferenceTelemetry.of(tracer_provider, meter_provider)
    return model_for(checked_name, checked_version, telemetry, settings)


def watch(model: ModelContext, reference: ReferenceProfile | str | Path) -> DriftMonitor:
    """Monitor ``model``'s inputs and outputs for drift against ``reference``
    (a profile or the path of its JSON); replaces an earlier monitor, unless
    that one already watches this very profile object."""
    if isinstance(reference, str | Path):
        reference = ReferenceProfile.load(reference)
    elif not isinstance(reference, ReferenceProfile):
        raise TypeError(
            f"reference must be a ReferenceProfile or a path, got {type(reference).__name__}"
        )
    current = drift_monitor(model)
    if current is not None and current.profile is reference:
        return current  # e.g. wrap_model called again for the same model
    monitor = DriftMonitor(
        reference, model.name, model.version, model.telemetry, window_config(model.settings)
    )
    model.attach(monitor)
    recorder = model.sink(FeedbackRecorder.kind)
    if recorder is not None:
        recorder.baseline = _baseline(reference)
    return monitor


def enable_feedback(model: ModelContext) -> FeedbackRecorder:
    """Remember ``model``'s predictions so labels can be joined to them."""
    recorder: FeedbackRecorder | None = model.sink(FeedbackRecorder.kind)
    if recorder is None:
        monitor = drift_monitor(model)
        baseline = _baseline(monitor.profile) if monitor is not None else None
        recorder = FeedbackRecorder(model, prediction_store(model.settings), baseline)
        model.attach(recorder)
    return recorder


def drift_monitor(model: ModelContext) -> DriftMonitor | None:
    """The drift monitor fed by ``model``'s calls, if one is attached."""
    monitor: DriftMonitor | None = model.sink(DriftMonitor.kind)
    return monitor


def _attach_configured(model: ModelContext) -> None:
    settings = model.settings
    if settings.model_name not in (None, model.name):
        return
    try:
        if settings.reference_profile is not None:
            profile = _configured_profile(settings.reference_profile)
            if profile is not None:
                watch(model, profile)
        if settings.feedback_enabled:
            enable_feedback(model)
    except Exception as exc:
        guard.report("model.settings", exc, model.telemetry.internal_errors)


def _configured_profile(path: str) -> ReferenceProfile | None:
    """The profile ``OTEL_ML_REFERENCE_PROFILE`` names; a file that cannot be
    read or parsed is a configuration error: said once, and drift stays off."""
    try:
        return ReferenceProfile.load(path)
    except (OSError, ValueError) as exc:
        if path not in _unreadable:
            _unreadable.add(path)
            _logger.warning(
                "otel_ml: OTEL_ML_REFERENCE_PROFILE=%r cannot be used (%s); "
                "drift monitoring is off until it names a profile (otel-ml profile)",
                path,
                exc,
            )
        return None


def _baseline(profile: ReferenceProfile) -> float | None:
    """The profile's ``baseline_accuracy`` metadata, for the feedback gauge."""
    value = profile.metadata.get("baseline_accuracy")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
