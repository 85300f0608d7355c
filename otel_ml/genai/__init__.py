"""GenAI telemetry (OpenTelemetry GenAI semantic conventions): LLM,
embedding and retrieval calls of any client, streaming timing, and the
server-side metrics of apps that generate tokens themselves."""

from otel_ml.genai.api import GenAICall, GenAIScope, embedding, llm, retrieval
from otel_ml.genai.invocation import GenAIInvocation
from otel_ml.genai.server import generation, serve

__all__ = [
    "GenAICall",
    "GenAIInvocation",
    "GenAIScope",
    "embedding",
    "generation",
    "llm",
    "retrieval",
    "serve",
]
