"""What the rule and dashboard tests share: promtool (and amtool), PromQL name
extraction and the Prometheus names of otel_ml's metric contract.

promtool and amtool are the ones ``python3 -m stack build`` builds from the
Prometheus and Alertmanager versions docker-compose.yml runs, never whatever
is on PATH: one version, tested.

The contract is derived from :mod:`otel_ml.semconv` with the naming rules of
the collector's Prometheus exporter (docs/metrics.md): dots become ``_``, the
units ``s``, ``By``, ``Cel`` and ``W`` add ``_seconds``, ``_bytes``, ``_celsius``
and ``_watts``, ``{curly}`` units add nothing, monotonic counters add
``_total``, gauges with unit ``1`` add ``_ratio`` (histograms do not), and
histograms are exposed as ``_bucket``/``_sum``/``_count``.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

from otel_ml import semconv
from otel_ml.genai.cost import GEN_AI_CLIENT_OPERATION_COST, ML_GENAI_CALLS_UNPRICED
from otel_ml.genai.evaluation import names as evaluation_names
from otel_ml.genai.rag import ML_RETRIEVAL_DOCUMENTS, ML_RETRIEVAL_SCORE
from otel_ml.genai.tenants import ML_GENAI_TENANT

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS = REPO / "prometheus"
RULE_FILES = (PROMETHEUS / "recording.yml", PROMETHEUS / "alerts.yml")
PROMTOOL_TIMEOUT_S = 120

# (OTel name, unit, kind) of every instrument the rules and dashboard may use.
_INSTRUMENTS: tuple[tuple[str, str, str], ...] = (
    (semconv.ML_INFERENCE_DURATION, "s", "histogram"),
    (semconv.ML_INFERENCE_ACTIVE, "{request}", "gauge"),  # up-down counter: a gauge
    (semconv.ML_PREDICTION_CONFIDENCE_METRIC, "1", "histogram"),
    (semconv.ML_PREDICTIONS, "{prediction}", "counter"),
    (semconv.ML_DATA_QUALITY_ISSUES, "{issue}", "counter"),
    (semconv.OTEL_ML_INTERNAL_ERRORS, "{error}", "counter"),
    (semconv.ML_DRIFT_SCORE, "1", "gauge"),
    (semconv.ML_DRIFT_STATUS, "", "gauge"),
    (semconv.ML_DRIFT_MISSING_STATUS, "", "gauge"),
    (semconv.ML_DRIFT_WINDOW_SIZE, "{value}", "gauge"),
    (semconv.ML_DRIFT_BIN_COUNT, "{value}", "counter"),
    (semconv.ML_DRIFT_REFERENCE_FRACTION, "1", "gauge"),
    (semconv.ML_FEEDBACK_OUTCOMES, "{label}", "counter"),
    (semconv.ML_FEEDBACK_UNMATCHED, "{label}", "counter"),
    (semconv.ML_FEEDBACK_ERROR, "", "histogram"),
    (semconv.ML_FEEDBACK_DELAY, "s", "histogram"),
    (semconv.ML_FEEDBACK_ACCURACY, "1", "gauge"),
    (semconv.ML_FEEDBACK_PRECISION, "1", "gauge"),
    (semconv.ML_FEEDBACK_RECALL, "1", "gauge"),
    (semconv.ML_FEEDBACK_MAE, "", "gauge"),
    (semconv.ML_FEEDBACK_WINDOW_SIZE, "{label}", "gauge"),
    (semconv.ML_FEEDBACK_BASELINE, "1", "gauge"),
    (semconv.GEN_AI_CLIENT_OPERATION_DURATION, "s", "histogram"),
    (semconv.GEN_AI_CLIENT_TOKEN_USAGE, "{token}", "histogram"),
    (semconv.GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK, "s", "histogram"),
    (semconv.GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK, "s", "histogram"),
    (semconv.GEN_AI_SERVER_REQUEST_DURATION, "s", "histogram"),
    (semconv.GEN_AI_SERVER_TIME_TO_FIRST_TOKEN, "s", "histogram"),
    (semconv.GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN, "s", "histogram"),
    # From the FastAPI instrumentation (stable HTTP semconv, which otel_ml opts into).
    ("http.server.request.duration", "s", "histogram"),
    # otel_ml.resources, up-down counters as gauges. Most process.* and the
    # cpython.* instruments are built by opentelemetry-instrumentation-system-metrics:
    # these are its units.
    (semconv.PROCESS_CPU_TIME, "s", "counter"),
    (semconv.PROCESS_CPU_UTILIZATION, "1", "gauge"),
    (semconv.PROCESS_MEMORY_USAGE, "By", "gauge"),
    (semconv.PROCESS_MEMORY_VIRTUAL, "By", "gauge"),
    (semconv.PROCESS_THREAD_COUNT, "", "gauge"),
    (semconv.PROCESS_UNIX_FILE_DESCRIPTOR_COUNT, "{file_descriptor}", "gauge"),
    (semconv.OTEL_ML_CGROUP_MEMORY_LIMIT, "By", "gauge"),
    (semconv.CPYTHON_GC_COLLECTIONS, "{collection}", "counter"),
    (semconv.HW_GPU_UTILIZATION, "1", "gauge"),
    (semconv.HW_GPU_MEMORY_USAGE, "By", "gauge"),
    (semconv.HW_GPU_MEMORY_LIMIT, "By", "gauge"),
    (semconv.HW_GPU_MEMORY_UTILIZATION, "1", "gauge"),
    (semconv.HW_TEMPERATURE, "Cel", "gauge"),
    (semconv.HW_POWER, "W", "gauge"),
    (semconv.ML_MODEL_INFO, "", "gauge"),
    (semconv.ML_MODEL_LOAD_DURATION, "s", "histogram"),
    # LLM cost (provisional names, otel_ml/genai/cost.py) in the shipped table's currency,
    # and the RAG histograms.
    (GEN_AI_CLIENT_OPERATION_COST, "USD", "counter"),
    (ML_GENAI_CALLS_UNPRICED, "{call}", "counter"),
    (ML_RETRIEVAL_DOCUMENTS, "{document}", "histogram"),
    (ML_RETRIEVAL_SCORE, "1", "histogram"),
    (evaluation_names.ML_GENAI_EVALUATION_SCORE, "1", "histogram"),
    (evaluation_names.ML_GENAI_EVALUATION_DROPPED, "{call}", "counter"),
    (evaluation_names.ML_GENAI_EVALUATION_ERRORS, "{evaluation}", "counter"),
)
# The exporter's unit suffixes for the units above (otlptranslator's unit map).
_UNIT_SUFFIXES = {"s": "seconds", "By": "bytes", "Cel": "celsius", "W": "watts", "USD": "USD"}
# Labels Prometheus adds: replica identity, buckets, and the ALERTS series.
_EXTRA_LABELS = frozenset({"job", "instance", "le", "alertname", "alertstate",
                           ML_GENAI_TENANT.replace(".", "_")})  # fmt: skip
_HTTP_LABELS = frozenset({"http_request_method", "http_route", "http_response_status_code"})
# cpython.gc.collections' attribute, set by the system-metrics instrumentation.
_SYSTEM_METRICS_LABELS = frozenset({"cpython_gc_generation"})
_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right",
                       "and", "or", "unless", "offset", "bool", "inf", "nan"})  # fmt: skip
_CLAUSE = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_MATCHERS = re.compile(r"\{([^}]*)\}")
_MATCHER_LABEL = re.compile(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_IDENTIFIER = re.compile(r"(?<![\w.:])[A-Za-z_:][\w:]*")


def prometheus_name(name: str, unit: str, kind: str) -> str:
    """The exporter's name for an instrument (before histogram suffixes)."""
    tokens = [name.replace(".", "_")]
    if unit in _UNIT_SUFFIXES:
        tokens.append(_UNIT_SUFFIXES[unit])
    if kind == "counter":
        tokens.append("total")
    if kind == "gauge" and unit == "1":
        tokens.append("ratio")
    return "_".join(tokens)


def contract_series() -> frozenset[str]:
    """Every series name otel_ml's instruments appear as in Prometheus."""
    names: set[str] = set()
    for name, unit, kind in _INSTRUMENTS:
        base = prometheus_name(name, unit, kind)
        suffixes = ("_bucket", "_sum", "_count") if kind == "histogram" else ("",)
        names.update(base + suffix for suffix in suffixes)
    return frozenset(names)


def contract_labels() -> frozenset[str]:
    """Every label otel_ml's metric attributes become, plus Prometheus' own."""
    attributes = {
        value.replace(".", "_")
        for module in (semconv, evaluation_names)
        for key, value in vars(module).items()
        if key.isupper() and isinstance(value, str) and "." in value
    }
    extra = _EXTRA_LABELS | _HTTP_LABELS | _SYSTEM_METRICS_LABELS
    return frozenset(attributes | {semconv.COMPONENT} | extra)


def names_in(expr: str) -> tuple[set[str], set[str]]:
    """``(metric names, label names)`` a PromQL expression refers to.

    A lexical scan, enough for the expressions in this repository: strings,
    label matchers, ranges and grouping clauses are taken out first, and what
    remains that is neither a function, a keyword nor a number is a metric.
    """
    text = _STRING.sub('""', expr)
    labels: set[str] = set()
    for clause in _CLAUSE.findall(text):
        labels.update(n.strip() for n in clause.split(",") if n.strip())
    for matchers in _MATCHERS.findall(text):
        labels.update(_MATCHER_LABEL.findall(matchers))
    text = _CLAUSE.sub(" ", text)
    text = _MATCHERS.sub(" ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    metrics = {
        m.group()
        for m in _IDENTIFIER.finditer(text)
        if m.group().lower() not in _KEYWORDS and not text[m.end() :].lstrip().startswith("(")
    }
    return metrics, labels


def load_yaml(path: Path) -> Any:
    """A YAML file's content."""
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def rules(path: Path) -> list[dict[str, Any]]:
    """The rules of a Prometheus rule file, across its groups."""
    return [rule for group in load_yaml(path)["groups"] for rule in group["rules"]]


def recorded_names() -> frozenset[str]:
    """Series the recording rules produce."""
    return frozenset(r["record"] for r in rules(PROMETHEUS / "recording.yml"))


def stack_binary(name: str) -> Path:
    """``name`` ("promtool", "amtool") as the stack build made it; fails under CI
    and skips elsewhere when it is missing."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    path: Path = getattr(importlib.import_module("stack").Paths.from_env(), name)
    if not path.exists():
        reason = f"{name} is not built ({path}): `python3 -m stack build` builds it"
        if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
            pytest.fail(f"{reason}; CI builds the stack before the tests")
        pytest.skip(reason)
    return path


def run_tool(
    name: str, *args: str | Path, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a stack binary with a bounded timeout; stdout and stderr together."""
    return subprocess.run(
        [str(stack_binary(name)), *map(str, args)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=PROMTOOL_TIMEOUT_S,
        check=False,
    )


def run_promtool(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the stack's promtool with a bounded timeout; stdout and stderr together."""
    return run_tool("promtool", *args, cwd=cwd)


def check_exprs(exprs: Iterable[str], workdir: Path) -> subprocess.CompletedProcess[str]:
    """Parse PromQL expressions with ``promtool check rules``: each becomes
    the recording rule ``query:<index>`` of one temporary rule file."""
    rule_list = [{"record": f"query:{i}", "expr": e} for i, e in enumerate(exprs)]
    path = workdir / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "queries", "rules": rule_list}]}))
    return run_promtool("check", "rules", path)
