"""The ``otel-ml`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from otel_ml.version import __version__


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

    demo = commands.add_parser(
        "demo",
        help="serve an instrumented scikit-learn model, send it traffic, show the telemetry",
        description=(
            "Train a scikit-learn classifier, serve it from a FastAPI app instrumented "
            "with otel_ml.instrument() on 127.0.0.1, send it requests over HTTP and print "
            "the spans and metrics it produced. Telemetry stays in memory unless "
            "--otlp-endpoint (or OTEL_EXPORTER_OTLP_ENDPOINT) names a collector."
        ),
    )
    demo.add_argument(
        "--requests", type=_positive_int, default=200, help="requests to send (default 200)"
    )
    demo.add_argument(
        "--otlp-endpoint",
        metavar="URL",
        help="also export over OTLP/gRPC to this collector, e.g. http://127.0.0.1:4317",
    )
    _add_profile_parser(commands)
    return parser


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
    add = profile.add_argument
    add(
        "data",
        metavar="DATA",
        type=Path,
        help="training data: .csv with a header row (empty cell = missing), "
        ".parquet or .pq (needs pyarrow)",
    )
    add(
        "-o",
        "--output",
        metavar="PATH",
        type=Path,
        required=True,
        help="where to write the reference profile (JSON)",
    )
    add("--target", metavar="COLUMN", help="label column, left out of the features")
    add(
        "--prediction",
        metavar="COLUMN",
        help="the model's predicted class, profiled as __prediction__; with --target, "
        "its accuracy is stored as metadata baseline_accuracy",
    )
    add("--score", metavar="COLUMN", help="the model's score or confidence, profiled as __score__")
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
        metavar="N",
        type=_positive_int,
        default=100,
        help="fine bins per numeric feature, at quantiles; KS uses them (default 100)",
    )
    add(
        "--coarse-bins",
        metavar="N",
        type=_positive_int,
        default=10,
        help="coarse bins per numeric feature for PSI, chi-square, JS (default 10)",
    )
    add(
        "--top-k",
        metavar="N",
        type=_positive_int,
        default=20,
        help="categories kept per categorical feature, others in __other__ (default 20)",
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``otel-ml`` console script."""
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from otel_ml.demo.run import run_demo

        return run_demo(requests=args.requests, otlp_endpoint=args.otlp_endpoint)
    if args.command == "profile":
        from otel_ml.drift.profile_cli import profile_command

        return profile_command(args)
    return 2  # unreachable: argparse requires a command


if __name__ == "__main__":
    sys.exit(main())
