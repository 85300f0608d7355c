"""A reference-vs-window bar chart as inline SVG: no script, no external asset.

One row per bin, label on the left, the reference fraction and the window's
fraction as two bars side by side. Every label is escaped here; callers pass
raw text. Hovering a row shows its exact numbers (an SVG ``<title>``).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Final

WIDTH: Final = 380
_LABEL_WIDTH: Final = 124
_VALUE_WIDTH: Final = 44
_ROW: Final = 20
_BAR: Final = 7
_MAX_LABEL_CHARS: Final = 20

REFERENCE_COLOR: Final = "#94a3b8"
WINDOW_COLORS: Final = {"drift": "#dc2626", "warn": "#d97706", None: "#2563eb", "ok": "#2563eb"}


def bin_display(label: str) -> str:
    """A bin label for people: ``lt:1.5`` is ``< 1.5``, ``1.5..3`` is ``1.5 to 3`` (en dash),
    ``ge:3`` is ``≥ 3``; category names are unchanged."""
    if label.startswith("lt:"):
        return f"< {label[3:]}"
    if label.startswith("ge:"):
        return f"≥ {label[3:]}"
    low, sep, high = label.partition("..")
    if sep and low and high and _is_number(low) and _is_number(high):
        return f"{low} \u2013 {high}"
    return label


def distribution_chart(
    title: str,
    bins: Sequence[str],
    reference: Sequence[float | None],
    window: Sequence[float] | None,
    verdict: str | None = None,
) -> str:
    """The chart of one feature: fractions per bin (``window`` None: reference only)."""
    values = [v or 0.0 for v in reference]
    current = list(window) if window is not None else []
    top = max([*values, *current, 1e-12])
    bar_space = WIDTH - _LABEL_WIDTH - _VALUE_WIDTH - 8
    color = WINDOW_COLORS.get(verdict, WINDOW_COLORS[None])
    height = _ROW * len(bins) + 4
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}">'
    ]
    for i, label in enumerate(bins):
        y = 2 + i * _ROW
        shown = bin_display(label)
        short = shown if len(shown) <= _MAX_LABEL_CHARS else shown[: _MAX_LABEL_CHARS - 1] + "…"
        detail = f"{shown}: reference {_percent(values[i])}"
        if current:
            detail += f", window {_percent(current[i])}"
        parts.append(f'<g class="bin"><title>{escape(detail)}</title>')
        parts.append(
            f'<text x="{_LABEL_WIDTH - 6}" y="{y + _ROW / 2 + 4:.1f}" text-anchor="end">'
            f"{escape(short)}</text>"
        )
        parts.append(_bar("ref", _LABEL_WIDTH, y + 2, values[i] / top * bar_space, REFERENCE_COLOR))
        if current:
            width = current[i] / top * bar_space
            parts.append(_bar("cur", _LABEL_WIDTH, y + 3 + _BAR, width, color))
            parts.append(
                f'<text class="value" x="{WIDTH - 2}" y="{y + _ROW / 2 + 4:.1f}" '
                f'text-anchor="end">{_percent(current[i])}</text>'
            )
        parts.append("</g>")
    parts.append(
        f'<line x1="{_LABEL_WIDTH}" y1="0" x2="{_LABEL_WIDTH}" y2="{height}" class="axis"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _bar(kind: str, x: int, y: float, width: float, color: str) -> str:
    # A non-empty bin keeps a sliver, so "small" and "empty" look different.
    drawn = max(width, 1.0) if width > 0 else 0.0
    return (
        f'<rect class="{kind}" x="{x}" y="{y:.1f}" width="{drawn:.1f}" '
        f'height="{_BAR}" fill="{color}"/>'
    )


def _percent(fraction: float) -> str:
    pct = fraction * 100
    return f"{pct:.1f}%" if pct >= 0.1 or pct == 0 else "<0.1%"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
