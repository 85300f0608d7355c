"""TransformersInstrumentor with real pipelines on tiny offline models, real SDK
providers and in-memory exporters: one span per user call, read by the task."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import torch
from model_spans import attributes, class_counts, confidence_count, data_issues, durations, model
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import StatusCode
from support import Telemetry
from tiny_hf import (
    NEGATIVE_TEXT,
    POSITIVE_TEXT,
    build_pipeline,
    encoder,
    generator,
    ner_model,
    nli_model,
    sentiment_model,
    tokenizer,
)
from transformers import TextClassificationPipeline
from transformers.pipelines.base import Pipeline

import otel_ml
from otel_ml import semconv
from otel_ml._internal.ids import RequestScope, current_request
from otel_ml.config import Settings
from otel_ml.instrumentation.torch import TorchInstrumentor
from otel_ml.instrumentation.transformers import TransformersInstrumentor
from otel_ml.instrumentation.transformers.patch import PatchedCall


@pytest.fixture(scope="module")
def classifier() -> Any:
    return build_pipeline("text-classification", sentiment_model())


def test_each_call_is_one_span_with_the_pipelines_answer(
    telemetry: Telemetry, instrumented: Any, classifier: Any
) -> None:
    instrumented(TransformersInstrumentor)

    one = classifier(POSITIVE_TEXT)
    both = classifier([POSITIVE_TEXT, NEGATIVE_TEXT])

    first, second = telemetry.spans()
    assert first.name == "predict text-classification"
    assert attributes(first) == model(
        "text-classification",
        **{
            semconv.ML_BATCH_SIZE: 1,
            semconv.ML_PREDICTION_CLASS: one[0]["label"],
            semconv.ML_PREDICTION_CONFIDENCE: one[0]["score"],
        },
    )
    scores = [answer["score"] for answer in both]
    assert attributes(second) == model(
        "text-classification",
        **{
            semconv.ML_BATCH_SIZE: 2,
            semconv.ML_PREDICTION_CLASSES: {"POSITIVE", "NEGATIVE"},
            semconv.ML_PREDICTION_CONFIDENCE_MIN: min(scores),
            semconv.ML_PREDICTION_CONFIDENCE_MEAN: pytest.approx(sum(scores) / 2),
        },
    )
    assert class_counts(telemetry) == {"POSITIVE": 2, "NEGATIVE": 1}
    assert confidence_count(telemetry) == 3
    assert durations(telemetry) == {"text-classification": 2}
    assert data_issues(telemetry) == {}


def test_with_the_torch_hook_too_a_pipeline_call_is_still_one_span(
    telemetry: Telemetry, instrumented: Any, classifier: Any
) -> None:
    instrumented(TorchInstrumentor)
    instrumented(TransformersInstrumentor)

    classifier([POSITIVE_TEXT, NEGATIVE_TEXT], top_k=2)
    with torch.no_grad():  # the model called on its own is the torch hook's
        classifier.model(**classifier.tokenizer([POSITIVE_TEXT], return_tensors="pt"))

    assert [span.name for span in telemetry.spans()] == [
        "predict text-classification",
        "predict BertForSequenceClassification",
    ]
    assert durations(telemetry) == {"text-classification": 1, "BertForSequenceClassification": 1}


def test_token_classification_counts_entities_and_their_scores(
    telemetry: Telemetry, instrumented: Any
) -> None:
    tagger = build_pipeline("ner", ner_model(), aggregation_strategy="simple")
    texts = ["john lives in paris", "good movie"]
    bare = tagger(texts)
    instrumented(TransformersInstrumentor)

    assert tagger(texts) == bare

    entities = [entity for found in bare for entity in found]
    assert entities  # random weights still tag something
    span = telemetry.span("predict token-classification")
    groups = Counter(entity["entity_group"] for entity in entities)
    scores = [float(entity["score"]) for entity in entities]
    assert attributes(span) == model(
        "token-classification",
        **{
            semconv.ML_BATCH_SIZE: 2,
            semconv.ML_PREDICTION_CLASSES: set(groups),
            semconv.ML_PREDICTION_CONFIDENCE_MIN: pytest.approx(min(scores)),
            semconv.ML_PREDICTION_CONFIDENCE_MEAN: pytest.approx(sum(scores) / len(scores)),
        },
    )
    assert class_counts(telemetry) == dict(groups)
    assert confidence_count(telemetry) == len(entities)


def test_zero_shot_reads_the_best_candidate_label(telemetry: Telemetry, instrumented: Any) -> None:
    zero_shot = build_pipeline("zero-shot-classification", nli_model())
    labels = ["good", "the movie", "john lives in paris"]  # lengths differ: so do scores
    instrumented(TransformersInstrumentor)

    answer = zero_shot(POSITIVE_TEXT, candidate_labels=labels, hypothesis_template="{}")

    assert attributes(telemetry.span("predict zero-shot-classification")) == model(
        "zero-shot-classification",
        **{
            semconv.ML_BATCH_SIZE: 1,
            semconv.ML_PREDICTION_CLASS: answer["labels"][0],
            semconv.ML_PREDICTION_CONFIDENCE: answer["scores"][0],
        },
    )
    assert answer["scores"][0] > answer["scores"][-1]


def test_embeddings_and_generated_text_record_rows_only(
    telemetry: Telemetry, instrumented: Any
) -> None:
    features = build_pipeline("feature-extraction", encoder())
    writer = build_pipeline("text-generation", generator())
    instrumented(TransformersInstrumentor)

    vectors = features([POSITIVE_TEXT, NEGATIVE_TEXT, "paris"])
    tensors = features(POSITIVE_TEXT, return_tensors=True)
    texts = writer(["good", "bad movie"], max_new_tokens=2, do_sample=False)

    assert (len(vectors), tuple(tensors.shape[:1]), len(texts)) == (3, (1,), 2)
    assert [attributes(span) for span in telemetry.spans()] == [
        model("feature-extraction", **{semconv.ML_BATCH_SIZE: 3}),
        model("feature-extraction", **{semconv.ML_BATCH_SIZE: 1}),
        model("text-generation", **{semconv.ML_BATCH_SIZE: 2}),
    ]
    assert class_counts(telemetry) == {}
    assert confidence_count(telemetry) == 0
    assert data_issues(telemetry) == {}


def test_model_name_precedence(telemetry: Telemetry, instrumented: Any) -> None:
    model_ = sentiment_model()
    model_.name_or_path = "org/tiny-sentiment"  # what from_pretrained("org/...") sets
    pipe = build_pipeline("text-classification", model_)
    instrumentor = instrumented(TransformersInstrumentor)

    pipe(POSITIVE_TEXT)
    token = current_request.set(RequestScope(model_name="from-request", model_version="5"))
    try:
        pipe(POSITIVE_TEXT)
    finally:
        current_request.reset(token)
    instrumentor.uninstrument()
    environ = {"OTEL_ML_MODEL_NAME": "from-env", "OTEL_ML_MODEL_VERSION": "1"}
    instrumented(TransformersInstrumentor, settings=Settings.load(environ=environ))
    pipe(POSITIVE_TEXT)
    instrumentor.uninstrument()
    instrumented(TransformersInstrumentor, model_name="fixed", model_version="3")
    pipe(POSITIVE_TEXT)

    assert [
        (span.attributes[semconv.ML_MODEL_NAME], span.attributes[semconv.ML_MODEL_VERSION])
        for span in telemetry.spans()
    ] == [
        ("org/tiny-sentiment", "unknown"),
        ("from-request", "5"),
        ("from-env", "1"),
        ("fixed", "3"),
    ]


def test_a_pipeline_class_defined_later_is_patched_and_its_call_is_one_span(
    telemetry: Telemetry, instrumented: Any
) -> None:
    instrumented(TransformersInstrumentor)

    class Shouting(TextClassificationPipeline):
        def __call__(self, inputs: Any, **kwargs: Any) -> Any:
            return super().__call__(inputs.lower() if isinstance(inputs, str) else inputs)

    pipe = Shouting(model=sentiment_model(), tokenizer=tokenizer())
    answer = pipe(POSITIVE_TEXT.upper())

    assert isinstance(vars(Shouting)["__call__"], PatchedCall)
    [span] = telemetry.spans()
    assert span.name == "predict text-classification"  # task of the class
    assert span.attributes[semconv.ML_PREDICTION_CLASS] == answer[0]["label"]


class Garbled(TextClassificationPipeline):
    """A custom pipeline whose answers are no ``{'label', 'score'}`` dicts."""

    def postprocess(self, model_outputs: Any, **kwargs: Any) -> Any:
        return {"label": {"nested": "dict"}, "score": "high"}


def test_garbled_answers_are_counted_never_recorded(
    telemetry: Telemetry, instrumented: Any
) -> None:
    pipe = Garbled(model=sentiment_model(), tokenizer=tokenizer())
    instrumented(TransformersInstrumentor)

    pipe([POSITIVE_TEXT, NEGATIVE_TEXT])

    assert attributes(telemetry.span("predict text-classification")) == model(
        "text-classification", **{semconv.ML_BATCH_SIZE: 2}
    )
    assert class_counts(telemetry) == {}
    assert confidence_count(telemetry) == 0
    assert data_issues(telemetry) == {(semconv.PREDICTION_FEATURE, semconv.TYPE_ISSUE): 2}


def test_errors_suppression_streams_and_wrapped_pipelines(
    telemetry: Telemetry, instrumented: Any, classifier: Any
) -> None:
    instrumented(TransformersInstrumentor)
    with pytest.raises(ValueError, match="text input must be of type") as raised:
        classifier(123)
    with suppress_instrumentation():
        classifier(POSITIVE_TEXT)
    streamed = list(classifier(text for text in [POSITIVE_TEXT]))  # left to the torch hook
    otel_ml.wrap_model(classifier, "wrapped", **telemetry.providers)(POSITIVE_TEXT)

    assert streamed[0]["label"] == "POSITIVE"
    failed, wrapped = telemetry.spans()
    assert failed.status.status_code is StatusCode.ERROR
    assert attributes(failed) == model(
        "text-classification", **{semconv.ML_BATCH_SIZE: 1, "error.type": "ValueError"}
    )
    assert failed.events[0].attributes["exception.message"] == str(raised.value)
    assert wrapped.name == "predict wrapped"


def test_uninstrument_restores_every_call_exactly(
    telemetry: Telemetry, instrumented: Any, classifier: Any
) -> None:
    base, task = vars(Pipeline)["__call__"], vars(TextClassificationPipeline)["__call__"]
    instrumentor = instrumented(TransformersInstrumentor)
    assert isinstance(vars(Pipeline)["__call__"], PatchedCall)
    assert vars(TextClassificationPipeline)["__call__"].__wrapped__ is task

    instrumentor.uninstrument()
    classifier(POSITIVE_TEXT)

    assert vars(Pipeline)["__call__"] is base
    assert vars(TextClassificationPipeline)["__call__"] is task
    assert "__init_subclass__" not in vars(Pipeline)  # new classes are no longer watched
    assert telemetry.spans() == []
