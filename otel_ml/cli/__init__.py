"""The ``otel-ml`` command: ``demo``, ``profile`` and ``report``.

:mod:`~otel_ml.cli.parser` declares the arguments; each command's work is
imported only when it runs, so ``otel-ml --help`` loads neither numpy nor the
demo. This package is the only one that imports :mod:`otel_ml.demo`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from otel_ml.cli.parser import build_parser

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``otel-ml`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except BrokenPipeError:
        # The reader went away (`otel-ml demo | head`): stop without a traceback,
        # and keep the interpreter's final flush of stdout from raising again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from otel_ml.demo.options import DemoOptions
        from otel_ml.demo.run import run_demo

        live = args.live and sys.stdout.isatty()
        try:
            return run_demo(DemoOptions(args.duration, args.otlp_endpoint, live, args.serve))
        except KeyboardInterrupt:  # a second Ctrl-C: stop without waiting for the cleanup
            print("otel-ml demo: aborted", file=sys.stderr)
            return 130
    if args.command == "profile":
        from otel_ml.cli.profile import profile_command

        return profile_command(args)
    if args.command == "report":
        from otel_ml.cli.report import report_command

        return report_command(args)
    return 2  # unreachable: argparse requires a command
