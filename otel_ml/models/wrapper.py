"""``otel_ml.wrap_model``: a proxy that instruments a model's inference methods."""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import wrapt
from opentelemetry import metrics, trace

from otel_ml._internal.arguments import check_task
from otel_ml.config import Settings, get_settings
from otel_ml.inference.adapters import ModelAdapter, adapter_for, instrumented_names
from otel_ml.inference.call import ainvoke
from otel_ml.inference.model import ModelContext
from otel_ml.models.sinks import drift_monitor, enable_feedback, entry_model, watch
from otel_ml.outputs.extract import Task
from otel_ml.resources.model_info import register_model_info

if TYPE_CHECKING:
    from otel_ml.drift.monitor import DriftMonitor
    from otel_ml.drift.profile import ReferenceProfile


def _method(name: str) -> property:
    def get(self: InstrumentedModel) -> Callable[..., Any]:
        try:
            method: Callable[..., Any] = self._self_methods[name]
            return method
        except KeyError:
            # Not instrumented because the model lacks it: behave like the model.
            return cast(Callable[..., Any], getattr(self.__wrapped__, name))

    return property(get, doc=f"The model's ``{name}``, instrumented.")


class InstrumentedModel(wrapt.ObjectProxy):  # type: ignore[type-arg]
    """Behaves like the wrapped model; its inference methods emit telemetry.

    ``isinstance`` checks see the model's class, attribute access and
    assignment reach the model, and pickling/copying keep the wrapper.
    """

    def __init__(self, model: Any, context: ModelContext, task: Task | None) -> None:
        super().__init__(model)
        self._self_context = context
        self._self_task = task
        adapter = adapter_for(model)
        self._self_methods = {
            name: _instrument(adapter, context, name, getattr(model, name), model, task)
            for name in adapter.methods
            if callable(getattr(model, name, None))
        }

    @property
    def otel_ml_model(self) -> tuple[str, str]:
        """``(model name, model version)`` this wrapper reports."""
        return self._self_context.name, self._self_context.version

    @property
    def drift_monitor(self) -> DriftMonitor | None:
        """The drift monitor fed by this model's calls (``reference=`` turns it on)."""
        return drift_monitor(self._self_context)

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        name, version = self.otel_ml_model
        return _rewrap, (self.__wrapped__, name, version, self._self_task)

    def __copy__(self) -> Any:
        return _rewrap(copy.copy(self.__wrapped__), *self.otel_ml_model, self._self_task)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        model = copy.deepcopy(self.__wrapped__, memo)
        return _rewrap(model, *self.otel_ml_model, self._self_task)


for _name in instrumented_names():
    # A property per method any adapter instruments; a model without it behaves as the model.
    setattr(InstrumentedModel, _name, _method(_name))


class InstrumentedCallableModel(InstrumentedModel):
    """An :class:`InstrumentedModel` for a callable model (a function, a
    transformers pipeline, a torch module): each call is one inference."""

    def __init__(self, model: Any, context: ModelContext, task: Task | None) -> None:
        super().__init__(model, context, task)
        adapter = adapter_for(model)
        self._self_call = _instrument(adapter, context, adapter.call_operation, model, model, task)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_call(*args, **kwargs)


def wrap_model(
    model: Any,
    name: str | None = None,
    version: str | None = None,
    *,
    task: Task | None = None,
    reference: ReferenceProfile | str | Path | None = None,
    feedback: bool = False,
    feedback_store: str | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
    settings: Settings | None = None,
) -> Any:
    """Wrap ``model`` so ``predict``, ``predict_proba``, ``predict_log_proba``,
    ``decision_function`` and calls emit an inference span and metrics.

    ``name`` defaults to the model's class (or function) name, ``version`` to
    ``OTEL_ML_MODEL_VERSION``. ``task`` overrides how ``predict`` outputs are
    read (classes or values). ``reference`` (a :class:`ReferenceProfile` or the
    path of its JSON) turns on drift monitoring of the inputs and outputs;
    ``feedback=True`` keeps recent predictions so :func:`otel_ml.record_feedback`
    can join delayed labels to them, kept where ``feedback_store`` says
    (``OTEL_ML_FEEDBACK_STORE``: ``"memory"``, ``"sqlite:///path.db"``,
    ``"redis://host:6379/0"``). ``settings`` (default: the process's,
    from the environment) are the model's when this call is the first for it.
    Raises ``TypeError`` for something that is not a model. Wrapping a wrapped
    model re-wraps the original.
    """
    model = _unwrapped(model)
    check_task(task)
    context = entry_model(
        ("name", name if name is not None else _default_name(model)),
        ("version", version),
        (settings or get_settings()).replace(feedback_store=feedback_store),
        tracer_provider,
        meter_provider,
    )
    register_model_info(context, model)
    if reference is not None:
        watch(context, reference)
    if feedback:
        enable_feedback(context)
    cls = InstrumentedCallableModel if callable(model) else InstrumentedModel
    return cls(model, context, task)


def _unwrapped(model: Any) -> Any:
    """The model to wrap (the original of a wrapped one), or a TypeError."""
    if model is None:
        raise TypeError("wrap_model() needs a model, got None")
    if inspect.isclass(model):
        raise TypeError(f"wrap_model() needs a model instance, got the class {model.__name__}")
    if isinstance(model, InstrumentedModel):
        model = model.__wrapped__
    methods = adapter_for(model).methods
    if not callable(model) and not any(callable(getattr(model, m, None)) for m in methods):
        raise TypeError(
            f"wrap_model() needs a callable or an object with one of "
            f"{', '.join(methods)}; got {type(model).__name__}"
        )
    return model


def _rewrap(model: Any, name: str, version: str, task: Task | None) -> Any:
    return wrap_model(model, name, version, task=task)


def _default_name(model: Any) -> str:
    return adapter_for(model).default_name(model)


def _instrument(
    adapter: ModelAdapter,
    context: ModelContext,
    operation: str,
    method: Any,
    model: Any,
    task: Task | None,
) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(method):
        summarize = adapter.summarize(operation, model, task)

        @functools.wraps(method)
        async def instrumented_async(*args: Any, **kwargs: Any) -> Any:
            return await ainvoke(context, operation, method, summarize, *args, **kwargs)

        return instrumented_async
    # The model's name, docstring and signature on a partial: no frame of our own.
    return functools.update_wrapper(adapter.bind(context, operation, method, model, task), method)
