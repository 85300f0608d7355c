"""The cost of a GenAI call, from its token usage and a price table.

Names follow the open GenAI cost proposal (semantic-conventions-genai PR #443),
provisional until it merges (semconv.py is at its size budget; the names live
here until that proposal lands): ``gen_ai.usage.cost.amount`` /
``.currency`` / ``.source`` on the span, the counter
``gen_ai.client.operation.cost`` in the table's currency. A model the table
does not know gets no cost, never a guess: one ``ml.genai.calls.unpriced``
count per call and one log line per model.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Mapping
from typing import Any, Final

from otel_ml import semconv
from otel_ml._internal.log_once import FirstSeen
from otel_ml._internal.registry import TelemetryBundle
from otel_ml._internal.totals import Totals
from otel_ml.genai.prices import ModelPrice, PriceError, PriceTable, Usage, load_prices

__all__ = ["CostInstruments", "Pricing"]

GEN_AI_USAGE_COST_AMOUNT: Final = "gen_ai.usage.cost.amount"
"""Provisional (PR #443): the call's cost, a double in the currency below. Span only."""
GEN_AI_USAGE_COST_CURRENCY: Final = "gen_ai.usage.cost.currency"
"""Provisional (PR #443): ISO 4217 code of the amount. Span only."""
GEN_AI_USAGE_COST_SOURCE: Final = "gen_ai.usage.cost.source"
"""Provisional (PR #443): ``local`` (computed here from a price table) or ``provider``."""
GEN_AI_CLIENT_OPERATION_COST: Final = "gen_ai.client.operation.cost"
"""Provisional (PR #443): counter of cost, unit = the price table's currency."""
ML_GENAI_CALLS_UNPRICED: Final = "ml.genai.calls.unpriced"
"""Counter of calls with usage whose model has no price (provider, models)."""

OFF: Final = "off"
"""``OTEL_ML_GENAI_PRICES=off``: no cost is computed."""

_logger = logging.getLogger("otel_ml")
_MAX_CACHED = 4096
_unpriced_logged = FirstSeen(_MAX_CACHED)


class CostInstruments:
    """The cost counters of one telemetry bundle, in one currency: summed in
    process, exported at collection (:mod:`otel_ml._internal.totals`)."""

    def __init__(self, bundle: TelemetryBundle, currency: str) -> None:
        meter = bundle.meter
        self.cost = Totals(
            meter, GEN_AI_CLIENT_OPERATION_COST, currency,
            "Cost of GenAI calls from their token usage and a price table.")  # fmt: skip
        self.unpriced = Totals(
            meter, ML_GENAI_CALLS_UNPRICED, "{call}",
            "GenAI calls with token usage whose model has no price.")  # fmt: skip


class Pricing:
    """Prices the calls of one entry point with one :class:`PriceTable`."""

    __slots__ = ("_cache", "_lock", "table")

    def __init__(self, table: PriceTable) -> None:
        self.table = table
        self._cache: dict[tuple[str, str], ModelPrice | None] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_entry_point(
        cls, path: str | None = None, prices: Mapping[str, Any] | None = None
    ) -> Pricing | None:
        """Pricing with the shipped table, the file ``path`` (``OTEL_ML_GENAI_PRICES``;
        ``off``: no pricing, ``None``) and the mapping ``prices`` (an argument:
        :class:`PriceError` when unusable).

        A file otel_ml cannot use is logged as an error naming it and its entry,
        and the shipped prices are used, as for any setting it cannot use."""
        if path == OFF:
            return None
        if prices is not None:
            return cls(load_prices(path, prices))
        return _from_file(path or "")

    def price(self, provider: str, model: str) -> ModelPrice | None:
        """The price of ``model`` of ``provider`` (looked up once, then cached)."""
        key = (provider, model)
        try:
            return self._cache[key]
        except KeyError:
            found = self.table.find(provider, model)
            with self._lock:
                if len(self._cache) < _MAX_CACHED:
                    self._cache[key] = found
            return found

    def record(
        self,
        bundle: TelemetryBundle,
        attrs: Mapping[str, Any],
        usage: Usage,
    ) -> dict[str, Any]:
        """Count the cost of a finished call with metric attributes ``attrs``;
        return its span attributes (none for a model without a price)."""
        provider = attrs.get(semconv.GEN_AI_PROVIDER_NAME) or semconv.GEN_AI_PROVIDER_OTHER
        model = attrs.get(semconv.GEN_AI_RESPONSE_MODEL) or attrs.get(semconv.GEN_AI_REQUEST_MODEL)
        price = self.price(provider, model) if model else None
        instruments = bundle.extension(f"cost.{self.table.currency}", self._instruments)
        if price is None:
            instruments.unpriced.add(1, attrs)
            _log_unpriced(provider, model or "")
            return {}
        amount = price.cost(usage)
        instruments.cost.add(amount, attrs)
        return {
            GEN_AI_USAGE_COST_AMOUNT: amount,
            GEN_AI_USAGE_COST_CURRENCY: self.table.currency,
            GEN_AI_USAGE_COST_SOURCE: "local",
        }

    def _instruments(self, bundle: TelemetryBundle) -> CostInstruments:
        return CostInstruments(bundle, self.table.currency)


@functools.lru_cache(maxsize=8)
def _from_file(path: str) -> Pricing:
    try:
        return Pricing(load_prices(path))
    except PriceError as exc:
        _logger.error("otel_ml: OTEL_ML_GENAI_PRICES: %s; using the shipped prices", exc)
        return Pricing(load_prices())


def _log_unpriced(provider: str, model: str) -> None:
    if not _unpriced_logged((provider, model)):
        return
    _logger.warning(
        "otel_ml: no price for model %r of provider %r: its calls get no cost "
        "(counted in ml.genai.calls.unpriced; add a price with OTEL_ML_GENAI_PRICES or prices=)",
        model,
        provider,
    )
