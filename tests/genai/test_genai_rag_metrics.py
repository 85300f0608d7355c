"""The RAG metrics: documents per retrieval call and their similarity scores."""

from __future__ import annotations

from typing import Any

from support import Telemetry

from otel_ml.genai import retrieval


def test_documents_and_scores_are_histograms_with_the_call_identity(telemetry: Telemetry) -> None:
    @retrieval("products", top_k=3, **telemetry.providers)
    def search(query: str) -> list[Any]:
        return [{"id": "a", "score": 0.91}, ("b", 0.42), {"text": "no score"}]

    search("shoes")
    with retrieval("products", **telemetry.providers) as call:
        call.record_documents([])
    [(attrs, documents)] = telemetry.points("ml.retrieval.documents")
    assert attrs == {"gen_ai.operation.name": "retrieval", "gen_ai.provider.name": "_OTHER"}
    assert documents.count == 2 and documents.sum == 3
    [(_, scores)] = telemetry.points("ml.retrieval.score")
    assert scores.count == 2 and abs(scores.sum - 1.33) < 1e-9
    assert scores.bucket_counts[scores.explicit_bounds.index(0.5)] == 1  # 0.42 in (0.4, 0.5]
    metric = telemetry.metrics()["ml.retrieval.score"]
    assert metric.unit == "1"
    assert telemetry.metrics()["ml.retrieval.documents"].unit == "{document}"


def test_a_result_that_is_not_documents_records_nothing(telemetry: Telemetry) -> None:
    with retrieval("products", **telemetry.providers) as call:
        call.record_documents(42)
    assert telemetry.points("ml.retrieval.documents") == []
