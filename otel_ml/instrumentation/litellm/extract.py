"""Pure readers of LiteLLM's requests: the provider it routes to and the server.

LiteLLM's responses are OpenAI-shaped (``ModelResponse``,
``ModelResponseStream``, ``EmbeddingResponse``), so they are read with the
openai hook's readers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

FALLBACK_PROVIDER = "litellm"
"""``gen_ai.provider.name`` when LiteLLM cannot resolve the model's provider
(the call then fails in LiteLLM too)."""

# LiteLLM's provider names that differ from the conventions' well-known ones.
_PROVIDERS = {
    "azure": "azure.ai.openai",
    "azure_ai": "azure.ai.inference",
    "bedrock": "aws.bedrock",
    "bedrock_converse": "aws.bedrock",
    "sagemaker": "aws.sagemaker",
    "vertex_ai": "gcp.vertex_ai",
    "vertex_ai_beta": "gcp.vertex_ai",
    "gemini": "gcp.gemini",
    "mistral": "mistral_ai",
    "xai": "x_ai",
    "watsonx": "ibm.watsonx.ai",
}
_DEFAULT_PORTS = {"https": 443, "http": 80}

Resolver = Callable[..., tuple[str, str, Any, Any]]
"""``litellm.get_llm_provider``: ``(model, provider, api_key, api_base)``."""


def route(
    resolve: Resolver, kwargs: Mapping[str, Any]
) -> tuple[str, str | None, str | None, int | None]:
    """``(provider, model, server.address, server.port)`` of a call as LiteLLM routes it."""
    model = kwargs.get("model")
    if not isinstance(model, str):
        return FALLBACK_PROVIDER, None, None, None
    api_base = kwargs.get("api_base") or kwargs.get("base_url")
    try:
        _, provider, _, base = resolve(
            model=model, custom_llm_provider=kwargs.get("custom_llm_provider"), api_base=api_base
        )
    except Exception:  # LiteLLM raises for a model it cannot place; the call will too.
        return FALLBACK_PROVIDER, model, None, None
    address, port = _server(base if isinstance(base, str) else api_base)
    return _PROVIDERS.get(provider, provider or FALLBACK_PROVIDER), model, address, port


def _server(base: Any) -> tuple[str | None, int | None]:
    if not isinstance(base, str) or "//" not in base:
        return None, None
    parts = urlsplit(base)
    return parts.hostname, parts.port or _DEFAULT_PORTS.get(parts.scheme)


def embedding_dimension(result: Any) -> int | None:
    """Dimensions of the first vector of an ``EmbeddingResponse`` (items are dicts)."""
    data = getattr(result, "data", None)
    if not isinstance(data, list) or not data:
        return None
    first = data[0]
    vector = (
        first.get("embedding") if isinstance(first, Mapping) else getattr(first, "embedding", None)
    )
    return len(vector) if isinstance(vector, list) else None


def error_kind(exc: BaseException) -> str | None:
    """``error.type`` of a LiteLLM exception as its public name (``litellm.RateLimitError``)."""
    cls = type(exc)
    if not cls.__module__.startswith("litellm"):
        return None
    import litellm

    return f"litellm.{cls.__name__}" if getattr(litellm, cls.__name__, None) is cls else None
