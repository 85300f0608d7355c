"""Reading a training CSV for ``otel-ml profile`` / ``report``: time and peak memory.

Each reader runs in a fresh Python process (its peak RSS is its own), in
interleaved rounds: this tree's reader, the reader of an earlier commit
(``--previous REV``, imported beside it) and pandas' ``read_csv`` with its
defaults, on one generated file of numeric and text columns::

    python benchmarks/csv_read.py [--quick] [--rows N] [--rounds R] [--previous REV]
                                  [--write-readme]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import Stats, markdown_table, provenance, replace_section

README = Path(__file__).with_name("README.md")
HERE = Path(__file__).resolve().parent
DISTRIBUTIONS = ("numpy", "pandas")

# One reader, timed in its own process: wall and CPU seconds, peak RSS in MiB.
_RUN = """
import json, resource, sys, time
sys.path.insert(0, {here!r})
kind, path, previous = sys.argv[1], sys.argv[2], sys.argv[3]
if kind == "pandas":
    import pandas
    read = pandas.read_csv
elif kind == "previous":
    from _previous import load_previous
    load_previous(previous)
    from otel_ml_previous.cli.tabular import read_table as read
else:
    from otel_ml.cli.tabular import read_table as read
before = resource.getrusage(resource.RUSAGE_SELF)
started = time.perf_counter()
read(path)
wall = time.perf_counter() - started
after = resource.getrusage(resource.RUSAGE_SELF)
cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
print(json.dumps({{"wall": wall, "cpu": cpu, "rss": after.ru_maxrss / 1024}}))
"""


def write_csv(path: Path, rows: int) -> None:
    """Eight numeric columns, a three-category text column and a 0/1 label."""
    rng = np.random.default_rng(0)
    numbers = rng.normal(size=(rows, 8)).round(4)
    channel = rng.choice(["web", "app", "store"], rows)
    label = rng.integers(0, 2, rows)
    with path.open("w", encoding="utf-8") as out:
        out.write(",".join([f"f{i}" for i in range(8)] + ["channel", "label"]) + "\n")
        for start in range(0, rows, 100_000):
            stop = min(rows, start + 100_000)
            out.writelines(
                ",".join(map(str, numbers[i])) + f",{channel[i]},{label[i]}\n"
                for i in range(start, stop)
            )


def measure(kind: str, path: Path, previous: str) -> dict[str, float]:
    """One read in a fresh process."""
    code = _RUN.format(here=str(HERE))
    done = subprocess.run(
        [sys.executable, "-c", code, kind, str(path), previous],
        capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--previous", default="HEAD~1", help="commit whose reader to compare")
    parser.add_argument("--quick", action="store_true", help="20,000 rows, 2 rounds")
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    rows, rounds = (20_000, 2) if args.quick else (args.rows, args.rounds)
    kinds = ("this tree", "previous", "pandas")
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.csv"
        write_csv(path, rows)
        size_mb = path.stat().st_size / 1e6
        for index in range(rounds):
            for kind in kinds[index % 3 :] + kinds[: index % 3]:
                runs[kind].append(measure(kind.split()[0], path, args.previous))
    table = markdown_table(
        ["reader", "wall s", "CPU s", "peak RSS MiB", "CPU vs pandas"],
        [_row(kind, runs[kind], runs["pandas"]) for kind in kinds],
    )
    command = (
        f"python benchmarks/csv_read.py --rows {rows} --rounds {rounds} --previous {args.previous}"
    )
    body = f"{rows:,} rows, {size_mb:.0f} MB.\n\n{table}\n\n{provenance(command, DISTRIBUTIONS)}"
    print(body)
    if args.write_readme and not args.quick:
        replace_section(README, "csv-read", body)


def _row(kind: str, runs: list[dict[str, float]], pandas: list[dict[str, float]]) -> list[str]:
    cpu = Stats.of([r["cpu"] for r in runs])
    ratio = cpu.median / Stats.of([r["cpu"] for r in pandas]).median
    return [
        kind,
        Stats.of([r["wall"] for r in runs]).format(2),
        cpu.format(2),
        Stats.of([r["rss"] for r in runs]).format(0),
        f"{ratio:.1f}x",
    ]


if __name__ == "__main__":
    main()
