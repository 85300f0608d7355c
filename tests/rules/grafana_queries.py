"""The PromQL queries of the Grafana dashboard, with template variables filled in.

Shared by tests/rules/test_dashboard.py (every query parses) and the
end-to-end tests (every query returns data from the live Prometheus)::

    from rules.grafana_queries import dashboard_queries

    for query in dashboard_queries({"model": "demo-model"}):
        ...  # GET /api/v1/query?query=<query.expr>
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

DASHBOARD = Path(__file__).resolve().parents[2] / "grafana" / "dashboards" / "otel-ml.json"

# Grafana's built-in variables; 5m is a forgiving $__rate_interval (two samples suffice).
BUILTINS: Mapping[str, str] = {
    "__rate_interval": "5m",
    "__interval": "15s",
    "__range": "1h",
}
# (panel, refId) of targets whose series exist only once something failed:
# a healthy run returns no data for them.
ONLY_AFTER_FAILURES: frozenset[tuple[str, str]] = frozenset({
    ("Errors by type", "A"),
    ("otel_ml internal errors", "A"),
    ("Labels received", "B"),  # unmatched labels
})  # fmt: skip
_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)(?::\w+)?\}")


class DashboardQuery(NamedTuple):
    """One target of one panel."""

    panel: str
    ref_id: str
    expr: str


def load_dashboard(path: Path = DASHBOARD) -> dict[str, Any]:
    """The dashboard JSON."""
    with path.open(encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel that is not a row, including those inside collapsed rows."""
    for panel in dashboard["panels"]:
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def variables(expr: str) -> set[str]:
    """Names of the template variables an expression uses (``$x`` or ``${x}``)."""
    return {a or b for a, b in _VARIABLE.findall(expr)}


def substitute(expr: str, values: Mapping[str, str] | None = None) -> str:
    """Fill in template variables: ``values`` first, then Grafana's built-ins,
    and ``.*`` (the dashboard's "All") for any other variable; every dashboard
    variable is used in a regex matcher (``=~"$x"``)."""
    known = {**BUILTINS, **(values or {})}
    return _VARIABLE.sub(lambda m: known.get(m.group(1) or m.group(2), ".*"), expr)


def dashboard_queries(
    values: Mapping[str, str] | None = None, path: Path = DASHBOARD
) -> list[DashboardQuery]:
    """Every panel target's expression with its variables filled in (see
    :func:`substitute`): e.g. ``{"model": "demo-model"}`` pins one model."""
    return [
        DashboardQuery(panel["title"], target["refId"], substitute(target["expr"], values))
        for panel in panels(load_dashboard(path))
        for target in panel.get("targets", [])
    ]
