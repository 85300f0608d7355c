"""What otel-ml's launcher hooks add to a process start under ``opentelemetry-instrument``.

Starts ``opentelemetry-instrument python -c pass`` in fresh processes, in
interleaved rounds, with every ``otel_ml_*`` entry point enabled and with all
of them disabled (``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``), beside a bare
``python -c pass``. The hooks patch lazily (when the application imports the
library), so what they add is importing otel_ml itself and registering
post-import hooks::

    python benchmarks/startup.py [--quick] [--rounds R] [--write-readme]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path

from _common import Stats, markdown_table, provenance, replace_section

README = Path(__file__).with_name("README.md")
LAUNCHER = Path(sys.executable).parent / "opentelemetry-instrument"
DISTRIBUTIONS = ("opentelemetry-instrumentation", "opentelemetry-sdk")


def our_hooks() -> list[str]:
    """The names of otel-ml's launcher entry points."""
    found = entry_points(group="opentelemetry_instrumentor")
    return sorted(entry.name for entry in found if entry.name.startswith("otel_ml_"))


def start_seconds(argv: list[str], environ: dict[str, str]) -> float:
    """Wall time of one process start and exit."""
    started = time.perf_counter()
    subprocess.run(argv, env=environ, check=True, timeout=120, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="2 rounds")
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    rounds = 2 if args.quick else args.rounds
    base = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    base.update(
        OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none"
    )
    hooks = our_hooks()
    variants = {
        "python -c pass": ([sys.executable, "-c", "pass"], base),
        "launcher, otel-ml hooks off": (
            [str(LAUNCHER), sys.executable, "-c", "pass"],
            {**base, "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": ",".join(hooks)},
        ),
        "launcher, otel-ml hooks on": ([str(LAUNCHER), sys.executable, "-c", "pass"], base),
    }
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds + 1):  # round 0 warms the file cache and is dropped
        order = names[index % 3 :] + names[: index % 3]
        measured = {name: start_seconds(*variants[name]) for name in order}
        if index:
            for name, seconds in measured.items():
                times[name].append(seconds)
    added = [on - off for on, off in zip(times[names[2]], times[names[1]], strict=True)]
    rows = [[name, Stats.of(times[name]).format(2)] for name in names]
    rows.append(["added by the otel-ml hooks (per round)", Stats.of(added).format(2)])
    table = markdown_table(["start", "seconds, median (min-max)"], rows)
    command = f"python benchmarks/startup.py --rounds {rounds}"
    body = f"Hooks: {', '.join(hooks)}.\n\n{table}\n\n{provenance(command, DISTRIBUTIONS)}"
    print(body)
    if args.write_readme and not args.quick:
        replace_section(README, "startup", body)


if __name__ == "__main__":
    main()
