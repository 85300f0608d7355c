"""Tiny transformers models and PyTorch modules, built offline.

No download and no hub: a word-level BERT vocabulary written to a temporary
folder, and models built from small configs with weights drawn from a fixed
seed. Real transformers classes and pipelines all the way through; only the
weights are random, so tests compare what otel_ml records with what the same
model returns when called bare.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing here may reach the network

import torch
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
    BertTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    pipeline,
)

WORDS = ["good", "bad", "movie", "the", "is", "great", "awful", "john", "lives", "in", "paris"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
SENTIMENT = {0: "NEGATIVE", 1: "POSITIVE"}
ENTITIES = {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC"}
NLI = {0: "entailment", 1: "neutral", 2: "contradiction"}


@functools.cache
def _vocabulary() -> Path:
    folder = tempfile.mkdtemp(prefix="otel-ml-vocab-")
    atexit.register(shutil.rmtree, folder, True)
    vocab = Path(folder) / "vocab.txt"
    vocab.write_text("\n".join(SPECIAL + WORDS) + "\n", encoding="utf-8")
    return vocab


def tokenizer() -> BertTokenizer:
    """A BERT word-piece tokenizer over :data:`WORDS` (one token per word); a new
    one each time, since pipelines change theirs (text generation pads left)."""
    return BertTokenizer(vocab_file=str(_vocabulary()))


def bert_config(labels: dict[int, str] | None = None) -> BertConfig:
    """A one-layer BERT with 16 hidden units; ``labels`` names its classes."""
    extra: dict[str, Any] = {}
    if labels is not None:
        extra = {"id2label": labels, "label2id": {v: k for k, v in labels.items()}}
    return BertConfig(
        vocab_size=len(SPECIAL) + len(WORDS),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
        initializer_range=0.5,  # weights large enough that different texts score differently
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        **extra,
    )


POSITIVE_TEXT = "good movie"
NEGATIVE_TEXT = "the movie is good"


def _seeded(build: Any, *args: Any) -> Any:
    torch.manual_seed(1)
    return build(*args).eval()


def sentiment_model() -> BertForSequenceClassification:
    """Two classes; the classifier's bias puts the decision boundary between
    :data:`POSITIVE_TEXT` and :data:`NEGATIVE_TEXT` (random weights have no
    opinion), so a batch of both has two classes."""
    model = _seeded(BertForSequenceClassification, bert_config(SENTIMENT))
    encoded = tokenizer()([POSITIVE_TEXT, NEGATIVE_TEXT], return_tensors="pt", padding=True)
    # In training mode, which the PyTorch hook leaves alone: without dropout the
    # logits are the eval ones, and building the model makes no span.
    with torch.no_grad():
        logits = model.train()(**encoded).logits
        margins = logits[:, 1] - logits[:, 0]
        model.classifier.bias[1] -= margins.mean()
    return model.eval()


def ner_model() -> BertForTokenClassification:
    return _seeded(BertForTokenClassification, bert_config(ENTITIES))


def nli_model() -> BertForSequenceClassification:
    return _seeded(BertForSequenceClassification, bert_config(NLI))


def encoder() -> BertModel:
    return _seeded(BertModel, bert_config())


def generator() -> GPT2LMHeadModel:
    config = GPT2Config(
        vocab_size=len(SPECIAL) + len(WORDS),
        n_embd=16,
        n_layer=1,
        n_head=2,
        n_positions=32,
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=3,
    )
    return _seeded(GPT2LMHeadModel, config)


def build_pipeline(task: str, model: Any, **kwargs: Any) -> Any:
    """``transformers.pipeline(task, ...)`` on a tiny model with the tiny tokenizer."""
    return pipeline(task, model=model, tokenizer=tokenizer(), **kwargs)


def nested_module(depth: int = 3) -> torch.nn.Module:
    """A classifier of 4 features into 3 classes with ``depth`` hidden blocks,
    each a module of its own (Sequential, Linear, ReLU): nested calls."""
    torch.manual_seed(0)
    blocks = [torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU()) for _ in range(depth)]
    return torch.nn.Sequential(*blocks, torch.nn.Linear(4, 3)).eval()
