"""The RAG metrics of retrieval calls: documents retrieved per call and the
distribution of their similarity scores, with the call's bounded identity
(operation, provider, data source) only.

A response's length in tokens is ``gen_ai.client.token.usage`` with
``gen_ai.token.type=output`` already; it is not recorded twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from opentelemetry.context import Context

from otel_ml._internal.cells import create_histogram
from otel_ml._internal.registry import TelemetryBundle

__all__ = ["ML_RETRIEVAL_DOCUMENTS", "ML_RETRIEVAL_SCORE", "RagInstruments"]

ML_RETRIEVAL_DOCUMENTS: Final = "ml.retrieval.documents"
"""Histogram, ``{document}``: documents one retrieval call returned."""
ML_RETRIEVAL_SCORE: Final = "ml.retrieval.score"
"""Histogram, ``1``: similarity score of each retrieved document (first 100 per call)."""

DOCUMENT_BUCKETS: Final = (0, 1, 2, 3, 5, 10, 20, 50, 100)
SCORE_BUCKETS: Final = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0)
MAX_SCORES: Final = 100
"""Scores recorded per call: a retrieval of thousands costs no more than one of a hundred."""


class RagInstruments:
    """The two RAG histograms of one telemetry bundle."""

    def __init__(self, bundle: TelemetryBundle) -> None:
        meter, provider = bundle.meter, bundle.meter_provider
        self.documents = create_histogram(
            meter, provider, ML_RETRIEVAL_DOCUMENTS, unit="{document}",
            description="Documents returned by one retrieval call.",
            boundaries=DOCUMENT_BUCKETS)  # fmt: skip
        self.scores = create_histogram(
            meter, provider, ML_RETRIEVAL_SCORE, unit="1",
            description="Similarity score of each retrieved document.",
            boundaries=SCORE_BUCKETS)  # fmt: skip

    def record(
        self, count: int, scores: Sequence[float], attrs: Mapping[str, Any], ctx: Context | None
    ) -> None:
        """One retrieval's document count and (up to :data:`MAX_SCORES`) scores."""
        self.documents.record(count, attrs, ctx)
        for score in scores[:MAX_SCORES]:
            self.scores.record(score, attrs, ctx)


def rag_instruments(bundle: TelemetryBundle) -> RagInstruments:
    """The RAG histograms of ``bundle``, built on first use."""
    return bundle.extension("rag", RagInstruments)
