"""The FastAPI one-liner's only door into the model core.

Everything the one-liner needs from the inference core goes through here: the
app's model context (drift watching, feedback, its drift monitor), the model's
``ml.model.info`` report, the telemetry bundle's internal-error counter, the
request scope that inference calls claim their prediction id from. When the
core's API changes, this module is the one place to rewire.
"""

from __future__ import annotations

from contextvars import Token
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from opentelemetry import metrics, trace
from opentelemetry.metrics import Counter

from otel_ml._internal.ids import RequestScope, current_request
from otel_ml.config import Settings, get_settings
from otel_ml.inference.instruments import InferenceTelemetry
from otel_ml.inference.model import ModelContext
from otel_ml.models.sinks import drift_monitor, enable_feedback, model_for, watch
from otel_ml.resources import register_model_info

if TYPE_CHECKING:
    from pathlib import Path

    from otel_ml.drift.monitor import DriftMonitor
    from otel_ml.drift.profile import ReferenceProfile

__all__ = ["AppModel", "begin_request", "end_request"]


@dataclass(frozen=True, slots=True)
class AppModel:
    """The model an app serves and the providers its telemetry goes to (``None``: global)."""

    name: str | None
    version: str
    tracer_provider: trace.TracerProvider | None = None
    meter_provider: metrics.MeterProvider | None = None
    settings: Settings = field(default_factory=get_settings)

    @property
    def internal_errors(self) -> Counter:
        """``otel_ml.internal.errors`` on these providers."""
        return InferenceTelemetry.of(self.tracer_provider, self.meter_provider).internal_errors

    def watch(self, reference: ReferenceProfile | str | Path) -> None:
        """Monitor the model's inputs and outputs for drift against ``reference``."""
        watch(self._context(), reference)

    def enable_feedback(self) -> None:
        """Remember the model's predictions so delayed labels can be joined to them."""
        enable_feedback(self._context())

    def monitor(self) -> DriftMonitor | None:
        """The model's drift monitor now; ``None`` without a monitor or a model name."""
        return drift_monitor(self._context()) if self.name is not None else None

    def register_info(self) -> None:
        """Report the model on ``ml.model.info`` (nothing without a model name)."""
        if self.name is not None:
            register_model_info(self._context())

    def _context(self) -> ModelContext:
        if self.name is None:
            raise ValueError("the app's model has no name (model_name or OTEL_ML_MODEL_NAME)")
        telemetry = InferenceTelemetry.of(self.tracer_provider, self.meter_provider)
        return model_for(self.name, self.version, telemetry, self.settings)


def begin_request(
    model_name: str | None, model_version: str
) -> tuple[RequestScope, Token[RequestScope | None]]:
    """Open the scope one HTTP request's inference calls claim their prediction id from."""
    request = RequestScope(model_name, model_version)
    return request, current_request.set(request)


def end_request(token: Token[RequestScope | None]) -> None:
    """Close the scope :func:`begin_request` opened."""
    current_request.reset(token)
