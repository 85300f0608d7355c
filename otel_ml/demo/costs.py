"""Cost per tenant in the demo: the stand-in LLM gets a price, the asker
speaks for a few tenants (the ``x-tenant-id`` header), and the live view and
summary read ``gen_ai.client.operation.cost`` per ``ml.genai.tenant``."""

from __future__ import annotations

import math
from typing import Any

from otel_ml.demo.metric_history import MetricHistory
from otel_ml.genai.cost import GEN_AI_CLIENT_OPERATION_COST
from otel_ml.genai.tenants import ML_GENAI_TENANT

TENANT_HEADER = "x-tenant-id"
TENANT_SOURCE = f"header:{TENANT_HEADER}"
"""``OTEL_ML_GENAI_TENANT`` of the demo's LLM hook."""
TENANTS = ("acme", "acme", "acme", "globex", "globex", "initech")
"""The asker's tenants, in turn: acme asks half the questions."""


def demo_prices(model: str) -> dict[str, Any]:
    """A price for the stand-in LLM (``model``), as a small hosted model's list price."""
    return {"providers": {"openai": {model: {"input": 0.15, "output": 0.6}}}}


def tenant_headers(n: int) -> dict[str, str]:
    """The header of the asker's ``n``-th question."""
    return {TENANT_HEADER: TENANTS[n % len(TENANTS)]}


def tenant_costs(history: MetricHistory) -> dict[str, float]:
    """Spend since start per tenant, largest first."""
    costs: dict[str, float] = {}
    for point in history.latest.points(GEN_AI_CLIENT_OPERATION_COST):
        tenant = str(point.attributes.get(ML_GENAI_TENANT, "(no tenant)"))
        costs[tenant] = costs.get(tenant, 0.0) + float(point.value)
    return dict(sorted(costs.items(), key=lambda item: -item[1]))


def cost_line(costs: dict[str, float], currency: str = "USD") -> str:
    """``"acme $0.001234, globex ..."``: the view's and the summary's cost per tenant."""
    if not costs:
        return "no priced LLM call yet"
    total = sum(costs.values())
    parts = ", ".join(f"{tenant} {amount:.6f}" for tenant, amount in costs.items())
    return f"{total:.6f} {currency}: {parts}"


def daily_spend(history: MetricHistory, window_s: float) -> float:
    """Spend over the window as an amount a day (the budget burn alerts' rate)."""
    spent = history.increase(GEN_AI_CLIENT_OPERATION_COST, window_s)
    span = history.span_s(window_s)
    return spent / span * 86400 if span > 0 else math.nan


def per_day(amount: float) -> str:
    """``"3.40/day"``."""
    return f"{amount:.2f}/day"
