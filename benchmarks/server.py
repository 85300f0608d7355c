"""Server-level cost under load: the same FastAPI + scikit-learn app, per instrumentation.

Each variant is its own uvicorn process on 127.0.0.1 (``_server_app.py``);
``wrk -t1 -c16`` loads one at a time for a fixed duration, in interleaved
rounds whose order rotates. Requests/s, p50/p99 latency, server CPU per
request and peak RSS per variant; ratios to bare taken within each round::

    python benchmarks/server.py [--quick] [--rounds R] [--seconds S] [--write-readme]
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from _common import Stats, markdown_table, provenance, replace_section
from _server_load import (
    CONNECTIONS,
    Load,
    LoadError,
    Server,
    WrkResult,
    collector,
    collector_binary,
    cpu_seconds,
    ensure_wrk,
    peak_rss_mib,
    servers,
    workspace,
)
from _server_peers import prometheus_peer, py_spy, summarise
from _server_variants import BOUNDS, TARGETS, VARIANTS

README = Path(__file__).with_name("README.md")
DISTRIBUTIONS = (
    "fastapi",
    "starlette",
    "uvicorn",
    "scikit-learn",
    "opentelemetry-sdk",
    "opentelemetry-instrumentation-fastapi",
    "otel-ml",
)
PROFILED = ("contrib", "otel_ml", "otel_ml_contrib_http", "otel_ml_sampled")
PROFILE_LEGEND = (
    "Where the time goes (py-spy sampling each server from outside, without pausing it, "
    "under the same load after the rounds): share of the busy samples, and in parentheses "
    "that share of the CPU per request measured meanwhile, in us. A sample is charged to "
    "the innermost frame that belongs to a known part, so SDK time on the request path is "
    "charged to the instrumentation that called the SDK; threads waiting are left out."
)
SETTLE_S = 0.5  # between two loads, so one server's trailing export does not hit the next


@dataclass
class Samples:
    """Per-round measurements of one variant."""

    runs: list[WrkResult] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    peak_rss_mib: float = 0.0
    error: str = ""


def measure_round(load: Load, server: Server, seconds: float) -> tuple[WrkResult, float]:
    """One load of one server: wrk's numbers and the server's CPU us per request."""
    time.sleep(SETTLE_S)
    before = cpu_seconds(server.pid)
    result = load.run(server.port, seconds)
    used = cpu_seconds(server.pid) - before
    return result, 1e6 * used / max(result.requests, 1)


def run_rounds(
    load: Load, started: Mapping[str, Server], rounds: int, seconds: float, warmup_s: float
) -> dict[str, Samples]:
    """Warm every server once, then ``rounds`` interleaved rounds in rotating order."""
    names = list(started)
    samples = {name: Samples() for name in names}
    for name in names:
        load.run(started[name].port, warmup_s)
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            result, cpu_us = measure_round(load, started[name], seconds)
            samples[name].runs.append(result)
            samples[name].cpu_us.append(cpu_us)
        print(f"round {index + 1}/{rounds} done", file=sys.stderr)
    for name in names:
        samples[name].peak_rss_mib = peak_rss_mib(started[name].pid)
    return samples


def per_round_ratio(samples: Mapping[str, Samples], name: str, against: str) -> Stats:
    """Requests/s of ``name`` over ``against``'s, per round."""
    pairs = zip(samples[name].runs, samples[against].runs, strict=True)
    return Stats.of([a.per_second / b.per_second for a, b in pairs])


def per_round_cpu_ratio(samples: Mapping[str, Samples], name: str, against: str) -> Stats:
    """``against``'s CPU per request over ``name``'s, per round: the throughput ratio a
    server would reach with a core to itself, which the machine's other load moves less."""
    pairs = zip(samples[name].cpu_us, samples[against].cpu_us, strict=True)
    return Stats.of([b / a for a, b in pairs])


def table(samples: Mapping[str, Samples]) -> str:
    """One row per variant."""
    headers = [
        "variant",
        "emits",
        "requests/s",
        "/ bare",
        "p50, ms",
        "p99, ms",
        "server CPU per request, us",
        "bare's CPU / this CPU",
        "peak RSS, MiB",
    ]
    rows = []
    for variant in VARIANTS:
        if variant.name not in samples:
            continue
        got = samples[variant.name]
        if got.error:
            rows.append([variant.label, variant.emits, got.error] + [""] * 6)
            continue
        ratios = ["-", "-"]
        if variant.name != "bare":
            ratios = [
                per_round_ratio(samples, variant.name, "bare").format(2, "x"),
                per_round_cpu_ratio(samples, variant.name, "bare").format(2, "x"),
            ]
        rows.append(
            [
                variant.label,
                variant.emits,
                Stats.of([r.per_second for r in got.runs]).format(0),
                ratios[0],
                Stats.of([r.p50_ms for r in got.runs]).format(1),
                Stats.of([r.p99_ms for r in got.runs]).format(1),
                Stats.of(got.cpu_us).format(0),
                ratios[1],
                f"{got.peak_rss_mib:.0f}",
            ]
        )
    return markdown_table(headers, rows)


def verdicts(samples: Mapping[str, Samples]) -> str:
    """One line per target, on requests/s and on CPU per request."""
    lines = []
    for name, against, target, what in TARGETS:
        absent = Samples(error="absent")
        if samples.get(name, absent).error or samples.get(against, absent).error:
            lines.append(f"- {what}: not measured")
            continue
        for unit, ratio in (
            ("requests/s", per_round_ratio(samples, name, against)),
            ("CPU per request (inverse)", per_round_cpu_ratio(samples, name, against)),
        ):
            status = (
                "met" if ratio.median >= target else f"not met, {target - ratio.median:.2f} short"
            )
            lines.append(
                f"- {what}, {unit}: {ratio.median:.2f}x (per round {ratio.low:.2f}-"
                f"{ratio.high:.2f}; target >= {target}x): {status}"
            )
    for name, against, what in BOUNDS:
        if all(n in samples and not samples[n].error for n in (name, against)):
            ratio = per_round_ratio(samples, name, against)
            cpu = per_round_cpu_ratio(samples, name, against)
            lines.append(
                f"- {what}: {ratio.median:.2f}x requests/s (per round {ratio.low:.2f}-"
                f"{ratio.high:.2f}), {cpu.median:.2f}x by CPU per request"
            )
    failures = {name: sum(r.failures for r in s.runs) for name, s in samples.items()}
    if any(failures.values()):
        lines.append(f"- failed requests (non-2xx or socket errors): {failures}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Profile:
    """Share of a server's busy samples per part of it, and its CPU per request then."""

    variant: str
    parts: list[tuple[str, float]]
    cpu_us: float
    error: str = ""


def profile(load: Load, server: Server, seconds: float, folder: Path) -> Profile:
    """Where ``server``'s time goes under load: py-spy samples it from outside,
    without pausing it, while wrk loads it as in the rounds."""
    binary = py_spy()
    if binary is None:
        return Profile(server.variant, [], 0.0, "py-spy could not be installed")
    raw = folder / f"{server.variant}.collapsed"
    argv = [str(binary), "record", "--pid", str(server.pid), "--duration", f"{seconds:.0f}"]
    argv += ["--rate", "250", "--format", "raw", "--nolineno", "--full-filenames"]
    argv += ["--nonblocking", "--output", str(raw)]
    spy = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # py-spy attaches before the load starts
    _, cpu_us = measure_round(load, server, seconds - 2)
    _, err = spy.communicate(timeout=seconds + 60)
    if spy.returncode or not raw.is_file():
        reason = err.decode(errors="replace").strip()[-300:]
        return Profile(server.variant, [], cpu_us, f"py-spy failed: {reason}")
    return Profile(server.variant, summarise(raw), cpu_us)


def profile_table(profiles: Sequence[Profile]) -> str:
    """Rows: parts of the server; columns: profiled variants; cells: share of the busy
    samples and that share of the CPU per request measured during the profile."""
    labels = {v.name: v.label for v in VARIANTS}
    done = [p for p in profiles if not p.error]
    lines = [f"- {labels[p.variant]}: no profile, {p.error}" for p in profiles if p.error]
    if done:
        parts = sorted({name for p in done for name, _ in p.parts})
        shares = [dict(p.parts) for p in done]
        order = sorted(parts, key=lambda name: -max(s.get(name, 0.0) for s in shares))
        rows = [
            [name]
            + [
                f"{s.get(name, 0.0):.0%} ({s.get(name, 0.0) * p.cpu_us:.0f})"
                for s, p in zip(shares, done, strict=True)
            ]
            for name in order
        ]
        rows.append(["CPU per request during the profile, us"] + [f"{p.cpu_us:.0f}" for p in done])
        lines.insert(
            0, markdown_table(["part of the server"] + [labels[p.variant] for p in done], rows)
        )
    return "\n\n".join(lines)


def measure(
    args: argparse.Namespace, folder: Path
) -> tuple[dict[str, Samples], str, list[Profile]]:
    """Start the collector and the servers, run the rounds, profile where asked."""
    load = Load(ensure_wrk(), folder)
    environ: dict[str, dict[str, str]] = {v.name: {} for v in VARIANTS if v.name in args.only}
    skipped: dict[str, str] = {}
    notes = []
    if "prometheus" in environ:
        peer = prometheus_peer()
        if peer.site_packages is None:
            skipped["prometheus"] = f"not run: {peer.error}"
            del environ["prometheus"]
        else:
            environ["prometheus"] = {"PYTHONPATH": str(peer.site_packages)}
            notes.append(f"- peer: {peer.versions} (own virtualenv, on the project's FastAPI)")
    binary = None if args.no_collector else collector_binary()
    with _sink(binary, folder) as (otlp, sink_note):
        notes.append(f"- export: {sink_note}")
        with servers(environ, folder, otlp) as started:
            samples = run_rounds(load, started, args.rounds, args.seconds, args.warmup)
            dropped = {n: s.dropped_spans() for n, s in started.items()}
            notes.append(
                "- spans dropped by a full batch span processor queue: "
                + (", ".join(f"{n}: {d}" for n, d in dropped.items() if d) or "none")
            )
            for name, reason in skipped.items():
                samples[name] = Samples(error=reason)
            wanted = [n for n in args.profile if n in started]
            profiles = [profile(load, started[n], args.profile_seconds, folder) for n in wanted]
    return samples, "\n".join(notes), profiles


@contextlib.contextmanager
def _sink(binary: Path | None, folder: Path) -> Iterator[tuple[str | None, str]]:
    """The collector's endpoint when one is built, else None (discarding exporters)."""
    common = "batch span processor, metrics collected every 10 s"
    if binary is None:
        yield (
            None,
            (
                "SDK variants export into discarding exporters (no collector built: "
                f"`python3 -m stack build`); {common}"
            ),
        )
        return
    with collector(binary, folder) as endpoint:
        yield (
            endpoint,
            (
                f"OTLP/gRPC to a local collector (`{binary.parent.name}`; metrics into its "
                "Prometheus exporter, traces received and dropped by a tail-sampling policy); "
                f"{common}"
            ),
        )


def report(command: str, args: argparse.Namespace) -> str:
    """The markdown section: provenance, setup, table, verdicts, profiles."""
    with workspace() as folder:
        samples, notes, profiles = measure(args, folder)
    setup = (
        f"- load: `wrk -t1 -c{CONNECTIONS} -d{args.seconds:g}s --latency`, POST of 20 floats, "
        f"{args.rounds} interleaved rounds after a {args.warmup:g} s warm-up of each server"
    )
    legend = (
        "Medians across rounds, min-max in parentheses; ratios are taken within each round "
        '("/ bare": requests/s over bare\'s). '
        "Server CPU is the uvicorn process's user + system time during the load over the "
        "requests served; peak RSS is its VmHWM at the end."
    )
    lines = verdicts(samples)
    parts = [provenance(command, DISTRIBUTIONS) + "\n" + setup + "\n" + notes, table(samples)]
    parts += [legend, lines]
    if profiles:
        parts.append(PROFILE_LEGEND + "\n\n" + profile_table(profiles))
    return "\n\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table, optionally rewrite the README section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="a short smoke run (1 round x 1 s, no profiles)"
    )
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5)")
    parser.add_argument("--seconds", type=float, help="wrk duration per load (default 10)")
    parser.add_argument("--warmup", type=float, help="warm-up load per server, s (default 3)")
    parser.add_argument(
        "--profile",
        action="append",
        choices=[v.name for v in VARIANTS],
        help=f"profile this variant with py-spy (default: {', '.join(PROFILED)}; none in --quick)",
    )
    parser.add_argument("--profile-seconds", type=float, default=10.0)
    parser.add_argument(
        "--no-collector", action="store_true", help="discarding exporters even if built"
    )
    parser.add_argument(
        "--only", help="comma separated variants to run (default all; bare is always run)"
    )
    parser.add_argument("--write-readme", action="store_true", help=f"update {README.name}")
    args = parser.parse_args(argv)
    args.rounds = args.rounds if args.rounds is not None else (1 if args.quick else 5)
    args.seconds = args.seconds if args.seconds is not None else (1.0 if args.quick else 10.0)
    if args.profile is None:
        args.profile = [] if args.quick else list(PROFILED)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 3.0)
    if args.rounds < 1 or args.seconds < 1 or args.warmup < 1:
        parser.error("--rounds, --seconds and --warmup must be >= 1")
    names = [v.name for v in VARIANTS]
    args.only = set(args.only.split(",") if args.only else names) | {"bare"}
    if args.only - set(names):
        parser.error(f"--only: unknown variant(s) {sorted(args.only - set(names))}")
    given = sys.argv[1:] if argv is None else list(argv)
    command = " ".join(["python benchmarks/server.py", *given])
    try:
        section = report(command, args)
    except LoadError as exc:
        print(f"server benchmark: {exc}", file=sys.stderr)
        return 1
    print(section)
    if args.write_readme:
        replace_section(README, "server", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
