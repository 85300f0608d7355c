"""Every panel query of grafana/dashboards/otel-ml.json against the live Prometheus.

After the session's traffic (:mod:`e2e_traffic`: HTTP server, inference,
drift, feedback, LLM) has been scraped, each target's expression, with the
template variables filled in as Grafana would (``$job`` pinned to the
session's app, ``$model`` and ``$version`` to the demo's model, the others on
"All", ``$__rate_interval`` reaching back to the start of the traffic), must
be valid PromQL and return at least one series with a finite value: a panel
that shows "No data" or only NaN fails, unless :data:`MAY_BE_EMPTY` says why
it may. The traffic includes failures (rejected rows, a label for an unknown
prediction), so of the targets ``rules.grafana_queries.ONLY_AFTER_FAILURES``
names, only otel_ml's own internal errors may be empty here.
"""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from e2e_support import DEADLINE_S, Stack
from e2e_traffic import Traffic
from rules.grafana_queries import ONLY_AFTER_FAILURES, DashboardQuery, dashboard_queries

from otel_ml.demo.model import MODEL_NAME, MODEL_VERSION

_NO_GPU = "no GPU here: the app's model runs on CPU, so no hw.gpu.* series exist"
_NO_CGROUP_LIMIT = "this machine sets no cgroup memory limit, so no limit series exists"
_SMALL_WINDOWS = (
    "the session's drift windows hold 10 rows, below the smallest useful window against "
    "the demo's 398 reference rows (about 80): too small to judge, so no verdict and no "
    "score; test_e2e_drift_alert.py reads both from windows of 200"
)
# (panel title, refId): why the query may return nothing in this run (on a
# machine with a GPU or a cgroup memory limit those return data, which is fine).
MAY_BE_EMPTY: dict[tuple[str, str], str] = {
    ("otel_ml internal errors", "A"): (
        "counts otel_ml's own telemetry failures: the app runs in strict mode, "
        "where one would fail the request instead"
    ),
    ("Memory: resident vs limit", "B"): _NO_CGROUP_LIMIT,
    ("Memory used of limit", "A"): _NO_CGROUP_LIMIT,
    ("Drift verdict per feature (worst replica)", "A"): _SMALL_WINDOWS,
    ("Drift verdict per feature (worst replica)", "B"): _SMALL_WINDOWS,
    ("Drift score per feature (worst replica)", "A"): _SMALL_WINDOWS,
    ("GPU busy", "A"): _NO_GPU,
    ("GPU memory used of size", "A"): _NO_GPU,
    ("GPU temperature", "A"): _NO_GPU,
    ("GPU power", "A"): _NO_GPU,
}


def _queries(traffic: Traffic) -> list[DashboardQuery]:
    """The dashboard's queries for the session's app; ``$__rate_interval`` reaches
    back to the start of its traffic, like a dashboard opened over the test run."""
    window_s = math.ceil(time.time() - traffic.started_s) + 30
    values = {
        "job": traffic.service,
        "model": MODEL_NAME,
        "version": MODEL_VERSION,
        "__rate_interval": f"{window_s}s",
    }
    return dashboard_queries(values)


def _answer(stack: Stack, query: DashboardQuery) -> dict[str, Any]:
    """Prometheus's answer (status, and result or error) to one instant query."""
    response = stack.prometheus.http.get("/api/v1/query", params={"query": query.expr})
    body: dict[str, Any] = response.json()
    return body


def _has_data(answer: dict[str, Any]) -> bool:
    if answer.get("status") != "success":
        return False
    return any(math.isfinite(float(series["value"][1])) for series in answer["data"]["result"])


def _describe(query: DashboardQuery, answer: dict[str, Any]) -> str:
    if answer.get("status") != "success":
        seen = f"{answer.get('errorType')}: {answer.get('error')}"
    else:
        seen = f"{len(answer['data']['result'])} series: {answer['data']['result'][:3]}"
    return f"- {query.panel} [{query.ref_id}]: {query.expr}\n    {seen}"


def test_the_allow_list_names_dashboard_targets() -> None:
    targets = {(q.panel, q.ref_id) for q in dashboard_queries()}
    assert set(MAY_BE_EMPTY) <= targets, set(MAY_BE_EMPTY) - targets
    # The e2e traffic drives every other failure-only series.
    assert ONLY_AFTER_FAILURES & set(MAY_BE_EMPTY) == {("otel_ml internal errors", "A")}


def test_every_dashboard_query_is_valid_and_returns_data(stack: Stack, traffic: Traffic) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        answers = [(query, _answer(stack, query)) for query in _queries(traffic)]
        invalid = [(q, a) for q, a in answers if a.get("status") != "success"]
        empty = [
            (q, a)
            for q, a in answers
            if (q.panel, q.ref_id) not in MAY_BE_EMPTY and not _has_data(a)
        ]
        if not invalid and not empty:
            break
        if time.monotonic() > deadline:
            lines = [f"{len(invalid)} invalid, {len(empty)} without data within {DEADLINE_S} s:"]
            lines += [_describe(q, a) for q, a in [*invalid, *empty]]
            pytest.fail("\n".join(lines))
        time.sleep(1.0)
    assert len(answers) > len(MAY_BE_EMPTY)
    print(
        f"{len(answers)} dashboard queries checked; may be empty and were: "
        + ", ".join(
            f"{q.panel} [{q.ref_id}]"
            for q, a in answers
            if (q.panel, q.ref_id) in MAY_BE_EMPTY and not _has_data(a)
        )
    )
