"""Anthropic SDK and LiteLLM overhead: otel_ml against no instrumentation and a peer.

Per call of Anthropic's ``messages.create`` and of ``litellm.completion``
(``openai/`` route) on an in-process ``MockTransport``: a non-streamed call,
and a stream of 100 content chunks, consumed fully. Each row runs in a
process of its own (``_frameworks_worker.py``); peers run in virtualenvs
created under ``benchmarks/.venvs/``. "Added" is the instrumented call minus
the library's own function of the same round, in the same process.

Anthropic rows: otel_ml with the SDK's own tracing off; the SDK's own tracing
alone (spans, no metrics) against the SDK without it; otel_ml beside the SDK's
tracing (it then records the metrics only) against the SDK with its tracing;
OpenLLMetry's instrumentation.

    .venv/bin/python benchmarks/genai_frameworks.py [--quick] [--only anthropic:otel_ml]
        [--write-readme]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import venv
from pathlib import Path
from typing import NamedTuple

from _common import markdown_table, provenance, replace_section
from genai import added, at_collection, bare_stream

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
VENVS = HERE / ".venvs"
WORKER = HERE / "_frameworks_worker.py"
BASE = ["openai", "opentelemetry-sdk", "httpx"]


class Row(NamedTuple):
    """One row: its library, the name the worker knows, a peer's packages, what it emits."""

    library: str
    name: str
    packages: list[str] | None
    emits: str


ROWS = [
    Row("anthropic", "otel_ml", None, "span, TTFT, per-chunk, tokens"),
    Row("anthropic", "sdk tracing", None, "span (the SDK's own), no metrics"),
    Row("anthropic", "otel_ml + sdk tracing", None, "the SDK's span; otel_ml's metrics"),
    Row("anthropic", "openllmetry", ["anthropic", "opentelemetry-instrumentation-anthropic"],
        "span, tokens, TTFT (streams)"),
    Row("litellm", "otel_ml", None, "span, TTFT, per-chunk, tokens"),
    Row("litellm", "openinference", ["litellm", "openinference-instrumentation-litellm"],
        "span, tokens on spans, no metrics"),
    # OpenLIT 1.45 requires openai < 3 (and anthropic < 1: no Anthropic row for it)
    Row("litellm", "openlit", ["litellm", "openlit>=1.45", "openai<3"], "span, tokens, TTFT"),
]  # fmt: skip
DISTRIBUTIONS = ["anthropic", "litellm", "opentelemetry-sdk", "otel-ml"]


def python_for(row: Row) -> tuple[Path | None, str]:
    """The interpreter of ``row``, creating its virtualenv; or why there is none."""
    if row.packages is None:
        return Path(sys.executable), ""
    home = VENVS / f"{row.library}-{row.name}"
    python = home / "bin" / "python"
    if not (home / "bin" / "pip").exists():
        venv.create(home, with_pip=True, clear=True)
    install = [str(python), "-m", "pip", "install", "-q", *BASE, *row.packages]
    done = subprocess.run(install, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        return None, "not installable: " + (done.stderr.strip().splitlines() or ["?"])[-1][:120]
    return python, ""


def run(row: Row, rounds: int, calls: int) -> dict[str, list[float]] | str:
    """Per-round ns per call of the row's variants, or why it did not run."""
    python, problem = python_for(row)
    if python is None:
        return problem
    command = [str(python), str(WORKER), row.library, row.name, str(rounds), str(calls)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False,
                          cwd=HERE)  # fmt: skip
    if done.returncode != 0:
        return "did not run: " + (done.stderr.strip().splitlines() or ["?"])[-1][:120]
    result: dict[str, list[float]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report(command: str, results: list[tuple[Row, dict[str, list[float]] | str]]) -> str:
    """The markdown section: provenance, table, legend."""
    rows = []
    for row, result in results:
        if isinstance(result, str):
            rows.append([row.library, row.name, row.emits, result, "", "", ""])
            continue
        rows.append([row.library, row.name, row.emits, added(result, "plain").format(),
                     added(result, "stream").format(), at_collection(result, "stream").format(),
                     bare_stream(result)])  # fmt: skip
    headers = ["library", "instrumentation", "emits", "added per call, us",
               "added per 100-chunk stream, us", "at collection per stream, us",
               "bare stream, us (wall)"]  # fmt: skip
    legend = ("CPU time, medians across rounds (min-max in parentheses), paired with "
              "the library's own function in one round and process; see genai.py's "
              "legend.")  # fmt: skip
    return "\n\n".join([provenance(command, DISTRIBUTIONS), markdown_table(headers, rows), legend])


def main(argv: list[str] | None = None) -> int:
    """Run the rows, print the table, optionally rewrite the README section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--only", help="comma-separated library:instrumentation rows")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--calls", type=int)
    parser.add_argument("--write-readme", action="store_true", help=f"update {README.name}")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 20)
    calls = args.calls or (3 if args.quick else 10)
    wanted = set(args.only.split(",")) if args.only else None
    rows = [r for r in ROWS if wanted is None or f"{r.library}:{r.name}" in wanted]
    if not rows or rounds < 1 or calls < 1:
        parser.error("no such row, or non-positive counts")
    given = sys.argv[1:] if argv is None else argv
    command = " ".join(["python benchmarks/genai_frameworks.py", *given])
    section = report(command, [(row, run(row, rounds, calls)) for row in rows])
    print(section)
    if args.write_readme:
        replace_section(README, "genai-frameworks", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
