"""The four LLM framework hooks under ``opentelemetry-instrument``: one span per
user call, no code change (the openai hook is on beside them)."""

from __future__ import annotations

from pathlib import Path

import pytest
from launcher import console_metrics, console_spans, run_launched

SCRIPT = """
import anthropic
import litellm
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_openai import OpenAIEmbeddings
from llama_index.core import Document as LlamaDocument, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from opentelemetry import metrics

from otel_ml.demo.llm_server import running_server

messages = [{"role": "user", "content": "hi"}]
with running_server() as url:
    with anthropic.Anthropic(base_url=url.removesuffix("/v1"), api_key="k") as client:
        list(client.messages.create(model="claude-t", max_tokens=8, messages=messages,
                                    stream=True))
    litellm.completion(model="openai/m1", api_base=url, api_key="k", messages=messages)
    store = InMemoryVectorStore(OpenAIEmbeddings(model="e1", base_url=url, api_key="k",
                                                 check_embedding_ctx_length=False))
    store.add_documents([Document("Paris is in France.")])
    store.as_retriever().invoke("Paris?")
index = VectorStoreIndex.from_documents([LlamaDocument(text="a")],
                                        embed_model=MockEmbedding(embed_dim=4))
index.as_retriever(similarity_top_k=1).retrieve("q")
metrics.get_meter_provider().force_flush()
"""


@pytest.mark.subprocess
def test_each_framework_call_is_one_span_under_the_launcher(tmp_path: Path) -> None:
    result = run_launched(tmp_path, SCRIPT, OTEL_METRICS_EXPORTER="console",
                          LITELLM_LOCAL_MODEL_COST_MAP="True")  # fmt: skip

    assert result.returncode == 0, result.stderr[-3000:]
    # the stand-in server runs in the script: its HTTP spans are the contrib hooks'
    names = sorted(s["name"] for s in console_spans(result.stdout)
                   if not s["name"].startswith(("POST ", "GET ")))  # fmt: skip
    # the SDK traces its own Anthropic call (one span), otel_ml adds the metrics
    assert names == ["anthropic.messages.create", "chat openai/m1", "embeddings e1",
                     "embeddings e1", "retrieval InMemoryVectorStore",
                     "retrieval SimpleVectorStore"]  # fmt: skip
    first_chunk = console_metrics(result.stdout)["gen_ai.client.operation.time_to_first_chunk"]
    providers = {p["attributes"]["gen_ai.provider.name"] for p in first_chunk}
    assert providers == {"anthropic"}
