"""OnnxRuntimeInstrumentor with real sessions of skl2onnx conversions, real SDK
providers and in-memory exporters."""

from __future__ import annotations

import logging

import numpy as np
import onnxruntime as ort
import pytest
from hook_support import attributes, counts, key, model, read_values
from model_zoo import ROWS, onnx_session
from onnxruntime.capi.onnxruntime_inference_collection import Session
from opentelemetry.trace import StatusCode
from support import Telemetry

from otel_ml import semconv, wrap_model
from otel_ml.inference import hooks
from otel_ml.instrumentation._adapted import AdaptedMethod

NAME = "onnxruntime.InferenceSession"


def test_run_is_one_span_with_class_and_confidence(telemetry: Telemetry, instrument) -> None:
    session = onnx_session("zipmap")  # made before instrument(): patched per class
    instrument()

    labels, probabilities = session.run(None, {"X": ROWS[:1]})
    batch_labels, _ = session.run(None, {"X": ROWS[:12]})

    single, batch = telemetry.spans()
    assert single.name == f"run {NAME}"
    assert attributes(single) == model(NAME, **{
        "ml.operation.name": "run",
        "ml.batch.size": 1,
        "ml.prediction.class": str(int(labels[0])),
        "ml.prediction.confidence": pytest.approx(max(probabilities[0].values())),
    })  # fmt: skip
    assert attributes(batch)["ml.batch.size"] == 12
    every = np.concatenate([labels, batch_labels])
    values, per_class = np.unique(every, return_counts=True)
    assert counts(telemetry, semconv.ML_PREDICTIONS) == {
        key(**model(NAME), **{"ml.prediction.class": str(v)}): int(n)
        for v, n in zip(values, per_class, strict=True)
    }
    assert counts(telemetry, semconv.ML_PREDICTION_CONFIDENCE) == {key(**model(NAME)): 13}


@pytest.mark.parametrize(
    ("kind", "names"),
    [("matrix", None), ("strings", ["output_probability"]), ("ridge", None),
     ("zipmap", ["output_label"])],
)  # fmt: skip
def test_the_hook_reads_what_wrap_model_reads(telemetry: Telemetry, instrument, kind, names):
    session = onnx_session(kind)
    instrument()
    session.run(names, {"X": ROWS[:1]})
    session.run(names, {"X": ROWS[:6]})
    wrapped = wrap_model(session, NAME, **telemetry.providers)
    wrapped.run(names, {"X": ROWS[:1]})
    wrapped.run(output_names=names, input_feed={"X": ROWS[:6]})

    hooked_one, hooked_batch, wrapped_one, wrapped_batch = telemetry.spans()
    assert read_values(hooked_one) == read_values(wrapped_one)
    assert read_values(hooked_batch) == read_values(wrapped_batch)
    assert set(read_values(hooked_one)) - {"ml.batch.size"}, "the row was read"


def test_a_wrapped_bound_run_under_the_hook_is_one_span(telemetry: Telemetry, instrument) -> None:
    session = onnx_session("strings")
    instrument()
    run = wrap_model(session.run, "scorer", **telemetry.providers)

    run(None, {"X": ROWS[:1]})

    assert [s.name for s in telemetry.spans()] == ["run scorer"]
    assert read_values(telemetry.spans()[0])["ml.prediction.class"] in {"low", "mid", "high"}


def test_unknown_outputs_are_rows_only_without_a_warning(
    telemetry: Telemetry, instrument, caplog: pytest.LogCaptureFixture
) -> None:
    # A graph whose one output is a float matrix without a label: its role is unknown.
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["X"], ["Y"])],
        "identity",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 4])],
    )
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx_model.ir_version = 8
    session = ort.InferenceSession(
        onnx_model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    instrument()

    with caplog.at_level(logging.WARNING, logger="otel_ml"):
        (echo,) = session.run(None, {"X": ROWS[:3]})

    assert echo.shape == (3, 4)
    assert caplog.records == []
    assert [read_values(s) for s in telemetry.spans()] == [{"ml.batch.size": 3}]
    assert counts(telemetry, semconv.ML_PREDICTIONS) == {}


def test_user_exception_propagates_and_marks_the_span(telemetry: Telemetry, instrument) -> None:
    session = onnx_session("zipmap")
    instrument()

    with pytest.raises(ValueError, match="input"):
        session.run(None, {"wrong": ROWS[:1]})

    span = telemetry.span(f"run {NAME}")
    assert span.status.status_code is StatusCode.ERROR
    assert attributes(span)["error.type"] == "ValueError"


def test_uninstrument_removes_the_wrapper_it_added(telemetry: Telemetry, instrument) -> None:
    session = onnx_session("zipmap")
    run = vars(Session)["run"]
    assert "run" not in vars(ort.InferenceSession)  # inherited from Session
    instrumentor = instrument()
    assert isinstance(vars(ort.InferenceSession)["run"], AdaptedMethod)
    assert vars(Session)["run"] is run

    instrumentor.uninstrument()
    session.run(None, {"X": ROWS[:1]})

    assert "run" not in vars(ort.InferenceSession)
    assert ort.InferenceSession.run is run
    assert telemetry.spans() == []
    assert not hooks.installed
