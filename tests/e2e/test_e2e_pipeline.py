"""The one-line integration through a real Collector into Jaeger and Prometheus.

One app process (``otel_ml.configure()`` + ``otel_ml.instrument(app, ...,
reference=..., feedback_route=...)``) gets a known mix of traffic and labels
(the session's ``traffic`` fixture, :mod:`e2e_traffic`), then stops (flushing
everything); the tests read the backends' APIs.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from e2e_support import (
    Stack,
    app_process,
    expect_sums,
    otel_environment,
    poll,
    server_span_above,
    spans_named,
    tags,
    unique_service,
)
from e2e_traffic import LABELS_PER_ROUND, ROUNDS, Prediction, Traffic

from otel_ml.demo.model import MODEL_NAME, MODEL_VERSION, SITE, train

INFERENCE_SPAN = f"predict_proba {MODEL_NAME}"
FEEDBACK_SPAN = f"feedback {MODEL_NAME}"


def _prediction_trace(stack: Stack, traffic: Traffic, prediction: Prediction) -> dict[str, Any]:
    """The trace of the request that made ``prediction`` (its feedback is in another)."""

    def predictions() -> list[dict[str, Any]]:
        query = {"tags": {"ml.prediction.id": prediction.prediction_id}}
        found = stack.jaeger.traces(traffic.service, operation=INFERENCE_SPAN, **query)
        return [t for t in found if len(t["spans"]) >= 2]

    found = poll(predictions, lambda t: len(t) > 0, f"Jaeger trace of {prediction}")
    assert len(found) == 1, found
    return found[0]


def test_jaeger_shows_the_http_span_with_the_inference_span_inside(
    stack: Stack, traffic: Traffic
) -> None:
    assert traffic.service in stack.jaeger.services()
    for prediction in (traffic.predictions[0], traffic.predictions[-1]):  # first and last round
        trace = _prediction_trace(stack, traffic, prediction)
        (server,) = [s for s in trace["spans"] if tags(s).get("span.kind") == "server"]
        (inference,) = spans_named(trace, INFERENCE_SPAN)
        assert server["operationName"] == "POST /predict"
        assert server_span_above(trace, inference) is server
        attributes = tags(inference)
        assert attributes["ml.model.name"] == MODEL_NAME
        assert attributes["ml.model.version"] == MODEL_VERSION
        assert attributes["ml.operation.name"] == "predict_proba"
        assert attributes["ml.batch.size"] == 1
        assert attributes["ml.prediction.id"] == prediction.prediction_id
        assert attributes["ml.prediction.class"] == prediction.label
        assert attributes["ml.prediction.confidence"] == pytest.approx(
            prediction.confidence, abs=1e-4
        )
        assert "error" not in attributes
        assert tags(server)["ml.prediction.id"] == prediction.prediction_id
        process = trace["processes"][inference["processID"]]
        assert process["serviceName"] == traffic.service


def test_jaeger_shows_a_failed_inference_as_an_error(stack: Stack, traffic: Traffic) -> None:
    found = poll(
        lambda: stack.jaeger.traces(traffic.service, tags={"error.type": "ValueError"}),
        lambda t: len(t) == traffic.rejected,
        "Jaeger traces of the rejected requests",
    )
    for trace in found:
        (inference,) = spans_named(trace, INFERENCE_SPAN)
        attributes = tags(inference)
        assert attributes["otel.status_code"] == "ERROR"
        assert attributes["error"] is True
        assert attributes["error.type"] == "ValueError"
        assert "ml.prediction.confidence" not in attributes
        assert [log["fields"][0]["value"] for log in inference["logs"]] == ["exception"]


def _feedback_trace(stack: Stack, traffic: Traffic, prediction: Prediction) -> dict[str, Any]:
    query = {"operation": FEEDBACK_SPAN, "tags": {"ml.prediction.id": prediction.prediction_id}}
    found = poll(
        lambda: stack.jaeger.traces(traffic.service, **query),
        lambda t: len(t) == 1,
        f"Jaeger feedback span of prediction {prediction.prediction_id}",
    )
    return found[0]


def test_jaeger_links_each_feedback_span_to_its_prediction(stack: Stack, traffic: Traffic) -> None:
    labelled = [p for p in traffic.predictions if p.outcome is not None]
    for prediction in (labelled[0], labelled[-1]):  # a correct and a wrong one, both rounds
        trace = _prediction_trace(stack, traffic, prediction)
        (inference,) = spans_named(trace, INFERENCE_SPAN)
        feedback_trace = _feedback_trace(stack, traffic, prediction)
        # One POST /feedback carried a round's labels: one trace, a feedback span per label.
        assert len(spans_named(feedback_trace, FEEDBACK_SPAN)) == LABELS_PER_ROUND
        (feedback,) = [
            span
            for span in spans_named(feedback_trace, FEEDBACK_SPAN)
            if tags(span)["ml.prediction.id"] == prediction.prediction_id
        ]
        assert {
            "refType": "FOLLOWS_FROM",
            "traceID": trace["traceID"],
            "spanID": inference["spanID"],
        } in feedback["references"]
        attributes = tags(feedback)
        assert attributes["ml.model.name"] == MODEL_NAME
        assert attributes["ml.feedback.outcome"] == prediction.outcome
        assert attributes["ml.feedback.delay"] >= 0


MODEL_LABELS = ("ml_model_name", "ml_model_version")


def test_prometheus_counts_match_the_traffic(stack: Stack, traffic: Traffic) -> None:
    ok, rejected = len(traffic.predictions), traffic.rejected
    labelled = sum(traffic.outcomes.values())
    job = f'job="{traffic.service}"'
    expectations: list[tuple[str, tuple[str, ...], dict[tuple[str, ...], float]]] = [
        (f"ml_inference_duration_seconds_count{{{job}}}", ("ml_operation_name", "error_type"),
         {("predict_proba", ""): ok, ("predict_proba", "ValueError"): rejected}),
        (f'ml_inference_duration_seconds_bucket{{{job}, le="+Inf"}}', (), {(): ok + rejected}),
        (f"ml_predictions_total{{{job}}}", ("ml_prediction_class",),
         {(c,): n for c, n in Counter(p.label for p in traffic.predictions).items()}),
        (f"ml_prediction_confidence_count{{{job}}}", (), {(): ok}),
        (f"ml_feedback_outcomes_total{{{job}}}", ("ml_feedback_outcome",),
         {(o,): n for o, n in traffic.outcomes.items()}),
        (f"ml_feedback_delay_seconds_count{{{job}}}", (), {(): labelled}),
        (f"ml_feedback_accuracy_ratio{{{job}}}", (), {(): traffic.outcomes["correct"] / labelled}),
        (f"ml_feedback_unmatched_total{{{job}}}", ("ml_feedback_unmatched_reason",),
         {("unknown",): traffic.unmatched}),
        (f'ml_data_quality_issues_total{{{job}, ml_feature_name="{SITE}"}}', ("ml_data_issue",),
         {("unseen_category",): ROUNDS}),
        (f"ml_model_load_duration_seconds_count{{{job}}}", (), {(): 1}),
    ]  # fmt: skip
    for selector, by, expected in expectations:
        want = {(MODEL_NAME, MODEL_VERSION, *key): value for key, value in expected.items()}
        expect_sums(stack.prometheus, selector, (*MODEL_LABELS, *by), want)


def test_prometheus_series_carry_the_service_identity(stack: Stack, traffic: Traffic) -> None:
    found = poll(
        lambda: stack.prometheus.query(f'target_info{{job="{traffic.service}"}}'),
        lambda r: len(r) == 1,
        "target_info of the app",
    )
    labels = found[0][0]
    durations = stack.prometheus.query(
        f'ml_inference_duration_seconds_count{{job="{traffic.service}"}}'
    )
    # instance is service.instance.id (one per process), the same on every series.
    assert {m["instance"] for m, _ in durations} == {labels["instance"]}
    assert labels["telemetry_sdk_language"] == "python"


def test_a_duration_exemplar_leads_to_its_trace_in_jaeger(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The SDK attaches exemplars to the export after the measurement only, and
    # the exporter serves the latest export: exemplars reach a scrape while
    # traffic flows. So this app gets a request per poll until one arrives.
    service = unique_service("otel-ml-e2e-exemplar")
    row = train().rows[0]
    log = Path(tmp_path_factory.mktemp("exemplar-app")) / "app.log"
    selector = f'ml_inference_duration_seconds_bucket{{job="{service}"}}'
    with app_process("one-line", otel_environment(service), log) as client:

        def exemplars() -> list[dict[str, Any]]:
            assert client.post("/predict", json={"rows": [row]}).status_code == 200
            return stack.prometheus.exemplars(selector)

        found = poll(exemplars, lambda e: len(e) > 0, f"an exemplar on {selector}")
    exemplar = found[0]
    assert exemplar["series"]["ml_model_name"] == MODEL_NAME
    assert exemplar["series"]["ml_operation_name"] == "predict_proba"
    trace_id, span_id = exemplar["labels"]["trace_id"], exemplar["labels"]["span_id"]
    trace = poll(
        lambda: stack.jaeger.trace(trace_id),
        lambda t: t is not None,
        f"Jaeger trace {trace_id} of the exemplar",
    )
    assert trace is not None
    (inference,) = spans_named(trace, INFERENCE_SPAN)
    assert inference["spanID"] == span_id
    assert trace["processes"][inference["processID"]]["serviceName"] == service
