"""Helpers shared by the benchmarks: interleaved timing, medians, tables, provenance.

The rules every benchmark here follows: variants are timed in interleaved
rounds in one process (so drift of a shared, noisy machine hits all of them
alike), results are medians across rounds with the min-max range, and the
difference between two variants is taken within each round before summarising.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import math
import os
import platform
import random
import re
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path


@dataclass(frozen=True)
class Stats:
    """Median and range of one quantity across rounds."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        """Summarise ``values`` (at least one)."""
        return cls(statistics.median(values), min(values), max(values))

    def format(self, digits: int = 1, suffix: str = "") -> str:
        """``median (low-high)`` with ``digits`` decimals."""
        return f"{self.median:.{digits}f}{suffix} ({self.low:.{digits}f}-{self.high:.{digits}f})"


def time_per_call(fn: Callable[[], object], calls: int) -> float:
    """Nanoseconds per call of ``fn`` over ``calls`` back-to-back calls."""
    gc.collect()  # garbage left by the previous variant is not charged to this one
    start = time.perf_counter_ns()
    for _ in range(calls):
        fn()
    return (time.perf_counter_ns() - start) / calls


def interleave(
    variants: Mapping[str, Callable[[], object]], rounds: int, calls: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Per-round nanoseconds per call of each variant, timed in interleaved rounds.

    Each round times ``calls`` calls of every variant; the starting variant
    rotates from round to round so none always runs right after the same
    neighbour. ``warmup`` extra rounds run first and are discarded.
    """
    names = list(variants)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for index in range(warmup + rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            per_call = time_per_call(variants[name], calls)
            if index >= warmup:
                samples[name].append(per_call)
    return samples


def ratio_of_medians(
    numerator: Sequence[float], denominator: Sequence[float], resamples: int = 2000
) -> Stats:
    """``median(numerator) / median(denominator)`` over paired rounds, with a
    90% bootstrap interval (rounds resampled in pairs) as the range."""
    pairs = list(zip(numerator, denominator, strict=True))
    rng = random.Random(0)  # a fixed seed: the same samples give the same interval

    def ratio(sample: Sequence[tuple[float, float]]) -> float:
        below = statistics.median(d for _, d in sample)
        return statistics.median(n for n, _ in sample) / below if below else math.nan

    spread = sorted(ratio(rng.choices(pairs, k=len(pairs))) for _ in range(resamples))
    return Stats(ratio(pairs), spread[int(0.05 * resamples)], spread[int(0.95 * resamples) - 1])


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions(distributions: Sequence[str]) -> str:
    """``name version`` of each installed distribution, comma-separated."""
    found = []
    for name in distributions:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def provenance(command: str, distributions: Sequence[str]) -> str:
    """Markdown lines saying what produced a table: command, machine, date."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{cpu_model()}, {usable} usable cores, {platform.system()} {platform.release()}"
    lines = [
        f"- command: `{command}`",
        f"- machine: {machine}",
        f"- software: Python {platform.python_version()}, {versions(distributions)}",
        f"- date: {today}",
    ]
    return "\n".join(lines)


def replace_section(path: Path, name: str, body: str) -> None:
    """Replace the text between ``<!-- name:begin -->`` and ``<!-- name:end -->``."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"{path} has no {begin} ... {end} section")
    replaced = pattern.sub(lambda _: f"{begin}\n{body.strip()}\n{end}", text, count=1)
    path.write_text(replaced, encoding="utf-8")


def publish(
    table: str, command: str, distributions: Sequence[str], section: str | None = None
) -> None:
    """Print ``table`` with what produced it; with ``section``, also put it into
    benchmarks/README.md between that section's markers."""
    body = f"{table}\n\n{provenance(command, distributions)}"
    print(body)
    if section is not None:
        replace_section(Path(__file__).with_name("README.md"), section, body)


@dataclass(frozen=True)
class TimingRun:
    """What a timing benchmark's command line asked for."""

    rounds: int
    calls: int
    quick: bool
    write_readme: bool


def timing_run(description: str, rounds: int, calls: int, quick_calls: int) -> TimingRun:
    """Parse ``--rounds``, ``--calls``, ``--quick`` (3 rounds of ``quick_calls``) and
    ``--write-readme`` for a benchmark timed with :func:`interleave`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--calls", type=int, default=calls)
    parser.add_argument("--quick", action="store_true", help=f"3 rounds of {quick_calls:,} calls")
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    if args.quick:
        return TimingRun(3, quick_calls, True, args.write_readme)
    return TimingRun(args.rounds, args.calls, False, args.write_readme)
