"""``otel-ml profile``: fit a :class:`ReferenceProfile` from a CSV or Parquet file."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt

from otel_ml.cli.parser import options_from
from otel_ml.cli.profile_summary import ProfileRun, print_summary
from otel_ml.cli.progress import reading
from otel_ml.cli.tabular import Table, TableError, even_sample, read_table, stray_text
from otel_ml.config import SettingsError, get_settings
from otel_ml.drift.binning import category_key
from otel_ml.drift.features import JsonScalar, Kind
from otel_ml.drift.monitor import window_config
from otel_ml.drift.profile import ReferenceProfile

_ROLES = ("target", "prediction", "score")


class ProfileError(ValueError):
    """A problem with the command's input; the message is meant for the user."""


@dataclass(frozen=True)
class ProfileOptions:
    """What to profile and how: the options of ``otel-ml profile``, under their parsed names."""

    data: Path
    output: Path
    target: str | None = None
    prediction: str | None = None
    score: str | None = None
    features: Sequence[str] | None = None
    categorical: Sequence[str] = ()
    n_bins: int = 500
    n_coarse_bins: int = 10
    top_k: int = 50
    max_rows: int | None = None
    file_format: str | None = None

    @property
    def roles(self) -> dict[str, str]:
        """Columns given as target, prediction or score, by role."""
        named = {role: getattr(self, role) for role in _ROLES}
        return {role: column for role, column in named.items() if column is not None}


def profile_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``otel-ml profile`` with parsed ``args``; 2 and a message on stderr for bad input."""
    try:
        run = run_profile(options_from(ProfileOptions, args))
    except ProfileError as exc:
        print(f"otel-ml profile: error: {exc}", file=sys.stderr)
        return 2
    print_summary(out or sys.stdout, run)
    return 0


def run_profile(options: ProfileOptions) -> ProfileRun:
    """Read the data, fit the profile, write it to ``options.output``."""
    _check_options(options)
    try:
        with reading(options.data) as progress:
            table = read_table(options.data, options.file_format, options.categorical, progress)
    except TableError as exc:
        raise ProfileError(str(exc)) from None
    features = _feature_names(table, options)
    rows_read = table.n_rows
    if (rows := even_sample(rows_read, options.max_rows)) is not None:
        table = table.take(rows)
    profile = _fit(table, features, options)
    try:
        profile.save(options.output)
    except OSError as exc:
        raise ProfileError(f"cannot write {options.output}: {exc.strerror or exc}") from None
    try:
        policy = window_config(get_settings()).policy
    except SettingsError as exc:
        raise ProfileError(str(exc)) from None
    return ProfileRun(
        profile, options.data, options.output, rows_read, table.n_rows, options.roles, policy
    )


def _check_options(options: ProfileOptions) -> None:
    columns = list(options.roles.values())
    if len(set(columns)) != len(columns):
        raise ProfileError(
            f"--target, --prediction and --score must name different columns: {columns}"
        )
    if options.n_coarse_bins > options.n_bins:
        raise ProfileError(
            f"--coarse-bins ({options.n_coarse_bins}) must not exceed --bins ({options.n_bins})"
        )
    for flag, names in (
        ("--features", options.features or ()),
        ("--categorical", options.categorical),
    ):
        if duplicates := sorted({n for n in names if list(names).count(n) > 1}):
            raise ProfileError(f"{flag} names {_quoted(duplicates)} more than once")


def _feature_names(table: Table, options: ProfileOptions) -> list[str]:
    """The feature columns to profile, after checking every column the options name."""
    roles = options.roles
    for role, column in roles.items():
        if column not in table.names:
            raise ProfileError(
                f"no {role} column {column!r} in {options.data}; {_available(table.names)}"
            )
    if options.features is None:
        features = [n for n in table.names if n not in roles.values()]
    else:
        features = list(options.features)
        if unknown := [n for n in features if n not in table.names]:
            raise ProfileError(
                f"--features names unknown column(s) {_quoted(unknown)}; {_available(table.names)}"
            )
        if taken := [n for n in features if n in roles.values()]:
            raise ProfileError(
                f"--features names {_quoted(taken)}, used as target, prediction or score"
            )
    if not features:
        raise ProfileError(f"{options.data} has no feature columns left to profile")
    if stray := [n for n in options.categorical if n not in features]:
        raise ProfileError(
            f"--categorical names {_quoted(stray)}, which are not profiled features; "
            f"the features are {_quoted(features)}"
        )
    return features


def _fit(table: Table, features: list[str], options: ProfileOptions) -> ReferenceProfile:
    for name in features:
        if _all_missing(table.column(name)):
            raise ProfileError(
                f"column {name!r} has no values (every cell is empty); leave it out with --features"
            )
        stray = None if name in options.categorical else stray_text(table.column(name))
        if stray is not None:
            raise ProfileError(
                f"column {name!r} holds numbers but {stray.count} cell(s) of text, the first "
                f"{stray.first!r} in data row {stray.row}: fix them, or profile the column as "
                f"categories with --categorical {name}"
            )
    roles = options.roles
    scores = table.column(roles["score"]) if "score" in roles else None
    if scores is not None and scores.dtype.kind != "f":
        raise ProfileError(f"score column {roles['score']!r} holds text, not numbers")
    predictions = table.column(roles["prediction"]) if "prediction" in roles else None
    metadata: dict[str, JsonScalar] = {"source": options.data.name, "rows": table.n_rows}
    metadata.update(roles)
    if "target" in roles and predictions is not None:
        accuracy = baseline_accuracy(table.column(roles["target"]), predictions)
        if accuracy is not None:
            metadata["baseline_accuracy"] = accuracy
    kinds: dict[str, Kind] = dict.fromkeys(options.categorical, "categorical")
    try:
        return ReferenceProfile.fit(
            {name: table.column(name) for name in features}, features, kinds,
            options.n_bins, options.n_coarse_bins, options.top_k,
            predictions=predictions, scores=scores, metadata=metadata,
        )  # fmt: skip
    except ValueError as exc:
        raise ProfileError(f"cannot profile {options.data}: {exc}") from None


def baseline_accuracy(target: npt.NDArray[Any], predictions: npt.NDArray[Any]) -> float | None:
    """Share of rows whose prediction equals the target, over rows that have both.

    Labels are compared as categories, so ``1``, ``1.0`` and ``"1"`` agree.
    """
    pairs = [(category_key(t), category_key(p)) for t, p in zip(target, predictions, strict=True)]
    labelled = [(t, p) for t, p in pairs if t is not None and p is not None]
    if not labelled:
        return None
    return sum(t == p for t, p in labelled) / len(labelled)


def _all_missing(column: npt.NDArray[Any]) -> bool:
    if column.dtype.kind == "f":
        return bool(np.isnan(column).all())
    return all(v is None for v in column)


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names)


def _available(names: Sequence[str], shown: int = 30) -> str:
    more = f", ... ({len(names) - shown} more)" if len(names) > shown else ""
    return f"its columns are {_quoted(names[:shown])}{more}"
