"""``otel_ml.inference(...)``: an inference scope for a named model."""

from __future__ import annotations

from opentelemetry import metrics, trace

from otel_ml._internal.arguments import check_name, check_task
from otel_ml.config import Settings, get_settings
from otel_ml.inference.scope import InferenceScope
from otel_ml.models.sinks import entry_model
from otel_ml.outputs.extract import Task


def inference(
    model_name: str,
    model_version: str | None = None,
    operation: str = "predict",
    *,
    task: Task | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
    settings: Settings | None = None,
) -> InferenceScope:
    """Instrument inference calls of ``model_name`` (context manager or decorator).

    >>> with otel_ml.inference("fraud", "3") as inv:
    ...     label = model(x)
    ...     inv.record_predictions(label)
    ...     inv.set_confidence(0.93)

    >>> @otel_ml.inference("fraud", "3")
    ... async def predict(x): ...

    ``task`` ("classification" or "regression") says how decorated functions'
    results are read; by default float outputs are values, others classes.
    ``model_version`` defaults to ``OTEL_ML_MODEL_VERSION`` (of ``settings``,
    default: the process's).
    """
    settings = settings or get_settings()
    model = entry_model(
        ("model_name", model_name),
        ("model_version", model_version or None),
        settings,
        tracer_provider,
        meter_provider,
    )
    check_name("operation", operation)
    check_task(task)
    return InferenceScope(model, operation, task)
