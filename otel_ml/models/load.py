"""``otel_ml.load_model``: load a model inside a ``load {model}`` span, time it
on ``ml.model.load.duration`` and return it wrapped by ``wrap_model``."""

from __future__ import annotations

import importlib
import inspect
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import Histogram
from opentelemetry.trace import SpanKind

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml._internal.arguments import check_name
from otel_ml._internal.lifecycle import Invocation
from otel_ml.config import Settings, get_settings
from otel_ml.inference.instruments import InferenceTelemetry
from otel_ml.models.wrapper import wrap_model
from otel_ml.outputs.extract import Task
from otel_ml.resources.framework import detect_framework

if TYPE_CHECKING:
    from otel_ml.drift.profile import ReferenceProfile

__all__ = ["load_model"]

_MAX_FILES_SIZED = 10_000


def load_model(
    source: str | os.PathLike[str] | Callable[[], Any],
    name: str | None = None,
    version: str | None = None,
    *,
    loader: Callable[[Path], Any] | None = None,
    task: Task | None = None,
    reference: ReferenceProfile | str | Path | None = None,
    feedback: bool = False,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
    settings: Settings | None = None,
) -> Any:
    """Load a model with telemetry and return it wrapped like :func:`wrap_model`.

    ``source`` is a file or folder path, read by ``loader(path)`` (default
    ``joblib.load``, which unpickles: load only files you trust), or a function
    of no arguments that returns the model (e.g. ``lambda: torch.load(...)``).
    The load runs inside a current ``load {name}`` span carrying the model's
    framework and, for paths, its size in bytes; its duration is recorded on
    ``ml.model.load.duration``. A loader's exception propagates unchanged after
    the span and the duration record ``error.type``.

    ``name`` defaults to the file name without its suffix, else the loaded
    model's class name; ``version`` to ``OTEL_ML_MODEL_VERSION``. The other
    arguments are those of :func:`wrap_model`.
    """
    load, path = _loader(source, loader)
    if name is None and path is not None:
        name = path.stem
    settings = settings or get_settings()
    version = check_name("version", version if version is not None else settings.model_version)
    telemetry = InferenceTelemetry.of(tracer_provider, meter_provider)
    model, name = ModelLoad.run(telemetry, load, name, version, path)
    return wrap_model(
        model,
        name,
        version,
        task=task,
        reference=reference,
        feedback=feedback,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        settings=settings,
    )


def _loader(
    source: str | os.PathLike[str] | Callable[[], Any], loader: Callable[[Path], Any] | None
) -> tuple[Callable[[], Any], Path | None]:
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        read = loader or _default_loader()
        return (lambda: read(path)), path
    if callable(source):
        if loader is not None:
            raise TypeError("load_model(): pass loader= only with a path source")
        return source, None
    raise TypeError(
        f"load_model() needs a path or a function returning the model, got {type(source).__name__}"
    )


def _default_loader() -> Callable[[Path], Any]:
    try:
        joblib = importlib.import_module("joblib")  # comes with scikit-learn; untyped
    except ImportError:
        raise TypeError(
            "load_model(path) needs loader= (joblib, the default, is not installed)"
        ) from None
    load: Callable[[Path], Any] = joblib.load
    return load


class ModelLoad(Invocation):
    """One model load: a current ``load {model}`` span and ``ml.model.load.duration``."""

    __slots__ = ("_attrs", "_telemetry", "model", "path")
    component = "resources.load"
    _attrs: dict[str, Any]
    _telemetry: InferenceTelemetry
    model: Any
    path: Path | None

    @classmethod
    def start(
        cls, telemetry: InferenceTelemetry, name: str | None, version: str, path: Path | None
    ) -> ModelLoad:
        """Open the span and make it current; the clock starts."""
        self = cls.__new__(cls)
        self._init(telemetry.internal_errors)
        self._telemetry, self.model, self.path = telemetry, None, path
        self._attrs = {semconv.ML_MODEL_VERSION: version}
        if name is not None:
            self._attrs[semconv.ML_MODEL_NAME] = name
        try:
            span_name = semconv.load_span_name(name) if name else "load"
            self._open(telemetry.tracer, span_name, SpanKind.INTERNAL, dict(self._attrs))
        except Exception as exc:
            guard.report("resources.load", exc, telemetry.internal_errors)
        self._start_ns = time.perf_counter_ns()
        return self

    @classmethod
    def run(
        cls,
        telemetry: InferenceTelemetry,
        load: Callable[[], Any],
        name: str | None,
        version: str,
        path: Path | None,
    ) -> tuple[Any, str]:
        """Run the user's ``load`` as one load; ``(model, model name)``. Its
        exception propagates unchanged after the span records it."""
        call = cls.start(
            telemetry, None if name is None else check_name("name", name), version, path
        )
        try:
            model = load()
        except BaseException as exc:
            call.fail(exc)
            raise
        return model, call.loaded(model)

    def loaded(self, model: Any) -> str:
        """End the load with ``model``; the model name (given, else the one
        wrap_model would default to, resolved here so the span has it)."""
        name = self._attrs.get(semconv.ML_MODEL_NAME)
        if name is None:
            name = model.__name__ if inspect.isfunction(model) else type(model).__name__
            self._attrs[semconv.ML_MODEL_NAME] = name
        self.model = model
        self.stop()
        return str(name)

    def _record(self, elapsed_s: float, error: str | None) -> None:
        attrs = self._attrs if error is None else {**self._attrs, semconv.ERROR_TYPE: error}
        span = self.span
        if error is None and span.is_recording():
            span.update_name(semconv.load_span_name(attrs[semconv.ML_MODEL_NAME]))
            span.set_attributes(_model_attributes(self.model, self.path))
        span.set_attributes(attrs)
        self._telemetry.extension("ml.model.load", _load_duration).record(elapsed_s, attrs)


def _load_duration(telemetry: InferenceTelemetry) -> Histogram:
    return telemetry.meter.create_histogram(
        semconv.ML_MODEL_LOAD_DURATION,
        unit="s",
        description="Duration of model loads.",
        explicit_bucket_boundaries_advisory=list(semconv.MODEL_LOAD_DURATION_BUCKETS),
    )


def _model_attributes(model: Any, path: Path | None) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    framework = detect_framework(model)
    if framework is not None:
        attrs[semconv.ML_MODEL_FRAMEWORK] = framework[0]
        if framework[1] is not None:
            attrs[semconv.ML_MODEL_FRAMEWORK_VERSION] = framework[1]
    size = source_size(path) if path is not None else None
    if size is not None:
        attrs[semconv.ML_MODEL_SIZE] = size
    return attrs


def source_size(path: Path) -> int | None:
    """Bytes of a model file, or of the files under a model folder (``None``
    when unreadable or when the folder holds more than 10,000 files)."""
    try:
        if not path.is_dir():
            return path.stat().st_size
        total = 0
        for count, item in enumerate(path.rglob("*"), 1):
            if count > _MAX_FILES_SIZED:
                return None
            if item.is_file():
                total += item.stat().st_size
        return total
    except OSError:
        return None
