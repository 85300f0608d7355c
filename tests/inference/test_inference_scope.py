"""otel_ml.inference(...) as a context manager and as a decorator."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from opentelemetry.trace import StatusCode
from support import Telemetry

import otel_ml
from otel_ml import semconv


def test_context_manager_with_setters(telemetry: Telemetry) -> None:
    with otel_ml.inference("churn", "2", **telemetry.providers) as inv:
        inv.set_batch_size(1)
        inv.record_predictions(["stays"])
        inv.set_confidence(0.875)
        prediction_id = inv.prediction_id

    attrs = dict(telemetry.span("predict churn").attributes or {})
    assert attrs == {
        semconv.ML_MODEL_NAME: "churn",
        semconv.ML_MODEL_VERSION: "2",
        semconv.ML_OPERATION_NAME: "predict",
        semconv.ML_PREDICTION_ID: prediction_id,
        semconv.ML_BATCH_SIZE: 1,
        semconv.ML_PREDICTION_CLASS: "stays",
        semconv.ML_PREDICTION_CONFIDENCE: 0.875,
    }
    [(_, conf)] = telemetry.points(semconv.ML_PREDICTION_CONFIDENCE_METRIC)
    assert (conf.count, conf.sum) == (1, 0.875)


def test_context_manager_records_the_user_exception(telemetry: Telemetry) -> None:
    class ModelDown(Exception):
        pass

    with pytest.raises(ModelDown), otel_ml.inference("churn", "2", **telemetry.providers):
        raise ModelDown
    span = telemetry.span("predict churn")
    assert span.status.status_code is StatusCode.ERROR
    expected = f"{__name__}.test_context_manager_records_the_user_exception.<locals>.ModelDown"
    assert (span.attributes or {})[semconv.ERROR_TYPE] == expected


def test_invalid_confidence_is_counted_not_raised(telemetry: Telemetry) -> None:
    with otel_ml.inference("churn", "2", **telemetry.providers) as inv:
        inv.set_confidence("high")
        inv.set_confidence(float("inf"))
    assert semconv.ML_PREDICTION_CONFIDENCE not in (
        telemetry.span("predict churn").attributes or {}
    )
    issues = {
        a[semconv.ML_DATA_ISSUE]: p.value for a, p in telemetry.points("ml.data.quality.issues")
    }
    assert issues == {"type": 1, "non_finite": 1}


def test_a_scope_cannot_be_entered_twice_at_once(telemetry: Telemetry) -> None:
    scope = otel_ml.inference("churn", "2", **telemetry.providers)
    with scope, pytest.raises(RuntimeError, match="one per `with`"), scope:
        pass
    with scope:  # reusable once closed
        pass
    assert len(telemetry.spans()) == 2


def test_decorator_sync_and_async(telemetry: Telemetry) -> None:
    scope = otel_ml.inference("ranker", "5", "score", task="regression", **telemetry.providers)

    @scope
    def score(rows: list[float]) -> list[float]:
        return [r * 2 for r in rows]

    @scope
    async def ascore(rows: list[float]) -> list[float]:
        await asyncio.sleep(0)
        return [r * 3 for r in rows]

    assert score.__name__ == "score"
    assert score([1.0]) == [2.0]

    async def main() -> list[Any]:
        return list(await asyncio.gather(*(ascore([float(i)]) for i in range(20))))

    assert len(asyncio.run(main())) == 20
    spans = telemetry.spans()
    assert len(spans) == 21
    assert {s.name for s in spans} == {"score ranker"}
    assert len({(s.attributes or {})[semconv.ML_PREDICTION_ID] for s in spans}) == 21
    [(attrs, point)] = telemetry.points(semconv.ML_INFERENCE_DURATION)
    assert attrs[semconv.ML_OPERATION_NAME] == "score"
    assert point.count == 21
    [(_, active)] = telemetry.points(semconv.ML_INFERENCE_ACTIVE)
    assert active.value == 0


def test_decorating_a_generator_is_refused() -> None:
    def stream() -> Any:
        yield 1

    with pytest.raises(TypeError, match="generator"):
        otel_ml.inference("m")(stream)


@pytest.mark.parametrize(
    ("args", "error"),
    [((None,), TypeError), (("",), ValueError), (("m", "1", ""), ValueError)],
)
def test_bad_arguments(args: tuple[Any, ...], error: type[Exception]) -> None:
    with pytest.raises(error):
        otel_ml.inference(*args)


def test_nested_explicit_invocations_make_a_tree(telemetry: Telemetry) -> None:
    with (
        otel_ml.inference("ensemble", "1", **telemetry.providers),
        otel_ml.inference("member", "1", **telemetry.providers),
    ):
        pass
    inner, outer = telemetry.spans()
    assert inner.parent is not None and inner.parent.span_id == outer.context.span_id
