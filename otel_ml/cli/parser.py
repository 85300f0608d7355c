"""The arguments of ``otel-ml`` and its subcommands: argparse only, no work."""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from otel_ml.version import __version__

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_Options = TypeVar("_Options", bound="DataclassInstance")


def _positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {raw!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _column_names(raw: str) -> list[str]:
    names = [name.strip() for name in raw.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, got {raw!r}")
    return names


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``otel-ml`` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="otel-ml",
        description="OpenTelemetry instrumentation for Python model servers.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_demo_parser(commands)
    _add_profile_parser(commands)
    _add_report_parser(commands)
    return parser


_MAX_DEMO_SECONDS = 86400.0


def _demo_seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {raw!r}") from None
    if not 5 <= value <= _MAX_DEMO_SECONDS:
        raise argparse.ArgumentTypeError(
            f"expected between 5 and {_MAX_DEMO_SECONDS:.0f} seconds, got {raw}"
        )
    return value


def _otlp_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")) or len(raw.split("://", 1)[1]) == 0:
        raise argparse.ArgumentTypeError(
            f"expected a URL such as http://127.0.0.1:4317, got {raw!r}"
        )
    return raw


def _add_demo_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser(
        "demo",
        help="serve an instrumented classifier and RAG endpoint, drive traffic, show it live",
        description=(
            "Train a scikit-learn classifier on data that ships with scikit-learn, serve "
            "it with a RAG endpoint (retrieval over bundled notes, a streamed answer from a "
            "local stand-in LLM through the openai client) from a FastAPI app instrumented "
            "with otel_ml.instrument() on 127.0.0.1, and drive traffic in three phases: "
            "normal, drifted inputs (a new category and a shifted feature), then delayed "
            "labels that show the accuracy drop. A live view shows request and error rates, "
            "latency percentiles, confidence, drift per feature, live accuracy against the "
            "baseline, LLM time to first token and tokens, and the alerts of "
            "prometheus/alerts.yml evaluated in-process. Telemetry stays in memory unless "
            "--otlp-endpoint (or OTEL_EXPORTER_OTLP_ENDPOINT) names a collector. "
            "Ctrl-C stops it early (exit code 130)."
        ),
        epilog="example: otel-ml demo --duration 30 --otlp-endpoint http://127.0.0.1:4317",
    )
    demo.add_argument(
        "--duration",
        metavar="SECONDS",
        type=_demo_seconds,
        default=60.0,
        help="how long the traffic runs, 5 to 86400 (default 60)",
    )
    demo.add_argument(
        "--otlp-endpoint",
        metavar="URL",
        type=_otlp_url,
        default=os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None,
        help="also export traces and metrics over OTLP/gRPC to this collector, e.g. "
        "http://127.0.0.1:4317 (default: $OTEL_EXPORTER_OTLP_ENDPOINT, else none)",
    )
    demo.add_argument(
        "--serve",
        action="store_true",
        help="after the traffic, keep the app and the stand-in LLM up for manual "
        "exploration until Ctrl-C (exit code 0)",
    )
    demo.add_argument(
        "--no-tty",
        dest="live",
        action="store_false",
        help="print plain periodic lines instead of redrawing the view in place "
        "(the default when stdout is not a terminal)",
    )


def _add_profile_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    profile = commands.add_parser(
        "profile",
        help="profile training data into a drift reference profile (JSON)",
        description=(
            "Fit a drift reference profile from training data and write it as JSON: per "
            "numeric feature, bins at the data's quantiles; per categorical feature, the "
            "top-K categories. Prints a summary of what it profiled."
        ),
        epilog="example: otel-ml profile train.csv --target label -o reference.json",
    )
    _add_data_and_output(
        profile,
        data="training data: .csv with a header row (empty cell = missing), "
        ".parquet or .pq (needs pyarrow)",
        output="where to write the reference profile (JSON)",
    )
    _add_columns(
        profile,
        target="label column, left out of the features",
        prediction="the model's predicted class, profiled as __prediction__; with --target, "
        "its accuracy is stored as metadata baseline_accuracy",
        score="the model's score or confidence, profiled as __score__",
    )
    add = profile.add_argument
    add(
        "--features",
        metavar="A,B,...",
        type=_column_names,
        help="feature columns to profile, in this order "
        "(default: every column but target, prediction and score)",
    )
    add(
        "--categorical",
        metavar="A,B,...",
        type=_column_names,
        default=[],
        help="profile these features as categories even if they hold numbers (zip codes)",
    )
    _add_profile_tuning(profile)


def _add_profile_tuning(profile: argparse.ArgumentParser) -> None:
    add = profile.add_argument
    add(
        "--bins",
        dest="n_bins",
        metavar="N",
        type=_positive_int,
        default=500,
        help="fine bins per numeric feature, at quantiles; KS uses them (default 500)",
    )
    add(
        "--coarse-bins",
        dest="n_coarse_bins",
        metavar="N",
        type=_positive_int,
        default=10,
        help="coarse bins per numeric feature for PSI, chi-square, JS (default 10)",
    )
    add(
        "--top-k",
        metavar="N",
        type=_positive_int,
        default=50,
        help="categories kept per categorical feature, others in __other__ (default 50)",
    )
    add(
        "--max-rows",
        metavar="N",
        type=_positive_int,
        help="profile at most N rows, spread evenly over the file (default: all)",
    )
    add(
        "--format",
        dest="file_format",
        choices=("csv", "parquet"),
        help="file format, when the extension (.csv, .parquet, .pq) does not tell",
    )


def _add_report_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = commands.add_parser(
        "report",
        help="write the drift page of a data file against a reference profile (HTML or JSON)",
        description=(
            "Compare a data file with a reference profile offline and write the drift page "
            "that instrument(app, drift_page=...) serves: per feature the reference and the "
            "file's distribution as a chart, PSI, KS, chi-square and Jensen-Shannon scores, "
            "the verdict and data-quality counts. The whole file is one window; nothing is fit."
        ),
        epilog=(
            "exit status: 0 written; 1 with --fail-on, a feature's verdict reached that "
            "level; 2 bad input. example: otel-ml report reference.json current.csv -o "
            "report.html --fail-on drift"
        ),
    )
    report.add_argument(
        "profile", metavar="PROFILE", type=Path, help="reference profile (.json, otel-ml profile)"
    )
    _add_data_and_output(
        report,
        data="current data with the profile's feature columns: .csv with a header row, "
        ".parquet or .pq (needs pyarrow)",
        output="where to write the page: .html/.htm for HTML, .json for its JSON twin, "
        "- for standard output",
    )
    _add_report_outcome(report)
    add = report.add_argument
    add(
        "--min-count",
        metavar="N",
        type=_positive_int,
        help="values a feature needs to be judged, on top of its test's smallest useful window "
        "(default: OTEL_ML_DRIFT_MIN_COUNT, 1)",
    )
    _add_columns(
        report,
        prediction="predicted class column, compared with __prediction__ "
        "(default: the column named when the profile was made, if present)",
        score="score column, compared with __score__ (default: as for --prediction)",
    )
    add("--model", metavar="NAME", help="model name on the page (default: the profile's name)")


def _add_report_outcome(report: argparse.ArgumentParser) -> None:
    """What ``report`` writes (``--format``) and when it fails (``--fail-on``)."""
    report.add_argument(
        "--format",
        dest="page_format",
        choices=("html", "json"),
        help="html: the page; json: its JSON twin with the same numbers "
        "(default: what the -o file name says; html for -o -)",
    )
    report.add_argument(
        "--fail-on",
        choices=("warn", "drift"),
        help="exit 1 when a feature's verdict is this level or worse (a CI gate)",
    )


def _add_data_and_output(parser: argparse.ArgumentParser, data: str, output: str) -> None:
    """The data file a command reads (positional) and the file it writes (``-o``)."""
    parser.add_argument("data", metavar="DATA", type=Path, help=data)
    parser.add_argument("-o", "--output", metavar="PATH", type=Path, required=True, help=output)


def _add_columns(parser: argparse.ArgumentParser, **helps: str) -> None:
    """One ``--ROLE COLUMN`` option per keyword: a column of the data file in that role."""
    for role, text in helps.items():
        parser.add_argument(f"--{role}", metavar="COLUMN", help=text)


def options_from(cls: type[_Options], args: argparse.Namespace) -> _Options:
    """The options dataclass ``cls`` filled from the parsed ``args`` of the same names."""
    return cls(**{field.name: getattr(args, field.name) for field in dataclasses.fields(cls)})
