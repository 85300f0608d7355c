"""The Grafana dashboard and its provisioning: valid JSON, every query valid
PromQL on contract metrics, exemplars linked to Jaeger, the version comparison."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from grafana_queries import (
    ONLY_AFTER_FAILURES,
    dashboard_queries,
    load_dashboard,
    panels,
    substitute,
    variables,
)
from promql_support import (
    REPO,
    check_exprs,
    contract_labels,
    contract_series,
    load_yaml,
    names_in,
    recorded_names,
)

PROVISIONING = REPO / "grafana" / "provisioning"
ROWS = [
    "Service health (RED, SLO)",
    "Model quality",
    "Drift",
    "LLM",
    "Model versions: canary vs stable",
    "Resources",
]


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return load_dashboard()


def row_panels(dashboard: dict[str, Any], title: str) -> list[dict[str, Any]]:
    """The panels under one (expanded) row."""
    out: list[dict[str, Any]] = []
    inside = False
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            inside = panel["title"] == title
        elif inside:
            out.append(panel)
    return out


def variable_queries(dashboard: dict[str, Any]) -> list[str]:
    """The selectors inside the ``label_values(...)`` queries of the variables."""
    out = []
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            match = re.fullmatch(r"label_values\((.+), (\w+)\)", var["query"]["query"])
            assert match, f"variable {var['name']}: {var['query']['query']}"
            out.append(match.group(1))
    return out


def test_dashboard_layout(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == "otel-ml"
    assert dashboard["schemaVersion"] >= 39
    assert [p["title"] for p in dashboard["panels"] if p["type"] == "row"] == ROWS
    assert all(not p["collapsed"] for p in dashboard["panels"] if p["type"] == "row")
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
    for title in ROWS:
        assert row_panels(dashboard, title), f"row {title!r} is empty"


def test_every_panel_queries_the_prometheus_variable(dashboard: dict[str, Any]) -> None:
    for panel in panels(dashboard):
        targets = panel["targets"]
        assert targets, f"{panel['title']}: no target"
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        ref_ids = [t["refId"] for t in targets]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in targets:
            assert target["expr"].strip(), f"{panel['title']} {target['refId']}"
            assert target["datasource"] == panel["datasource"], panel["title"]


def test_every_query_is_valid_promql(dashboard: dict[str, Any], tmp_path: Path) -> None:
    queries = dashboard_queries()
    annotations = [
        a["expr"]
        for a in dashboard["annotations"]["list"]
        if a["datasource"]["type"] == "prometheus"
    ]
    exprs = [q.expr for q in queries] + annotations + variable_queries(dashboard)

    result = check_exprs(exprs, tmp_path)

    assert result.returncode == 0, f"{result.stdout}\nqueries:\n" + "\n".join(
        f"query:{i} {e}" for i, e in enumerate(exprs)
    )
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout, result.stdout


def test_the_promql_check_rejects_invalid_queries(tmp_path: Path) -> None:
    result = check_exprs(["sum by (le) (rate(ml_inference_duration_seconds_bucket[5m])"], tmp_path)
    assert result.returncode != 0
    assert "query:0" in result.stdout, result.stdout


def test_queries_use_only_contract_metrics_and_labels(dashboard: dict[str, Any]) -> None:
    series = contract_series() | recorded_names() | {"ALERTS"}
    labels = contract_labels()
    exprs = [(q.panel, q.expr) for q in dashboard_queries()]
    exprs += [("variables", substitute(e)) for e in variable_queries(dashboard)]
    for title, expr in exprs:
        metrics, used_labels = names_in(expr)
        assert metrics, f"{title}: no metric in {expr}"
        assert metrics <= series, f"{title}: unknown metrics {metrics - series}"
        assert used_labels <= labels, f"{title}: unknown labels {used_labels - labels}"


def test_every_variable_used_is_defined(dashboard: dict[str, Any]) -> None:
    defined = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"model", "version", "stable", "canary"} <= defined
    used = {name for p in panels(dashboard) for t in p["targets"] for name in variables(t["expr"])}
    used |= {name for expr in variable_queries(dashboard) for name in variables(expr)}
    assert used - {"__rate_interval", "__interval", "__range"} <= defined
    substituted = dashboard_queries({"model": "fraud-model", "version": "3"})
    assert all("$" not in q.expr for q in substituted)
    assert any('ml_model_name=~"fraud-model"' in q.expr for q in substituted)


def test_latency_exemplars_link_to_jaeger(dashboard: dict[str, Any]) -> None:
    latency = next(p for p in panels(dashboard) if p["title"] == "Inference latency")
    assert any(t.get("exemplar") for t in latency["targets"])
    sources = {
        ds["type"]: ds
        for path in (PROVISIONING / "datasources").glob("*.yml")
        for ds in load_yaml(path)["datasources"]
    }
    prometheus, jaeger = sources["prometheus"], sources["jaeger"]
    datasource_var = next(v for v in dashboard["templating"]["list"] if v["name"] == "datasource")
    assert datasource_var["current"]["value"] == prometheus["uid"]
    links = prometheus["jsonData"]["exemplarTraceIdDestinations"]
    assert links == [
        {"name": "trace_id", "datasourceUid": jaeger["uid"], "urlDisplayLabel": "Trace in Jaeger"}
    ]


def test_dashboard_provider_loads_the_dashboards_folder() -> None:
    (path,) = (PROVISIONING / "dashboards").glob("*.yml")
    (provider,) = load_yaml(path)["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_version_comparison_row_compares_stable_and_canary(dashboard: dict[str, Any]) -> None:
    compared = row_panels(dashboard, "Model versions: canary vs stable")
    assert len(compared) >= 5
    for panel in compared:
        for target in panel["targets"]:
            assert 'ml_model_version=~"$stable|$canary"' in target["expr"], panel["title"]
            assert "ml_model_version" in target["legendFormat"], panel["title"]
    for name in ("stable", "canary"):
        var = next(v for v in dashboard["templating"]["list"] if v["name"] == name)
        assert not var["multi"] and not var["includeAll"], name


def test_dashboard_queries_cover_every_target(dashboard: dict[str, Any]) -> None:
    queries = dashboard_queries()
    assert len(queries) == sum(len(p["targets"]) for p in panels(dashboard))
    assert all("$" not in q.expr for q in queries)
    assert {(q.panel, q.ref_id) for q in queries} >= ONLY_AFTER_FAILURES
    # Panels follow the dashboard's time range: every range is $__rate_interval.
    assert {w for q in queries for w in re.findall(r"\[(\w+)\]", q.expr)} == {"5m"}


def test_the_llm_row_shows_answer_scores_by_evaluation_and_model(
    dashboard: dict[str, Any],
) -> None:
    scored = {p["title"]: p for p in row_panels(dashboard, "LLM")
              if any("ml_genai_evaluation_score" in t["expr"] for t in p["targets"])}  # fmt: skip
    assert set(scored) == {"Answer scores (mean) by evaluation and model",
                           "Low-score share (score <= 0.5) by evaluation and model"}  # fmt: skip
    for panel in scored.values():
        score = panel["targets"][0]
        assert "sum by (gen_ai_evaluation_name, gen_ai_request_model)" in score["expr"]
        assert score["legendFormat"] == "{{gen_ai_evaluation_name}} {{gen_ai_request_model}}"
    low = scored["Low-score share (score <= 0.5) by evaluation and model"]
    assert 'le="0.5"' in low["targets"][0]["expr"]  # the bound MLGenAIAnswerQualityLow counts
    assert low["targets"][1]["expr"] == "otel_ml_config:genai_low_score_share_ratio"
