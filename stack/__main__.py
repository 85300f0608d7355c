"""``python3 -m stack build [--optional] | up | down | status`` (from the repository root)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from stack.build import Paths, build
from stack.configs import ALERTING_ENV
from stack.errors import StackError
from stack.run import (
    ALERTMANAGER_URL,
    JAEGER_QUERY_URL,
    OTLP_GRPC_ENDPOINT,
    PROMETHEUS_URL,
    down,
    status,
    up,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a :class:`StackError` is printed, not raised (exit 1)."""
    parser = argparse.ArgumentParser(
        prog="python3 -m stack",
        description="The real pipeline on 127.0.0.1: OpenTelemetry Collector, Jaeger v2, "
        "Alertmanager, Prometheus. `up` builds what is missing first.",
    )
    parser.add_argument("command", choices=("build", "up", "down", "status"))
    parser.add_argument(
        "--optional",
        action="store_true",
        help="build: where the stack cannot be built, say why and exit 0 "
        "(the end-to-end tests then skip); not under CI=true",
    )
    args = parser.parse_args(argv)
    paths = Paths.from_env()
    try:
        if args.command in ("build", "up"):
            build(paths, log=paths.state / "logs" / "build.log")
        if args.command == "up":
            up(paths)
            print(
                f"stack: up. Jaeger {JAEGER_QUERY_URL}, Prometheus {PROMETHEUS_URL}, "
                f"Alertmanager {ALERTMANAGER_URL}, OTLP {OTLP_GRPC_ENDPOINT} (gRPC) and "
                f"http://127.0.0.1:4318; logs in {paths.state / 'logs'}\n"
                f"stack: notifications go where {', '.join(ALERTING_ENV)} say "
                "(docs/stack.md)"
            )
        elif args.command == "down":
            down(paths)
    except StackError as exc:
        print(f"stack: {exc}", file=sys.stderr)
        in_ci = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")
        if args.optional and not in_ci:
            print("stack: not built; the end-to-end tests will be skipped", file=sys.stderr)
            return 0
        return 1
    if args.command != "build":
        for name, line in status(paths).items():
            print(f"  {name:<12} {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
