"""Per-call overhead of the transformers and PyTorch hooks, and what the PyTorch
hook costs every module call nested in a forward pass.

Side by side in one process: a tiny text-classification pipeline (one text a
call) and a small PyTorch MLP (one row a call), each bare, under "the floor"
(one bare SDK span plus one histogram record around the call), under otel_ml's
hooks (``TransformersInstrumentor``, ``TorchInstrumentor``, both) and through
``wrap_model``. The hooks patch classes, so each variant's block of calls runs
with exactly its hooks instrumented (instrument and uninstrument happen between
blocks, untimed). Then a model of 100 nested ``Linear`` layers (101 module
calls a forward pass) bare, hooked (one span), hooked inside a running
inference (all 101 calls nested: the per-layer cost alone), and with a global
forward pre-hook that only reads a ContextVar (the alternative design)::

    python benchmarks/model_hooks.py [--quick] [--rounds R] [--write-readme]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"  # the models are built here, never downloaded

import torch
from _common import (
    Stats,
    markdown_table,
    provenance,
    ratio_of_medians,
    replace_section,
    time_per_call,
)
from overhead import Sdk, floor_call
from transformers import BertConfig, BertForSequenceClassification, BertTokenizer, pipeline

import otel_ml
from otel_ml.inference.hooks import hooks_quiet, inside
from otel_ml.instrumentation._patching import PatchingInstrumentor
from otel_ml.instrumentation.torch import TorchInstrumentor
from otel_ml.instrumentation.transformers import TransformersInstrumentor

README = Path(__file__).with_name("README.md")
DISTRIBUTIONS = ("opentelemetry-sdk", "torch", "transformers")
DEPTH = 100
Variant = tuple[Callable[[], AbstractContextManager[object]], Callable[[], object]]
"""What a block of calls runs under (the hooks it instruments), and the call."""


def tiny_pipeline() -> Any:
    """A one-layer BERT text classifier (hidden size 32) with a word-level vocabulary."""
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "movie", "the", "is"]
    vocab = Path(tempfile.mkdtemp(prefix="otel-ml-bench-")) / "vocab.txt"
    vocab.write_text("\n".join(words) + "\n", encoding="utf-8")
    config = BertConfig(
        vocab_size=len(words),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=32,
    )
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    model.train(False)
    return pipeline("text-classification", model=model, tokenizer=BertTokenizer(str(vocab)))


def mlp(depth: int) -> torch.nn.Module:
    """``depth`` ``Linear(16, 16)`` layers in one ``Sequential``, in eval mode."""
    torch.manual_seed(0)
    return torch.nn.Sequential(*(torch.nn.Linear(16, 16) for _ in range(depth))).eval()


class Hooks:
    """Instruments exactly the hooks a block asks for, on one SDK set-up."""

    def __init__(self, sdk: Sdk) -> None:
        self.sdk = sdk

    @contextmanager
    def on(self, *kinds: type[PatchingInstrumentor]) -> Iterator[object]:
        """Instrument ``kinds`` for the block, uninstrument after it."""
        used = [kind() for kind in kinds]
        for instrumentor in used:
            instrumentor.instrument(
                tracer_provider=self.sdk.tracer_provider, meter_provider=self.sdk.meter_provider
            )
        try:
            yield None
        finally:
            for instrumentor in reversed(used):
                instrumentor.uninstrument()


def interleave_blocks(
    variants: Mapping[str, Variant], rounds: int, calls: int, warmup: int = 1
) -> dict[str, list[float]]:
    """``_common.interleave`` with a set-up per block: each round times
    ``calls`` calls of every variant inside its context, rotating the order."""
    names = list(variants)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for index in range(warmup + rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            under, call = variants[name]
            with under():
                per_call = time_per_call(call, calls)
            if index >= warmup:
                samples[name].append(per_call)
    return samples


def per_call_variants(sdk: Sdk, hooks: Hooks) -> dict[str, dict[str, Variant]]:
    """The pipeline and MLP variants, by model."""
    pipe, text = tiny_pipeline(), "good movie"
    net, row = mlp(3), torch.randn(1, 16)
    tracer, meter = sdk.tracer_provider, sdk.meter_provider
    wrapped_pipe = otel_ml.wrap_model(
        pipe, "bench", "1", tracer_provider=tracer, meter_provider=meter
    )
    wrapped_net = otel_ml.wrap_model(
        net, "bench", "1", tracer_provider=tracer, meter_provider=meter
    )
    pipe_floor = floor_call(sdk, pipe, "predict", text)
    net_floor = floor_call(sdk, net, "predict", row)
    return {
        "pipeline (1 text)": {
            "bare": (nullcontext, lambda: pipe(text)),
            "floor": (nullcontext, pipe_floor),
            "transformers hook": (lambda: hooks.on(TransformersInstrumentor), lambda: pipe(text)),
            "transformers + torch hooks": (
                lambda: hooks.on(TransformersInstrumentor, TorchInstrumentor),
                lambda: pipe(text),
            ),
            "wrap_model": (nullcontext, lambda: wrapped_pipe(text)),
        },
        "MLP of 3 Linear (1 row)": {
            "bare": (nullcontext, lambda: net(row)),
            "floor": (nullcontext, net_floor),
            "torch hook": (lambda: hooks.on(TorchInstrumentor), lambda: net(row)),
            "wrap_model": (nullcontext, lambda: wrapped_net(row)),
        },
    }


def nested_variants(hooks: Hooks) -> dict[str, Variant]:
    """A forward pass of ``DEPTH`` nested layers under each design."""
    deep, row = mlp(DEPTH), torch.randn(1, 16)

    @contextmanager
    def pre_hook() -> Iterator[object]:
        def read_flag(module: torch.nn.Module, args: tuple[Any, ...]) -> None:
            inside.get()

        handle = torch.nn.modules.module.register_module_forward_pre_hook(read_flag)
        try:
            yield None
        finally:
            handle.remove()

    return {
        "bare": (nullcontext, lambda: deep(row)),
        "torch hook, one span": (lambda: hooks.on(TorchInstrumentor), lambda: deep(row)),
        "torch hook, inside an inference (all nested)": (
            lambda: hooks.on(TorchInstrumentor),
            lambda: hooks_quiet(deep, (row,), {}),
        ),
        "global forward pre-hook reading a ContextVar": (pre_hook, lambda: deep(row)),
        "bare, inside an inference": (nullcontext, lambda: hooks_quiet(deep, (row,), {})),
    }


NESTED_BASE = {
    "torch hook, inside an inference (all nested)": "bare, inside an inference",
    "global forward pre-hook reading a ContextVar": "bare",
    "torch hook, one span": "bare",
}
"""Nested variant -> the bare variant its added time is taken against (same wrapping)."""


def added(samples: Mapping[str, list[float]], name: str, base: str = "bare") -> list[float]:
    """Per-round microseconds ``name`` adds to ``base`` in the same round."""
    return [(v - b) / 1e3 for v, b in zip(samples[name], samples[base], strict=True)]


def per_call_rows(model: str, samples: dict[str, list[float]]) -> list[list[str]]:
    """One row per variant: time per call, added to bare, added / floor's added."""
    rows = []
    for name, values in samples.items():
        extra = added(samples, name) if name != "bare" else None
        ratio = (
            ratio_of_medians(extra, added(samples, "floor")).format(2, "x")
            if extra is not None and name != "floor"
            else "-"
        )
        rows.append([
            model,
            name,
            Stats.of([v / 1e3 for v in values]).format(),
            Stats.of(extra).format() if extra is not None else "-",
            ratio,
        ])  # fmt: skip
    return rows


def nested_rows(samples: dict[str, list[float]]) -> list[list[str]]:
    """One row per nested variant: time per forward pass, added, added per module call."""
    rows = []
    for name, values in samples.items():
        base = NESTED_BASE.get(name)
        extra = added(samples, name, base) if base else None
        per_module = (
            Stats.of([1e3 * e / (DEPTH + 1) for e in extra]).format(0)
            if extra is not None and name != "torch hook, one span"
            else "-"
        )
        total = Stats.of(extra).format() if extra is not None else "-"
        rows.append([name, Stats.of([v / 1e3 for v in values]).format(), total, per_module])
    return rows


def measure(rounds: int, calls: tuple[int, int, int]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per-round ns per call of every variant: per model, and the nested set."""
    torch.set_num_threads(1)  # one core's timing: no intra-op thread pool noise
    sdk = Sdk.build()
    hooks = Hooks(sdk)
    try:
        per_model = {
            model: interleave_blocks(variants, rounds, count)
            for (model, variants), count in zip(
                per_call_variants(sdk, hooks).items(), calls[:2], strict=True
            )
        }
        with torch.no_grad():
            nested = interleave_blocks(nested_variants(hooks), rounds, calls[2])
        return per_model, nested
    finally:
        sdk.shutdown()


def report(command: str, per_model: dict[str, Any], nested: dict[str, list[float]]) -> str:
    """The markdown section: provenance, the per-call table, the nested table, the verdict."""
    legend = (
        "Medians across rounds; in parentheses the min-max across rounds, and for "
        "ratios a 90% bootstrap interval."
    )
    calls = markdown_table(
        ["model", "variant", "per call, us", "added to bare, us", "added / floor's"],
        [row for model, samples in per_model.items() for row in per_call_rows(model, samples)],
    )
    layers = markdown_table(
        [f"{DEPTH} nested Linear layers ({DEPTH + 1} module calls)", "per forward pass, us",
         "added, us", "added per module call, ns"],
        nested_rows(nested),
    )  # fmt: skip
    per_module = Stats.of([1e3 * e / (DEPTH + 1) for e in added(nested, *_INSIDE)]).median
    verdict = f"- a module call nested in a traced forward pass costs about {per_module:.0f} ns"
    return "\n\n".join([provenance(command, DISTRIBUTIONS), calls, layers, legend, verdict])


_INSIDE = ("torch hook, inside an inference (all nested)", "bare, inside an inference")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the tables, optionally rewrite the README section."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 30)")
    parser.add_argument("--write-readme", action="store_true", help=f"update {README.name}")
    args = parser.parse_args(argv)
    rounds = args.rounds if args.rounds is not None else (3 if args.quick else 30)
    if rounds < 1:
        parser.error("--rounds must be positive")
    calls = (5, 50, 10) if args.quick else (100, 400, 100)
    given = sys.argv[1:] if argv is None else list(argv)
    command = " ".join(["python benchmarks/model_hooks.py", *given])
    section = report(command, *measure(rounds, calls))
    print(section)
    if args.write_readme:
        replace_section(README, "model-hooks", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
