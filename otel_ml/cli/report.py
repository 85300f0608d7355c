"""``otel-ml report``: the drift page of a data file against a reference profile, offline.

Nothing is fit: the profile is read with :meth:`ReferenceProfile.load`, the
data file's rows go through the same :class:`~otel_ml.drift.window.DriftWindow`
binning and scoring as a live model's requests, as one window holding the
whole file, and the page is the one ``instrument(app, drift_page=...)`` serves.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, TextIO

import numpy as np

from otel_ml.cli.parser import options_from
from otel_ml.cli.progress import reading
from otel_ml.cli.tabular import Table, TableError, read_table, stray_text
from otel_ml.config import get_settings
from otel_ml.drift.binning import category_key
from otel_ml.drift.inputs import InputAdapter
from otel_ml.drift.monitor import window_config
from otel_ml.drift.profile import ReferenceProfile
from otel_ml.drift.results import FeatureWindow
from otel_ml.drift.window import DriftWindow
from otel_ml.report.data import Doc, model_section, page_document
from otel_ml.report.page import render_page

FAIL_ON: Final = {"warn": ("warn", "drift"), "drift": ("drift",)}
"""``--fail-on`` level -> the verdicts that make the command exit 1."""
EXIT_FAILED_ON = 1
STDOUT: Final = Path("-")
_SUFFIXES: Final = {"html": (".html", ".htm"), "json": (".json",)}
_CHUNK_ROWS: Final = 8192


class ReportError(ValueError):
    """A problem with the command's input; the message is meant for the user."""


@dataclass(frozen=True)
class ReportOptions:
    """What to compare and where to write it: the options of ``otel-ml report``, as parsed."""

    profile: Path
    data: Path
    output: Path
    page_format: str | None = None
    min_count: int | None = None
    prediction: str | None = None
    score: str | None = None
    model: str | None = None
    fail_on: str | None = None


def report_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``otel-ml report`` with parsed ``args``; 2 and a message on stderr for bad input."""
    options = options_from(ReportOptions, args)
    try:
        options = replace(options, page_format=page_format(options))
        doc, notes = build_report(options)
        write_report(doc, options, out or sys.stdout)
    except ReportError as exc:
        print(f"otel-ml report: error: {exc}", file=sys.stderr)
        return 2
    for note in notes:
        print(f"otel-ml report: note: {note}", file=sys.stderr)
    # With the page on stdout, the summary goes where the notes go.
    _print_summary(sys.stderr if options.output == STDOUT else out or sys.stdout, doc, options)
    return exit_code(doc, options.fail_on)


def exit_code(doc: Doc, fail_on: str | None) -> int:
    """0, or :data:`EXIT_FAILED_ON` when a feature's verdict reaches ``fail_on``."""
    if fail_on is None:
        return 0
    verdicts = [(f["last_window"] or {}).get("verdict") for f in doc["models"][0]["features"]]
    return EXIT_FAILED_ON if any(v in FAIL_ON[fail_on] for v in verdicts) else 0


def page_format(options: ReportOptions) -> str:
    """``--format``, else what ``-o``'s suffix says (HTML for ``-o -``); a file name
    that contradicts ``--format`` is an error."""
    if options.output == STDOUT:
        return options.page_format or "html"
    suffix = options.output.suffix.lower()
    inferred = next((f for f, endings in _SUFFIXES.items() if suffix in endings), None)
    chosen = options.page_format or inferred
    if chosen is None:
        raise ReportError(
            f"--output {options.output}: expected a .html, .htm or .json file name "
            "(or - for standard output)"
        )
    if inferred != chosen:
        raise ReportError(
            f"--output {options.output}: a {chosen} report needs a "
            f"{' or '.join(_SUFFIXES[chosen])} file name"
        )
    return chosen


def build_report(options: ReportOptions) -> tuple[Doc, list[str]]:
    """The page document of ``options.data`` against ``options.profile``, and notes for
    the user (e.g. too few rows to score)."""
    _check_paths(options)
    profile = _load_profile(options.profile)
    categorical = [f.name for f in profile.features if f.kind == "categorical"]
    try:
        with reading(options.data) as progress:
            table = read_table(options.data, text_columns=categorical, progress=progress)
    except TableError as exc:
        raise ReportError(str(exc)) from None
    if missing := [n for n in profile.feature_names if n not in table.names]:
        raise ReportError(
            f"{options.data} lacks the profile's feature column(s) {_quoted(missing)}; "
            f"its columns are {_quoted(table.names)}"
        )
    notes: list[str] = []
    table = _numbers_kept(table, profile, notes)
    settings = get_settings()
    min_count = options.min_count or settings.drift_min_count
    config = replace(
        window_config(settings),
        max_rows=max(table.n_rows, min_count) + 1,  # never reached: the file is one window
        max_seconds=math.inf,
        min_count=min_count,
    )
    window = DriftWindow(profile, config)
    _stream(window, table, profile, _output_columns(options, profile, table, notes))
    report = window.tick(force=True)
    assert report is not None, "a forced tick always closes the window"
    # An offline window has no duration: the file's rows have no arrival times.
    report = replace(report, duration_s=math.nan)
    notes.extend(
        f"feature {f.name!r} has {f.n} values, fewer than the {_floor(f, min_count)} its "
        "test needs to tell drift from noise: it gets no verdict"
        for f in report.features
        if f.too_small
    )
    model = options.model or options.profile.stem
    section = model_section(model, "", profile, config, last=report, data=options.data.name)
    title = f"Drift report: {options.data.name} against {options.profile.name}"
    return page_document(title, [section]), notes


def write_report(doc: Doc, options: ReportOptions, stdout: TextIO = sys.stdout) -> None:
    """Write the page (or its JSON twin) to ``options.output`` (``-``: ``stdout``)."""
    if options.page_format == "json":
        text = json.dumps(doc, indent=1, allow_nan=False) + "\n"
    else:
        text = render_page(doc)
    if options.output == STDOUT:
        stdout.write(text)
        return
    try:
        options.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot write {options.output}: {exc.strerror or exc}") from None


def _check_paths(options: ReportOptions) -> None:
    if options.profile.suffix.lower() != ".json":
        raise ReportError(
            f"{options.profile}: expected a reference profile .json (written by otel-ml profile)"
        )
    if options.output != STDOUT and not options.output.parent.is_dir():
        raise ReportError(f"--output {options.output}: no such directory {options.output.parent}")


def _load_profile(path: Path) -> ReferenceProfile:
    if not path.is_file():
        raise ReportError(f"{path}: no such file")
    try:
        return ReferenceProfile.load(path)
    except UnicodeDecodeError:
        raise ReportError(f"{path}: not a reference profile (not UTF-8 text)") from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:  # names the file and the bad field
        raise ReportError(f"not a valid reference profile: {exc}") from None


def _output_columns(
    options: ReportOptions, profile: ReferenceProfile, table: Table, notes: list[str]
) -> tuple[str | None, str | None]:
    """The (prediction, score) columns: the options, else the profile's own column names
    (a note says when the profile has an output the file lacks)."""
    found: list[str | None] = []
    for role, given, profiled in (
        ("prediction", options.prediction, profile.prediction),
        ("score", options.score, profile.score),
    ):
        if given is not None and profiled is None:
            raise ReportError(f"--{role} {given!r}: the profile has no {role} to compare with")
        if given is not None and given not in table.names:
            raise ReportError(f"--{role}: {options.data} has no column {given!r}")
        recorded = profile.metadata.get(role)
        if given is None and profiled is not None:
            if recorded in table.names:
                given = str(recorded)
            else:
                notes.append(
                    f"the profile has __{role}__ but {options.data} has no "
                    f"{'column ' + repr(recorded) if recorded else role + ' column'}; "
                    f"name it with --{role} to compare it"
                )
        found.append(given)
    return found[0], found[1]


def _stream(
    window: DriftWindow,
    table: Table,
    profile: ReferenceProfile,
    outputs: tuple[str | None, str | None],
) -> None:
    adapter = InputAdapter(profile)
    prediction, score = outputs
    for start in range(0, table.n_rows, _CHUNK_ROWS):
        rows = slice(start, start + _CHUNK_ROWS)
        columns = {name: table.column(name)[rows] for name in profile.feature_names}
        window.add_rows(*adapter.rows(columns))
        scores = _scores(table.column(score)[rows], score) if score else None
        labels = _labels(table.column(prediction)[rows]) if prediction else None
        window.add_outputs(scores, labels)


def _numbers_kept(table: Table, profile: ReferenceProfile, notes: list[str]) -> Table:
    """A numeric feature's column with a few cells of text stays numeric: those
    cells count as ``type`` issues instead of turning the column into text."""
    columns = list(table.columns)
    for f in profile.features:
        stray = stray_text(table.column(f.name)) if f.kind == "numeric" else None
        if stray is not None:
            columns[table.names.index(f.name)] = stray.values
            notes.append(
                f"column {f.name!r}: {stray.count} cell(s) of text, the first {stray.first!r} "
                f"in data row {stray.row}, counted as type issues"
            )
    return Table(table.names, tuple(columns))


def _scores(column: Any, name: str) -> Any:
    if column.dtype.kind != "f":
        raise ReportError(f"score column {name!r} holds text, not numbers")
    return np.asarray(column, np.float64)


def _labels(column: Any) -> list[tuple[str, int]]:
    counts = Counter(category_key(v) for v in column.tolist())
    return [(label, n) for label, n in counts.items() if label is not None]


def _print_summary(out: TextIO, doc: Doc, options: ReportOptions) -> None:
    output = "standard output" if options.output == STDOUT else options.output
    model = doc["models"][0]
    drifted = [
        f["name"] for f in model["features"] if (f["last_window"] or {}).get("verdict") == "drift"
    ]
    rows = model["last_window"]["rows"]
    verdicts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in model["verdicts"].items())
    print(f"wrote {output}: {rows} rows against the reference; {verdicts}", file=out)
    if drifted:
        print(f"drifted: {', '.join(drifted)}", file=out)


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names)


def _floor(feature: FeatureWindow, min_count: int) -> int | str:
    smallest = feature.smallest_window
    return "unlimited number" if smallest is None else max(smallest, min_count)
