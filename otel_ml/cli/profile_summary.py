"""The plain-text summary ``otel-ml profile`` prints of the profile it wrote."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TextIO

from otel_ml.drift.features import CategoricalFeatureProfile, FeatureProfile, NumericFeatureProfile
from otel_ml.drift.profile import ReferenceProfile
from otel_ml.drift.significance import LARGE_EFFECT, DriftPolicy
from otel_ml.semconv import OTHER_LABEL

WIDTH: Final = 100
_NAME_WIDTH: Final = 24
_HEADER: Final = ("feature", "kind", "count", "missing", "distribution")


@dataclass(frozen=True)
class ProfileRun:
    """A profile written by ``otel-ml profile`` and what it was made from."""

    profile: ReferenceProfile
    source: Path
    output: Path
    rows_read: int
    rows_profiled: int
    roles: Mapping[str, str]
    policy: DriftPolicy = field(default_factory=DriftPolicy)


def print_summary(out: TextIO, run: ProfileRun) -> None:
    """Print what was profiled: rows, the columns used per role, one line per feature."""
    sampled = run.rows_profiled < run.rows_read
    note = f" (spread evenly over the {run.rows_read} rows read)" if sampled else ""
    print(f"Profiled {run.rows_profiled} rows of {run.source}{note}.", file=out)
    if run.roles:
        used = ", ".join(f"{role} {column!r}" for role, column in run.roles.items())
        print(f"Columns used: {used}.", file=out)
    accuracy = run.profile.metadata.get("baseline_accuracy")
    if isinstance(accuracy, float):
        print(f"Baseline accuracy (prediction vs target): {accuracy:.4f}", file=out)
    print(file=out)
    profile = run.profile
    outputs = [f for f in (profile.score, profile.prediction) if f is not None]
    for line in feature_table([*profile.features, *outputs]):
        print(line, file=out)
    print(file=out)
    for line in window_lines([*profile.features, *outputs], run.policy):
        print(line, file=out)
    extra = "".join(f" + {f.name}" for f in outputs)
    print(f"\nWrote {run.output}: {len(profile.features)} features{extra}.", file=out)


def window_lines(features: list[FeatureProfile], policy: DriftPolicy) -> list[str]:
    """The smallest useful drift window: below it a feature gets no verdict."""
    sizes = {f.name: f.smallest_window(policy) for f in features}
    judged = {name: n for name, n in sizes.items() if n is not None}
    lines = []
    if judged:
        worst = max(judged, key=lambda name: judged[name])
        least = min(judged.values())
        which = "every feature" if least == judged[worst] else f"{_clip(worst, _NAME_WIDTH)}; "
        which += "" if least == judged[worst] else f"{least} for the least"
        lines.append(f"Smallest useful drift window: {judged[worst]} values ({which}).")
        lines.append(
            f"Smaller windows cannot show {LARGE_EFFECT:.0%} of the values moving at a "
            f"{policy.drift_rate:.1%} false-alarm rate: no verdict."
        )
    if never := [name for name, n in sizes.items() if n is None]:
        listed = _clip(", ".join(never), WIDTH - 48)
        lines.append(f"Too few reference values to judge any window: {listed}.")
    return lines


def feature_table(features: list[FeatureProfile], width: int = WIDTH) -> list[str]:
    """Lines of a table with one row per feature, each at most ``width`` characters."""
    name_width = min(max(len(_HEADER[0]), *(len(f.name) for f in features)), _NAME_WIDTH)
    head = f"{{:<{name_width}}}  {{:<11}}  {{:>8}}  {{:>8}}  "
    room = width - len(head.format("", "", "", ""))
    lines = [head.format(*_HEADER[:4]) + _HEADER[4]]
    for f in features:
        cells = (_clip(f.name, name_width), f.kind, f.count, f.missing)
        lines.append(head.format(*cells) + _distribution(f, room))
    return lines


def _distribution(f: FeatureProfile, room: int) -> str:
    if isinstance(f, NumericFeatureProfile):
        text = f"min {f.min:.4g}  mean {f.mean:.4g}  max {f.max:.4g}"
        return _clip(text + (f"  non-finite {f.non_finite}" if f.non_finite else ""), room)
    return _categories(f, room)


def _categories(f: CategoricalFeatureProfile, room: int) -> str:
    kept = len(f.bins.categories)
    if f.bins.tail is None:
        text = f"{kept} kept, too many others to list in {OTHER_LABEL}:"
    elif f.bins.tail:
        text = f"{kept} of {kept + len(f.bins.tail)} kept:"
    else:
        text = f"{kept} kept:"
    fractions = f.coarse_fractions
    for i, label in enumerate(f.bins.categories):
        last = i == kept - 1
        item = f" {label} {fractions[i]:.1%}" + ("" if last else ",")
        if len(text) + len(item) > room - (0 if last else len(" ...")):
            return text + " ..."
        text += item
    return text


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
