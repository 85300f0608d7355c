"""TorchInstrumentor with real modules, real SDK providers and in-memory
exporters: the outermost eval-mode module call of a forward pass is one span."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from model_spans import attributes, class_counts, confidence_count, data_issues, durations, model
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import StatusCode
from support import Telemetry
from tiny_hf import NEGATIVE_TEXT, POSITIVE_TEXT, nested_module, sentiment_model, tokenizer

import otel_ml
from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml.config import Settings
from otel_ml.instrumentation.sklearn import SklearnInstrumentor
from otel_ml.instrumentation.torch import TorchInstrumentor

ROWS = torch.tensor([[1.0, 0.0, -1.0, 2.0], [0.0, 0.0, 0.0, 0.0], [-3.0, 1.0, 2.0, 0.5]])


def expected_classes(logits: torch.Tensor) -> tuple[list[str], torch.Tensor]:
    """Per-row class (the arg max) and confidence (the softmax maximum)."""
    top = logits.double().softmax(-1).max(-1)
    return [str(index) for index in top.indices.tolist()], top.values


def test_a_forward_pass_of_nested_modules_is_one_span(
    telemetry: Telemetry, instrumented: Any
) -> None:
    module = nested_module(depth=5)  # 17 modules, called nested
    with torch.no_grad():
        bare = module(ROWS)
    instrumented(TorchInstrumentor)

    with torch.no_grad():
        output = module(ROWS)
        module(ROWS[:1])

    assert torch.equal(output, bare)
    batch, single = telemetry.spans()
    labels, confidences = expected_classes(bare)
    assert batch.name == "predict Sequential"
    assert attributes(batch) == model(
        "Sequential",
        **{
            semconv.ML_BATCH_SIZE: 3,
            semconv.ML_PREDICTION_CLASSES: set(labels),
            semconv.ML_PREDICTION_CONFIDENCE_MIN: pytest.approx(confidences.min().item()),
            semconv.ML_PREDICTION_CONFIDENCE_MEAN: pytest.approx(confidences.mean().item()),
        },
    )
    assert attributes(single) == model(
        "Sequential",
        **{
            semconv.ML_BATCH_SIZE: 1,
            semconv.ML_PREDICTION_CLASS: labels[0],
            semconv.ML_PREDICTION_CONFIDENCE: pytest.approx(confidences[0].item()),
        },
    )
    assert class_counts(telemetry) == {
        label: labels.count(label) + (label == labels[0]) for label in set(labels)
    }
    assert confidence_count(telemetry) == 4
    assert durations(telemetry) == {"Sequential": 2}


class Student(torch.nn.Module):
    """A training-mode model that runs a frozen eval-mode teacher inside its forward."""

    def __init__(self) -> None:
        super().__init__()
        self.teacher = nested_module()
        self.head = torch.nn.Linear(4, 3)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.head(rows) + self.teacher(rows).detach()


def test_training_forward_passes_are_not_traced(telemetry: Telemetry, instrumented: Any) -> None:
    instrumented(TorchInstrumentor)
    student = Student().train()
    student.teacher.eval()  # frozen: eval mode inside a training forward
    optimizer = torch.optim.SGD(student.parameters(), lr=0.1)

    for _ in range(2):
        optimizer.zero_grad()
        student(ROWS).sum().backward()
        optimizer.step()

    assert telemetry.spans() == []
    student.eval()(ROWS)  # served: one span
    assert [span.name for span in telemetry.spans()] == ["predict Student"]


def test_a_transformers_model_is_named_and_read_by_its_config(
    telemetry: Telemetry, instrumented: Any
) -> None:
    classifier = sentiment_model()
    encoded = tokenizer()([NEGATIVE_TEXT, POSITIVE_TEXT], return_tensors="pt", padding=True)
    instrumented(TorchInstrumentor)

    with torch.no_grad():
        logits = classifier(**encoded).logits

    span = telemetry.span("predict BertForSequenceClassification")
    assert span.attributes[semconv.ML_BATCH_SIZE] == 2
    assert set(span.attributes[semconv.ML_PREDICTION_CLASSES]) == {"NEGATIVE", "POSITIVE"}
    assert class_counts(telemetry) == {"NEGATIVE": 1, "POSITIVE": 1}
    assert logits.argmax(-1).tolist() == [0, 1]


class Returns(torch.nn.Module):
    """A module whose forward returns what it was built with (a tensor is a copy)."""

    def __init__(self, output: Any) -> None:
        super().__init__()
        self.output = output

    def forward(self, rows: torch.Tensor) -> Any:
        return self.output


@pytest.mark.parametrize(
    ("output", "expected", "classes"),
    [
        (torch.tensor([2, 0, 2]), {semconv.ML_BATCH_SIZE: 3}, {"2": 2, "0": 1}),
        (torch.tensor([[0.5]]), {semconv.ML_PREDICTION_VALUE: 0.5}, {}),
        ((torch.zeros(3, 8), torch.zeros(3, 2)), {semconv.ML_BATCH_SIZE: 3}, {}),
        ({"embedding": torch.zeros(2, 8)}, {semconv.ML_BATCH_SIZE: 2}, {}),
        ("not a tensor", {semconv.ML_BATCH_SIZE: 4}, {}),  # rows from the input
    ],
)
def test_outputs_by_kind(
    telemetry: Telemetry, instrumented: Any, output: Any, expected: Any, classes: Any
) -> None:
    instrumented(TorchInstrumentor)

    Returns(output).eval()(torch.zeros(4, 2))

    attrs = attributes(telemetry.span("predict Returns"))
    attrs.pop(semconv.ML_PREDICTION_CLASSES, None)
    assert attrs == model("Returns", **{semconv.ML_BATCH_SIZE: 4, **expected})
    assert class_counts(telemetry) == classes
    assert confidence_count(telemetry) == 0
    assert data_issues(telemetry) == {}


def test_scores_that_are_not_finite_never_reach_a_metric(
    telemetry: Telemetry, instrumented: Any
) -> None:
    instrumented(TorchInstrumentor)
    logits = torch.tensor([[float("nan"), 1.0], [0.0, 3.0]])

    Returns(logits).eval()(torch.zeros(2, 2))

    assert class_counts(telemetry) == {"1": 1}
    assert confidence_count(telemetry) == 1
    assert data_issues(telemetry) == {(semconv.CONFIDENCE_FEATURE, "non_finite"): 1}


def test_a_module_on_an_accelerator_is_never_read(telemetry: Telemetry, instrumented: Any) -> None:
    # The meta device holds no data: any copy or synchronisation would raise.
    module = torch.nn.Sequential(torch.nn.Linear(4, 3, device="meta")).eval()
    instrumented(TorchInstrumentor)

    output = module(torch.empty((6, 4), device="meta"))

    assert output.device.type == "meta"
    assert attributes(telemetry.span("predict Sequential")) == model(
        "Sequential", **{semconv.ML_BATCH_SIZE: 6}
    )
    assert (class_counts(telemetry), confidence_count(telemetry)) == ({}, 0)


def test_model_identity_from_instrument_and_settings(
    telemetry: Telemetry, instrumented: Any
) -> None:
    module = nested_module()
    instrumentor = instrumented(TorchInstrumentor, model_name="mlp", model_version="3")
    module(ROWS)
    instrumentor.uninstrument()
    environ = {"OTEL_ML_MODEL_NAME": "from-env", "OTEL_ML_MODEL_VERSION": "1"}
    instrumented(TorchInstrumentor, settings=Settings.load(environ=environ))
    module(ROWS)

    assert [span.name for span in telemetry.spans()] == ["predict mlp", "predict from-env"]
    assert telemetry.spans()[1].attributes[semconv.ML_MODEL_VERSION] == "1"


def test_a_compiled_module_is_one_span_named_after_its_module(
    telemetry: Telemetry, instrumented: Any
) -> None:
    instrumented(TorchInstrumentor)
    module = nested_module()
    compiled = torch.compile(module, backend="eager")

    explained = torch._dynamo.explain(module)(ROWS)
    telemetry.exporter.clear()
    compiled(ROWS)
    compiled(ROWS[:2])

    assert explained.graph_break_count == 0  # the patched call compiles like the original
    assert [(span.name, span.attributes[semconv.ML_BATCH_SIZE]) for span in telemetry.spans()] == [
        ("predict Sequential", 3),
        ("predict Sequential", 2),
    ]


def test_graph_capture_is_not_served_traffic(telemetry: Telemetry, instrumented: Any) -> None:
    instrumented(TorchInstrumentor)
    module = nested_module()

    graph = torch.fx.symbolic_trace(module)
    with pytest.warns(FutureWarning, match="deprecated"):  # and no TracerWarning of ours
        traced = torch.jit.trace(module, ROWS, check_trace=False)

    assert telemetry.spans() == []
    assert {node.op for node in graph.graph.nodes} == {"placeholder", "call_module", "output"}
    assert torch.equal(traced(ROWS), module(ROWS))
    assert len(telemetry.spans()) == 2  # calls of the captured graphs are served traffic


def test_errors_suppression_and_wrapped_modules(telemetry: Telemetry, instrumented: Any) -> None:
    module = nested_module()
    instrumented(TorchInstrumentor)

    with pytest.raises(RuntimeError, match="shapes cannot be multiplied") as raised:
        module(torch.zeros(2, 5))
    with suppress_instrumentation():
        module(ROWS)
    otel_ml.wrap_model(module, "wrapped", **telemetry.providers)(ROWS)

    failed, wrapped = telemetry.spans()
    assert failed.status.status_code is StatusCode.ERROR
    assert attributes(failed) == model(
        "Sequential", **{semconv.ML_BATCH_SIZE: 2, "error.type": "RuntimeError"}
    )
    assert failed.events[0].attributes["exception.message"] == str(raised.value)
    assert wrapped.name == "predict wrapped"
    assert durations(telemetry) == {"Sequential": 1, "wrapped": 1}


def test_another_hook_leaving_keeps_nested_calls_quiet(
    telemetry: Telemetry, instrumented: Any
) -> None:
    instrumented(TorchInstrumentor)
    instrumented(SklearnInstrumentor).uninstrument()

    nested_module()(ROWS)

    assert [span.name for span in telemetry.spans()] == ["predict Sequential"]


def test_uninstrument_restores_the_call_exactly(telemetry: Telemetry, instrumented: Any) -> None:
    original = vars(torch.nn.Module)["__call__"]
    instrumentor = instrumented(TorchInstrumentor)
    assert vars(torch.nn.Module)["__call__"].__wrapped__ is original

    instrumentor.uninstrument()
    nested_module()(ROWS)

    assert vars(torch.nn.Module)["__call__"] is original
    assert telemetry.spans() == []


@pytest.mark.parametrize("strict", [True, False])
def test_instrument_failure_goes_through_the_guard(strict: bool, instrumented: Any) -> None:
    guard.set_strict(strict)
    original = vars(torch.nn.Module)["__call__"]

    if strict:
        with pytest.raises(TypeError, match="model_name"):
            instrumented(TorchInstrumentor, model_name=3)
    else:
        instrumented(TorchInstrumentor, model_name=3)

    assert guard.error_count("torch.instrument") == 1
    assert vars(torch.nn.Module)["__call__"] is original
