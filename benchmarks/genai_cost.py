"""What pricing a GenAI call adds to its request path.

Times, in interleaved rounds in one process, the telemetry of one finished
chat call as every hook drives it (``GenAIConfig.start``, ``set_response``,
``set_usage`` with cached and reasoning tokens, ``stop``: span, duration and
token histograms) on SDK providers, with pricing off
(``OTEL_ML_GENAI_PRICES=off``), a priced model (a dated id: the price lookup
is cached), an unpriced one (counted), and a priced call with a tenant from
a callback::

    python benchmarks/genai_cost.py [--quick] [--rounds R] [--write-readme]
"""

from __future__ import annotations

from collections.abc import Callable

from _common import Stats, interleave, markdown_table, publish, ratio_of_medians, timing_run
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

from otel_ml.config import Settings
from otel_ml.genai.invocation import GenAIConfig, identity


def _call(config: GenAIConfig, model: str) -> Callable[[], None]:
    attrs = identity("chat", "openai", model, "api.openai.com", 443)

    def one() -> None:
        call = config.start(attrs, f"chat {model}", {})
        call.set_response(f"{model}-2024-08-06", "chatcmpl-1", ["stop"])
        call.set_usage(1000, 200, cache_read=400, reasoning=50)
        call.stop()

    return one


def variants() -> dict[str, Callable[[], None]]:
    providers = (TracerProvider(), MeterProvider(metric_readers=[InMemoryMetricReader()]))
    off = GenAIConfig.resolve(Settings.load(environ={"OTEL_ML_GENAI_PRICES": "off"}), providers)
    on = GenAIConfig.resolve(Settings.load(environ={}), providers)
    tenant = GenAIConfig.resolve(Settings.load(environ={}), providers, tenant=lambda: "acme")
    return {
        "pricing off": _call(off, "gpt-4o"),
        "priced (gpt-4o-2024-08-06)": _call(on, "gpt-4o"),
        "unpriced model (counted)": _call(on, "my-model"),
        "priced, tenant from a callback": _call(tenant, "gpt-4o"),
    }


def main() -> None:
    run = timing_run(__doc__.splitlines()[0], 21, 5_000, 1_000)
    samples = interleave(variants(), run.rounds, run.calls)
    baseline = samples["pricing off"]
    rows = [
        [
            name,
            Stats.of([ns / 1000 for ns in found]).format(1, " us"),
            Stats.of([(a - b) / 1000 for a, b in zip(found, baseline, strict=True)]).format(
                2, " us"
            ),
            ratio_of_medians(found, baseline).format(2, "x"),
        ]
        for name, found in samples.items()
    ]
    headers = ["call telemetry", "per call", "added vs pricing off", "vs pricing off"]
    table = markdown_table(headers, rows)
    command = "python benchmarks/genai_cost.py" + (" --quick" if run.quick else "")
    section = "genai_cost" if run.write_readme else None
    publish(table, command, ("opentelemetry-sdk",), section)


if __name__ == "__main__":
    main()
