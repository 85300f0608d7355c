"""DriftMonitor: the OpenTelemetry shell around a :class:`DriftWindow`.

The request path only copies rows into the window's buffers (and bins a full
buffer in one numpy pass). Closed windows are scored, logged and published at
collection time, when the observable instruments call :meth:`DriftMonitor.tick`,
so neither the statistics nor any OTel call run per request.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import numpy as np
from opentelemetry.metrics import Counter, Meter, Observation
from opentelemetry.trace import Span

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml._internal.ids import current_request
from otel_ml._internal.registry import SourceRegistry
from otel_ml.config import Settings, SettingsError
from otel_ml.drift.inputs import InputAdapter, SchemaError
from otel_ml.drift.profile import ReferenceProfile
from otel_ml.drift.results import FeatureWindow, WindowConfig, WindowReport, bin_labels
from otel_ml.drift.significance import Decision, DriftPolicy
from otel_ml.drift.window import DriftWindow
from otel_ml.outputs.extract import OutputSummary

_logger = logging.getLogger("otel_ml.drift")
_EXTRA_NAMES = 20
"""Input columns outside the profile counted under their own name (``schema`` issues)."""
E = TypeVar("E")


class Tally(Protocol):
    """Integer counts by attribute set, exported at collection."""

    def add(self, key: tuple[tuple[str, Any], ...], amount: int) -> None:
        """Add ``amount`` to the count of ``key``."""


class MonitorTelemetry(Protocol):
    """What a monitor needs of its model's telemetry bundle (the inference one)."""

    @property
    def meter(self) -> Meter:
        """The bundle's meter."""

    @property
    def internal_errors(self) -> Counter:
        """``otel_ml.internal.errors`` on that meter."""

    @property
    def data_quality(self) -> Tally:
        """``ml.data.quality.issues`` counts."""

    def extension(self, key: str, build: Callable[[Any], E]) -> E:
        """Instruments of a feature on the bundle's meter, built once."""


class DriftMonitor:
    """Watches one model's inputs and outputs against a reference profile.

    Build it through ``wrap_model(..., reference=...)``, ``instrument(app,
    reference=...)`` or ``OTEL_ML_REFERENCE_PROFILE``; attached to its model
    as a sink, it is fed by every inference of the model. :attr:`latest` is
    the last closed window's report.
    """

    kind = "drift"
    wants_inputs = True

    def __init__(
        self,
        profile: ReferenceProfile,
        model_name: str,
        model_version: str,
        telemetry: MonitorTelemetry,
        config: WindowConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.profile = profile
        self.model_name = model_name
        self.model_version = model_version
        self.window = DriftWindow(profile, config, clock, on_issues=self._count)
        self.latest: WindowReport | None = None
        self._telemetry = telemetry
        self._adapter = InputAdapter(profile)
        self._model_attrs = {
            semconv.ML_MODEL_NAME: model_name,
            semconv.ML_MODEL_VERSION: model_version,
        }
        self._issue_keys: dict[tuple[str, str], tuple[tuple[str, Any], ...]] = {}
        self._extra_names: set[str] = set()
        self._publish_lock = threading.Lock()
        watched = [*profile.features, *(p for p in (profile.score, profile.prediction) if p)]
        self._bin_attrs = {
            f.name: [
                {**self._feature_attrs(f.name), semconv.ML_DRIFT_BIN: b} for b in bin_labels(f)
            ]
            for f in watched
        }
        self._reference = [
            Observation(float(fraction), attrs)
            for f in watched
            for attrs, fraction in zip(self._bin_attrs[f.name], f.coarse_fractions, strict=True)
        ]
        drift_instruments(telemetry).monitors.register(self)

    def close(self) -> None:
        """Stop exporting this monitor's metrics (its model watches a new reference)."""
        drift_instruments(self._telemetry).monitors.unregister(self)

    def record(
        self, prediction_id: str, inputs: Any, summary: OutputSummary | None, span: Span
    ) -> None:
        """Feed one call's inputs and outputs, once per HTTP request even if it
        predicts twice (the sink interface; request path, never raises)."""
        scope = current_request.get()
        if scope is not None:
            if scope.drift_observed:
                return
            scope.drift_observed = True
        if inputs is not None:
            self.observe(inputs)
        if summary is not None:
            self.observe_outputs(summary)

    def observe(self, inputs: Any) -> None:
        """Feed one call's input rows (request path: a buffer copy; never raises)."""
        try:
            try:
                numeric, categorical, type_issues = self._adapter.rows(inputs)
            except SchemaError:
                self._count(semconv.INPUT_FEATURE, semconv.SCHEMA_ISSUE, 1)
                return
            for name in self._adapter.extra_names(inputs):
                self._count(self._extra_name(name), semconv.SCHEMA_ISSUE, 1)
            if numeric.shape[0] or categorical.shape[0]:
                self.window.add_rows(numeric, categorical, type_issues)
        except Exception as exc:
            guard.report("drift.observe", exc, self._telemetry.internal_errors)

    def _extra_name(self, name: str) -> str:
        # Names come from requests: the first few are kept, the rest share one series.
        if name in self._extra_names or len(self._extra_names) < _EXTRA_NAMES:
            self._extra_names.add(name)
            return name
        return semconv.INPUT_FEATURE

    def observe_outputs(self, summary: OutputSummary) -> None:
        """Feed one call's predicted classes and confidences (never raises)."""
        try:
            scores = summary.confidences
            if scores is None and summary.confidence is not None:
                scores = np.array([summary.confidence])
            self.window.add_outputs(scores, summary.class_counts)
        except Exception as exc:
            guard.report("drift.observe", exc, self._telemetry.internal_errors)

    def tick(self, force: bool = False) -> WindowReport | None:
        """Bin buffered rows and close the window when due; ``force`` closes it now."""
        report = self.window.tick(force)
        self._publish(report)
        return report

    def _publish(self, report: WindowReport | None) -> None:
        if report is None:
            return
        with self._publish_lock:
            self.latest = report
        drifted = [f for f in report.drifted if f.scores is not None]
        if drifted:
            _logger.warning("otel_ml drift detected %s", json.dumps(self._log_record(report)))

    def _log_record(self, report: WindowReport) -> dict[str, Any]:
        features = []
        for f in report.drifted:
            for d in (f.decision, f.missing):
                if d is not None and d.verdict == "drift":
                    features.append({
                        "feature": f.name, "test": d.test, "statistic": round(d.statistic, 4),
                        "p_value": float(f"{d.p_value:.3g}"), "effect": round(d.effect, 4),
                        "drift_at": round(d.drift_at, 4), "window_size": d.n,
                    })  # fmt: skip
        return {"model": self.model_name, "version": self.model_version,
                "window": report.index, "rows": report.rows, "drifted": features}  # fmt: skip

    def _count(self, feature: str, issue: str, count: int) -> None:
        key = self._issue_keys.get((feature, issue))
        if key is None:
            key = (*self._model_attrs.items(),
                   (semconv.ML_FEATURE_NAME, feature), (semconv.ML_DATA_ISSUE, issue))  # fmt: skip
            self._issue_keys[(feature, issue)] = key
        self._telemetry.data_quality.add(key, count)

    def score_observations(self) -> list[Observation]:
        """``ml.drift.score`` of the last closed window (collection thread)."""
        self.tick()
        report, out = self.latest, []
        for f in report.features if report else ():
            scores = f.scores.methods() if f.scores is not None else {}
            if _judged(f.missing):
                assert f.missing is not None
                scores["missing"] = f.missing.statistic
            for method, score in scores.items():
                if np.isfinite(score):
                    attrs = {**self._feature_attrs(f.name), semconv.ML_DRIFT_METHOD: method}
                    out.append(Observation(score, attrs))
        return out

    def status_observations(self) -> list[Observation]:
        """``ml.drift.status``: the last closed window's verdict per judged feature."""
        return self._statuses(lambda f: f.decision)

    def missing_status_observations(self) -> list[Observation]:
        """``ml.drift.missing.status``: the verdict on each feature's missing share."""
        return self._statuses(lambda f: f.missing)

    def _statuses(self, pick: Callable[[FeatureWindow], Decision | None]) -> list[Observation]:
        report = self.latest
        return [
            Observation(semconv.DRIFT_STATUS[d.verdict], self._feature_attrs(f.name))
            for f in (report.features if report else ())
            if (d := pick(f)) is not None and d.verdict is not None
        ]

    def size_observations(self) -> list[Observation]:
        """``ml.drift.window.size``: valid values per feature in the last closed window."""
        report = self.latest
        return (
            [Observation(f.n, self._feature_attrs(f.name)) for f in report.features]
            if report
            else []
        )

    def bin_observations(self) -> list[Observation]:
        """``ml.drift.bin.count``: values per coarse bin since start."""
        return [
            Observation(int(count), attrs)
            for (feature, counts) in self.window.cumulative()
            for attrs, count in zip(self._bin_attrs[feature.name], counts, strict=True)
        ]

    def reference_observations(self) -> list[Observation]:
        """``ml.drift.reference.fraction``: the profile's fraction per coarse bin."""
        return self._reference

    def _feature_attrs(self, feature: str) -> dict[str, str]:
        return {**self._model_attrs, semconv.ML_FEATURE_NAME: feature}


class DriftInstruments:
    """The drift instruments of one meter, reading every registered monitor."""

    def __init__(self, telemetry: MonitorTelemetry) -> None:
        self.monitors: SourceRegistry[DriftMonitor] = SourceRegistry(
            "drift.collect", telemetry.internal_errors
        )
        meter = telemetry.meter
        for name, kind, read, unit, description in _INSTRUMENTS:
            create = (
                meter.create_observable_counter
                if kind == "counter"
                else meter.create_observable_gauge
            )
            create(name, [self.monitors.callback(read)], unit=unit, description=description)


def window_config(settings: Settings) -> WindowConfig:
    """Window sizes and the verdict policy from the ``OTEL_ML_DRIFT_*`` settings.

    Raises :class:`~otel_ml.config.SettingsError` naming the variables when
    they contradict each other (a minimum count above the window size)."""
    if settings.drift_min_count > settings.drift_window_rows:
        raise SettingsError(
            f"OTEL_ML_DRIFT_MIN_COUNT={settings.drift_min_count} exceeds "
            f"OTEL_ML_DRIFT_WINDOW_ROWS={settings.drift_window_rows}: no window could be judged"
        )
    try:
        policy = DriftPolicy(
            settings.drift_false_alarm_rate, settings.drift_warn_rate, settings.drift_min_effect
        )
    except ValueError:
        raise SettingsError(
            "OTEL_ML_DRIFT_FALSE_ALARM_RATE, OTEL_ML_DRIFT_WARN_RATE and OTEL_ML_DRIFT_MIN_EFFECT "
            "need 0 < false-alarm rate <= warn rate < 1 and a minimum effect below 1, got "
            f"{settings.drift_false_alarm_rate}, {settings.drift_warn_rate}, "
            f"{settings.drift_min_effect}"
        ) from None
    return WindowConfig(
        max_rows=settings.drift_window_rows,
        max_seconds=settings.drift_window_seconds,
        min_count=settings.drift_min_count,
        buffer_rows=settings.drift_buffer_rows,
        policy=policy,
    )


def _judged(decision: Decision | None) -> bool:
    return decision is not None and decision.verdict is not None


_INSTRUMENTS: tuple[tuple[str, str, Callable[[DriftMonitor], list[Observation]], str, str], ...] = (
    (semconv.ML_DRIFT_SCORE, "gauge", DriftMonitor.score_observations, "1",
     "Drift score of the last completed window, per feature and method."),
    (semconv.ML_DRIFT_STATUS, "gauge", DriftMonitor.status_observations, "",
     "Verdict of the last completed window per feature: 0 ok, 1 warn, 2 drift."),
    (semconv.ML_DRIFT_MISSING_STATUS, "gauge", DriftMonitor.missing_status_observations, "",
     "Verdict on the share of missing values per feature: 0 ok, 1 warn, 2 drift."),
    (semconv.ML_DRIFT_WINDOW_SIZE, "gauge", DriftMonitor.size_observations, "{value}",
     "Valid values per feature behind the last drift score."),
    (semconv.ML_DRIFT_BIN_COUNT, "counter", DriftMonitor.bin_observations, "{value}",
     "Values per drift bin since start; mergeable across replicas."),
    (semconv.ML_DRIFT_REFERENCE_FRACTION, "gauge", DriftMonitor.reference_observations, "1",
     "Reference fraction of each drift bin."),
)  # fmt: skip


def drift_instruments(telemetry: MonitorTelemetry) -> DriftInstruments:
    """The :class:`DriftInstruments` of a telemetry bundle, created on first use."""
    return telemetry.extension("drift", DriftInstruments)
