"""The ``otel-ml`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from otel_ml.version import __version__


def _positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {raw!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``otel-ml`` console script."""
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from otel_ml.demo.run import run_demo

        return run_demo(requests=args.requests, otlp_endpoint=args.otlp_endpoint)
    return 2  # unreachable: argparse requires a command


if __name__ == "__main__":
    sys.exit(main())
