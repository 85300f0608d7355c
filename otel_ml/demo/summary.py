"""The demo's closing summary and where to look next."""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass, field

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from otel_ml.demo.alerts import AlertState
from otel_ml.demo.costs import cost_line
from otel_ml.demo.readout import Readout, answer_scores
from otel_ml.demo.traffic import TrafficStats

_MAX_SPAN_NAMES = 100


class SpanCounter(SpanProcessor):
    """Counts finished spans per name (bounded), instead of keeping them in memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Nothing to do when a span starts."""

    def on_end(self, span: ReadableSpan) -> None:
        """Count the span under its name."""
        with self._lock:
            if span.name in self.counts or len(self.counts) < _MAX_SPAN_NAMES:
                self.counts[span.name] += 1


@dataclass
class RunRecord:
    """What the summary remembers from the frames of the run."""

    accuracy_before_drift: float = math.nan
    first_drift_at: float | None = None
    drifted: dict[str, float] = field(default_factory=dict)

    def observe(self, elapsed_s: float, phase: int, readout: Readout) -> None:
        """Note one frame."""
        if phase == 0 and not math.isnan(readout.accuracy):
            self.accuracy_before_drift = readout.accuracy
        for feature in readout.drift:
            if feature.verdict != "drift":
                continue
            if self.first_drift_at is None:
                self.first_drift_at = elapsed_s
            psi = feature.scores.get("psi", 0.0)
            self.drifted[feature.feature] = max(self.drifted.get(feature.feature, 0.0), psi)


def summary_lines(
    elapsed_s: float,
    stats: TrafficStats,
    record: RunRecord,
    readout: Readout,
    alerts: list[AlertState],
    spans: Counter[str],
) -> list[str]:
    """The summary: traffic, drift, accuracy, alerts, spans."""
    with stats.lock:
        requests = sum(stats.requests.values())
        rejected = sum(n for status, n in stats.requests.items() if status >= 400)
        answers = stats.questions.get(200, 0)
        labels_sent, matched, rows = stats.labels_sent, stats.labels_matched, stats.rows
        bad_rows = stats.bad_rows_sent
    lines = [
        "Summary",
        f"  {elapsed_s:.0f} s: {requests:,} prediction requests ({rows:,} rows), {rejected:,} "
        f"rejected ({bad_rows:,} carried the NaN the demo injects); {answers:,} questions "
        f"answered by the stand-in LLM; {labels_sent:,} labels posted, {matched:,} matched",
    ]
    if record.first_drift_at is None:
        lines.append("  drift: no feature was flagged")
    else:
        worst = sorted(record.drifted.items(), key=lambda item: -item[1])[:4]
        flagged = ", ".join(f"{name} (psi up to {psi:.2f})" for name, psi in worst)
        lines.append(f"  drift flagged from {record.first_drift_at:.0f} s: {flagged}")
    lines.append(
        f"  accuracy: {_num(record.accuracy_before_drift)} before the drift, "
        f"{_num(readout.accuracy)} at the end; baseline {_num(readout.baseline)}"
    )
    fired = [f"{a.name} (at {a.first_fired_at:.0f} s)" for a in alerts if a.first_fired_at]
    pending = [a.name for a in alerts if a.state == "pending"]
    lines.append(
        f"  alerts that fired: {', '.join(fired) or 'none'}"
        + (f"; pending at the end: {', '.join(pending)}" if pending else "")
    )
    lines.append(f"  LLM cost per tenant: {cost_line(readout.tenant_costs)}")
    lines.append(f"  answer scores (mean, 0-1): {answer_scores(readout) or 'none'}")
    top = ", ".join(f"{n:,} {name!r}" for name, n in spans.most_common(8))
    lines.append(f"  spans: {top}")
    return lines


def next_steps(base_url: str, otlp_endpoint: str | None, drift_page: str | None) -> list[str]:
    """Where to look next."""
    lines = ["", "Where to look next"]
    if otlp_endpoint:
        lines.append(f"  the same telemetry went over OTLP/gRPC to {otlp_endpoint}")
    lines += [
        "  otel-ml demo --serve        keep the app up after the traffic and try it by hand:",
        f"      curl -s -X POST {base_url}/ask -H 'content-type: application/json' \\",
        '        -d \'{"question": "what is PSI?"}\'',
    ]
    if drift_page:
        lines.append(
            f"  {base_url}{drift_page}   the drift page (while the demo runs, or with --serve)"
        )
    lines += [
        "  make stack; otel-ml demo --otlp-endpoint http://127.0.0.1:4317",
        "      traces  http://127.0.0.1:16686/api/traces?service=otel-ml-demo  (Jaeger)",
        "      alerts  http://127.0.0.1:9090/alerts  (Prometheus, the same rules)",
        "  docker compose up --build   the same pipeline with Jaeger's UI and Grafana (:3000)",
        "  docs/runbook.md             what each alert means and what to do about it",
    ]
    return lines


def _num(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"
