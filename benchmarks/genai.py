"""GenAI client overhead: otel_ml against no instrumentation and its peers.

Per call of ``chat.completions.create`` (and, in the rows marked so,
``responses.create``) through the real ``openai`` SDK on an in-process
``MockTransport``: a non-streamed call, and a streamed one of 100 content
chunks plus a usage chunk (Responses API: 100 text deltas between
``response.created`` and ``response.completed``), consumed fully. Each instrumentation runs
in a process of its own (``_genai_worker.py``); the peers run in virtualenvs
this script creates under ``benchmarks/.venvs/`` (never project dependencies).
"Added" is the instrumented call minus the SDK's own ``create`` of the same
round, in the same process. A peer that cannot be installed or run says so.

    .venv/bin/python benchmarks/genai.py [--quick] [--only otel_ml,openlit] [--write-readme]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import NamedTuple

from _common import Stats, markdown_table, provenance, replace_section

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
VENVS = HERE / ".venvs"
WORKER = HERE / "_genai_worker.py"
BASE = ["openai", "opentelemetry-sdk", "httpx"]
OPENLIT = ["openlit>=1.45", "openai<3"]


class Variant(NamedTuple):
    """One row of the table."""

    packages: list[str] | None
    """Its virtualenv's packages; ``None``: the project's own environment."""
    emits: str
    """What it emits of TTFT and token metrics."""
    instrumentor: str = ""
    """The worker's name for its instrumentation (default: the row's name)."""
    environ: dict[str, str] = {}  # noqa: RUF012 - never mutated
    api: str = "chat"
    """``chat`` (``chat.completions.create``) or ``responses`` (``responses.create``)."""


VARIANTS: dict[str, Variant] = {
    "otel_ml": Variant(None, "yes: TTFT, per-chunk, tokens"),
    # the same telemetry as OpenLIT emits: what otel_ml costs like for like
    "otel_ml (per-chunk off)": Variant(
        None, "TTFT, tokens", "otel_ml", {"OTEL_ML_GENAI_TIME_PER_CHUNK": "false"}
    ),
    "otel_ml (Responses API)": Variant(
        None, "yes: TTFT, per-chunk, tokens", "otel_ml", {}, "responses"
    ),
    # util-genai 1.x dropped a module openai-v2 2.4b0 imports: pin the last that has it
    "openai-v2": Variant(
        ["opentelemetry-instrumentation-openai-v2", "opentelemetry-util-genai==0.4b0"],
        "tokens, no TTFT",
    ),
    "openinference": Variant(
        ["openinference-instrumentation-openai"], "tokens on spans, no metrics"
    ),
    "openllmetry": Variant(["opentelemetry-instrumentation-openai"], "tokens, TTFT (streams)"),
    # OpenLIT 1.45 requires openai < 3: its rows run on the last openai 2.x
    "openlit": Variant(OPENLIT, "tokens, TTFT"),
    # the peers that hook ``responses.create`` too (openai-v2 does not)
    "openinference (Responses API)": Variant(
        ["openinference-instrumentation-openai"],
        "tokens on spans, no metrics",
        "openinference",
        {},
        "responses",
    ),
    "openllmetry (Responses API)": Variant(
        ["opentelemetry-instrumentation-openai"],
        "tokens on spans, no metrics",
        "openllmetry",
        {},
        "responses",
    ),
    "openlit (Responses API)": Variant(["openlit"], "tokens, TTFT", "openlit", {}, "responses"),
}
DISTRIBUTIONS = ["openai", "opentelemetry-sdk", "otel-ml"]


def python_for(name: str) -> tuple[Path | None, str]:
    """The interpreter to run ``name`` with, creating its virtualenv; or why not."""
    variant = VARIANTS[name]
    if variant.packages is None:
        return Path(sys.executable), ""
    home = VENVS / (variant.instrumentor or name)  # one virtualenv per peer, both APIs
    python = home / "bin" / "python"
    if not (home / "bin" / "pip").exists():  # absent, or left half-made by an interrupted run
        venv.create(home, with_pip=True, clear=True)
    install = [str(python), "-m", "pip", "install", "-q", *BASE, *variant.packages]
    done = subprocess.run(install, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        return None, "not installable: " + (done.stderr.strip().splitlines() or ["?"])[-1][:120]
    return python, ""


def run(name: str, rounds: int, calls: int) -> dict[str, list[float]] | str:
    """Per-round ns per call of ``name``'s variants, or the reason it did not run."""
    python, problem = python_for(name)
    if python is None:
        return problem
    variant = VARIANTS[name]
    command = [str(python), str(WORKER), variant.instrumentor or name, str(rounds), str(calls),
               variant.api]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=3600, check=False, cwd=HERE.parent,
        env={**os.environ, **variant.environ},
    )  # fmt: skip
    if done.returncode != 0:
        return "did not run: " + (done.stderr.strip().splitlines() or ["?"])[-1][:120]
    result: dict[str, list[float]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def added(samples: dict[str, list[float]], kind: str) -> Stats:
    """Microseconds the instrumentation adds per call, paired within rounds."""
    pairs = zip(samples[kind], samples[f"bare {kind}"], strict=True)
    return Stats.of([(traced - bare) / 1e3 for traced, bare in pairs])


def at_collection(samples: dict[str, list[float]], kind: str) -> Stats:
    """Microseconds per call the metric collection after the calls takes, beyond the
    collection after the bare calls of the same round."""
    pairs = zip(samples[f"{kind} collect"], samples[f"bare {kind} collect"], strict=True)
    return Stats.of([(traced - bare) / 1e3 for traced, bare in pairs])


def bare_stream(samples: dict[str, list[float]]) -> str:
    """The library's own stream: median CPU us, and median wall-clock us in parentheses."""
    cpu, wall = (
        Stats.of([v / 1e3 for v in samples[key]]) for key in ("bare stream", "bare stream wall")
    )
    return f"{cpu.median:.0f} ({wall.median:.0f})"


def report(command: str, results: dict[str, dict[str, list[float]] | str]) -> str:
    """The markdown section: provenance, table, notes."""
    rows = []
    for name, result in results.items():
        emits = VARIANTS[name].emits
        if isinstance(result, str):
            rows.append([name, emits, result, "", "", ""])
            continue
        rows.append([name, emits, added(result, "plain").format(), added(result, "stream").format(),
                     at_collection(result, "stream").format(), bare_stream(result)])  # fmt: skip
    headers = ["instrumentation", "emits", "added per call, us", "added per 100-chunk stream, us",
               "at collection per stream, us", "bare stream, us (wall)"]  # fmt: skip
    legend = ("CPU time of the worker process (all threads), medians across rounds (min-max in "
              "parentheses); \"added\" is paired with the "
              "SDK's own call in the same round and process. \"At collection\" is the metric "
              "collection after a round of streams, per stream, beyond the one after the bare "
              "streams: work left for collection time (off the request path, not free). The SDK "
              "itself costs milliseconds per call here, so differences of a few microseconds "
              "are within noise.")  # fmt: skip
    return "\n\n".join([provenance(command, DISTRIBUTIONS), markdown_table(headers, rows), legend])


def main(argv: list[str] | None = None) -> int:
    """Run every instrumentation, print the table, optionally rewrite the README section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--only", help="comma-separated instrumentations (default: all)")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--calls", type=int)
    parser.add_argument("--write-readme", action="store_true", help=f"update {README.name}")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 30)
    calls = args.calls or (5 if args.quick else 20)
    names = args.only.split(",") if args.only else list(VARIANTS)
    unknown = set(names) - set(VARIANTS)
    if unknown or rounds < 1 or calls < 1:
        parser.error(f"unknown instrumentation(s) {sorted(unknown)} or non-positive counts")
    given = sys.argv[1:] if argv is None else argv
    command = " ".join(["python benchmarks/genai.py", *given])
    section = report(command, {name: run(name, rounds, calls) for name in names})
    print(section)
    if args.write_readme:
        replace_section(README, "genai", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
