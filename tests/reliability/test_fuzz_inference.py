"""Fuzzed inputs through every inference hook, in production (non-strict) mode.

The property, for hostile outputs, inputs, exceptions and setter values: the
caller gets exactly what the model returned (the same object) or exactly the
exception it raised (the same object); nothing else escapes; every failure
inside otel_ml's telemetry is counted (in the guard's tally and in the exported
``otel_ml.internal.errors``), and every call's span ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from hostile_support import Unprintable, anything, feature_rows, nested, scalars, values
from hypothesis import given
from hypothesis import strategies as st
from reliability_support import fuzz_settings, internal_errors
from sklearn.dummy import DummyClassifier, DummyRegressor
from support import Telemetry

import otel_ml
from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml.config import Settings
from otel_ml.drift.profile import ReferenceProfile
from otel_ml.instrumentation.sklearn import SklearnInstrumentor

METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function")


@pytest.fixture(autouse=True)
def production() -> None:
    """Telemetry failures are swallowed and counted, as in a deployed server
    (the suite's conftest switches strict mode back on after each test)."""
    guard.set_strict(False)


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    rng = np.random.default_rng(7)
    train = {
        "amount": rng.normal(100, 15, 1000),
        "age": rng.integers(18, 90, 1000).astype(float),
        "country": rng.choice(["DE", "FR", "US"], 1000).astype(object),
    }
    return ReferenceProfile.fit(
        train, predictions=rng.choice(["a", "b"], 1000), scores=rng.random(1000)
    )


def assert_failures_counted(telemetry: Telemetry) -> None:
    """Every swallowed failure is in the exported counter, and no call is left open.

    A first collection runs the observable callbacks (which may fail and be
    counted themselves); the second exports what was counted up to then.
    """
    active = [point.value for _, point in telemetry.points(semconv.ML_INFERENCE_ACTIVE)]
    assert set(active) <= {0}
    before = guard.error_count()
    exported = internal_errors(telemetry)
    assert before <= sum(exported.values()) <= guard.error_count()
    assert all(count == guard.error_count(c) for c, count in exported.items())


class HostileModel:
    """A model whose every method returns (or raises) what the current example chose."""

    def __init__(self) -> None:
        self.output: Any = None
        self.error: BaseException | None = None

    def answer(self, output: Any, classes: Any = None, error: BaseException | None = None) -> None:
        self.output, self.error = output, error
        if classes is None:
            self.__dict__.pop("classes_", None)
        else:
            self.classes_ = classes

    def _answer(self, *args: Any, **kwargs: Any) -> Any:
        if self.error is not None:
            raise self.error
        return self.output

    predict = predict_proba = predict_log_proba = decision_function = __call__ = _answer


@pytest.fixture
def hostile(telemetry: Telemetry, profile: ReferenceProfile) -> tuple[HostileModel, dict[Any, Any]]:
    """One hostile model, wrapped once per task with drift and feedback on (examples
    change its answer; wrapping per example would pile up drift monitors)."""
    model = HostileModel()
    wrapped = {
        task: otel_ml.wrap_model(
            model,
            f"hostile-{task}",
            "1",
            task=task,
            reference=profile,
            feedback=True,
            **telemetry.providers,
        )
        for task in (None, "classification", "regression")
    }
    return model, wrapped


def call(model: Any, method: str, inputs: Any) -> Any:
    return model(inputs) if method == "__call__" else getattr(model, method)(inputs)


@fuzz_settings(max_examples=100)
@given(
    output=anything,
    inputs=feature_rows,
    method=st.sampled_from([*METHODS, "__call__"]),
    classes=st.none() | values | st.builds(Unprintable),
    task=st.sampled_from([None, "classification", "regression"]),
)
def test_wrap_model_returns_exactly_what_the_model_returned(
    telemetry: Telemetry,
    hostile: tuple[HostileModel, dict[Any, Any]],
    output: Any,
    inputs: Any,
    method: str,
    classes: Any,
    task: Any,
) -> None:
    model, wrapped = hostile
    model.answer(output, classes)

    assert call(wrapped[task], method, inputs) is output

    assert_failures_counted(telemetry)


EXCEPTIONS = st.one_of(
    st.builds(ValueError, values),
    st.builds(KeyError, values),
    st.sampled_from([KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError]).map(
        lambda cls: cls("stop")
    ),
    st.builds(lambda: type("Weird Name é", (Exception,), {"__module__": None})()),
    st.builds(lambda: type("NoStr", (RuntimeError,), {"__str__": Unprintable.__str__})()),
)


@fuzz_settings(max_examples=40)
@given(
    error=EXCEPTIONS,
    inputs=feature_rows,
    method=st.sampled_from([*METHODS, "__call__"]),
)
def test_wrap_model_raises_exactly_what_the_model_raised(
    telemetry: Telemetry,
    hostile: tuple[HostileModel, dict[Any, Any]],
    error: BaseException,
    inputs: Any,
    method: str,
) -> None:
    model, wrapped = hostile
    model.answer(None, error=error)

    with pytest.raises(type(error)) as raised:
        call(wrapped[None], method, inputs)

    assert raised.value is error
    assert_failures_counted(telemetry)


class AsyncHostileModel(HostileModel):
    async def predict(self, inputs: Any) -> Any:  # type: ignore[override]
        await asyncio.sleep(0)
        return self._answer(inputs)


@pytest.fixture
def async_hostile(telemetry: Telemetry, profile: ReferenceProfile) -> tuple[HostileModel, Any]:
    model = AsyncHostileModel()
    wrapped = otel_ml.wrap_model(model, "async-hostile", "1", reference=profile,
                                 feedback=True, **telemetry.providers)  # fmt: skip
    return model, wrapped


@fuzz_settings(max_examples=25)
@given(output=anything, inputs=feature_rows, error=st.none() | EXCEPTIONS)
def test_async_models_return_or_raise_exactly_their_own(
    telemetry: Telemetry, async_hostile: tuple[HostileModel, Any], output: Any, inputs: Any,
    error: Any,
) -> None:  # fmt: skip
    model, wrapped = async_hostile
    model.answer(output, error=error)

    async def predict() -> tuple[str, Any]:
        try:
            return "returned", await wrapped.predict(inputs)
        except BaseException as exc:  # GeneratorExit and SystemExit too: compared below
            return "raised", exc

    kind, got = asyncio.run(predict())

    assert kind == ("raised" if error is not None else "returned")
    assert got is (error if error is not None else output)
    assert_failures_counted(telemetry)


SETTERS: dict[str, Callable[[Any, Any, Any], None]] = {
    "set_confidence": lambda inv, value, _: inv.set_confidence(value),
    "set_batch_size": lambda inv, value, _: inv.set_batch_size(value),
    "set_inputs": lambda inv, value, _: inv.set_inputs(value),
    "record_predictions": lambda inv, value, task: inv.record_predictions(value, task),
    "record_probabilities": lambda inv, value, classes: inv.record_probabilities(value, classes),
}


@fuzz_settings(max_examples=60)
@given(
    calls=st.lists(
        st.tuples(st.sampled_from(sorted(SETTERS)), anything | scalars, st.none() | values),
        max_size=5,
    ),
    body_error=st.none() | EXCEPTIONS,
)
def test_inference_block_setters_accept_junk_and_the_blocks_exception_propagates(
    telemetry: Telemetry, calls: list[tuple[str, Any, Any]], body_error: Any
) -> None:
    def block() -> None:
        with otel_ml.inference("block", "1", **telemetry.providers) as inv:
            for setter, value, extra in calls:
                SETTERS[setter](inv, value, extra if setter != "record_predictions" else None)
            if body_error is not None:
                raise body_error

    if body_error is None:
        block()
    else:
        with pytest.raises(type(body_error)) as raised:
            block()
        assert raised.value is body_error
    assert telemetry.spans()[-1].name == "predict block"
    assert_failures_counted(telemetry)


@fuzz_settings(max_examples=40)
@given(output=anything, args=st.lists(anything, max_size=2), kwargs=st.dictionaries(
    st.sampled_from(["x", "rows", "threshold"]), anything, max_size=2))  # fmt: skip
def test_inference_decorator_returns_exactly_what_the_function_returned(
    telemetry: Telemetry, output: Any, args: list[Any], kwargs: dict[str, Any]
) -> None:
    @otel_ml.inference("decorated", "1", **telemetry.providers)
    def predict(*args: Any, **kwargs: Any) -> Any:
        return output

    assert predict(*args, **kwargs) is output
    assert_failures_counted(telemetry)


@pytest.mark.parametrize("method", [*METHODS, "__call__"])
def test_output_and_input_nested_past_the_recursion_limit(
    telemetry: Telemetry, hostile: tuple[HostileModel, dict[Any, Any]], method: str
) -> None:
    """``str()`` and numpy both give up on 5,000 levels: the result still comes back."""
    deep = nested(5_000)
    model, wrapped = hostile
    model.answer(deep, classes=nested(5_000))

    assert call(wrapped[None], method, deep) is deep
    assert_failures_counted(telemetry)


def test_an_enormous_batch_is_summarised_in_bounded_memory(telemetry: Telemetry) -> None:
    """A million rows of probabilities as a zero-copy broadcast view: summarising
    samples at most ``OTEL_ML_MAX_ROWS_RECORDED`` confidences into the histogram."""
    rows = 1_000_000
    probabilities = np.broadcast_to(np.array([[0.25, 0.75]]), (rows, 2))
    labels = np.broadcast_to(np.array(["yes"]), (rows,))
    model = HostileModel()
    model.answer(probabilities)
    wrapped = otel_ml.wrap_model(model, "enormous", "1", **telemetry.providers)

    assert wrapped.predict_proba(labels) is probabilities

    span = telemetry.span("predict_proba enormous")
    assert span.attributes is not None and span.attributes[semconv.ML_BATCH_SIZE] == rows
    [(_, histogram)] = telemetry.points(semconv.ML_PREDICTION_CONFIDENCE_METRIC)
    assert histogram.count == Settings.load(environ={}).max_rows_recorded
    assert guard.error_count() == 0


@pytest.fixture(scope="module")
def sklearn_hook() -> Iterator[Telemetry]:
    """The scikit-learn hook on real estimators, exporting to providers of its own."""
    hooked = Telemetry.create()
    instrumentor = SklearnInstrumentor()
    instrumentor.instrument(**hooked.providers, settings=Settings.load(environ={}))
    yield hooked
    instrumentor.uninstrument()


def outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    """What a call did, comparably: its result as a list, or its exception's type and text."""
    try:
        result = fn()
    except Exception as exc:
        return "raised", (type(exc), str(exc))
    return "returned", (type(result), np.asarray(result).tolist())


@fuzz_settings(max_examples=25)
@given(
    labels=st.lists(st.sampled_from(["a", "\x00", "a\udcffb", "ß" * 50_000, "__other__"]),
                    min_size=2, max_size=6)
    | st.lists(st.integers(-(2**70), 2**70), min_size=2, max_size=6),
    inputs=feature_rows,
    method=st.sampled_from(["predict", "predict_proba", "predict_log_proba"]),
)  # fmt: skip
def test_the_sklearn_hook_changes_no_result_and_no_error(
    sklearn_hook: Telemetry, labels: list[Any], inputs: Any, method: str
) -> None:
    """Real estimators under the hook answer hostile inputs exactly as without it."""
    x = np.arange(len(labels) * 3, dtype=float).reshape(-1, 3)
    estimator = DummyClassifier(strategy="stratified", random_state=0).fit(x, labels)
    if method == "predict" and isinstance(inputs, np.ndarray) and inputs.dtype.kind in "fiu":
        estimator = DummyRegressor().fit(x, np.arange(len(labels), dtype=float))
    target = getattr(estimator, method)
    if not callable(target):
        return
    before = len(sklearn_hook.spans())
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    with suppress_instrumentation():
        expected = outcome(lambda: target(inputs))
    got = outcome(lambda: target(inputs))

    assert got == expected
    assert len(sklearn_hook.spans()) == before + 1  # one span per call, ended, even on errors
    assert_failures_counted(sklearn_hook)
