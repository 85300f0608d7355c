"""The drift page as one self-contained HTML document, rendered from its JSON twin.

No script, no external stylesheet, font or image: the styles are inline and
the charts are inline SVG, so the page works offline, from a file and under a
``default-src 'none'`` Content-Security-Policy. Every string that comes from
data (model, feature, bin and category names, metadata) is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any, Final

from otel_ml.report.chart import REFERENCE_COLOR, WINDOW_COLORS, distribution_chart
from otel_ml.report.data import Doc

_SEVERITY: Final = {"drift": 0, "warn": 1, "ok": 2, "too_small": 3, None: 4}
_BADGES: Final = {"drift": "drift", "warn": "warn", "ok": "ok", None: "not scored",
                   "too_small": "too small"}  # fmt: skip
_TESTS: Final = {"ks": "KS", "chi2": "χ²", "missing": "missing share"}


def render_page(doc: Doc) -> str:
    """The HTML page of a :func:`~otel_ml.report.data.page_document`."""
    title = escape(doc["title"])
    body = [f"<header><h1>{title}</h1>"]
    body.append(f'<p class="meta">Generated {escape(doc["generated_at"])} by otel-ml</p></header>')
    if doc.get("note"):
        body.append(f'<p class="note">{escape(doc["note"])}</p>')
    body.extend(_model(model) for model in doc["models"])
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def _model(model: Doc) -> str:
    verdicts = model["verdicts"]
    chips = "".join(
        f'<span class="chip {key}">{verdicts[key]} {_BADGES.get(key, "not scored")}</span>'
        for key in ("drift", "warn", "ok", "too_small", "not_scored")
    )
    inputs = [f for f in model["features"] if f["role"] == "input"]
    outputs = [f for f in model["features"] if f["role"] != "input"]
    parts = [
        '<section class="model">',
        f"<h2>{escape(model['model'])}{_version(model['version'])}</h2>",
        f'<div class="chips">{chips}</div>',
        _facts(model),
        _legend(),
        _feature_grid("Input features", inputs, model),
    ]
    if outputs:
        parts.append(_feature_grid("Model outputs", outputs, model))
    parts.append("</section>")
    return "".join(parts)


def _version(version: str) -> str:
    return f' <span class="version">version {escape(version)}</span>' if version else ""


def _facts(model: Doc) -> str:
    window, policy = model["window"], model["policy"]
    last, current = model["last_window"], model["open_window"]
    if model["data"] is not None:
        rows = [("Data", f"{model['data']}: {last['rows']} rows, scored as one window")]
    else:
        limit = f"{window['max_rows']} rows"
        if window["max_seconds"] is not None:
            limit += f" or {_seconds(window['max_seconds'])}"
        rows = [("Last scored window", _last_window(last))]
        if current is not None:
            opened = f"#{current['index']}: {current['rows']} rows so far"
            rows.append(("Open window", f"{opened}, {_seconds(current['duration_s'])} old"))
        rows.append(("Window closes at", limit))
    rows += [
        ("Minimum values to judge", f"{window['min_count']} and each feature's smallest window"),
        (
            "Verdict rule",
            f"drift: significant at a {policy['drift_rate']:.1%} false-alarm rate per "
            f"feature-window (warn: {policy['warn_rate']:.1%}) and a shift of at least "
            f"{policy['min_effect']:g} (KS distance, share of values moved, missing share)",
        ),
    ]
    metadata = model["profile"]["metadata"]
    reference = ", ".join(f"{k}={v}" for k, v in metadata.items())
    rows.append(("Reference profile", f"{model['profile']['features']} features; {reference}"))
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    return f'<dl class="facts">{items}</dl>'


def _last_window(last: Doc | None) -> str:
    if last is None:
        return "none closed yet"
    text = f"#{last['index']}: {last['rows']} rows"
    return text if last["duration_s"] is None else f"{text} over {_seconds(last['duration_s'])}"


def _legend() -> str:
    return (
        '<p class="legend">'
        f'<span class="swatch" style="background:{REFERENCE_COLOR}"></span>reference '
        f'<span class="swatch" style="background:{WINDOW_COLORS[None]}"></span>window '
        "(red: drift, amber: warn). Scores compare the last scored window with the reference."
        "</p>"
    )


def _feature_grid(heading: str, features: Sequence[Doc], model: Doc) -> str:
    ordered = sorted(features, key=lambda f: _SEVERITY[_verdict(f)])
    cards = "".join(_feature(f, model) for f in ordered)
    return f'<h3 class="group">{heading}</h3><div class="grid">{cards}</div>'


def _verdict(feature: Doc) -> str | None:
    last = feature["last_window"]
    if last and last["too_small"]:
        return "too_small"
    return last["verdict"] if last else None


def _feature(feature: Doc, model: Doc) -> str:
    verdict = _verdict(feature)
    last, current = feature["last_window"], feature["open_window"]
    shown, caption = (last, "last scored window") if last and last["n"] else (current, "")
    if shown is current and current and current["n"]:
        caption = "open window, not scored yet"
    fractions = [c / shown["n"] for c in shown["counts"]] if shown and shown["n"] else None
    name = feature["name"]
    chart = distribution_chart(
        f"{name}: reference vs window",
        feature["bins"],
        feature["reference"],
        fractions,
        None if verdict == "too_small" else verdict,
    )
    return (
        f'<article class="feature {_css(verdict)}">'
        f"<header><h4>{escape(name)}</h4>"
        f'<span class="kind">{escape(feature["kind"])}</span>'
        f'<span class="badge {_css(verdict)}">{_BADGES[verdict]}</span></header>'
        f"{chart}"
        f'<p class="caption">{escape(caption or "no values in any window yet")}</p>'
        f"{_decisions(last)}{_scores(last)}"
        f"{_sizes(last, current, feature['smallest_window'])}"
        f"{_issues(last, current)}"
        "</article>"
    )


def _decisions(last: Doc | None) -> str:
    lines = []
    for d in (last["decision"], last["missing"]) if last else ():
        if d is None or d["statistic"] is None:
            continue
        name = _TESTS[d["test"]]
        value = f"{name} {_score(name, d['statistic'])}"
        if d["verdict"] is None:
            lines.append(f"{value}: window too small to judge")
            continue
        p = "—" if d["p_value"] is None else f"{d['p_value']:.2g}"
        at = f"drift at {_score(name, d['drift_at'])}, warn at {_score(name, d['warn_at'])}"
        change = " change" if d["test"] == "missing" else ""
        lines.append(f"{value}, p {p}, effect {d['effect']:.3f} ({at}{change}): {d['verdict']}")
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return f'<ul class="decisions">{items}</ul>' if items else ""


def _scores(last: Doc | None) -> str:
    scores = last["scores"] if last else None
    if scores is None:
        return '<p class="unscored">Not scored: too few values in the last window.</p>'
    cells = [("PSI", scores["psi"]), ("KS", scores["ks"]), ("JS", scores["js"]),
             ("χ²", scores["chi2"]), ("χ² p", scores["chi2_p"])]  # fmt: skip
    head = "".join(f"<th>{label}</th>" for label, _ in cells)
    row = "".join(f"<td>{_score(label, value)}</td>" for label, value in cells)
    return f'<table class="scores"><tr>{head}</tr><tr>{row}</tr></table>'


def _sizes(last: Doc | None, current: Doc | None, smallest: int | None) -> str:
    least = "no window is large enough" if smallest is None else f"smallest useful {smallest}"
    parts = []
    if last is not None:
        parts.append(f"{last['n']} values in the last window ({least})")
    if current is not None:
        parts.append(f"{current['n']} in the open window")
    return f'<p class="sizes">{"; ".join(parts)}</p>' if parts else ""


def _issues(last: Doc | None, current: Doc | None) -> str:
    parts = []
    for label, window in (("last window", last), ("open window", current)):
        if window and window["issues"]:
            listed = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in window["issues"].items())
            parts.append(f"{label}: {escape(listed)}")
    if not parts:
        return '<p class="quality">Data quality: no issues.</p>'
    return f'<p class="quality issues">Data quality, {"; ".join(parts)}.</p>'


def _score(label: str, value: float | None) -> str:
    if value is None:
        return "\u2014"  # em dash: no score
    if label == "χ² p":
        return f"{value:.2g}"
    return f"{value:.1f}" if label == "χ²" else f"{value:.3f}"


def _seconds(value: Any) -> str:
    if value is None:
        return "no time limit"
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def _css(verdict: str | None) -> str:
    return verdict or "unscored"


_STYLE: Final = """
*{box-sizing:border-box}
body{margin:0;padding:24px 32px;background:#f1f5f9;color:#0f172a;
 font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
h1{margin:0;font-size:22px}
h2{margin:28px 0 8px;font-size:19px}
h2 .version{font-weight:400;color:#475569;font-size:15px}
h3.group{margin:20px 0 8px;font-size:15px;color:#334155}
.meta{margin:2px 0 0;color:#64748b;font-size:12px}
.note{background:#fff;border:1px solid #cbd5e1;border-radius:8px;padding:14px 16px}
.chips{display:flex;gap:8px;margin:6px 0 12px}
.chip{border-radius:999px;padding:2px 10px;font-size:12px;font-weight:600;background:#e2e8f0}
.chip.drift{background:#fee2e2;color:#991b1b}.chip.warn{background:#fef3c7;color:#92400e}
.chip.ok{background:#dbeafe;color:#1e40af}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0 0 10px;
 font-size:13px}
.facts dt{color:#64748b}.facts dd{margin:0}
.legend{font-size:12px;color:#475569;margin:4px 0}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 8px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(370px,1fr));gap:14px}
.feature{background:#fff;border:1px solid #e2e8f0;border-left:4px solid #cbd5e1;
 border-radius:8px;padding:10px 12px}
.feature.drift{border-left-color:#dc2626}.feature.warn{border-left-color:#d97706}
.feature.ok{border-left-color:#2563eb}
.feature header{display:flex;align-items:baseline;gap:8px;margin-bottom:4px}
.feature h4{margin:0;font-size:15px;overflow-wrap:anywhere}
.kind{color:#64748b;font-size:12px}
.badge{margin-left:auto;border-radius:4px;padding:1px 8px;font-size:12px;font-weight:600;
 background:#e2e8f0;color:#334155}
.badge.drift{background:#dc2626;color:#fff}.badge.warn{background:#f59e0b;color:#fff}
.badge.ok{background:#dbeafe;color:#1e40af}
.chart{display:block;max-width:100%;height:auto}
.chart text{font-size:11px;fill:#334155}
.chart text.value{fill:#64748b}
.chart .axis{stroke:#cbd5e1}
.caption{margin:2px 0 6px;color:#64748b;font-size:11px}
.scores{border-collapse:collapse;font-size:13px;margin:4px 0}
.scores th{font-weight:500;color:#64748b;text-align:left;padding:2px 18px 0 0}
.scores td{padding:0 18px 2px 0;font-variant-numeric:tabular-nums;min-width:52px}
.scores td.drift{color:#b91c1c;font-weight:700}.scores td.warn{color:#b45309;font-weight:700}
.sizes,.quality,.unscored{margin:4px 0 0;font-size:12px;color:#475569}
.decisions{margin:4px 0;padding-left:16px;font-size:12px;color:#334155}
.quality.issues{color:#92400e}
"""
