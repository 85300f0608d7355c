"""The live terminal view: a frame redrawn in place on a terminal, plain lines otherwise."""

from __future__ import annotations

import math
import os
import re
import shutil
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from otel_ml.demo.alerts import TIME_SCALE, AlertState
from otel_ml.demo.costs import cost_line
from otel_ml.demo.readout import FeatureDrift, Readout, answer_scores
from otel_ml.demo.traffic import PHASES

TOP_FEATURES = 5
_COLORS = {"DRIFT": "31;1", "FIRING": "31;1", "warn": "33", "pending": "33", "ok": "32"}
_HIDE_CURSOR, _SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"


@dataclass(frozen=True)
class Header:
    """What the frame's first lines say."""

    model: str
    url: str
    elapsed_s: float
    duration_s: float
    phase: int
    alerts_source: str


def frame(
    header: Header, readout: Readout, alerts: Sequence[AlertState], log: str | None = None
) -> list[str]:
    """The full view as plain-text lines; ``log`` is the last otel_ml log record."""
    phase = PHASES[header.phase]
    return [
        f"otel-ml demo   {header.model} at {header.url}   "
        f"{header.elapsed_s:4.0f} s of {header.duration_s:.0f} s",
        f"phase {header.phase + 1}/{len(PHASES)}  {phase.name}: {phase.summary}",
        "",
        *_traffic_lines(readout),
        *_drift_lines(readout),
        *_llm_lines(readout),
        *_alert_lines(alerts, header.alerts_source),
        *([f"log         {log}"] if log else []),
    ]


def _traffic_lines(r: Readout) -> list[str]:
    p50, p95, p99 = r.latency_s
    high, mid, low = r.confidence_mix
    delta = (r.accuracy - r.baseline) * 100
    accuracy = (
        f"accuracy    {r.accuracy:.3f} over the last {r.accuracy_labels} labels   "
        f"baseline {r.baseline:.3f}   ({delta:+.1f} pts)"
        if not math.isnan(r.accuracy)
        else f"accuracy    waiting for labels   baseline {r.baseline:.3f}"
    )
    return [
        f"requests    {r.request_rate:6.1f}/s   errors {_pct(r.error_ratio)} (60 s)   "
        f"latency p50 {_ms(p50)}  p95 {_ms(p95)}  p99 {_ms(p99)}",
        f"confidence  >0.9 {_pct(high)}   0.6-0.9 {_pct(mid)}   <=0.6 {_pct(low)}",
        accuracy,
    ]


def _drift_lines(r: Readout) -> list[str]:
    if not r.drift:
        return ["drift       waiting for the first full window"]
    counts = {v: sum(f.verdict == v for f in r.drift) for v in ("drift", "warn", "ok")}
    size = max(f.window_size for f in r.drift)
    lines = [
        f"drift       last window of {size} values: {counts['drift']} drift, "
        f"{counts['warn']} warn, {counts['ok']} ok   (top {TOP_FEATURES})"
    ]
    lines += [f"              {_feature_line(f)}" for f in r.drift[:TOP_FEATURES]]
    issues = ", ".join(f"{n:,} {issue}" for issue, n in list(r.data_issues.items())[:2])
    lines.append(f"            data quality: {issues or 'no issues'}")
    return lines


def _feature_line(f: FeatureDrift) -> str:
    scores = "  ".join(
        f"{method} {f.scores[method]:5.2f}" if method in f.scores else " " * (len(method) + 6)
        for method in ("psi", "ks", "js")
    )
    verdict = "DRIFT" if f.verdict == "drift" else f.verdict
    return f"{f.feature[:24]:<24} {scores}   {verdict}"


def _llm_lines(r: Readout) -> list[str]:
    if not r.llm_calls:
        return ["LLM         stand-in LLM: waiting for the first answer"]
    tokens_in, tokens_out = r.tokens
    return [
        f"LLM         stand-in LLM  {r.llm_calls} answers  "
        f"TTFT p50 {_ms(r.ttft_s[0])} p95 {_ms(r.ttft_s[1])}  "
        f"tokens in {tokens_in:,} out {tokens_out:,} ({r.token_rate:.0f}/s)",
        f"LLM cost    per tenant  {cost_line(r.tenant_costs)}",
        f"answers     {answer_scores(r) or 'no score yet (judge and users)'}",
    ]


def _alert_lines(alerts: Sequence[AlertState], source: str) -> list[str]:
    shown = [a for a in alerts if a.state != "inactive"]
    lines = [
        f"alerts (evaluated in-process)  from {source}; windows and for: scaled "
        f"1 min -> {60 / TIME_SCALE:g} s"
    ]
    for alert in sorted(shown, key=lambda a: (a.state != "firing", a.name)):
        state = "FIRING" if alert.state == "firing" else alert.state
        lines.append(f"            {state:<8} {alert.name:<28} {alert.detail}")
    lines.append(f"            {len(alerts) - len(shown)} inactive")
    return lines


def status_line(header: Header, r: Readout, alerts: Sequence[AlertState]) -> str:
    """One plain line of the main numbers (no terminal)."""
    firing = [a.name for a in alerts if a.state == "firing"]
    pending = [a.name for a in alerts if a.state == "pending"]
    drifted = ", ".join(r.drifted[:3]) or "none"
    return (
        f"[{header.elapsed_s:4.0f} s {PHASES[header.phase].name:<6}] "
        f"{r.request_rate:.1f} req/s, errors {_pct(r.error_ratio)}, p95 {_ms(r.latency_s[1])} | "
        f"confidence <=0.6 {_pct(r.confidence_mix[2])} | accuracy {_num(r.accuracy)} "
        f"(baseline {_num(r.baseline)}) | drift: {drifted} | "
        f"LLM TTFT p95 {_ms(r.ttft_s[1])} | alerts firing: {', '.join(firing) or 'none'}"
        + (f", pending: {', '.join(pending)}" if pending else "")
    )


class Screen:
    """Redraws a frame in place on a terminal (ANSI cursor moves), or prints plain lines."""

    def __init__(self, out: TextIO, live: bool) -> None:
        self.out = out
        self.live = live
        self.color = live and "NO_COLOR" not in os.environ
        self._height = 0

    def draw(self, lines: list[str]) -> None:
        """Replace the previous frame with ``lines`` (terminal only), each wrapped
        to the terminal's width."""
        size = shutil.get_terminal_size((100, 40))
        width, height = max(40, size.columns - 1), max(10, size.lines - 1)
        # Wrapped here, then clipped to the height: a frame the terminal wraps or
        # scrolls itself cannot be redrawn in place.
        fitted = [part for line in lines for part in fit(line, width)]
        text = [self._paint(line) for line in fitted[:height]]
        up = f"\x1b[{self._height}F" if self._height else _HIDE_CURSOR
        self.out.write(up + "".join(f"\x1b[2K{line}\n" for line in text) + "\x1b[J")
        self.out.flush()
        self._height = len(text)

    def print(self, line: str = "") -> None:
        """A line below the frame (the frame is not redrawn over it); on a terminal,
        wrapped to its width."""
        if self.live and line:
            line = "\n".join(fit(line, max(40, shutil.get_terminal_size((100, 40)).columns - 1)))
        self.out.write(self._paint(line) + "\n")
        self.out.flush()
        self._height = 0

    def close(self) -> None:
        """Leave the terminal as it was (cursor shown)."""
        if self.live:
            self.out.write(_SHOW_CURSOR)
            self.out.flush()

    def _paint(self, line: str) -> str:
        if not self.color:
            return line
        return re.sub(
            r"\b(DRIFT|FIRING|pending|warn|ok)\b",
            lambda m: f"\x1b[{_COLORS[m.group(1)]}m{m.group(1)}\x1b[0m",
            line,
        )


def fit(line: str, width: int) -> list[str]:
    """``line`` wrapped to ``width``; continuation lines indented under the text
    after the line's label (``requests    ...``) or its own indent."""
    if len(line) <= width:
        return [line]
    label = re.match(r"\s*\S+\s{2,}", line)
    indent = " " * (label.end() if label else len(line) - len(line.lstrip()) + 2)
    return textwrap.wrap(line, width, subsequent_indent=indent, break_on_hyphens=False) or [line]


def _pct(value: float) -> str:
    return "  n/a" if math.isnan(value) else f"{value * 100:4.1f}%"


def _ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "n/a"
    ms = seconds * 1000
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"


def _num(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"
