"""Price tables: list prices per model, read from the shipped ``prices.json``
and the user's overrides, and the lookup of a call's model in them.

A table is a mapping (the file's JSON)::

    {"currency": "USD", "per_tokens": 1000000, "read_on": "2025-09-30",
     "providers": {"openai": {"gpt-4o": {"input": 2.5, "cached_input": 1.25,
                                         "output": 10.0}},
                   "*": {"my-finetune": {"input": 1, "output": 2}}}}

Prices are per ``per_tokens`` tokens. ``cached_input`` (cache reads) and
``cache_write_input`` (Anthropic's cache creation) default to ``input``;
``reasoning`` defaults to ``output``: providers bill reasoning tokens as
output tokens. Provider ``"*"`` holds models of any provider; model ``"*"``
prices every model of its provider (a self-hosted server: zeros).

A model id matches an entry exactly, or by its longest entry that is a prefix
followed by a version suffix (``-2024-08-06``, ``-0613``, ``@20240620``,
``-latest``): ``gpt-4o-2024-08-06`` is ``gpt-4o``, but ``gpt-4o-mini`` is
never ``gpt-4o``. A ``vendor/`` prefix (``openai/gpt-4o``) is tried without it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["ModelPrice", "PriceError", "PriceTable", "load_prices"]

ANY = "*"
_FIELDS = ("input", "output", "cached_input", "cache_write_input", "reasoning")
_VERSION_SUFFIX = re.compile(r"[-@:](?:\d{3,}|latest)(?:$|[-@:._])", re.IGNORECASE)


class PriceError(ValueError):
    """A price table otel_ml cannot use; the message names its source and entry."""


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """Prices of one model, per token, in the table's currency."""

    input: float
    output: float
    cached_input: float
    cache_write_input: float
    reasoning: float

    def cost(self, usage: Usage) -> float:
        """The cost of a call's usage (token counts as the provider reported them)."""
        cached = min(usage.cache_read, usage.input)
        written = min(usage.cache_write, usage.input - cached)
        reasoning = min(usage.reasoning, usage.output)
        return (
            (usage.input - cached - written) * self.input
            + cached * self.cached_input
            + written * self.cache_write_input
            + (usage.output - reasoning) * self.output
            + reasoning * self.reasoning
        )


@dataclass(frozen=True, slots=True)
class Usage:
    """A call's token counts: ``input`` includes cache reads and writes,
    ``output`` includes reasoning (as OpenAI reports them)."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0


@dataclass(frozen=True)
class PriceTable:
    """Model prices per provider, in one ``currency``, as read on ``read_on``."""

    currency: str
    read_on: str
    models: Mapping[str, Mapping[str, ModelPrice]]

    def find(self, provider: str, model: str) -> ModelPrice | None:
        """The price of ``model`` served by ``provider`` (``None``: not in the table)."""
        model = model.lower()
        for name in (model, model.rsplit("/", 1)[-1]) if "/" in model else (model,):
            for table in (self.models.get(provider), self.models.get(ANY)):
                found = _match(table, name) if table else None
                if found is not None:
                    return found
        own = self.models.get(provider)
        return own.get(ANY) if own else None

    def merged(self, other: PriceTable) -> PriceTable:
        """This table with ``other``'s entries added and replacing; a table in
        another currency replaces this one whole (prices never mix currencies)."""
        if other.currency != self.currency:
            return other
        models = {p: dict(m) for p, m in self.models.items()}
        for provider, entries in other.models.items():
            models.setdefault(provider, {}).update(entries)
        return PriceTable(self.currency, other.read_on or self.read_on, models)


def _match(table: Mapping[str, ModelPrice], model: str) -> ModelPrice | None:
    found = table.get(model)
    if found is not None:
        return found
    best = ""
    for name in table:
        longer = len(name) > len(best) and model.startswith(name) and name != ANY
        if longer and _VERSION_SUFFIX.match(model, len(name)):
            best = name
    return table[best] if best else None


def _price(entry: Any, per_tokens: float, where: str) -> ModelPrice:
    if not isinstance(entry, Mapping):
        raise PriceError(f"{where}: expected an object of prices, got {entry!r}")
    unknown = set(entry) - set(_FIELDS)
    if unknown:
        raise PriceError(f"{where}: unknown field(s) {sorted(unknown)}; expected {_FIELDS}")
    for name in ("input", "output"):
        if name not in entry:
            raise PriceError(f"{where}: missing {name!r}")
    values = {}
    for name, value in entry.items():
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value < 0:
            raise PriceError(f"{where}.{name}: expected a price >= 0, got {value!r}")
        values[name] = value / per_tokens
    values.setdefault("cached_input", values["input"])
    values.setdefault("cache_write_input", values["input"])
    values.setdefault("reasoning", values["output"])
    return ModelPrice(**values)


def parse_prices(data: Any, source: str) -> PriceTable:
    """A :class:`PriceTable` from the JSON shape above; :class:`PriceError`
    names ``source`` and the entry at fault."""
    if not isinstance(data, Mapping):
        raise PriceError(f"{source}: expected a JSON object with 'providers'")
    currency = data.get("currency", "USD")
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        raise PriceError(f"{source}: 'currency' must be an ISO 4217 code, got {currency!r}")
    per_tokens = data.get("per_tokens", 1_000_000)
    if isinstance(per_tokens, bool) or not isinstance(per_tokens, int) or per_tokens < 1:
        raise PriceError(f"{source}: 'per_tokens' must be an int >= 1, got {per_tokens!r}")
    providers = data.get("providers")
    if not isinstance(providers, Mapping):
        raise PriceError(f"{source}: 'providers' must map provider names to models")
    models: dict[str, dict[str, ModelPrice]] = {}
    for provider, entries in providers.items():
        if not isinstance(entries, Mapping):
            raise PriceError(f"{source}: providers.{provider}: expected an object of models")
        models[str(provider)] = {
            str(model).lower(): _price(entry, per_tokens, f"{source}: {provider}.{model}")
            for model, entry in entries.items()
        }
    read_on = data.get("read_on", "")
    return PriceTable(currency, read_on if isinstance(read_on, str) else "", models)


def shipped_prices() -> PriceTable:
    """The list prices shipped with otel_ml (``otel_ml/genai/prices.json``)."""
    text = resources.files("otel_ml.genai").joinpath("prices.json").read_text("utf-8")
    return parse_prices(json.loads(text), "otel_ml/genai/prices.json")


def read_prices(path: str) -> PriceTable:
    """The price table in the JSON file ``path``."""
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise PriceError(f"price file {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise PriceError(f"price file {path}: not JSON ({exc})") from None
    return parse_prices(data, f"price file {path}")


def load_prices(path: str | None = None, prices: Mapping[str, Any] | None = None) -> PriceTable:
    """The shipped table, extended and overridden by the file ``path``
    (``OTEL_ML_GENAI_PRICES``), then by the mapping ``prices`` (an argument)."""
    table = shipped_prices()
    if path:
        table = table.merged(read_prices(path))
    if prices is not None:
        table = table.merged(parse_prices(prices, "prices="))
    return table
