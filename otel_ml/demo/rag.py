"""The demo's RAG endpoint: embed the question, retrieve notes, stream an answer.

Embeddings come from a deterministic hashing embedder (no model download),
retrieval is a numpy dot product over the bundled notes
(:mod:`otel_ml.demo.documents`), and the answer is a streamed chat completion
through the real ``openai`` client from the demo's stand-in LLM
(:mod:`otel_ml.demo.llm_server`), which quotes the best passage of the prompt.
Each step is a GenAI span: ``embeddings``, ``retrieval``, ``chat``.
"""

from __future__ import annotations

import re
import zlib
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from opentelemetry import metrics, trace

import otel_ml
from otel_ml.demo.documents import DOCUMENTS, Document
from otel_ml.demo.llm_server import Reply

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

LLM_MODEL = "stand-in-llm"
EMBEDDING_MODEL = "hashing-embedder"
DATA_SOURCE = "demo-notes"
DIMENSIONS = 256
TOP_K = 3
Vectors = npt.NDArray[np.float64]


def hash_embed(texts: list[str]) -> Vectors:
    """Bag-of-words vectors: each lower-cased word adds 1 to a crc32-chosen slot; L2 norm 1."""
    vectors = np.zeros((len(texts), DIMENSIONS))
    for row, text in enumerate(texts):
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            vectors[row, zlib.crc32(word.encode()) % DIMENSIONS] += 1.0
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


class KnowledgeBase:
    """The notes and their vectors; :meth:`search` ranks them by cosine similarity."""

    def __init__(self, documents: tuple[Document, ...] = DOCUMENTS) -> None:
        self.documents = documents
        self.vectors = hash_embed([f"{d.title}. {d.text}" for d in documents])

    def search(self, vector: Vectors, top_k: int = TOP_K) -> list[dict[str, Any]]:
        """The ``top_k`` closest notes, best first, with their scores."""
        scores = self.vectors @ vector
        best = np.argsort(-scores, kind="stable")[:top_k]
        return [
            {"id": self.documents[i].id, "title": self.documents[i].title,
             "text": self.documents[i].text, "score": round(float(scores[i]), 4)}
            for i in best
        ]  # fmt: skip


def messages(question: str, hits: list[dict[str, Any]]) -> list[ChatCompletionMessageParam]:
    """The chat prompt: numbered context passages, then the question."""
    context = "\n".join(f"[{i}] {h['title']}: {h['text']}" for i, h in enumerate(hits, 1))
    return [
        {"role": "system", "content": "Answer from the numbered context only; cite it."},
        {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {question}"},
    ]


def stand_in_reply(body: dict[str, Any]) -> Reply:
    """How the stand-in LLM answers: it quotes context passage [1], word by word,
    after a pause that grows with the prompt, like a small local model."""
    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages") or [])
    found = re.search(r"^\[1\] (.+?): (.+)$", prompt, re.MULTILINE)
    answer = (
        f'According to "{found.group(1)}" [1]: {found.group(2)}'
        if found
        else "The context is empty, so I cannot answer."
    )
    prompt_tokens = len(prompt.split())
    jitter = (zlib.crc32(prompt.encode()) % 50) / 1000
    return Reply(
        [f"{word} " for word in answer.split()],
        prompt_tokens=prompt_tokens,
        first_delay=0.03 + prompt_tokens / 5000 + jitter,
        delay=0.003,
    )


class RagService:
    """Answers questions; the ``openai`` client must be instrumented by the caller."""

    def __init__(
        self,
        llm_base_url: str,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        import openai

        self.knowledge = KnowledgeBase()
        self._providers: dict[str, Any] = {
            "tracer_provider": tracer_provider,
            "meter_provider": meter_provider,
        }
        self._embed = otel_ml.embedding(EMBEDDING_MODEL, **self._providers)(hash_embed)
        self._client = openai.AsyncOpenAI(
            base_url=llm_base_url, api_key="stand-in", max_retries=0, timeout=10.0
        )

    async def answer(self, question: str) -> dict[str, Any]:
        """Embed, retrieve, stream the answer; the answer text and its sources."""
        vector = self._embed([question])[0]
        with otel_ml.retrieval(DATA_SOURCE, top_k=TOP_K, **self._providers) as call:
            hits = self.knowledge.search(vector)
            call.record_documents(hits)
        stream = await self._client.chat.completions.create(
            model=LLM_MODEL,
            messages=messages(question, hits),
            stream=True,
            stream_options={"include_usage": True},
        )
        parts = []
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
        return {"answer": "".join(parts).strip(), "sources": [h["id"] for h in hits]}

    async def close(self) -> None:
        """Close the ``openai`` client's connections."""
        await self._client.close()
