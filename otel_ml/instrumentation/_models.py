"""What the model hooks' patched calls share: the identity of the model a call
is recorded under, and the telemetry it is recorded with, bound once at
``instrument()``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from otel_ml._internal.arguments import check_name
from otel_ml._internal.ids import current_request
from otel_ml.config import Settings
from otel_ml.inference.instruments import InferenceTelemetry
from otel_ml.inference.model import ModelContext
from otel_ml.models.sinks import model_for

__all__ = ["HookConfig"]


@dataclass(frozen=True)
class HookConfig:
    """The ``instrument()`` options of a model hook that every patched call reads."""

    telemetry: InferenceTelemetry
    settings: Settings
    model_name: str | None = None
    model_version: str | None = None

    @classmethod
    def of(cls, settings: Settings, options: dict[str, Any]) -> HookConfig:
        """From ``instrument()``'s keywords: ``tracer_provider``, ``meter_provider``,
        ``model_name``, ``model_version`` (checked: a bad name raises, naming it)."""
        return cls(
            telemetry=InferenceTelemetry.of(
                options.get("tracer_provider"), options.get("meter_provider")
            ),
            settings=settings,
            model_name=_optional_name(options, "model_name"),
            model_version=_optional_name(options, "model_version"),
        )

    def model_for(self, default_name: str) -> ModelContext:
        """Model identity of a call: ``instrument()`` arguments > the request's
        scope > ``OTEL_ML_MODEL_*`` settings > ``default_name``."""
        scope = current_request.get()
        name = (
            self.model_name
            or (scope.model_name if scope else None)
            or self.settings.model_name
            or default_name
        )
        version = (
            self.model_version
            or (scope.model_version if scope else None)
            or self.settings.model_version
        )
        return model_for(name, version, self.telemetry, self.settings)


def _optional_name(options: dict[str, Any], key: str) -> str | None:
    value = options.get(key)
    return None if value is None else check_name(key, value)
