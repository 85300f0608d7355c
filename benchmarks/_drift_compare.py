"""otel_ml against scipy and Evidently on the same data: time, memory, verdicts.

Each tool runs in a subprocess of its own (``_drift_tools.py``), in rounds
whose order rotates, so peak RSS numbers do not mix and a slow phase of the
machine hits every tool. Evidently lives in a virtualenv this module creates
under ``benchmarks/.venvs/evidently``, never in the project's dependencies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import Stats, markdown_table, ratio_of_medians
from _drift_data import (
    FEATURES,
    SHIFTS,
    family,
    feature_name,
    reference_rows,
    true_shift,
    write_current,
)

HERE = Path(__file__).parent
TOOLS_SCRIPT = HERE / "_drift_tools.py"
EVIDENTLY_VENV = HERE / ".venvs" / "evidently"
# pandas 3 removed a function Evidently 0.7.23 imports; the pin keeps it importable.
EVIDENTLY_REQUIREMENTS = ("evidently==0.7.23", "pandas<3")
INSTALL_TIMEOUT_S = 1200
RUN_TIMEOUT_S = 1800


@dataclass(frozen=True)
class Sizes:
    """Rows of the comparison: reference, current, and current rows streamed for memory."""

    reference: int
    current: int
    streamed: int
    batch_rows: int = 8192


@dataclass
class Peer:
    """A peer tool's interpreter, or why there is none."""

    python: str | None
    version: str = ""
    error: str = ""


@dataclass
class Results:
    """Every run of every tool step, in round order; the first failure of a step."""

    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _tail(text: str, lines: int = 6) -> str:
    return " / ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def evidently_peer(install: bool) -> Peer:
    """The Evidently virtualenv's python, installed first when ``install`` and missing."""
    python = EVIDENTLY_VENV / "bin" / "python"
    marker = EVIDENTLY_VENV / ".installed"
    wanted = " ".join(EVIDENTLY_REQUIREMENTS)
    ready = marker.is_file() and marker.read_text(encoding="utf-8") == wanted
    if not ready and not install:
        return Peer(
            None,
            error="skipped in --quick: its virtualenv is not installed yet "
            "(a run without --quick installs it, which takes minutes)",
        )
    if not ready:
        print(f"installing {wanted} into {EVIDENTLY_VENV} ...", file=sys.stderr)
        steps = [
            [sys.executable, "-m", "venv", "--clear", str(EVIDENTLY_VENV)],
            [str(python), "-m", "pip", "install", "--quiet", *EVIDENTLY_REQUIREMENTS],
        ]
        for step in steps:
            done = subprocess.run(
                step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
            )
            if done.returncode:
                return Peer(None, error=f"install failed: {_tail(done.stderr or done.stdout)}")
        marker.write_text(wanted, encoding="utf-8")
    probe = "import importlib.metadata as m; print(m.version('evidently'), m.version('pandas'))"
    done = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode:
        return Peer(None, error=f"not importable: {_tail(done.stderr)}")
    evidently, pandas = done.stdout.split()
    return Peer(str(python), version=f"evidently {evidently}, pandas {pandas} (own virtualenv)")


def prepare(folder: Path, sizes: Sizes) -> tuple[Path, Path]:
    """Write the reference rows and the streamed current rows (the first
    ``sizes.current`` of which are the current rows every tool compares)."""
    reference, current = folder / "reference.npy", folder / "current.npy"
    import numpy as np

    np.save(reference, reference_rows(sizes.reference))
    write_current(current, sizes.streamed, sizes.current)
    return reference, current


def _steps(sizes: Sizes, peer: Peer) -> dict[str, tuple[str | None, str, int]]:
    """Step name -> (interpreter, tool, current rows)."""
    steps: dict[str, tuple[str | None, str, int]] = {
        "otel_ml fit": (sys.executable, "otel-fit", 0),
        "otel_ml check": (sys.executable, "otel-check", sizes.current),
        "otel_ml check, streamed": (sys.executable, "otel-check", sizes.streamed),
        "scipy": (sys.executable, "scipy", sizes.current),
        "Evidently": (peer.python, "evidently", sizes.current),
    }
    return steps


def run_tool(python: str, tool: str, rows: int, files: dict[str, Path], sizes: Sizes) -> Any:
    """One subprocess run of ``_drift_tools.py``; its JSON result."""
    result = files["folder"] / f"{tool}-{rows}.json"
    command = [
        python,
        str(TOOLS_SCRIPT),
        tool,
        "--reference",
        str(files["reference"]),
        "--current",
        str(files["current"]),
        "--rows",
        str(rows),
        "--batch-rows",
        str(sizes.batch_rows),
        "--profile",
        str(files["profile"]),
        "--result",
        str(result),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False, env=env
    )
    if done.returncode:
        raise RuntimeError(_tail(done.stderr or done.stdout))
    return json.loads(result.read_text(encoding="utf-8"))


def compare(sizes: Sizes, rounds: int, peer: Peer) -> Results:
    """Run every step once per round, in a rotating order; collect results and errors."""
    results = Results()
    with tempfile.TemporaryDirectory(prefix="otel-ml-drift-") as tmp:
        folder = Path(tmp)
        reference, current = prepare(folder, sizes)
        files = {
            "folder": folder,
            "reference": reference,
            "current": current,
            "profile": folder / "profile.json",
        }
        steps = _steps(sizes, peer)
        run_tool(sys.executable, "otel-fit", 0, files, sizes)  # the profile the checks read
        names = list(steps)
        for index in range(rounds):
            shift = index % len(names)
            for name in names[shift:] + names[:shift]:
                python, tool, rows = steps[name]
                if python is None or name in results.errors:
                    continue
                try:
                    run = run_tool(python, tool, rows, files, sizes)
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    results.errors[name] = str(exc)
                    continue
                results.runs.setdefault(name, []).append(run)
    if peer.python is None:
        results.errors["Evidently"] = peer.error
    return results


STEP_DESCRIPTIONS = {
    "otel_ml fit": "`ReferenceProfile.fit` on the reference rows",
    "otel_ml check": "current rows through a `DriftWindow` in batches, scores, verdicts",
    "otel_ml fit + check": "the two above, per round",
    "otel_ml check, streamed": "the same check on the streamed rows",
    "scipy": "`ks_2samp` per feature on the raw arrays",
    "Evidently": "`Report([DataDriftPreset()])` on pandas frames",
}


def _with_total(runs: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    fits, checks = runs.get("otel_ml fit", []), runs.get("otel_ml check", [])
    total = [
        {
            "seconds": f["seconds"] + c["seconds"],
            "peak_rss_mb": max(f["peak_rss_mb"], c["peak_rss_mb"]),
            # the growth of the step that set the peak
            "rss_before_mb": (f if f["peak_rss_mb"] >= c["peak_rss_mb"] else c)["rss_before_mb"],
        }
        for f, c in zip(fits, checks, strict=False)
    ]
    ordered = {k: v for k, v in runs.items() if k in ("otel_ml fit", "otel_ml check")}
    if total:
        ordered["otel_ml fit + check"] = total
    ordered.update({k: v for k, v in runs.items() if k not in ordered})
    return ordered


def _rows_of(name: str, sizes: Sizes) -> str:
    if name == "otel_ml fit":
        return f"{sizes.reference:,} reference"
    if name == "otel_ml check, streamed":
        return f"{sizes.streamed:,} current, {sizes.batch_rows:,} a batch"
    if name in ("otel_ml check", "otel_ml fit + check"):
        return f"{sizes.current:,} current" + (
            f", {sizes.batch_rows:,} a batch" if name == "otel_ml check" else ""
        )
    return f"{sizes.reference:,} reference, {sizes.current:,} current"


def timing_table(results: Results, sizes: Sizes) -> str:
    """Wall time, peak RSS and the Evidently-to-step time ratio of every step."""
    runs = _with_total(results.runs)
    evidently = [r["seconds"] for r in runs.get("Evidently", [])]
    rows = []
    for name, done in runs.items():
        seconds = [r["seconds"] for r in done]
        ratio = "-"
        if evidently and name != "Evidently" and len(evidently) == len(seconds):
            ratio = ratio_of_medians(evidently, seconds).format(1, "x")
        rows.append(
            [
                name,
                _rows_of(name, sizes),
                STEP_DESCRIPTIONS[name],
                Stats.of(seconds).format(3),
                Stats.of([r["peak_rss_mb"] for r in done]).format(0),
                Stats.of([r["peak_rss_mb"] - r["rss_before_mb"] for r in done]).format(0),
                ratio,
            ]
        )
    for name, error in results.errors.items():
        rows.append(
            [
                name,
                _rows_of(name, sizes),
                STEP_DESCRIPTIONS[name],
                f"not run: {error}",
                "-",
                "-",
                "-",
            ]
        )
    headers = [
        "step",
        "rows",
        "what is timed",
        "wall time, s",
        "peak RSS, MiB",
        "peak RSS - RSS at start of the step, MiB",
        "Evidently's time / this",
    ]
    return markdown_table(headers, rows)


def _last(results: Results, name: str) -> dict[str, Any]:
    done = results.runs.get(name)
    return done[-1]["features"] if done else {}


def agreement_table(results: Results) -> str:
    """Per feature: the true shift and each tool's verdict on it."""
    ours, scipy, evidently = (_last(results, n) for n in ("otel_ml check", "scipy", "Evidently"))
    missing = "not run" if "Evidently" in results.errors else "-"
    rows = []
    for i in range(FEATURES):
        name = feature_name(i)
        o, s, e = ours.get(name), scipy.get(name), evidently.get(name)
        rows.append(
            [
                name,
                family(i),
                true_shift(i),
                f"**{o['verdict']}**"
                if o and o["verdict"] != "ok"
                else (o["verdict"] if o else "-"),
                f"{o['psi']:.3f} / {o['ks']:.3f}" if o else "-",
                f"{s['ks']:.3f} / {s['p']:.1e}" if s else "-",
                ("**drift**" if s["p"] < 0.05 else "ok") if s else "-",
                f"{e['score']:.3f}" if e else missing,
                ("**drift**" if e["drift"] else "ok") if e else missing,
            ]
        )
    method = next(iter(evidently.values()))["method"] if evidently else "its default"
    headers = [
        "feature",
        "distribution",
        "true shift",
        "otel_ml verdict",
        "otel_ml PSI / KS",
        "scipy KS stat / p",
        "scipy p < 0.05",
        f"Evidently score ({method})",
        "Evidently drift",
    ]
    return markdown_table(headers, rows)


def _flags(features: dict[str, dict[str, Any]], flagged: Any) -> str:
    material = [feature_name(i) for i, s in SHIFTS.items() if s.material]
    negligible = [feature_name(i) for i, s in SHIFTS.items() if not s.material]
    unshifted = [feature_name(i) for i in range(FEATURES) if i not in SHIFTS]
    hits = sum(flagged(features[n]) for n in material)
    false = sum(flagged(features[n]) for n in unshifted)
    small = sum(flagged(features[n]) for n in negligible)
    return (
        f"{hits} of {len(material)} shifted features, {false} of {len(unshifted)} "
        f"unshifted ones, {small} of {len(negligible)} negligibly shifted"
    )


def summary(results: Results, sizes: Sizes, target: float) -> str:
    """Verdict lines: speed against the target, memory flatness, who flags what."""
    runs, lines = _with_total(results.runs), []
    evidently = [r["seconds"] for r in runs.get("Evidently", [])]
    total = [r["seconds"] for r in runs.get("otel_ml fit + check", [])]
    if evidently and len(evidently) == len(total):
        ratio = ratio_of_medians(evidently, total).median
        status = "met" if ratio >= target else "not met"
        lines.append(
            f"- speed: Evidently takes {ratio:.0f}x otel_ml's fit + check "
            f"(target >= {target:.0f}x): {status}"
        )
    else:
        reason = results.errors.get("Evidently", "no paired runs")
        lines.append(f"- speed: no Evidently time to compare with ({reason})")
    check, streamed = runs.get("otel_ml check"), runs.get("otel_ml check, streamed")
    if check and streamed:
        a = Stats.of([r["peak_rss_mb"] for r in check]).median
        b = Stats.of([r["peak_rss_mb"] for r in streamed]).median
        lines.append(
            f"- memory: otel_ml's check peaks at {a:.0f} MiB after {sizes.current:,} "
            f"rows and {b:.0f} MiB after {sizes.streamed:,} rows ({b - a:+.0f} MiB)"
        )
    checks = (
        ("otel_ml", "otel_ml check", lambda f: f["verdict"] == "drift"),
        ("scipy (p < 0.05)", "scipy", lambda f: f["p"] < 0.05),
        ("Evidently", "Evidently", lambda f: f["drift"]),
    )
    for label, name, flagged in checks:
        if results.runs.get(name):
            lines.append(f"- {label} flags {_flags(_last(results, name), flagged)}")
    return "\n".join(lines)
