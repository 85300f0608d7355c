"""Plain-text tables of the spans and metrics the demo produced."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any, TextIO

from opentelemetry.sdk.metrics.export import Histogram, InMemoryMetricReader, Sum
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

if TYPE_CHECKING:
    from otel_ml.demo.app import TrainedModel
    from otel_ml.demo.run import TrafficResult

_SHOWN_ATTRIBUTES = ("ml.", "http.route", "http.response.status_code", "error.type")


def print_report(
    out: TextIO,
    trained: TrainedModel,
    traffic: TrafficResult,
    spans: InMemorySpanExporter,
    metrics: InMemoryMetricReader,
) -> None:
    """Print the traffic summary, the span table, one trace and the metric table."""
    finished = list(spans.get_finished_spans())
    total = sum(traffic.statuses.values())
    statuses = ", ".join(f"{n} x {code}" for code, n in sorted(traffic.statuses.items()))
    print(f"\nModel accuracy on held-out rows: {trained.accuracy:.3f}", file=out)
    print(
        f"Sent {total} requests in {traffic.elapsed_s:.1f} s ({statuses}); "
        f"{traffic.prediction_ids} responses carried x-prediction-id.",
        file=out,
    )
    print("\nSpans", file=out)
    _table(out, ["span", "kind", "count", "errors", "p50 ms", "p99 ms"], _span_rows(finished))
    print("\nOne trace (HTTP server span -> inference span)", file=out)
    for line in _trace_lines(finished):
        print(line, file=out)
    print("\nMetrics", file=out)
    _table(out, ["metric", "type", "unit", "series", "value"], _metric_rows(metrics))


def _span_rows(spans: list[ReadableSpan]) -> list[list[str]]:
    groups: dict[tuple[str, str], list[ReadableSpan]] = defaultdict(list)
    for span in spans:
        groups[(span.name, span.kind.name)].append(span)
    rows = []
    for (name, kind), members in sorted(groups.items()):
        durations = sorted(((s.end_time or 0) - (s.start_time or 0)) / 1e6 for s in members)
        errors = sum(s.status.status_code is StatusCode.ERROR for s in members)
        rows.append([
            name, kind, str(len(members)), str(errors),
            f"{_quantile(durations, 0.5):.2f}", f"{_quantile(durations, 0.99):.2f}",
        ])  # fmt: skip
    return rows


def _trace_lines(spans: list[ReadableSpan]) -> list[str]:
    children: dict[int, list[ReadableSpan]] = defaultdict(list)
    for span in spans:
        if span.parent is not None:
            children[span.parent.span_id].append(span)
    root = next((s for s in spans if s.parent is None and children.get(s.context.span_id)), None)
    if root is None:
        return ["  (no trace with children was recorded)"]
    lines = []
    stack: list[tuple[ReadableSpan, int]] = [(root, 0)]
    while stack:
        span, depth = stack.pop()
        attrs = {
            k: v for k, v in (span.attributes or {}).items() if k.startswith(_SHOWN_ATTRIBUTES)
        }
        shown = " ".join(f"{k}={v}" for k, v in sorted(attrs.items()))
        lines.append(f"  {'  ' * depth}{span.name} [{span.kind.name}] {shown}")
        stack.extend((child, depth + 1) for child in children.get(span.context.span_id, []))
    return lines


def _metric_rows(reader: InMemoryMetricReader) -> list[list[str]]:
    data = reader.get_metrics_data()
    rows: list[list[str]] = []
    if data is None:
        return rows
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                rows.append([
                    metric.name, type(metric.data).__name__.lower(), metric.unit or "",
                    str(len(metric.data.data_points)), _metric_value(metric.data),
                ])  # fmt: skip
    return sorted(rows)


def _metric_value(data: Any) -> str:
    points = data.data_points
    if isinstance(data, Histogram):
        count = sum(p.count for p in points)
        total = sum(p.sum for p in points)
        return f"count={count} mean={total / count:.4g}" if count else "count=0"
    if isinstance(data, Sum):
        return f"total={sum(p.value for p in points):g}"
    return ", ".join(f"{p.value:g}" for p in points)


def _quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


def _table(out: TextIO, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=False)]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)), file=out)
